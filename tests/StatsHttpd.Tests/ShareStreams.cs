using PoolCluster.Bitcoin;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.Topics;

namespace PoolCluster.StatsHttpd.Tests;

/// <summary>Builds shares and known streams of them.</summary>
internal static class ShareStreams
{
    /// <summary>2^20: with power-of-two share difficulties every goal, score and earn is an exact binary fraction.</summary>
    public const double NetworkDifficulty = 1 << 20;

    public const uint Height = 800_000;

    public static Share Make(int userId, long workerId, long timestampMs, double difficulty, ShareStatus status = ShareStatus.Accepted,
        uint serverId = 1, string? ip = null, double networkDifficulty = NetworkDifficulty, uint height = Height) => new()
    {
        UserId = userId,
        WorkerId = workerId,
        UserName = UserName(userId),
        WorkerName = WorkerName(workerId),
        Ip = ip ?? $"10.0.{userId % 256}.{workerId % 256}",
        ServerId = serverId,
        SessionId = (ulong)workerId,
        JobId = 1,
        ShareDifficulty = difficulty,
        NetworkDifficulty = networkDifficulty,
        Status = status,
        Height = height,
        TimestampUnixMs = timestampMs,
    };

    public static string UserName(int userId) => $"user{userId}";

    public static string WorkerName(long workerId) => $"rig{workerId % 1000}";

    /// <summary>Worker ids look like SServer's hashes: large, and some negative.</summary>
    public static long WorkerId(int userId, int index) => (index % 2 == 0 ? 1 : -1) * (1_000_003L * userId + 7919L * (index + 1));

    /// <summary>
    /// A deterministic mix of shares from <paramref name="users"/> users × <paramref name="workersPerUser"/> workers on
    /// two stratum servers over [<paramref name="end"/> − <paramref name="span"/>, <paramref name="end"/>): mostly
    /// accepted, some solved, stale and rejected for several reasons, with a few seconds of arrival jitter.
    /// </summary>
    public static List<Share> Known(DateTimeOffset end, TimeSpan span, int count, int seed = 1, int users = 3, int workersPerUser = 3,
        int firstUserId = 101)
    {
        var random = new Random(seed);
        var endMs = end.ToUnixTimeMilliseconds();
        var spanMs = (long)span.TotalMilliseconds;
        var shares = new List<(long Order, Share Share)>(count);
        for (var i = 0; i < count; i++)
        {
            var user = firstUserId + random.Next(users);
            var worker = WorkerId(user, random.Next(workersPerUser));
            var timestamp = endMs - 1 - (long)(random.NextDouble() * (spanMs - 1));
            var difficulty = (double)(1 << (10 + random.Next(7)));
            var roll = random.Next(100);
            var status = roll switch
            {
                < 80 => ShareStatus.Accepted,
                < 82 => ShareStatus.Solved,
                < 88 => ShareStatus.JobNotFound,
                < 92 => ShareStatus.LowDifficulty,
                < 95 => ShareStatus.Duplicate,
                < 97 => ShareStatus.TimeTooOld,
                < 99 => ShareStatus.IllegalParams,
                _ => (ShareStatus)40, // a code this build does not know: "other"
            };
            var share = Make(user, worker, timestamp, difficulty, status, serverId: (uint)(1 + random.Next(2)));
            // Arrival order: by time, give or take up to 3 s.
            shares.Add((timestamp + random.Next(-3000, 3000), share));
        }
        return [.. shares.OrderBy(s => s.Order).Select(s => s.Share)];
    }
}

/// <summary>
/// The expected statistics of a stream, computed the plain way (dictionaries of buckets, no rings): the reference the
/// store, Redis and MySQL are checked against. Sums run bucket by bucket in ascending order, as the store's do.
/// </summary>
internal sealed class ReferenceStats
{
    private readonly Dictionary<(string Entity, long Second), (double Accept, double Stale, double Reject, long AcceptCount)> seconds = new();
    private readonly Dictionary<(string Entity, long Minute), MinuteExpect> minutes = new();
    private readonly Dictionary<(string Entity, char Period, long Index), PeriodExpect> periods = new();
    private readonly Dictionary<string, (long Ms, string Ip)> lastShare = new();
    private readonly Network network;

    public ReferenceStats(IEnumerable<Share> shares, Network? network = null)
    {
        this.network = network ?? Network.Mainnet;
        foreach (var share in shares)
            Add(share);
    }

    public static string Pool => "pool";
    public static string User(int userId) => $"user/{userId}";
    public static string Worker(int userId, long workerId) => $"worker/{userId}/{workerId}";
    public static string Host(uint serverId) => $"host/{serverId}";

    public IEnumerable<string> Entities => periods.Keys.Select(k => k.Entity).Distinct();

    public IEnumerable<long> MinutesOf(string entity) => minutes.Keys.Where(k => k.Entity == entity).Select(k => k.Minute).OrderBy(m => m);

    public IEnumerable<(char Period, long Index)> PeriodsOf(string entity) =>
        periods.Keys.Where(k => k.Entity == entity).Select(k => (k.Period, k.Index)).OrderBy(k => k.Period).ThenBy(k => k.Index);

    public MinuteExpect Minute(string entity, long minute) => minutes.GetValueOrDefault((entity, minute)) ?? new MinuteExpect();

    public PeriodExpect Period(string entity, char period, long index) => periods.GetValueOrDefault((entity, period, index)) ?? new PeriodExpect();

    public (long Ms, string Ip) LastShare(string entity) => lastShare.GetValueOrDefault(entity);

    private void Add(Share share)
    {
        var outcome = RejectReasons.Classify(share.Status, out var reason);
        if (outcome == ShareOutcome.Invalid)
            return;
        var second = share.TimestampUnixMs / 1000;
        var goal = share.ShareDifficulty / share.NetworkDifficulty;
        var accepted = outcome == ShareOutcome.Accepted;
        var score = accepted ? Math.Min(1, goal) : 0;
        var earn = score * Subsidy.GetBlockSubsidy((int)share.Height, network);
        foreach (var entity in new[] { Pool, User(share.UserId), Worker(share.UserId, share.WorkerId), Host(share.ServerId) })
        {
            var s = seconds.GetValueOrDefault((entity, second));
            seconds[(entity, second)] = outcome switch
            {
                ShareOutcome.Accepted => (s.Accept + share.ShareDifficulty, s.Stale, s.Reject, s.AcceptCount + 1),
                ShareOutcome.Stale => (s.Accept, s.Stale + share.ShareDifficulty, s.Reject, s.AcceptCount),
                _ => (s.Accept, s.Stale, s.Reject + share.ShareDifficulty, s.AcceptCount),
            };
            var m = minutes.TryGetValue((entity, second / 60), out var existing) ? existing : minutes[(entity, second / 60)] = new MinuteExpect();
            m.Add(outcome, reason, share.ShareDifficulty, accepted ? goal : 0, share.Status == ShareStatus.Solved);
            foreach (var (period, index) in new[] { ('h', second / 3600), ('d', second / 86400) })
            {
                var p = periods.TryGetValue((entity, period, index), out var found) ? found : periods[(entity, period, index)] = new PeriodExpect();
                p.Add(outcome, reason, share.ShareDifficulty, score, earn);
            }
            if (share.TimestampUnixMs >= lastShare.GetValueOrDefault(entity).Ms)
                lastShare[entity] = (share.TimestampUnixMs, share.Ip);
        }
    }

    /// <summary>The window as <see cref="StatsWindow"/> defines it, at <paramref name="nowSeconds"/>.</summary>
    public WindowTotals Totals(string entity, StatsWindow window, long nowSeconds)
    {
        var total = new WindowTotals();
        switch (window)
        {
            case StatsWindow.OneMinute:
                for (var second = nowSeconds - 59; second <= nowSeconds; second++)
                    if (seconds.TryGetValue((entity, second), out var s))
                        total += new WindowTotals(s.Accept, s.Stale, s.Reject, s.AcceptCount, 0, 0);
                return total;
            case StatsWindow.OneDay:
                for (var hour = nowSeconds / 3600 - 24; hour < nowSeconds / 3600; hour++)
                    if (periods.TryGetValue((entity, 'h', hour), out var p))
                        total += new WindowTotals(p.Accept, p.Stale, p.Reject, p.AcceptCount, p.StaleCount, p.RejectCount);
                return total;
            default:
                for (var minute = nowSeconds / 60 - window.Seconds() / 60; minute < nowSeconds / 60; minute++)
                    if (minutes.TryGetValue((entity, minute), out var m))
                        total += new WindowTotals(m.Accept, m.Stale, m.Reject, m.AcceptCount, m.StaleCount, m.RejectCount);
                return total;
        }
    }

    public double[] Reasons(string entity, StatsWindow window, long nowSeconds)
    {
        var result = new double[RejectReasons.Count];
        if (window == StatsWindow.OneMinute)
            return result;
        if (window == StatsWindow.OneDay)
        {
            for (var hour = nowSeconds / 3600 - 24; hour < nowSeconds / 3600; hour++)
                if (periods.TryGetValue((entity, 'h', hour), out var p))
                    for (var i = 0; i < result.Length; i++)
                        result[i] += p.Reasons[i];
            return result;
        }
        for (var minute = nowSeconds / 60 - window.Seconds() / 60; minute < nowSeconds / 60; minute++)
            if (minutes.TryGetValue((entity, minute), out var m))
                for (var i = 0; i < result.Length; i++)
                    result[i] += m.Reasons[i];
        return result;
    }

    public long AcceptCountDay(string entity, long nowSeconds)
    {
        long count = 0;
        for (var hour = nowSeconds / 3600 - 24; hour <= nowSeconds / 3600; hour++)
            if (periods.TryGetValue((entity, 'h', hour), out var p))
                count += p.AcceptCount;
        return count;
    }
}

internal sealed class MinuteExpect
{
    public double Accept, Stale, Reject, Goal;
    public long AcceptCount, StaleCount, RejectCount, Blocks;
    public double[] Reasons { get; } = new double[RejectReasons.Count];

    public void Add(ShareOutcome outcome, int reason, double difficulty, double goal, bool block)
    {
        switch (outcome)
        {
            case ShareOutcome.Accepted:
                Accept += difficulty;
                AcceptCount++;
                Goal += goal;
                Blocks += block ? 1 : 0;
                break;
            case ShareOutcome.Stale:
                Stale += difficulty;
                StaleCount++;
                break;
            default:
                Reject += difficulty;
                RejectCount++;
                Reasons[reason] += difficulty;
                break;
        }
    }
}

internal sealed class PeriodExpect
{
    public double Accept, Stale, Reject, Score, Earn;
    public long AcceptCount, StaleCount, RejectCount;
    public double[] Reasons { get; } = new double[RejectReasons.Count];

    public void Add(ShareOutcome outcome, int reason, double difficulty, double score, double earn)
    {
        switch (outcome)
        {
            case ShareOutcome.Accepted:
                Accept += difficulty;
                AcceptCount++;
                Score += score;
                Earn += earn;
                break;
            case ShareOutcome.Stale:
                Stale += difficulty;
                StaleCount++;
                break;
            default:
                Reject += difficulty;
                RejectCount++;
                Reasons[reason] += difficulty;
                break;
        }
    }
}
