using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using PoolCluster.Topics;

namespace PoolCluster.Kafka;

/// <summary>
/// Consumes protobuf messages of type <typeparamref name="TMessage"/> from one topic, committing offsets only when told
/// (enable.auto.commit=false). Where each partition starts is <see cref="ConsumerSettings.StartFrom"/>, overridable per
/// assignment with <see cref="ConsumerSettings.OnAssigned"/>. Fetch limits follow the topic's max_message_bytes.
/// Like the Confluent consumer it wraps, it is used from one thread: the one that calls Consume (assignment callbacks
/// run there too).
/// </summary>
public sealed class PoolConsumer<TKey, TMessage> : IDisposable where TMessage : class, IMessage<TMessage>, new()
{
    private readonly IConsumer<TKey, TMessage> consumer;
    private readonly ConsumerSettings settings;
    private readonly ConsumerConfig config;
    private readonly ILogger? logger;
    private bool standaloneAssigned;
    private int disposed;

    /// <summary>A consumer for a topic of topics/topics.json (the deployed name gets <see cref="KafkaOptions.TopicPrefix"/>).</summary>
    public PoolConsumer(KafkaOptions options, string manifestTopic, ConsumerSettings settings, ILogger? logger = null)
        : this(options, TopicManifest.Load()[manifestTopic], settings, logger)
    {
    }

    /// <summary>A consumer for <paramref name="topic"/> (its Name gets <see cref="KafkaOptions.TopicPrefix"/>).</summary>
    public PoolConsumer(KafkaOptions options, TopicSpec topic, ConsumerSettings settings, ILogger? logger = null)
    {
        KafkaNative.EnsureInitialized();
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.GroupId == null && settings.StartFrom.Mode == StartFrom.StartMode.Committed)
            throw new ArgumentException(
                "a consumer without a GroupId has no committed offsets: choose StartFrom.Newest or StartFrom.Timestamp, or set a GroupId",
                nameof(settings));
        if (settings.GroupId != null && string.IsNullOrWhiteSpace(settings.GroupId))
            throw new ArgumentException("GroupId must not be blank (null means: no group)", nameof(settings));
        if (settings.BrokerQueryTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"BrokerQueryTimeout must be positive, not {settings.BrokerQueryTimeout}", nameof(settings));

        this.settings = settings;
        this.logger = logger;
        Topic = options.TopicName(topic.Name);
        Spec = topic;
        GroupId = settings.GroupId;
        // librdkafka needs a group.id even for a consumer that never joins a group; a unique one never collides.
        config = KafkaClientConfig.Consumer(options, topic, settings.GroupId ?? $"{options.ClientId}.nogroup.{Guid.NewGuid():N}",
            settings.AutoOffsetReset);

        var builder = new ConsumerBuilder<TKey, TMessage>(config).SetValueDeserializer(ProtobufSerde<TMessage>.Instance);
        builder.SetLogHandler(KafkaLogging.Handler<IConsumer<TKey, TMessage>>(logger));
        if (logger != null)
        {
            builder.SetErrorHandler((_, e) => logger.Log(e.IsFatal ? LogLevel.Critical : LogLevel.Warning,
                "Kafka consumer of {Topic}: {Reason} ({Code})", Topic, e.Reason, e.Code));
        }
        if (settings.GroupId != null)
        {
            builder.SetPartitionsAssignedHandler((c, partitions) => StartOffsets(c, partitions));
            builder.SetPartitionsRevokedHandler((_, revoked) => settings.OnRevoked?.Invoke(revoked));
        }
        try
        {
            consumer = builder.Build();
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException(
                $"cannot build a consumer for '{Topic}' with key type {typeof(TKey).Name}: use string, int, long, byte[], Null or Ignore ({e.Message})", e);
        }
        if (settings.GroupId != null)
            consumer.Subscribe(Topic);
    }

    /// <summary>The deployed topic name (with prefix).</summary>
    public string Topic { get; }

    /// <summary>The topic's manifest entry.</summary>
    public TopicSpec Spec { get; }

    /// <summary>The consumer group, or null for a group-less consumer of every partition.</summary>
    public string? GroupId { get; }

    /// <summary>The partitions this consumer reads now.</summary>
    public IReadOnlyList<TopicPartition> Assignment => consumer.Assignment;

    /// <summary>The underlying Confluent consumer, for what this wrapper does not cover.</summary>
    public IConsumer<TKey, TMessage> Inner => consumer;

    /// <summary>
    /// The next message, or null when none came within <paramref name="timeout"/>. Throws ConsumeException for a
    /// message that is not a valid <typeparamref name="TMessage"/> (its offset is in the exception's ConsumerRecord).
    /// </summary>
    public ConsumeResult<TKey, TMessage>? Consume(TimeSpan timeout)
    {
        EnsureStandaloneAssigned();
        return consumer.Consume(timeout);
    }

    /// <summary>The next message; waits until one comes or <paramref name="cancellationToken"/> is cancelled (OperationCanceledException).</summary>
    public ConsumeResult<TKey, TMessage> Consume(CancellationToken cancellationToken)
    {
        EnsureStandaloneAssigned();
        return consumer.Consume(cancellationToken);
    }

    /// <summary>Commits that everything up to and including <paramref name="result"/> is processed (synchronously).</summary>
    public void Commit(ConsumeResult<TKey, TMessage> result)
    {
        ArgumentNullException.ThrowIfNull(result);
        RequireGroup();
        consumer.Commit(result);
    }

    /// <summary>Commits the given offsets: each is the NEXT offset to read in its partition (last processed + 1).</summary>
    public void Commit(IEnumerable<TopicPartitionOffset> nextOffsets)
    {
        ArgumentNullException.ThrowIfNull(nextOffsets);
        RequireGroup();
        consumer.Commit(nextOffsets);
    }

    /// <summary>The group's committed offsets for the current assignment (Offset.Unset where none).</summary>
    public List<TopicPartitionOffset> Committed(TimeSpan timeout)
    {
        RequireGroup();
        return consumer.Committed(consumer.Assignment, timeout);
    }

    /// <summary>Moves an assigned partition's read position.</summary>
    public void Seek(TopicPartitionOffset offset) => consumer.Seek(offset);

    /// <summary>The offset of the next message Consume will return from <paramref name="partition"/> (Offset.Unset before the first).</summary>
    public Offset Position(TopicPartition partition) => consumer.Position(partition);

    /// <summary>Leaves the group cleanly (so the others take over its partitions at once), then closes.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        try
        {
            consumer.Close();
        }
        catch (KafkaException e)
        {
            logger?.LogWarning("Kafka consumer of {Topic} did not close cleanly: {Reason}", Topic, e.Error.Reason);
        }
        finally
        {
            consumer.Dispose();
        }
    }

    private void RequireGroup()
    {
        if (GroupId == null)
            throw new InvalidOperationException($"the consumer of '{Topic}' has no GroupId, so it cannot commit offsets");
    }

    /// <summary>A group-less consumer takes every partition of the topic, on the first Consume (like a group's first assignment).</summary>
    private void EnsureStandaloneAssigned()
    {
        if (GroupId != null || standaloneAssigned)
            return;
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var metadata = admin.GetMetadata(Topic, settings.BrokerQueryTimeout);
        var topicMetadata = metadata.Topics.SingleOrDefault(t => t.Topic == Topic);
        if (topicMetadata == null || topicMetadata.Error.IsError || topicMetadata.Partitions.Count == 0)
            throw new InvalidOperationException(
                $"topic '{Topic}' is not on the cluster ({topicMetadata?.Error.Reason ?? "no metadata"}): provision the topics first (TopicProvisioner)");
        var partitions = topicMetadata.Partitions.Select(p => new TopicPartition(Topic, p.PartitionId)).OrderBy(p => p.Partition.Value).ToList();
        consumer.Assign(StartOffsets(consumer, partitions));
        standaloneAssigned = true;
    }

    private List<TopicPartitionOffset> StartOffsets(IConsumer<TKey, TMessage> c, List<TopicPartition> partitions)
    {
        List<TopicPartitionOffset> proposed = settings.StartFrom.Mode switch
        {
            StartFrom.StartMode.Committed => partitions.Select(p => new TopicPartitionOffset(p, Offset.Unset)).ToList(),
            StartFrom.StartMode.Newest => partitions.Select(p => NewestOffset(c, p)).ToList(),
            StartFrom.StartMode.Timestamp => TimestampOffsets(c, partitions, settings.StartFrom.At),
            _ => throw new InvalidOperationException($"unknown start mode {settings.StartFrom.Mode}"),
        };
        logger?.LogInformation("Kafka consumer of {Topic} starts {Partitions} ({StartFrom})", Topic,
            string.Join(", ", proposed.Select(o => $"[{o.Partition.Value}]@{o.Offset}")), settings.StartFrom);
        if (settings.OnAssigned == null)
            return proposed;
        return settings.OnAssigned(proposed).ToList();
    }

    private TopicPartitionOffset NewestOffset(IConsumer<TKey, TMessage> c, TopicPartition partition)
    {
        var marks = c.QueryWatermarkOffsets(partition, settings.BrokerQueryTimeout);
        // The last message (high − 1) when there is one; an absolute "high" for an empty partition, so a message
        // produced meanwhile is still read (Offset.End would skip it).
        return new TopicPartitionOffset(partition, marks.High > marks.Low ? marks.High - 1 : marks.High);
    }

    private List<TopicPartitionOffset> TimestampOffsets(IConsumer<TKey, TMessage> c, List<TopicPartition> partitions, DateTimeOffset at)
    {
        var timestamp = new Timestamp(at);
        var answered = c.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(p, timestamp)), settings.BrokerQueryTimeout);
        var result = new List<TopicPartitionOffset>(partitions.Count);
        foreach (var partition in partitions)
        {
            var offset = answered.FirstOrDefault(o => o.TopicPartition == partition)?.Offset ?? Offset.End;
            if (offset.Value < 0)
            {
                // "No message at or after the time" — or a broker that cannot look up by time (the mock cluster
                // answers -1 to every timestamp). Tell them apart by the messages' own timestamps.
                var marks = c.QueryWatermarkOffsets(partition, settings.BrokerQueryTimeout);
                offset = marks.High > marks.Low
                    ? TimestampSearch.FirstOffsetAtOrAfter(config, partition, marks.Low, marks.High, timestamp.UnixTimestampMs, settings.BrokerQueryTimeout)
                    : marks.High;
            }
            result.Add(new TopicPartitionOffset(partition, offset));
        }
        return result;
    }
}
