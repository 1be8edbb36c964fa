using PoolCluster.Topics;

namespace PoolCluster.ShareLogger.Rows;

/// <summary>
/// What a batch covers in one partition: the messages from <see cref="Start"/> (the position the batch continues
/// from; null when the partition had no stored position and was read from its beginning) up to, not including,
/// <see cref="End"/>. Every message in that range is in the batch as a row, except messages that could not be
/// decoded (logged and counted as skipped). <see cref="Epoch"/> counts the consumer's seeks on the partition: after a
/// seek the partition's rows continue in a new range, so one batch may hold several ranges of a partition, in the
/// order they were read.
/// </summary>
internal sealed class PartitionRange(int index, int partition, long? start, int epoch)
{
    public int Index { get; } = index;
    public int Partition { get; } = partition;
    public long? Start { get; } = start;
    public int Epoch { get; } = epoch;
    public long End { get; set; } = start ?? 0;
    public int Rows { get; set; }
}

/// <summary>
/// A batch of encoded share rows with the Kafka range they cover per partition: the unit of one MySQL transaction.
/// Rows of a partition are in offset order; the batch is reused (its buffer stays allocated) through a pool.
/// </summary>
internal sealed class ShareBatch
{
    private int[] rowRanges;
    private long[] rowOffsets;
    private int[] rowEnds;
    private double[] rowDifficulties;
    private readonly List<PartitionRange> ranges = [];

    public ShareBatch(ShareRowFormat format, int expectedRows)
    {
        Format = format;
        var capacity = Math.Max(16, expectedRows);
        rowRanges = new int[capacity];
        rowOffsets = new long[capacity];
        rowEnds = new int[capacity];
        rowDifficulties = new double[capacity];
        Buffer = new RowBuffer(capacity * 180);
    }

    public ShareRowFormat Format { get; }

    public RowBuffer Buffer { get; }

    public int Rows { get; private set; }

    public IReadOnlyList<PartitionRange> Ranges => ranges;

    /// <summary>Sum of share_diff over the rows (what the kill tests compare with MySQL's SUM).</summary>
    public double DifficultySum { get; private set; }

    /// <summary>The newest share timestamp in the batch (Unix ms), for the time lag.</summary>
    public long NewestShareMs { get; private set; }

    /// <summary>The oldest share timestamp in the batch (Unix ms; long.MaxValue when empty): its wait is the batch's worst latency.</summary>
    public long OldestShareMs { get; private set; } = long.MaxValue;

    /// <summary>When the first message went in (Environment.TickCount64), for the flush interval.</summary>
    public long OpenedAtTick { get; private set; }

    public bool IsEmpty => ranges.Count == 0;

    /// <summary>The index in <see cref="Ranges"/> of the range a row belongs to.</summary>
    public int RangeIndexOf(int row) => rowRanges[row];

    public long OffsetOf(int row) => rowOffsets[row];

    /// <summary>share_diff as written for the row (0 where the share's was not finite).</summary>
    public double DifficultyOf(int row) => rowDifficulties[row];

    /// <summary>The encoded bytes of one row.</summary>
    public ReadOnlySpan<byte> RowBytes(int row)
    {
        var start = row == 0 ? 0 : rowEnds[row - 1];
        return Buffer.Written[start..rowEnds[row]];
    }

    /// <summary>The partition's latest range in this batch, or null.</summary>
    public PartitionRange? LastRangeOf(int partition)
    {
        for (var i = ranges.Count - 1; i >= 0; i--)
            if (ranges[i].Partition == partition)
                return ranges[i];
        return null;
    }

    /// <summary>
    /// The range new rows of <paramref name="partition"/> go into: its latest range when that is of the same
    /// <paramref name="epoch"/>, else a new range starting at <paramref name="start"/>.
    /// </summary>
    public PartitionRange Open(int partition, long? start, int epoch)
    {
        var range = LastRangeOf(partition);
        if (range == null || range.Epoch != epoch)
        {
            if (ranges.Count == 0)
                OpenedAtTick = Environment.TickCount64;
            range = new PartitionRange(ranges.Count, partition, start, epoch);
            ranges.Add(range);
        }
        return range;
    }

    /// <summary>Encodes <paramref name="share"/> at <paramref name="offset"/> of the range's partition.</summary>
    public void Add(PartitionRange range, Share share, long offset)
    {
        if (Rows == rowEnds.Length)
        {
            var size = rowEnds.Length * 2;
            Array.Resize(ref rowRanges, size);
            Array.Resize(ref rowOffsets, size);
            Array.Resize(ref rowEnds, size);
            Array.Resize(ref rowDifficulties, size);
        }
        var before = Buffer.Length;
        try
        {
            Format.Append(Buffer, share, range.Partition, offset);
        }
        catch
        {
            Buffer.Truncate(before);
            throw;
        }
        rowRanges[Rows] = range.Index;
        rowOffsets[Rows] = offset;
        rowEnds[Rows] = Buffer.Length;
        var difficulty = double.IsFinite(share.ShareDifficulty) ? share.ShareDifficulty : 0;
        rowDifficulties[Rows] = difficulty;
        Rows++;
        range.Rows++;
        range.End = offset + 1;
        DifficultySum += difficulty;
        if (share.TimestampUnixMs > NewestShareMs)
            NewestShareMs = share.TimestampUnixMs;
        if (share.TimestampUnixMs < OldestShareMs)
            OldestShareMs = share.TimestampUnixMs;
    }

    /// <summary>A message that is in the range but has no row (it could not be decoded).</summary>
    public static void Skip(PartitionRange range, long offset) => range.End = offset + 1;

    public void Reset()
    {
        Buffer.Clear();
        ranges.Clear();
        Rows = 0;
        DifficultySum = 0;
        NewestShareMs = 0;
        OldestShareMs = long.MaxValue;
        OpenedAtTick = 0;
    }
}
