using Microsoft.Extensions.Configuration;

namespace PoolCluster.Kafka;

/// <summary>
/// Where the cluster is and how clients talk to it. Bound from configuration section "Kafka"
/// (<see cref="FromConfiguration"/>, or <c>services.Configure&lt;KafkaOptions&gt;(config.GetSection("Kafka"))</c>).
/// Per-topic settings (compression, size limits) come from topics/topics.json, not from here.
/// </summary>
public sealed class KafkaOptions
{
    public const string SectionName = "Kafka";

    /// <summary>host:port[,host:port]. Empty: read from <see cref="BootstrapFile"/>.</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>A file holding the bootstrap address, written by services/EmbeddedKafka --bootstrap-file (its ports are random).</summary>
    public string? BootstrapFile { get; set; }

    /// <summary>client.id, seen in broker logs and quotas; services set their own name.</summary>
    public string ClientId { get; set; } = "poolcluster";

    /// <summary>Prepended to every manifest topic name, so several deployments can share a cluster ("test1." → "test1.btc.job").</summary>
    public string TopicPrefix { get; set; } = "";

    /// <summary>Replication factor for <see cref="TopicProvisioner"/>; -1 = the broker's default.replication.factor.</summary>
    public short ReplicationFactor { get; set; } = -1;

    /// <summary>Throughput-mode producers wait up to this long to fill a batch (linger.ms).</summary>
    public double LingerMs { get; set; } = 10;

    /// <summary>Throughput-mode batch size in bytes (batch.size), capped by the topic's max_message_bytes.</summary>
    public int BatchSizeBytes { get; set; } = 1_000_000;

    /// <summary>How long a produced message may wait for delivery before it fails (message.timeout.ms).</summary>
    public int MessageTimeoutMs { get; set; } = 300_000;

    /// <summary>
    /// fetch.wait.max.ms: the longest an idle fetch waits. Short, because a stratum server must see a new job at once
    /// and the embedded cluster answers an idle fetch only after the full wait.
    /// </summary>
    public int FetchWaitMaxMs { get; set; } = 100;

    /// <summary>Consumer group session timeout (session.timeout.ms). Real brokers refuse less than 6000 by default.</summary>
    public int SessionTimeoutMs { get; set; } = 10_000;

    /// <summary>heartbeat.interval.ms; must be well below <see cref="SessionTimeoutMs"/>.</summary>
    public int HeartbeatIntervalMs { get; set; } = 3_000;

    /// <summary>Any other librdkafka property (e.g. "Kafka:Librdkafka:socket.keepalive.enable": "true"); applied last, so it wins.</summary>
    public Dictionary<string, string> Librdkafka { get; set; } = new();

    /// <summary>The deployed name of a manifest topic: <see cref="TopicPrefix"/> + name.</summary>
    public string TopicName(string manifestName) => TopicPrefix + manifestName;

    /// <summary><see cref="BootstrapServers"/>, or the content of <see cref="BootstrapFile"/> when that is empty.</summary>
    public string ResolveBootstrapServers()
    {
        if (!string.IsNullOrWhiteSpace(BootstrapServers))
            return BootstrapServers.Trim();
        if (!string.IsNullOrWhiteSpace(BootstrapFile))
            return Kafka.BootstrapFile.Read(BootstrapFile);
        throw new InvalidOperationException("Kafka:BootstrapServers is not set (nor Kafka:BootstrapFile)");
    }

    /// <summary>Throws naming the first bad setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(BootstrapServers) && string.IsNullOrWhiteSpace(BootstrapFile))
            throw new InvalidOperationException("Kafka:BootstrapServers is not set (nor Kafka:BootstrapFile)");
        if (string.IsNullOrWhiteSpace(ClientId))
            throw new InvalidOperationException("Kafka:ClientId must not be empty");
        if (ReplicationFactor == 0 || ReplicationFactor < -1)
            throw new InvalidOperationException($"Kafka:ReplicationFactor must be -1 (broker default) or at least 1, not {ReplicationFactor}");
        if (LingerMs < 0)
            throw new InvalidOperationException($"Kafka:LingerMs must not be negative, not {LingerMs}");
        if (BatchSizeBytes < 1)
            throw new InvalidOperationException($"Kafka:BatchSizeBytes must be positive, not {BatchSizeBytes}");
        if (MessageTimeoutMs < 1)
            throw new InvalidOperationException($"Kafka:MessageTimeoutMs must be positive, not {MessageTimeoutMs}");
        if (FetchWaitMaxMs < 0)
            throw new InvalidOperationException($"Kafka:FetchWaitMaxMs must not be negative, not {FetchWaitMaxMs}");
        if (SessionTimeoutMs < 1)
            throw new InvalidOperationException($"Kafka:SessionTimeoutMs must be positive, not {SessionTimeoutMs}");
        if (HeartbeatIntervalMs < 1 || HeartbeatIntervalMs >= SessionTimeoutMs)
            throw new InvalidOperationException(
                $"Kafka:HeartbeatIntervalMs ({HeartbeatIntervalMs}) must be positive and below Kafka:SessionTimeoutMs ({SessionTimeoutMs})");
    }

    /// <summary>Binds section "Kafka" of <paramref name="configuration"/> and validates it.</summary>
    public static KafkaOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new KafkaOptions();
        configuration.GetSection(SectionName).Bind(options);
        options.Validate();
        return options;
    }

    /// <summary>A copy, so a caller can change a setting for one client without touching the shared instance.</summary>
    public KafkaOptions Clone()
    {
        var copy = (KafkaOptions)MemberwiseClone();
        copy.Librdkafka = new Dictionary<string, string>(Librdkafka);
        return copy;
    }
}
