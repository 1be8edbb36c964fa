using System.Globalization;
using PoolCluster.Bitcoin;

namespace PoolCluster.StatsHttpd.Aggregation;

/// <summary>
/// The sliding windows every worker, user and the pool is measured over. All windows are keyed by the shares' own
/// timestamps and anchored at the time of the query:
/// <list type="bullet">
/// <item>1 min: the current second and the 59 before it (60 one-second buckets; the current one is still filling, as
/// in btcpool, so a new miner shows up within a second).</item>
/// <item>5 min, 15 min, 1 h: the last 5, 15, 60 complete minutes (the current minute is not counted yet).</item>
/// <item>1 day: the last 24 complete hours.</item>
/// </list>
/// Complete buckets make each window's span exactly its length, so hashrate = difficulty sum × 2^32 / length is
/// unbiased; the price is a lag of up to one bucket (a minute, an hour for the day window).
/// </summary>
public enum StatsWindow
{
    OneMinute,
    FiveMinutes,
    FifteenMinutes,
    OneHour,
    OneDay,
}

public static class StatsWindows
{
    public static IReadOnlyList<StatsWindow> All { get; } =
        [StatsWindow.OneMinute, StatsWindow.FiveMinutes, StatsWindow.FifteenMinutes, StatsWindow.OneHour, StatsWindow.OneDay];

    public static int Seconds(this StatsWindow window) => window switch
    {
        StatsWindow.OneMinute => 60,
        StatsWindow.FiveMinutes => 300,
        StatsWindow.FifteenMinutes => 900,
        StatsWindow.OneHour => 3600,
        StatsWindow.OneDay => 86400,
        _ => throw new ArgumentOutOfRangeException(nameof(window), window, "unknown window"),
    };

    /// <summary>The window's name in the REST API: "1m", "5m", "15m", "1h", "1d".</summary>
    public static string Label(this StatsWindow window) => window switch
    {
        StatsWindow.OneMinute => "1m",
        StatsWindow.FiveMinutes => "5m",
        StatsWindow.FifteenMinutes => "15m",
        StatsWindow.OneHour => "1h",
        StatsWindow.OneDay => "1d",
        _ => throw new ArgumentOutOfRangeException(nameof(window), window, "unknown window"),
    };

    /// <summary>Hashes per second: accepted difficulty × 2^32 over the window's length.</summary>
    public static double Hashrate(this StatsWindow window, double acceptedDifficulty) =>
        Difficulty.HashrateFromDifficultySeconds(acceptedDifficulty, window.Seconds());
}

/// <summary>Share totals over one window.</summary>
public readonly record struct WindowTotals(
    double Accept, double Stale, double Reject, long AcceptCount, long StaleCount, long RejectCount)
{
    public static WindowTotals operator +(WindowTotals a, WindowTotals b) => new(
        a.Accept + b.Accept, a.Stale + b.Stale, a.Reject + b.Reject,
        a.AcceptCount + b.AcceptCount, a.StaleCount + b.StaleCount, a.RejectCount + b.RejectCount);
}

/// <summary>Converts unix times to btcpool's hour (YYYYMMDDHH) and day (YYYYMMDD) keys, in UTC.</summary>
public static class TimeKeys
{
    public static int HourKey(long hourIndex)
    {
        var time = DateTimeOffset.FromUnixTimeSeconds(hourIndex * 3600);
        return int.Parse(time.ToString("yyyyMMddHH", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    public static int DayKey(long dayIndex)
    {
        var time = DateTimeOffset.FromUnixTimeSeconds(dayIndex * 86400);
        return int.Parse(time.ToString("yyyyMMdd", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    /// <summary>Floor division for unix times (correct for negative values too).</summary>
    public static long FloorDiv(long value, long divisor) => value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor);
}
