using Confluent.Kafka;
using PoolCluster.Kafka.Embedded;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.Kafka.Tests;

public class TopicProvisionerTests(EmbeddedKafkaFixture kafka) : IClassFixture<EmbeddedKafkaFixture>
{
    [Fact]
    public void Provisioning_the_embedded_cluster_creates_every_manifest_topic_with_its_partitions_once()
    {
        var options = kafka.CreateOptions(topicPrefix: $"p{Guid.NewGuid():N}.");
        var manifest = TopicManifest.Load();
        var provisioner = new TopicProvisioner(options, manifest);

        var first = provisioner.Provision(kafka.Cluster);
        var second = provisioner.Provision(kafka.Cluster);

        Assert.Equal(manifest.Topics.Select(t => options.TopicPrefix + t.Name), first.Select(r => r.Topic));
        Assert.All(first, r => Assert.True(r.Created, $"{r.Topic} was not created"));
        Assert.All(second, r => Assert.False(r.Created, $"{r.Topic} was created twice"));

        using var admin = new AdminClientBuilder(KafkaClientConfig.Admin(options)).Build();
        foreach (var spec in manifest.Topics)
        {
            var metadata = admin.GetMetadata(options.TopicName(spec.Name), TimeSpan.FromSeconds(10)).Topics.Single();
            Assert.False(metadata.Error.IsError, metadata.Error.Reason);
            Assert.Equal(spec.Partitions, metadata.Partitions.Count);
        }
    }

    [Fact]
    public void The_AdminClient_request_carries_partitions_replication_and_the_topic_configs()
    {
        var manifest = TopicManifest.Load();

        var share = TopicProvisioner.Specification(manifest[TopicManifest.Share], "pool1.btc.share", replicationFactor: 3);
        Assert.Equal("pool1.btc.share", share.Name);
        Assert.Equal(8, share.NumPartitions);
        Assert.Equal(3, share.ReplicationFactor);
        Assert.Equal("259200000", share.Configs["retention.ms"]);
        Assert.Equal("lz4", share.Configs["compression.type"]);
        Assert.Equal("1048576", share.Configs["max.message.bytes"]);

        var gbt = TopicProvisioner.Specification(manifest[TopicManifest.RawGbt], TopicManifest.RawGbt, replicationFactor: -1);
        Assert.Equal("20971520", gbt.Configs["max.message.bytes"]);
        Assert.Equal(-1, gbt.ReplicationFactor);

        var solved = TopicProvisioner.Specification(manifest[TopicManifest.SolvedShare], TopicManifest.SolvedShare, 1);
        Assert.Equal("uncompressed", solved.Configs["compression.type"]); // Kafka's name for "none"
        Assert.Equal("2592000000", solved.Configs["retention.ms"]);
    }

    [Fact]
    public void A_bad_manifest_entry_is_refused_naming_the_topic_and_the_field()
    {
        var brotli = new TopicSpec("btc.x", "Share", 1, "none", 1000, "brotli", 1000);
        var error = Assert.Throws<InvalidOperationException>(() => TopicProvisioner.Specification(brotli, "btc.x", 1));
        Assert.Contains("btc.x", error.Message);
        Assert.Contains("brotli", error.Message);

        var noPartitions = brotli with { Compression = "lz4", Partitions = 0 };
        Assert.Contains("partitions", Assert.Throws<InvalidOperationException>(() => TopicProvisioner.Specification(noPartitions, "btc.x", 1)).Message);
    }

    [Fact]
    public async Task A_three_broker_cluster_takes_durable_idempotent_writes_on_replicated_topics()
    {
        using var cluster = EmbeddedKafkaCluster.StartWithManifestTopics(brokerCount: 3);
        Assert.Equal(3, cluster.BootstrapServers.Split(',').Length);
        var options = new KafkaOptions { BootstrapServers = cluster.BootstrapServers, FetchWaitMaxMs = 50 };
        using var admin = new AdminClientBuilder(KafkaClientConfig.Admin(options)).Build();
        var metadata = admin.GetMetadata(TopicManifest.SolvedShare, TimeSpan.FromSeconds(10));
        Assert.Equal(3, metadata.Brokers.Count);
        Assert.Equal(3, metadata.Topics.Single().Partitions.Single().Replicas.Length);

        using var producer = new PoolProducer<Null, SolvedShare>(options, TopicManifest.SolvedShare, ProducerMode.Durable);
        var results = new List<DeliveryResult<Null, SolvedShare>>();
        for (var i = 0; i < 20; i++)
            results.Add(await producer.ProduceAsync(null!, TestMessages.SolvedShare()));

        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), results.Select(r => r.Offset.Value));
        Assert.All(results, r => Assert.Equal(PersistenceStatus.Persisted, r.Status));
    }
}
