using System.Runtime.InteropServices;
using PoolCluster.Topics;
using static PoolCluster.Kafka.Embedded.MockClusterNative;
using static PoolCluster.Kafka.Librdkafka;

namespace PoolCluster.Kafka.Embedded;

/// <summary>
/// An in-memory Kafka cluster: librdkafka's mock cluster, hosted in this process. It speaks the real Kafka protocol
/// on 127.0.0.1 (any client, in any process, can connect), supports produce/fetch, consumer groups, committed offsets
/// and idempotent producers; data lives in memory only and is gone on <see cref="Dispose"/>.
/// <para>
/// Ports: librdkafka 2.0.2 binds every mock broker to 127.0.0.1 port 0 (a kernel-chosen free port) and has no API to
/// choose one, so other processes learn the address from <see cref="BootstrapServers"/> as published by
/// <see cref="WriteBootstrapFile"/> (or services/EmbeddedKafka's stdout line <c>KAFKA_BOOTSTRAP=...</c>).
/// </para>
/// <para>
/// Limits of the mock (librdkafka 2.0.2), worked around by this library: no CreateTopics (topics are created here with
/// rd_kafka_mock_topic_create; <see cref="TopicProvisioner.Provision(EmbeddedKafkaCluster)"/>), no ListOffsets by
/// timestamp (<see cref="StartFrom.Timestamp"/> falls back to a search over message timestamps), topic configs
/// (retention, max.message.bytes) are not enforced, unknown topics are auto-created by any metadata request, one
/// record batch per partition per fetch, an idle fetch waits the full fetch.wait.max.ms
/// (<see cref="KafkaOptions.FetchWaitMaxMs"/> keeps that short), a new consumer group waits 3 s for members before
/// its first assignment, and <see cref="Dispose"/> may take up to a second (the mock's I/O thread wakes once a second).
/// </para>
/// </summary>
public sealed class EmbeddedKafkaCluster : IDisposable
{
    private readonly object gate = new();
    private nint handle;
    private nint cluster;

    /// <summary>Comma-separated host:port of every broker (all on 127.0.0.1).</summary>
    public string BootstrapServers { get; }

    public int BrokerCount { get; }

    private EmbeddedKafkaCluster(nint handle, nint cluster, int brokerCount, string bootstrapServers)
    {
        this.handle = handle;
        this.cluster = cluster;
        BrokerCount = brokerCount;
        BootstrapServers = bootstrapServers;
    }

    /// <summary>
    /// Starts a cluster of <paramref name="brokerCount"/> brokers with no topics. Use
    /// <see cref="TopicProvisioner.Provision(EmbeddedKafkaCluster)"/> or <see cref="StartWithManifestTopics"/> for the
    /// pool's topics, <see cref="CreateTopic"/> for others.
    /// </summary>
    /// <param name="logLevel">syslog level for the mock's own log lines on stderr (3 = errors only, 7 = debug).</param>
    public static EmbeddedKafkaCluster Start(int brokerCount = 1, int logLevel = 3)
    {
        if (brokerCount < 1)
            throw new ArgumentOutOfRangeException(nameof(brokerCount), brokerCount, "an embedded Kafka cluster needs at least one broker");
        if (logLevel is < 0 or > 7)
            throw new ArgumentOutOfRangeException(nameof(logLevel), logLevel, "log level is a syslog level, 0..7");
        KafkaNative.EnsureInitialized();

        var errstr = new byte[512];
        var conf = rd_kafka_conf_new();
        try
        {
            SetConf(conf, "client.id", "poolcluster-embedded-kafka");
            SetConf(conf, "log_level", logLevel.ToString(System.Globalization.CultureInfo.InvariantCulture));
            // The mock brokers reject requests larger than their handle's receive.message.max.bytes: room for several
            // 20 MB templates in one produce request.
            SetConf(conf, "receive.message.max.bytes", "500000000");
        }
        catch
        {
            rd_kafka_conf_destroy(conf);
            throw;
        }

        var rk = rd_kafka_new(RdKafkaProducer, conf, errstr, (nuint)errstr.Length);
        if (rk == 0)
        {
            rd_kafka_conf_destroy(conf);
            throw new InvalidOperationException($"rd_kafka_new for the embedded Kafka cluster failed: {CString(errstr)}");
        }

        var mcluster = rd_kafka_mock_cluster_new(rk, brokerCount);
        if (mcluster == 0)
        {
            rd_kafka_destroy(rk);
            throw new InvalidOperationException(
                $"rd_kafka_mock_cluster_new({brokerCount}) failed (could not bind 127.0.0.1 listeners? see librdkafka's log on stderr)");
        }

        var bootstraps = Marshal.PtrToStringUTF8(rd_kafka_mock_cluster_bootstraps(mcluster));
        if (string.IsNullOrEmpty(bootstraps))
        {
            rd_kafka_mock_cluster_destroy(mcluster);
            rd_kafka_destroy(rk);
            throw new InvalidOperationException("the embedded Kafka cluster reported no bootstrap address");
        }
        return new EmbeddedKafkaCluster(rk, mcluster, brokerCount, bootstraps);
    }

    /// <summary>Starts a cluster and creates every topic of topics/topics.json (names prefixed with <paramref name="topicPrefix"/>).</summary>
    public static EmbeddedKafkaCluster StartWithManifestTopics(int brokerCount = 1, string topicPrefix = "", int logLevel = 3)
    {
        var started = Start(brokerCount, logLevel);
        try
        {
            new TopicProvisioner(new KafkaOptions { BootstrapServers = started.BootstrapServers, TopicPrefix = topicPrefix })
                .Provision(started);
            return started;
        }
        catch
        {
            started.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates a topic. Returns false when it already existed: the mock auto-creates (with 4 partitions) any unknown
    /// topic a client asks metadata for, whatever the client's allow.auto.create.topics, so create topics before
    /// clients use them.
    /// </summary>
    /// <param name="replicationFactor">capped at <see cref="BrokerCount"/>; 0 or less means "as many as brokers, up to 3".</param>
    public bool CreateTopic(string name, int partitions, int replicationFactor = 0)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (partitions < 1)
            throw new ArgumentOutOfRangeException(nameof(partitions), partitions, $"topic '{name}' needs at least one partition");
        var replicas = replicationFactor <= 0 ? Math.Min(3, BrokerCount) : Math.Min(replicationFactor, BrokerCount);
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(cluster == 0, this);
            var err = rd_kafka_mock_topic_create(cluster, name, partitions, replicas);
            if (err == ErrTopicAlreadyExists)
                return false;
            if (err != 0)
                throw new InvalidOperationException($"creating topic '{name}' ({partitions} partitions) on the embedded Kafka cluster failed: {ErrorText(err)}");
            return true;
        }
    }

    /// <summary>
    /// Writes <see cref="BootstrapServers"/> (one line) to <paramref name="path"/> atomically (temp file + rename), so a
    /// reader never sees a partial address. Services read it through <see cref="KafkaOptions.BootstrapFile"/>.
    /// </summary>
    public void WriteBootstrapFile(string path) => BootstrapFile.Write(path, BootstrapServers);

    public void Dispose()
    {
        lock (gate)
        {
            if (cluster == 0)
                return;
            // librdkafka asserts that every mock cluster is destroyed before its rd_kafka_t.
            rd_kafka_mock_cluster_destroy(cluster);
            cluster = 0;
            rd_kafka_destroy(handle);
            handle = 0;
        }
    }
}
