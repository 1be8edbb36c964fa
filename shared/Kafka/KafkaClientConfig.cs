using Confluent.Kafka;
using PoolCluster.Topics;

namespace PoolCluster.Kafka;

/// <summary>Builds librdkafka configurations from <see cref="KafkaOptions"/> and a topic's manifest entry.</summary>
public static class KafkaClientConfig
{
    /// <summary>librdkafka's own defaults, kept as floors so small topics do not shrink fetches below them.</summary>
    private const int DefaultMaxPartitionFetchBytes = 1_048_576;
    private const int DefaultFetchMaxBytes = 52_428_800;
    private const int DefaultReceiveMessageMaxBytes = 100_000_000;

    /// <summary>Producer settings for <paramref name="topic"/> in <paramref name="mode"/>.</summary>
    public static ProducerConfig Producer(KafkaOptions options, TopicSpec topic, ProducerMode mode)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(topic);
        options.Validate();
        var maxMessageBytes = MaxMessageBytes(topic);
        var config = new ProducerConfig
        {
            BootstrapServers = options.ResolveBootstrapServers(),
            ClientId = options.ClientId,
            // message.max.bytes caps both one message and a whole batch: at the topic's limit, a batch never exceeds
            // what the broker accepts, and an oversized message fails locally with MsgSizeTooLarge.
            MessageMaxBytes = maxMessageBytes,
            CompressionType = Compression(topic),
            MessageTimeoutMs = options.MessageTimeoutMs,
            // Also capped by the topic's limit in durable mode, where lingering is off but batches still form under load.
            BatchSize = Math.Min(options.BatchSizeBytes, maxMessageBytes),
            SocketNagleDisable = true,
        };
        switch (mode)
        {
            case ProducerMode.Throughput:
                config.Acks = Acks.Leader;
                config.LingerMs = options.LingerMs;
                // Delivery reports are read for their error and offset only: not copying key, value, timestamp and
                // headers back out of librdkafka for every message saves P/Invoke calls on the hot path.
                config.DeliveryReportFields = "status";
                break;
            case ProducerMode.Durable:
                config.Acks = Acks.All;
                config.LingerMs = 0;
                config.EnableIdempotence = true;
                config.MaxInFlight = 5; // the most idempotence allows while keeping order
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown producer mode");
        }
        ApplyOverrides(config, options);
        return config;
    }

    /// <summary>
    /// Consumer settings: manual commits only (enable.auto.commit=false, enable.auto.offset.store=false), fetch limits
    /// large enough for the topic's biggest message.
    /// </summary>
    public static ConsumerConfig Consumer(KafkaOptions options, TopicSpec topic, string groupId, AutoOffsetReset autoOffsetReset)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentException.ThrowIfNullOrWhiteSpace(groupId);
        options.Validate();
        var maxMessageBytes = MaxMessageBytes(topic);
        var maxPartitionFetch = Math.Max(DefaultMaxPartitionFetchBytes, maxMessageBytes);
        var fetchMax = Math.Max(DefaultFetchMaxBytes, maxMessageBytes);
        var config = new ConsumerConfig
        {
            BootstrapServers = options.ResolveBootstrapServers(),
            ClientId = options.ClientId,
            GroupId = groupId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = autoOffsetReset,
            EnablePartitionEof = false,
            AllowAutoCreateTopics = false,
            FetchWaitMaxMs = options.FetchWaitMaxMs,
            SessionTimeoutMs = options.SessionTimeoutMs,
            HeartbeatIntervalMs = options.HeartbeatIntervalMs,
            MaxPartitionFetchBytes = maxPartitionFetch,
            FetchMaxBytes = fetchMax,
            // librdkafka requires receive.message.max.bytes >= fetch.max.bytes + 512 (the response header).
            ReceiveMessageMaxBytes = Math.Max(DefaultReceiveMessageMaxBytes, fetchMax + 512),
            // Also used as the message.max.bytes check on the client side.
            MessageMaxBytes = Math.Max(1_000_000, maxMessageBytes),
            SocketNagleDisable = true,
        };
        ApplyOverrides(config, options);
        return config;
    }

    /// <summary>AdminClient settings (topic provisioning, metadata).</summary>
    public static AdminClientConfig Admin(KafkaOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var config = new AdminClientConfig { BootstrapServers = options.ResolveBootstrapServers(), ClientId = options.ClientId };
        ApplyOverrides(config, options);
        return config;
    }

    internal static int MaxMessageBytes(TopicSpec topic)
    {
        if (topic.MaxMessageBytes < 1)
            throw new InvalidOperationException($"topic '{topic.Name}': max_message_bytes must be positive, not {topic.MaxMessageBytes}");
        return topic.MaxMessageBytes;
    }

    /// <summary>The manifest's compression name as librdkafka's; a clear error for an unknown one.</summary>
    public static CompressionType Compression(TopicSpec topic) => topic.Compression?.ToLowerInvariant() switch
    {
        "none" or "" or null => CompressionType.None,
        "lz4" => CompressionType.Lz4,
        "zstd" => CompressionType.Zstd,
        "snappy" => CompressionType.Snappy,
        "gzip" => CompressionType.Gzip,
        _ => throw new InvalidOperationException(
            $"topic '{topic.Name}': compression '{topic.Compression}' is not one of none, lz4, zstd, snappy, gzip"),
    };

    private static void ApplyOverrides(ClientConfig config, KafkaOptions options)
    {
        foreach (var (key, value) in options.Librdkafka)
            config.Set(key, value);
    }

}
