using System.Diagnostics;
using System.Numerics;

namespace PoolCluster.Simulator;

/// <summary>
/// Lock-free histogram of durations in microseconds with ~3% resolution (32 linear sub-buckets per power of two, the
/// HdrHistogram layout): recording is two interlocked adds; percentiles are read from a snapshot.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 5;
    private const int SubBuckets = 1 << SubBucketBits;
    private readonly long[] _counts = new long[(64 - SubBucketBits + 1) * SubBuckets];
    private long _count;
    private long _sumMicros;
    private long _maxMicros;

    public long Count => Interlocked.Read(ref _count);

    public void RecordTicks(long stopwatchTicks) => RecordMicros(stopwatchTicks * 1_000_000 / Stopwatch.Frequency);

    public void RecordMicros(long micros)
    {
        if (micros < 0)
            micros = 0;
        Interlocked.Increment(ref _counts[IndexOf(micros)]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumMicros, micros);
        long max;
        while (micros > (max = Interlocked.Read(ref _maxMicros)) && Interlocked.CompareExchange(ref _maxMicros, micros, max) != max)
        {
        }
    }

    private static int IndexOf(long value)
    {
        if (value < SubBuckets)
            return (int)value;
        var exponent = 63 - BitOperations.LeadingZeroCount((ulong)value);
        var sub = (int)(value >> (exponent - SubBucketBits)) & (SubBuckets - 1);
        return (exponent - SubBucketBits + 1) * SubBuckets + sub;
    }

    /// <summary>The middle of bucket <paramref name="index"/> (its value exactly for the first 32).</summary>
    private static double MidpointOf(int index)
    {
        if (index < SubBuckets)
            return index;
        var exponent = index / SubBuckets + SubBucketBits - 1;
        var sub = index % SubBuckets;
        var lower = (double)(SubBuckets + sub) * Math.Pow(2, exponent - SubBucketBits);
        var width = Math.Pow(2, exponent - SubBucketBits);
        return lower + width / 2;
    }

    /// <summary>Count, mean, p50/p90/p99/p99.9 and max, in milliseconds.</summary>
    public LatencySummary Summarize()
    {
        var counts = new long[_counts.Length];
        long total = 0;
        for (var i = 0; i < counts.Length; i++)
            total += counts[i] = Interlocked.Read(ref _counts[i]);
        var max = Interlocked.Read(ref _maxMicros);
        if (total == 0)
            return new LatencySummary(0, 0, 0, 0, 0, 0, 0);
        double Percentile(double p)
        {
            var rank = (long)Math.Ceiling(p / 100 * total);
            if (rank < 1) rank = 1;
            long seen = 0;
            for (var i = 0; i < counts.Length; i++)
            {
                seen += counts[i];
                if (seen >= rank)
                    return Math.Min(MidpointOf(i), max) / 1000.0;
            }
            return max / 1000.0;
        }
        return new LatencySummary(total, Interlocked.Read(ref _sumMicros) / 1000.0 / total, Percentile(50), Percentile(90),
            Percentile(99), Percentile(99.9), max / 1000.0);
    }
}

/// <summary>Milliseconds.</summary>
internal readonly record struct LatencySummary(long Count, double Mean, double P50, double P90, double P99, double P999, double Max);
