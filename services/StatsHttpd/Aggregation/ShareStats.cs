using System.Collections.Concurrent;
using System.Numerics;

namespace PoolCluster.StatsHttpd.Aggregation;

public enum StatsEntityKind
{
    Pool,

    /// <summary>One stratum server (Share.server_id): viabtc's per-host monitor keys.</summary>
    Host,

    User,
    Worker,
}

internal enum PeriodKind
{
    Hour,
    Day,
}

/// <summary>One share, reduced to what the buckets need (computed once per share, applied to four entities).</summary>
internal readonly struct ShareSample
{
    public required ShareOutcome Outcome { get; init; }
    public required int ReasonIndex { get; init; }
    public required double Difficulty { get; init; }
    public required double Goal { get; init; }
    public required double Score { get; init; }
    public required double Earn { get; init; }
    public required bool IsBlock { get; init; }
    public required long TimestampMs { get; init; }
    public required long Second { get; init; }
    public required long Minute { get; init; }
    public required long Hour { get; init; }
    public required long Day { get; init; }
    public required string Ip { get; init; }
}

/// <summary>A minute bucket to write to Redis.</summary>
internal readonly record struct MinuteRecord(ShareStats Entity, long Minute, MinuteBucket Values);

/// <summary>An hour or day bucket to write to MySQL; <see cref="RejectByReason"/> is null when nothing was rejected.</summary>
internal readonly record struct PeriodRecord(ShareStats Entity, PeriodKind Kind, long Index, PeriodBucket Values, double[]? RejectByReason);

/// <summary>Where buckets go that are recycled before their sink persisted them (a sink outage longer than the ring).</summary>
internal interface IEvictionSink
{
    bool TracksMinutes { get; }
    bool TracksPeriods { get; }
    void MinuteEvicted(in MinuteRecord record);
    void PeriodEvicted(in PeriodRecord record);
}

/// <summary>
/// The share statistics of one worker, user, host or the pool: ring buffers of per-second, per-minute, per-hour and
/// per-day buckets keyed by the shares' timestamps, so adding a share is O(1) and any window is a sum over at most 64
/// buckets. Every member is used under <see cref="Gate"/>.
/// Memory: about 7 KB per entity (plus about 1 KB per reject reason the entity ever had).
/// </summary>
public sealed class ShareStats
{
    public const int SecondSlots = 64;
    public const int MinuteSlots = 64;
    public const int HourSlots = 32;
    public const int DaySlots = 4;

    // Mutable struct rings, kept inline so a share in time order touches only this object (see BucketRing).
    private BucketRing<SecondBucket> seconds = new(SecondSlots);
    private BucketRing<MinuteBucket> minutes;
    private BucketRing<PeriodBucket> hours;
    private BucketRing<PeriodBucket> days;
    private readonly RingSizes sizes;
    private ReasonRings?[]? reasons;
    private bool anyDirtyMinutes;
    private bool anyDirtyPeriods;

    internal ShareStats(StatsEntityKind kind, int userId, long workerId, uint serverId, string userName, string workerName,
        RingSizes? ringSizes = null)
    {
        sizes = ringSizes ?? RingSizes.Default;
        minutes = new BucketRing<MinuteBucket>(sizes.Minutes);
        hours = new BucketRing<PeriodBucket>(sizes.Hours);
        days = new BucketRing<PeriodBucket>(sizes.Days);
        Kind = kind;
        UserId = userId;
        WorkerId = workerId;
        ServerId = serverId;
        UserName = userName;
        WorkerName = workerName;
        if (kind == StatsEntityKind.User)
            Workers = new ConcurrentDictionary<long, ShareStats>();
    }

    /// <summary>
    /// The entity's lock: the object itself (a Monitor thin lock lives in the object header, already in cache when the
    /// entity is; a separate lock object would cost a cache miss per share).
    /// </summary>
    internal object Gate => this;

    /// <summary>A worker's user (saves a lookup per share); null for other kinds.</summary>
    internal ShareStats? Owner { get; set; }

    public StatsEntityKind Kind { get; }
    public int UserId { get; }

    /// <summary>The worker id (Share.worker_id); 0 for users, hosts and the pool (btcpool's convention).</summary>
    public long WorkerId { get; }

    public uint ServerId { get; }
    public string UserName { get; }
    public string WorkerName { get; internal set; }

    /// <summary>A user's workers; null for other kinds.</summary>
    internal ConcurrentDictionary<long, ShareStats>? Workers { get; }

    /// <summary>Newest share timestamp seen (unix ms), 0 before any share.</summary>
    internal long LastShareMs { get; private set; }

    internal string? LastShareIp { get; private set; }

    /// <summary>Authorized stratum sessions open now (workers; users sum theirs).</summary>
    internal int OnlineSessions { get; set; }

    internal string? MinerAgent { get; set; }

    /// <summary>Unix ms of the last share or worker event: entities idle past the expiry are dropped.</summary>
    internal long LastActivityMs { get; set; }

    /// <summary>Set (under the gate) when the entity was dropped from the store; writers then make a new one.</summary>
    internal bool Removed { get; set; }

    /// <summary>The Redis writer's key names for this entity (used by the writer's thread only).</summary>
    internal object? RedisKeys { get; set; }

    internal bool HasDirtyBuckets => anyDirtyMinutes || anyDirtyPeriods;

    internal void AddLocked(in ShareSample share, IEvictionSink sink)
    {
        var accepted = share.Outcome == ShareOutcome.Accepted;
        var stale = share.Outcome == ShareOutcome.Stale;
        var diff = share.Difficulty;

        ref var second = ref seconds.Claim(share.Second, false, out var refused, out _, out _);
        if (!refused)
        {
            if (accepted)
            {
                second.Accept += diff;
                second.AcceptCount++;
            }
            else if (stale)
                second.Stale += diff;
            else
                second.Reject += diff;
        }

        ref var minute = ref minutes.Claim(share.Minute, sink.TracksMinutes, out refused, out var evictedMinute, out var evictedMinuteValue);
        if (evictedMinute != BucketRing<MinuteBucket>.Empty)
            sink.MinuteEvicted(new MinuteRecord(this, evictedMinute, evictedMinuteValue));
        if (!refused)
        {
            if (accepted)
            {
                minute.Accept += diff;
                minute.AcceptCount++;
                minute.Goal += share.Goal;
                if (share.IsBlock)
                    minute.Blocks++;
            }
            else if (stale)
            {
                minute.Stale += diff;
                minute.StaleCount++;
            }
            else
            {
                minute.Reject += diff;
                minute.RejectCount++;
                Reasons(share.ReasonIndex).Minutes.AddTo(share.Minute, diff);
            }
            anyDirtyMinutes |= sink.TracksMinutes;
        }

        AddToPeriod(ref hours, PeriodKind.Hour, share.Hour, share, sink);
        AddToPeriod(ref days, PeriodKind.Day, share.Day, share, sink);

        if (share.TimestampMs >= LastShareMs)
        {
            LastShareMs = share.TimestampMs;
            LastShareIp = share.Ip;
        }
        if (share.TimestampMs > LastActivityMs)
            LastActivityMs = share.TimestampMs;
    }

    private void AddToPeriod(ref BucketRing<PeriodBucket> ring, PeriodKind kind, long index, in ShareSample share, IEvictionSink sink)
    {
        ref var bucket = ref ring.Claim(index, sink.TracksPeriods, out var refused, out var evicted, out var evictedValue);
        if (evicted != BucketRing<PeriodBucket>.Empty)
            sink.PeriodEvicted(new PeriodRecord(this, kind, evicted, evictedValue, RejectByReason(kind, evicted)));
        if (refused)
            return;
        switch (share.Outcome)
        {
            case ShareOutcome.Accepted:
                bucket.Accept += share.Difficulty;
                bucket.AcceptCount++;
                bucket.Score += share.Score;
                bucket.Earn += share.Earn;
                if (share.IsBlock)
                    bucket.Blocks++;
                break;
            case ShareOutcome.Stale:
                bucket.Stale += share.Difficulty;
                bucket.StaleCount++;
                break;
            default:
                bucket.Reject += share.Difficulty;
                bucket.RejectCount++;
                var reasonRings = Reasons(share.ReasonIndex);
                if (kind == PeriodKind.Hour)
                    reasonRings.Hours.AddTo(index, share.Difficulty);
                else
                    reasonRings.Days.AddTo(index, share.Difficulty);
                break;
        }
        anyDirtyPeriods |= sink.TracksPeriods;
    }

    private ReasonRings Reasons(int index)
    {
        reasons ??= new ReasonRings?[RejectReasons.Count];
        return reasons[index] ??= new ReasonRings(sizes);
    }

    /// <summary>Rejected difficulty per reason in one hour or day bucket; null when none.</summary>
    private double[]? RejectByReason(PeriodKind kind, long index)
    {
        if (reasons == null)
            return null;
        double[]? result = null;
        for (var i = 0; i < reasons.Length; i++)
        {
            var rings = reasons[i];
            if (rings == null)
                continue;
            var value = kind == PeriodKind.Hour ? rings.Hours.Get(index) : rings.Days.Get(index);
            if (value == 0)
                continue;
            result ??= new double[RejectReasons.Count];
            result[i] = value;
        }
        return result;
    }

    /// <summary>Totals over <paramref name="window"/> ending at <paramref name="nowSeconds"/> (see <see cref="StatsWindow"/>).</summary>
    internal WindowTotals TotalsLocked(StatsWindow window, long nowSeconds)
    {
        switch (window)
        {
            case StatsWindow.OneMinute:
                return Sum(in seconds, nowSeconds - 59, nowSeconds + 1);
            case StatsWindow.OneDay:
            {
                var currentHour = TimeKeys.FloorDiv(nowSeconds, 3600);
                return Sum(in hours, currentHour - 24, currentHour);
            }
            default:
            {
                var currentMinute = TimeKeys.FloorDiv(nowSeconds, 60);
                return Sum(in minutes, currentMinute - window.Seconds() / 60, currentMinute);
            }
        }
    }

    /// <summary>The totals of the buckets <paramref name="from"/> to <paramref name="to"/> (exclusive) that the ring still holds.</summary>
    private static WindowTotals Sum<T>(in BucketRing<T> ring, long from, long to) where T : struct, IWindowBucket
    {
        var totals = default(WindowTotals);
        for (var index = from; index < to; index++)
        {
            var bucket = ring.Get(index, out var found);
            if (found)
                totals += bucket.Totals;
        }
        return totals;
    }

    /// <summary>
    /// Rejected difficulty per reason over <paramref name="window"/>, into <paramref name="byReason"/> (length
    /// <see cref="RejectReasons.Count"/>). The 1-minute window keeps no reasons: it is left all zero.
    /// </summary>
    internal void RejectByReasonLocked(StatsWindow window, long nowSeconds, Span<double> byReason)
    {
        byReason.Clear();
        if (reasons == null || window == StatsWindow.OneMinute)
            return;
        long from, to;
        if (window == StatsWindow.OneDay)
        {
            to = TimeKeys.FloorDiv(nowSeconds, 3600);
            from = to - 24;
        }
        else
        {
            to = TimeKeys.FloorDiv(nowSeconds, 60);
            from = to - window.Seconds() / 60;
        }
        for (var i = 0; i < reasons.Length; i++)
        {
            var rings = reasons[i];
            if (rings == null)
                continue;
            double sum = 0;
            for (var index = from; index < to; index++)
                sum += window == StatsWindow.OneDay ? rings.Hours.Get(index) : rings.Minutes.Get(index);
            byReason[i] = sum;
        }
    }

    /// <summary>Accepted shares in the current hour and the 24 before it: btcpool's accept_count.</summary>
    internal long AcceptCountDayLocked(long nowSeconds)
    {
        var currentHour = TimeKeys.FloorDiv(nowSeconds, 3600);
        long count = 0;
        for (var hour = currentHour - 24; hour <= currentHour; hour++)
            count += hours.Get(hour).AcceptCount;
        return count;
    }

    /// <summary>Fills <paramref name="snapshot"/> with every window (takes the gate).</summary>
    internal void Snapshot(long nowSeconds, EntitySnapshot snapshot)
    {
        lock (Gate)
        {
            // A plain loop: foreach over the IReadOnlyList would allocate an enumerator per snapshot.
            for (var window = StatsWindow.OneMinute; window <= StatsWindow.OneDay; window++)
            {
                snapshot.Totals[(int)window] = TotalsLocked(window, nowSeconds);
                RejectByReasonLocked(window, nowSeconds, snapshot.ReasonsOf(window));
            }
            snapshot.AcceptCountDay = AcceptCountDayLocked(nowSeconds);
            snapshot.LastShareMs = LastShareMs;
            snapshot.LastShareIp = LastShareIp;
            snapshot.OnlineSessions = OnlineSessions;
            snapshot.MinerAgent = MinerAgent;
            snapshot.WorkerName = WorkerName;
        }
    }

    /// <summary>Moves the dirty minute buckets at or after <paramref name="firstCoveredMinute"/> into <paramref name="into"/> and clears their flags.</summary>
    internal void CollectDirtyMinutesLocked(long firstCoveredMinute, ICollection<MinuteRecord> into)
    {
        if (!anyDirtyMinutes)
            return;
        for (var place = 0; place < minutes.Places; place++)
        {
            // A bucket older than the first complete one holds only part of its minute: writing it would overwrite
            // the full value an earlier run wrote.
            if (minutes.TakeDirty(place, out var index, out var value) && index >= firstCoveredMinute)
                into.Add(new MinuteRecord(this, index, value));
        }
        anyDirtyMinutes = false;
    }

    /// <summary>As <see cref="CollectDirtyMinutesLocked"/> for the hour and day buckets.</summary>
    internal void CollectDirtyPeriodsLocked(long firstCoveredHour, long firstCoveredDay, ICollection<PeriodRecord> into)
    {
        if (!anyDirtyPeriods)
            return;
        Collect(ref hours, PeriodKind.Hour, firstCoveredHour);
        Collect(ref days, PeriodKind.Day, firstCoveredDay);
        anyDirtyPeriods = false;

        void Collect(ref BucketRing<PeriodBucket> ring, PeriodKind kind, long firstCovered)
        {
            for (var place = 0; place < ring.Places; place++)
            {
                if (ring.TakeDirty(place, out var index, out var value) && index >= firstCovered)
                    into.Add(new PeriodRecord(this, kind, index, value, RejectByReason(kind, index)));
            }
        }
    }

    /// <summary>Marks every minute bucket dirty: the Redis writer rewrites them all (Redis came back empty).</summary>
    internal void MarkMinutesDirtyLocked()
    {
        minutes.MarkAllDirty();
        anyDirtyMinutes = true;
    }

    public override string ToString() => Kind switch
    {
        StatsEntityKind.Pool => "pool",
        StatsEntityKind.Host => $"host {ServerId}",
        StatsEntityKind.User => $"user {UserId} ({UserName})",
        _ => $"worker {UserId}/{WorkerId} ({UserName}.{WorkerName})",
    };

    /// <summary>Rejected difficulty of one reason per minute, hour and day (only reasons the entity ever had).</summary>
    private sealed class ReasonRings(RingSizes sizes)
    {
        public BucketRing<double> Minutes = new(sizes.Minutes);
        public BucketRing<double> Hours = new(sizes.Hours);
        public BucketRing<double> Days = new(sizes.Days);
    }
}

/// <summary>
/// Ring lengths (powers of two). Workers and users keep the defaults: all of one user's shares are in one partition,
/// in order, so their newest bucket never runs far ahead of a late share. The pool and the stratum servers take
/// shares from every partition, and while the history is replayed one partition can be hours ahead of another: their
/// rings span the whole replay (a few hundred KB for the pool, once).
/// </summary>
internal sealed record RingSizes(int Minutes, int Hours, int Days)
{
    public static readonly RingSizes Default = new(ShareStats.MinuteSlots, ShareStats.HourSlots, ShareStats.DaySlots);

    /// <summary>Rings for an entity fed by every partition, spanning <paramref name="replay"/> plus margins.</summary>
    public static RingSizes Spanning(TimeSpan replay) => new(
        (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(ShareStats.MinuteSlots, replay.TotalMinutes + 180)),
        (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(ShareStats.HourSlots, replay.TotalHours + 30)),
        (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(ShareStats.DaySlots, replay.TotalDays + 4)));
}

internal static class ReasonRingExtensions
{
    public static void AddTo(this ref BucketRing<double> ring, long index, double value)
    {
        ref var bucket = ref ring.Claim(index, false, out var refused, out _, out _);
        if (!refused)
            bucket += value;
    }
}

/// <summary>Every window of one entity at one moment; reused across entities by writers.</summary>
public sealed class EntitySnapshot
{
    private readonly double[] reasons = new double[StatsWindows.All.Count * RejectReasons.Count];

    public WindowTotals[] Totals { get; } = new WindowTotals[StatsWindows.All.Count];

    public long AcceptCountDay { get; set; }
    public long LastShareMs { get; set; }
    public string? LastShareIp { get; set; }
    public int OnlineSessions { get; set; }
    public string? MinerAgent { get; set; }
    public string WorkerName { get; set; } = "";

    public WindowTotals this[StatsWindow window] => Totals[(int)window];

    /// <summary>Rejected difficulty per reason index (see <see cref="RejectReasons"/>) over <paramref name="window"/>.</summary>
    public Span<double> ReasonsOf(StatsWindow window) => reasons.AsSpan((int)window * RejectReasons.Count, RejectReasons.Count);
}
