using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using PoolCluster.Kafka;

namespace PoolCluster.StatsHttpd.Ingest;

/// <summary>
/// Reads every partition of one topic (no consumer group: each StatsHttpd instance sees the whole pool) from a point
/// in time, handing each message to <see cref="Run"/>'s handler on the calling thread. If the consumer fails it is
/// rebuilt and resumes after the last handled message of each partition, so nothing is applied twice.
/// </summary>
internal sealed class TopicReader<TMessage>(
    KafkaOptions kafka, string manifestTopic, TopicProgress progress, ILogger logger)
    where TMessage : class, IMessage<TMessage>, new()
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(2);

    private readonly Dictionary<int, long> nextOffsets = new();
    private DateTimeOffset replayFrom;

    /// <summary>Messages that were not a valid <typeparamref name="TMessage"/> (skipped).</summary>
    public long Undecodable { get; private set; }

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled (returns normally then).</summary>
    public void Run(DateTimeOffset startAt, Action<TMessage, int, long> handle, CancellationToken cancellationToken)
    {
        replayFrom = startAt;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                ConsumeUntilCancelled(startAt, handle, cancellationToken);
            }
            catch (Exception e) when (e is KafkaException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("Reading {Topic} failed ({Error}); reconnecting in {Delay} s", manifestTopic, e.Message, RetryDelay.TotalSeconds);
                cancellationToken.WaitHandle.WaitOne(RetryDelay);
            }
        }
    }

    private void ConsumeUntilCancelled(DateTimeOffset startAt, Action<TMessage, int, long> handle, CancellationToken cancellationToken)
    {
        PoolConsumer<Ignore, TMessage>? consumer = null;
        var settings = new ConsumerSettings
        {
            GroupId = null,
            StartFrom = StartFrom.Timestamp(startAt),
            OnAssigned = proposed => Resume(consumer!, proposed),
        };
        using (consumer = new PoolConsumer<Ignore, TMessage>(kafka, manifestTopic, settings, logger))
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                ConsumeResult<Ignore, TMessage>? result;
                try
                {
                    result = consumer.Consume(PollTimeout);
                }
                catch (ConsumeException e) when (!e.Error.IsFatal && e.ConsumerRecord != null)
                {
                    // A message that does not decode: skip it (and count it) rather than stall the pool's statistics.
                    Undecodable++;
                    var at = e.ConsumerRecord.TopicPartitionOffset;
                    logger.LogWarning("Skipping undecodable message at {Topic}[{Partition}]@{Offset}: {Reason}",
                        at.Topic, at.Partition.Value, at.Offset.Value, e.Error.Reason);
                    Handled(at.Partition.Value, at.Offset.Value);
                    continue;
                }
                if (result?.Message?.Value == null)
                    continue;
                handle(result.Message.Value, result.Partition.Value, result.Offset.Value);
                Handled(result.Partition.Value, result.Offset.Value);
            }
        }
    }

    private void Handled(int partition, long offset)
    {
        nextOffsets[partition] = offset + 1;
        progress.Consumed(partition, offset);
    }

    /// <summary>Where each assigned partition starts: after the last handled message when resuming, else the proposal.</summary>
    private IEnumerable<TopicPartitionOffset> Resume(PoolConsumer<Ignore, TMessage> consumer, IReadOnlyList<TopicPartitionOffset> proposed)
    {
        var starts = proposed
            .Select(p => nextOffsets.TryGetValue(p.Partition.Value, out var next) ? new TopicPartitionOffset(p.TopicPartition, next) : p)
            .ToList();
        if (progress.Partitions.Count == 0)
        {
            var targets = new List<(int, long, long)>();
            foreach (var start in starts)
            {
                var high = consumer.Inner.QueryWatermarkOffsets(start.TopicPartition, TimeSpan.FromSeconds(10)).High.Value;
                // A logical start (end of an empty partition) is already caught up.
                var startOffset = start.Offset.Value >= 0 ? start.Offset.Value : high;
                targets.Add((start.Partition.Value, startOffset, high));
            }
            progress.Assigned(targets);
            logger.LogInformation("Replaying {Topic} from {Start:O}: {Backlog} messages to catch up", consumer.Topic, replayFrom, progress.Backlog);
        }
        return starts;
    }
}
