using Confluent.Kafka;

namespace PoolCluster.Kafka;

/// <summary>
/// Decides where a newly assigned partition starts. <paramref name="proposed"/> holds the offsets
/// <see cref="ConsumerSettings.StartFrom"/> chose (<see cref="Offset.Unset"/> means "the committed offset"); return the
/// offsets to use, e.g. positions kept in MySQL (ShareLogger). Runs on the thread that calls Consume.
/// </summary>
public delegate IEnumerable<TopicPartitionOffset> PartitionsAssignedHandler(IReadOnlyList<TopicPartitionOffset> proposed);

/// <summary>
/// Partitions taken away (rebalance, or lost after a session timeout): flush and commit what was read from them.
/// Offsets are the consumer's positions where known. Runs on the thread that calls Consume.
/// </summary>
public delegate void PartitionsRevokedHandler(IReadOnlyList<TopicPartitionOffset> revoked);

/// <summary>How a <see cref="PoolConsumer{TKey,TMessage}"/> joins and where it starts.</summary>
public sealed class ConsumerSettings
{
    /// <summary>
    /// The consumer group. Consumers of one group share the topic's partitions and commit offsets.
    /// Null: no group; this consumer alone reads every partition of the topic (e.g. each stratum server reads all
    /// jobs) and cannot commit. Then <see cref="StartFrom"/> must not be <see cref="StartFrom.Committed"/>.
    /// </summary>
    public string? GroupId { get; init; }

    public StartFrom StartFrom { get; init; } = StartFrom.Committed;

    /// <summary>Where a group without a committed offset starts (<see cref="StartFrom.Committed"/> only).</summary>
    public AutoOffsetReset AutoOffsetReset { get; init; } = AutoOffsetReset.Earliest;

    public PartitionsAssignedHandler? OnAssigned { get; init; }

    public PartitionsRevokedHandler? OnRevoked { get; init; }

    /// <summary>How long one broker query (watermarks, offsetsForTimes, metadata) may take while starting a partition.</summary>
    public TimeSpan BrokerQueryTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
