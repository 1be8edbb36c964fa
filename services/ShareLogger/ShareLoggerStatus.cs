using System.Collections.Concurrent;

namespace PoolCluster.ShareLogger;

/// <summary>Live counters of a running ShareLogger (logged periodically; read by tests). Thread-safe.</summary>
public sealed class ShareLoggerStatus
{
    private long messagesConsumed;
    private long rowsWritten;
    private long rowsAlreadyPresent;
    private long rowsTrimmed;
    private long undecodableMessages;
    private long gapsDetected;
    private long batchesWritten;
    private long writeFailures;
    private long pauses;
    private long newestWrittenShareMs;
    private long mysqlFailingSinceMs;
    private long difficultyWrittenBits;
    private int pendingBatches;
    private int maxPendingBatches;
    private int bufferedRows;
    private int maxBufferedRows;
    private int paused;

    /// <summary>Messages taken from Kafka (including ones read again after a rebalance).</summary>
    public long MessagesConsumed => Interlocked.Read(ref messagesConsumed);

    /// <summary>Rows inserted into `shares` by this process.</summary>
    public long RowsWritten => Interlocked.Read(ref rowsWritten);

    /// <summary>Rows the table already had (skipped by IGNORE): 0 unless positions were tampered with.</summary>
    public long RowsAlreadyPresent => Interlocked.Read(ref rowsAlreadyPresent);

    /// <summary>Rows not written because the stored position showed them written already (re-reads after rebalances).</summary>
    public long RowsTrimmed => Interlocked.Read(ref rowsTrimmed);

    public long UndecodableMessages => Interlocked.Read(ref undecodableMessages);

    /// <summary>Times a partition's offsets jumped (messages gone from Kafka, e.g. by retention, before they were logged).</summary>
    public long GapsDetected => Interlocked.Read(ref gapsDetected);

    public long BatchesWritten => Interlocked.Read(ref batchesWritten);

    /// <summary>Failed write attempts (each is retried).</summary>
    public long WriteFailures => Interlocked.Read(ref writeFailures);

    /// <summary>Times consumption was paused because MySQL fell behind.</summary>
    public long Pauses => Interlocked.Read(ref pauses);

    public double DifficultyWritten => BitConverter.Int64BitsToDouble(Interlocked.Read(ref difficultyWrittenBits));

    public bool IsPaused => Volatile.Read(ref paused) != 0;

    /// <summary>Full batches handed to the writer and not yet committed (including the one being written).</summary>
    public int PendingBatches => Volatile.Read(ref pendingBatches);

    public int MaxPendingBatchesSeen => Volatile.Read(ref maxPendingBatches);

    /// <summary>Rows in the batch being filled.</summary>
    public int BufferedRows => Volatile.Read(ref bufferedRows);

    public int MaxBufferedRowsSeen => Volatile.Read(ref maxBufferedRows);

    /// <summary>Timestamp of the newest share in the last committed batch (Unix ms, 0 before the first).</summary>
    public long NewestWrittenShareMs => Interlocked.Read(ref newestWrittenShareMs);

    /// <summary>When writes started failing (Unix ms), null while they succeed.</summary>
    public DateTimeOffset? MySqlFailingSince =>
        Interlocked.Read(ref mysqlFailingSinceMs) is var ms && ms != 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>Raised on the writer thread after each committed batch (rows, oldest and newest share time in Unix ms).</summary>
    public event Action<int, long, long>? BatchCommitted;

    /// <summary>The committed MySQL position (next offset) per partition, as last written by this process.</summary>
    public ConcurrentDictionary<int, long> Positions { get; } = new();

    internal void Consumed() => Interlocked.Increment(ref messagesConsumed);

    internal void Undecodable() => Interlocked.Increment(ref undecodableMessages);

    internal void Gap() => Interlocked.Increment(ref gapsDetected);

    internal void Paused(bool value)
    {
        if (Interlocked.Exchange(ref paused, value ? 1 : 0) == 0 && value)
            Interlocked.Increment(ref pauses);
    }

    internal void SetBufferedRows(int rows)
    {
        Volatile.Write(ref bufferedRows, rows);
        if (rows > Volatile.Read(ref maxBufferedRows))
            Volatile.Write(ref maxBufferedRows, rows);
    }

    internal void BatchQueued()
    {
        var now = Interlocked.Increment(ref pendingBatches);
        int seen;
        while (now > (seen = Volatile.Read(ref maxPendingBatches)) && Interlocked.CompareExchange(ref maxPendingBatches, now, seen) != seen)
        {
        }
    }

    internal void BatchDone() => Interlocked.Decrement(ref pendingBatches);

    internal void WriteFailed(long nowMs)
    {
        Interlocked.Increment(ref writeFailures);
        Interlocked.CompareExchange(ref mysqlFailingSinceMs, nowMs, 0);
    }

    internal void Written(int rows, int alreadyPresent, int trimmed, double difficulty, long oldestShareMs, long newestShareMs,
        IReadOnlyDictionary<int, long> positions)
    {
        Interlocked.Exchange(ref mysqlFailingSinceMs, 0);
        Interlocked.Add(ref rowsWritten, rows);
        Interlocked.Add(ref rowsAlreadyPresent, alreadyPresent);
        Interlocked.Add(ref rowsTrimmed, trimmed);
        Interlocked.Increment(ref batchesWritten);
        // One writer thread updates the sum; readers only need a torn-free value.
        Interlocked.Exchange(ref difficultyWrittenBits, BitConverter.DoubleToInt64Bits(DifficultyWritten + difficulty));
        if (newestShareMs > Interlocked.Read(ref newestWrittenShareMs))
            Interlocked.Exchange(ref newestWrittenShareMs, newestShareMs);
        foreach (var (partition, next) in positions)
            Positions[partition] = next;
        if (rows > 0)
            BatchCommitted?.Invoke(rows, oldestShareMs, newestShareMs);
    }
}
