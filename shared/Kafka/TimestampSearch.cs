using Confluent.Kafka;

namespace PoolCluster.Kafka;

/// <summary>
/// Finds the first offset whose message timestamp is at or after a time by reading message timestamps (a binary
/// search: about log2(messages) single-message fetches). Used where the broker cannot answer offsetsForTimes.
/// Assumes timestamps grow with offsets, as they do for CreateTime set by our producers.
/// </summary>
internal static class TimestampSearch
{
    public static long FirstOffsetAtOrAfter(ConsumerConfig baseConfig, TopicPartition partition, long low, long high, long atUnixMs, TimeSpan timeout)
    {
        if (high <= low)
            return high;
        var config = new ConsumerConfig(new Dictionary<string, string>(baseConfig))
        {
            // A throw-away reader: its own group id, never joined nor committed.
            GroupId = $"{baseConfig.ClientId}.timestamp-search.{Guid.NewGuid():N}",
            EnableAutoCommit = false,
            FetchWaitMaxMs = Math.Min(baseConfig.FetchWaitMaxMs ?? 100, 100),
        };
        using var probe = new ConsumerBuilder<Ignore, Ignore>(config).SetLogHandler((_, _) => { }).Build();
        try
        {
            // Most often everything is older (an idle partition) or the last message answers it: one read.
            var (lastOffset, lastTimestamp) = Read(probe, partition, high - 1, timeout);
            if (lastTimestamp < atUnixMs)
                return lastOffset + 1;
            long lo = low, hi = high - 1;
            while (lo < hi)
            {
                var mid = lo + (hi - lo) / 2;
                var (offset, ts) = Read(probe, partition, mid, timeout);
                if (ts >= atUnixMs)
                    hi = mid;
                else
                    lo = Math.Min(offset + 1, hi); // offsets without a message (gaps) lie between
            }
            return lo;
        }
        finally
        {
            probe.Close();
        }
    }

    private static (long Offset, long TimestampMs) Read(IConsumer<Ignore, Ignore> probe, TopicPartition partition, long offset, TimeSpan timeout)
    {
        probe.Assign(new TopicPartitionOffset(partition, offset));
        var result = probe.Consume(timeout)
            ?? throw new TimeoutException($"reading the timestamp at {partition.Topic}[{partition.Partition.Value}]@{offset} took over {timeout.TotalSeconds:0.#} s");
        return (result.Offset.Value, result.Message.Timestamp.UnixTimestampMs);
    }
}
