using PoolCluster.Kafka;
using PoolCluster.Kafka.Embedded;
using PoolCluster.Topics;

namespace PoolCluster.Testing;

/// <summary>
/// An embedded Kafka cluster (librdkafka's mock brokers on 127.0.0.1, real protocol, memory only) for one test class or
/// collection, with the manifest's topics created. Use as an xunit class fixture (IClassFixture&lt;EmbeddedKafkaFixture&gt;)
/// or collection fixture: declare in your test assembly
/// <c>[CollectionDefinition("Kafka")] public class KafkaCollection : ICollectionFixture&lt;EmbeddedKafkaFixture&gt;;</c>
/// Tests sharing it should use their own topics (<see cref="CreateTopic"/>) or their own <see cref="KafkaOptions.TopicPrefix"/>
/// (<see cref="CreateManifestTopics"/>), and their own group ids.
/// </summary>
public class EmbeddedKafkaFixture : IDisposable
{
    public EmbeddedKafkaFixture() : this(brokerCount: 1)
    {
    }

    /// <summary>For a derived fixture with more brokers (xunit needs fixtures to have one public constructor).</summary>
    protected EmbeddedKafkaFixture(int brokerCount)
    {
        Cluster = EmbeddedKafkaCluster.StartWithManifestTopics(brokerCount);
    }

    public EmbeddedKafkaCluster Cluster { get; }

    public string BootstrapServers => Cluster.BootstrapServers;

    /// <summary>
    /// Options pointing at this cluster, tuned for tests: short group session (the mock's rebalance waits scale with
    /// it) and a unique client id.
    /// </summary>
    public KafkaOptions CreateOptions(string? clientId = null, string topicPrefix = "") => new()
    {
        BootstrapServers = BootstrapServers,
        ClientId = clientId ?? $"test-{Guid.NewGuid():N}"[..20],
        TopicPrefix = topicPrefix,
        SessionTimeoutMs = 3000,
        HeartbeatIntervalMs = 300,
        FetchWaitMaxMs = 50,
        LingerMs = 1,
    };

    /// <summary>
    /// Creates a topic named <paramref name="stem"/> plus a unique suffix and returns its spec, ready for
    /// PoolProducer/PoolConsumer (with an empty TopicPrefix).
    /// </summary>
    public TopicSpec CreateTopic(string stem = "test", int partitions = 1, int maxMessageBytes = 1_048_576, string compression = "lz4")
    {
        var spec = new TopicSpec($"{stem}.{Guid.NewGuid():N}", "test", partitions, "test", 86_400_000, compression, maxMessageBytes);
        Cluster.CreateTopic(spec.Name, partitions);
        return spec;
    }

    /// <summary>Creates every manifest topic under a fresh unique prefix and returns options using it, so a test gets the pool's own topics to itself.</summary>
    public KafkaOptions CreateManifestTopics(string? clientId = null)
    {
        var options = CreateOptions(clientId, topicPrefix: $"t{Guid.NewGuid():N}.");
        new TopicProvisioner(options).Provision(Cluster);
        return options;
    }

    /// <summary>A group id no other test uses.</summary>
    public static string UniqueGroupId(string stem = "group") => $"{stem}.{Guid.NewGuid():N}";

    public void Dispose()
    {
        Cluster.Dispose();
        GC.SuppressFinalize(this);
    }
}
