namespace PoolCluster.StatsHttpd.Tests;

/// <summary>A clock the test sets: windows are evaluated at a known instant, so expected sums are exact.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref ticks), TimeSpan.Zero);

    public void Set(DateTimeOffset time) => Interlocked.Exchange(ref ticks, time.UtcTicks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref ticks, by.Ticks);

    /// <summary>The current real minute plus 30 s: near enough to the wall clock for Kafka's timestamps, exact for windows.</summary>
    public static ManualClock NearNow() =>
        new(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60 * 60 + 30));
}
