using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PoolCluster.Topics;

namespace PoolCluster.Kafka.Tests;

public class KafkaOptionsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Binds_from_the_Kafka_section()
    {
        var options = KafkaOptions.FromConfiguration(Config(
            ("Kafka:BootstrapServers", "k1:9092,k2:9092"),
            ("Kafka:ClientId", "jobmaker"),
            ("Kafka:TopicPrefix", "pool1."),
            ("Kafka:ReplicationFactor", "3"),
            ("Kafka:LingerMs", "25"),
            ("Kafka:Librdkafka:socket.keepalive.enable", "true")));

        Assert.Equal("k1:9092,k2:9092", options.ResolveBootstrapServers());
        Assert.Equal("jobmaker", options.ClientId);
        Assert.Equal("pool1.btc.job", options.TopicName(TopicManifest.StratumJob));
        Assert.Equal(3, options.ReplicationFactor);
        Assert.Equal(25, options.LingerMs);
        Assert.Equal("true", options.Librdkafka["socket.keepalive.enable"]);
    }

    [Fact]
    public void Bad_settings_are_refused_naming_the_setting()
    {
        var missing = Assert.Throws<InvalidOperationException>(() => KafkaOptions.FromConfiguration(Config(("Kafka:ClientId", "x"))));
        Assert.Contains("Kafka:BootstrapServers", missing.Message);

        var heartbeat = Assert.Throws<InvalidOperationException>(() => KafkaOptions.FromConfiguration(Config(
            ("Kafka:BootstrapServers", "k:9092"), ("Kafka:SessionTimeoutMs", "6000"), ("Kafka:HeartbeatIntervalMs", "6000"))));
        Assert.Contains("Kafka:HeartbeatIntervalMs", heartbeat.Message);

        var replication = Assert.Throws<InvalidOperationException>(() => KafkaOptions.FromConfiguration(Config(
            ("Kafka:BootstrapServers", "k:9092"), ("Kafka:ReplicationFactor", "0"))));
        Assert.Contains("Kafka:ReplicationFactor", replication.Message);
    }

    [Fact]
    public void The_bootstrap_address_can_come_from_the_file_EmbeddedKafka_writes()
    {
        var path = Path.Combine(Path.GetTempPath(), $"bootstrap-{Guid.NewGuid():N}", "kafka.bootstrap");
        var options = new KafkaOptions { BootstrapFile = path };
        var missing = Assert.Throws<FileNotFoundException>(options.ResolveBootstrapServers);
        Assert.Contains("services/EmbeddedKafka", missing.Message);
        Assert.Contains(path, missing.Message);

        BootstrapFile.Write(path, "127.0.0.1:40001,127.0.0.1:40002");
        try
        {
            Assert.Equal("127.0.0.1:40001,127.0.0.1:40002", options.ResolveBootstrapServers());
            Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temp file left beside it
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void Throughput_producers_batch_and_compress_durable_ones_wait_for_all_replicas_without_delay()
    {
        var options = new KafkaOptions { BootstrapServers = "k:9092", LingerMs = 20, BatchSizeBytes = 2_000_000 };
        var manifest = TopicManifest.Load();

        var shares = KafkaClientConfig.Producer(options, manifest[TopicManifest.Share], ProducerMode.Throughput);
        Assert.Equal(20, shares.LingerMs);
        Assert.Equal(1_048_576, shares.BatchSize); // capped by the topic's max_message_bytes
        Assert.Equal(CompressionType.Lz4, shares.CompressionType);
        Assert.Equal(Acks.Leader, shares.Acks);
        Assert.NotEqual(true, shares.EnableIdempotence);

        var solved = KafkaClientConfig.Producer(options, manifest[TopicManifest.SolvedShare], ProducerMode.Durable);
        Assert.Equal(Acks.All, solved.Acks);
        Assert.Equal(0, solved.LingerMs);
        Assert.True(solved.EnableIdempotence);
        Assert.Equal(CompressionType.None, solved.CompressionType);

        var templates = KafkaClientConfig.Producer(options, manifest[TopicManifest.RawGbt], ProducerMode.Throughput);
        Assert.Equal(20_971_520, templates.MessageMaxBytes);
    }

    [Fact]
    public void Consumers_commit_manually_and_fetch_the_topics_largest_message()
    {
        var options = new KafkaOptions { BootstrapServers = "k:9092", Librdkafka = { ["fetch.wait.max.ms"] = "7" } };
        var config = KafkaClientConfig.Consumer(options, TopicManifest.Load()[TopicManifest.RawGbt], "g", AutoOffsetReset.Earliest);

        Assert.False(config.EnableAutoCommit);
        Assert.False(config.EnableAutoOffsetStore);
        Assert.True(config.MaxPartitionFetchBytes >= 20_971_520);
        Assert.True(config.FetchMaxBytes >= 20_971_520);
        Assert.True(config.ReceiveMessageMaxBytes >= config.FetchMaxBytes + 512);
        Assert.Equal(7, config.FetchWaitMaxMs); // the Librdkafka pass-through wins
    }

    [Fact]
    public void AddPoolKafka_registers_validated_options_the_manifest_and_the_provisioner()
    {
        var good = new ServiceCollection().AddPoolKafka(Config(("Kafka:BootstrapServers", "k:9092"), ("Kafka:ClientId", "sserver")))
            .BuildServiceProvider();
        Assert.Equal("sserver", good.GetRequiredService<KafkaOptions>().ClientId);
        Assert.Equal(5, good.GetRequiredService<TopicManifest>().Topics.Count);
        Assert.NotNull(good.GetRequiredService<TopicProvisioner>());

        var bad = new ServiceCollection().AddPoolKafka(Config(("Kafka:ClientId", "sserver"))).BuildServiceProvider();
        var error = Assert.Throws<InvalidOperationException>(() => bad.GetRequiredService<IOptions<KafkaOptions>>().Value);
        Assert.Contains("Kafka:BootstrapServers", error.Message);
    }
}
