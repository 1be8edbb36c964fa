using PoolCluster.BlkMaker.Recording;

namespace PoolCluster.BlkMaker;

/// <summary>When a block went out: Stopwatch timestamps from the solved share's arrival to each node's request written.</summary>
/// <param name="Hash">Display hex.</param>
/// <param name="KafkaTimestampMs">The solved share's Kafka timestamp (the producer's CreateTime).</param>
/// <param name="ConsumedTicks">When BlkMaker took it from the consumer (Stopwatch.GetTimestamp()).</param>
/// <param name="BuiltTicks">When the submitblock request was ready.</param>
/// <param name="WritingTicks">Per node (configuration order): when the request's body started going out on its connection; 0 when it never did.</param>
/// <param name="WrittenTicks">Per node: when the whole request was handed to the kernel (which for a large block waits for the node to read); 0 when it could not be.</param>
public sealed record BlockSentTiming(
    string Hash, int Height, long KafkaTimestampMs, long ConsumedTicks, long BuiltTicks, IReadOnlyList<long> WritingTicks, IReadOnlyList<long> WrittenTicks)
{
    /// <summary>From taking the share to the last node's request written, in milliseconds.</summary>
    public double ConsumedToAllSentMs => WrittenTicks.Any(t => t == 0) ? double.NaN : (WrittenTicks.Max() - ConsumedTicks) * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
}

/// <summary>Live counters of a running BlkMaker. Thread-safe.</summary>
public sealed class BlkMakerStatus
{
    private long solvedShares;
    private long blocksSent;
    private long blocksRecorded;
    private long blocksFailed;
    private long announcements;
    private long committedOffset = -1;
    private int pendingBlocks;
    private int caughtUp;

    public long SolvedSharesConsumed => Interlocked.Read(ref solvedShares);

    /// <summary>Blocks whose submitblock went out to the nodes.</summary>
    public long BlocksSent => Interlocked.Read(ref blocksSent);

    /// <summary>Blocks recorded in found_blocks (any status).</summary>
    public long BlocksRecorded => Interlocked.Read(ref blocksRecorded);

    /// <summary>Blocks recorded as rejected or failed.</summary>
    public long BlocksNotTaken => Interlocked.Read(ref blocksFailed);

    /// <summary>newblock events pushed to Redis by this process.</summary>
    public long Announcements => Interlocked.Read(ref announcements);

    /// <summary>The last committed offset of the solved-share topic (the next to read), -1 before the first commit.</summary>
    public long CommittedOffset => Interlocked.Read(ref committedOffset);

    /// <summary>Solved shares taken from Kafka and not finished (submitted, confirmed, recorded).</summary>
    public int PendingBlocks => Volatile.Read(ref pendingBlocks);

    /// <summary>The template and job history has been read back.</summary>
    public bool HistoryRead => Volatile.Read(ref caughtUp) != 0;

    /// <summary>The outcome of every block recorded by this process, by hash (display hex).</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, FoundBlockRecord> Recorded { get; } = new();

    internal void Consumed()
    {
        Interlocked.Increment(ref solvedShares);
        Interlocked.Increment(ref pendingBlocks);
    }

    internal void Sent() => Interlocked.Increment(ref blocksSent);

    internal void Finished() => Interlocked.Decrement(ref pendingBlocks);

    internal void Record(FoundBlockRecord record, bool announced)
    {
        Recorded[record.Hash] = record;
        Interlocked.Increment(ref blocksRecorded);
        if (!record.IsFound)
            Interlocked.Increment(ref blocksFailed);
        if (announced)
            Interlocked.Increment(ref announcements);
    }

    internal void Committed(long nextOffset) => Interlocked.Exchange(ref committedOffset, nextOffset);

    internal void HistoryCaughtUp() => Volatile.Write(ref caughtUp, 1);
}
