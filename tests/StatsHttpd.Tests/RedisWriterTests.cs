using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Ingest;
using PoolCluster.StatsHttpd.Sinks;
using PoolCluster.Storage;
using PoolCluster.Testing;
using PoolCluster.Topics;
using StackExchange.Redis;

namespace PoolCluster.StatsHttpd.Tests;

public class RedisWriterTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-03-14T15:09:26.5Z");

    /// <summary>A store, its writer and queue on one Redis, with the test's own key prefixes.</summary>
    private sealed class Rig : IDisposable
    {
        public Rig(RedisOptions options, string coin, ManualClock clock, ConnectionMultiplexer? shared = null)
        {
            Clock = clock;
            Coin = coin;
            Global = coin + "/";
            Multiplexer = shared ?? RedisConnectionFactory.Connect(options);
            OwnsMultiplexer = shared == null;
            Store = new StatsStore(new StatsStoreSettings { TrackPeriodsForMySql = false }, clock);
            Warmup = new WarmupState(clock);
            Warmup.Shares.MarkCaughtUp();
            Warmup.WorkerEvents.MarkCaughtUp();
            Events = new RedisEventQueue(1000);
            Writer = new RedisStatsWriter(Store, Multiplexer, options.Database, new RedisKeyNames(coin, Global, "BTC", "btc.workerevent"),
                Events, Warmup, 1_000_000, NullLogger.Instance);
        }

        public ManualClock Clock { get; }
        public string Coin { get; }
        public string Global { get; }
        public ConnectionMultiplexer Multiplexer { get; }
        private bool OwnsMultiplexer { get; }
        public StatsStore Store { get; }
        public WarmupState Warmup { get; }
        public RedisEventQueue Events { get; }
        public RedisStatsWriter Writer { get; }

        public long CurrentMinute => Clock.GetUtcNow().ToUnixTimeSeconds() / 60;

        public SortedDictionary<string, string> Read() =>
            RedisSnapshot.Read(Multiplexer, $"{Coin}:s:*", $"{Coin}:p:*", $"{Coin}:g:*", $"{Coin}:m:*", $"{Coin}:mh:*", $"{Coin}:mk:*", $"{Global}*");

        public void Dispose()
        {
            if (OwnsMultiplexer)
                Multiplexer.Dispose();
        }
    }

    private Rig NewRig(string? coin = null, ManualClock? clock = null, ConnectionMultiplexer? shared = null)
    {
        var options = redis.CreateOptions();
        return new Rig(options, coin ?? options.KeyPrefix, clock ?? new ManualClock(Now), shared);
    }

    [Fact]
    public async Task A_known_stream_gives_exactly_viabtcs_per_minute_hashes_and_key_sets()
    {
        // Three hours: the minute ring (64) recycles most minutes before the flush; they reach Redis from the backlog.
        var shares = ShareStreams.Known(Now, TimeSpan.FromHours(3), 6000, seed: 3);
        using var rig = NewRig();
        foreach (var share in shares)
            rig.Store.Apply(share);
        Assert.True(await rig.Writer.FlushAsync(CancellationToken.None));

        var expected = RedisSnapshot.Expected(new ReferenceStats(shares), rig.Coin, rig.Global, rig.CurrentMinute);
        RedisSnapshot.AssertSame(expected, rig.Read());
        Assert.True(expected.Count > 50);
        Assert.Equal(0, rig.Writer.PendingMinutes);
    }

    [Fact]
    public async Task Flushing_again_or_replaying_the_stream_into_a_new_store_changes_nothing()
    {
        var shares = ShareStreams.Known(Now, TimeSpan.FromMinutes(50), 3000, seed: 4);
        using var first = NewRig();
        foreach (var share in shares)
            first.Store.Apply(share);
        Assert.True(await first.Writer.FlushAsync(CancellationToken.None));
        var written = first.Read();
        Assert.True(await first.Writer.FlushAsync(CancellationToken.None));
        RedisSnapshot.AssertSame(written, first.Read());

        // A restart that re-reads the same shares (StatsHttpd's replay) writes the same absolute values.
        using var replay = NewRig(first.Coin, shared: first.Multiplexer);
        foreach (var share in shares)
            replay.Store.Apply(share);
        Assert.True(await replay.Writer.FlushAsync(CancellationToken.None));
        RedisSnapshot.AssertSame(written, first.Read());
        RedisSnapshot.AssertSame(RedisSnapshot.Expected(new ReferenceStats(shares), first.Coin, first.Global, first.CurrentMinute), written);
    }

    [Fact]
    public async Task A_restart_replaying_from_mid_minute_never_overwrites_that_minute_with_a_partial_total()
    {
        var shares = ShareStreams.Known(Now, TimeSpan.FromMinutes(30), 3000, seed: 5);
        using var first = NewRig();
        foreach (var share in shares)
            first.Store.Apply(share);
        Assert.True(await first.Writer.FlushAsync(CancellationToken.None));
        var written = first.Read();

        // The restarted instance's replay starts 15 minutes and 17 seconds back: it sees only part of that minute.
        var restartFrom = Now.AddMinutes(-15).AddSeconds(-17).ToUnixTimeMilliseconds();
        using var restarted = NewRig(first.Coin, shared: first.Multiplexer);
        restarted.Store.CoverageStartSeconds = restartFrom / 1000;
        foreach (var share in shares.Where(s => s.TimestampUnixMs >= restartFrom))
            restarted.Store.Apply(share);
        Assert.True(await restarted.Writer.FlushAsync(CancellationToken.None));
        RedisSnapshot.AssertSame(written, first.Read());

        // Had it written the partial minute, this is what Redis would hold: prove the check above can fail.
        using var careless = NewRig(clock: new ManualClock(Now));
        foreach (var share in shares.Where(s => s.TimestampUnixMs >= restartFrom))
            careless.Store.Apply(share);
        Assert.True(await careless.Writer.FlushAsync(CancellationToken.None));
        var partialMinute = (restartFrom / 60_000 * 60).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.NotEqual(
            written[$"{first.Coin}:m:share"].Split(' ').Single(f => f.StartsWith(partialMinute + "=", StringComparison.Ordinal)),
            careless.Read()[$"{careless.Coin}:m:share"].Split(' ').Single(f => f.StartsWith(partialMinute + "=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Event_lists_get_each_worker_once_and_each_event_offset_once_in_viabtcs_json()
    {
        using var first = NewRig();
        first.Events.Enqueue(new PendingRedisEvent(RedisEventKind.NewWorker, "alice", "rig1", "", "", 0, 5));
        first.Events.Enqueue(new PendingRedisEvent(RedisEventKind.NewEvent, "alice", "rig1", "192.0.2.1", "connected", 0, 5));
        first.Events.Enqueue(new PendingRedisEvent(RedisEventKind.NewEvent, "alice", "rig1", "192.0.2.1", "disconnected", 0, 6));
        Assert.True(await first.Writer.FlushAsync(CancellationToken.None));

        // A replay (or a second instance) offers the same entries again, plus one new event.
        using var second = NewRig(first.Coin, shared: first.Multiplexer);
        second.Events.Enqueue(new PendingRedisEvent(RedisEventKind.NewWorker, "alice", "rig1", "", "", 0, 5));
        second.Events.Enqueue(new PendingRedisEvent(RedisEventKind.NewEvent, "alice", "rig1", "192.0.2.1", "connected", 0, 5));
        second.Events.Enqueue(new PendingRedisEvent(RedisEventKind.NewEvent, "alice", "rig1", "192.0.2.1", "disconnected", 0, 6));
        second.Events.Enqueue(new PendingRedisEvent(RedisEventKind.NewWorker, "bob", "s9-ü中'", "", "", 1, 2));
        second.Events.Enqueue(new PendingRedisEvent(RedisEventKind.NewEvent, "bob", "s9-ü中'", "198.51.100.7", "connected", 1, 2));
        Assert.True(await second.Writer.FlushAsync(CancellationToken.None));

        var db = first.Multiplexer.GetDatabase();
        Assert.Equal(
            // UTF-8 as is, like viabtc's jansson output: no \u escapes for names.
            ["""{"user":"alice","worker":"rig1","coin":"BTC"}""", """{"user":"bob","worker":"s9-ü中'","coin":"BTC"}"""],
            db.ListRange(first.Global + "newworker").Select(v => (string)v!));
        Assert.Equal(
            [
                """{"user":"alice","worker":"rig1","coin":"BTC","peer":"192.0.2.1","event":"connected"}""",
                """{"user":"alice","worker":"rig1","coin":"BTC","peer":"192.0.2.1","event":"disconnected"}""",
                """{"user":"bob","worker":"s9-ü中'","coin":"BTC","peer":"198.51.100.7","event":"connected"}""",
            ],
            db.ListRange(first.Global + "newevent").Select(v => (string)v!));
        Assert.Equal(0, second.Events.Count);
    }

    [Fact]
    public async Task While_redis_is_down_the_store_keeps_going_and_redis_catches_up_when_it_returns_even_empty()
    {
        using var server = RedisServer.StartNew();
        var options = server.CreateOptions("btc");
        var clock = new ManualClock(Now);
        using var rig = new Rig(options, "btc", clock);
        var shares = ShareStreams.Known(Now, TimeSpan.FromMinutes(40), 2000, seed: 6);
        var half = shares.Count / 2;
        foreach (var share in shares.Take(half))
            rig.Store.Apply(share);
        Assert.True(await rig.Writer.FlushAsync(CancellationToken.None));

        server.Stop();
        foreach (var share in shares.Skip(half))
            Assert.Equal(ShareApplyResult.Applied, rig.Store.Apply(share));
        rig.Events.Enqueue(new PendingRedisEvent(RedisEventKind.NewWorker, "alice", "rig1", "", "", 0, 1));
        Assert.False(await rig.Writer.FlushAsync(CancellationToken.None));
        Assert.True(rig.Writer.PendingMinutes > 0);

        // Redis comes back with nothing (no persistence): every minute still in memory is written again.
        server.Start();
        var expected = RedisSnapshot.Expected(new ReferenceStats(shares), "btc", "btc/", rig.CurrentMinute);
        expected["btc/newworker"] = """list {"user":"alice","worker":"rig1","coin":"BTC"}""";
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var flushed = await rig.Writer.FlushAsync(CancellationToken.None);
            if (flushed && rig.Read().Count >= expected.Count)
                break;
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), "Redis did not catch up within 20 s");
            await Task.Delay(200);
        }
        var actual = rig.Read();
        actual.Remove("btc:statshttpd:known_workers");
        RedisSnapshot.AssertSame(expected, actual);
    }

    [Fact]
    public void Numbers_are_written_as_integers_or_shortest_round_trip_fractions()
    {
        Assert.Equal("1024", RedisStatsWriter.FormatNumber(1024));
        Assert.Equal("0.001", RedisStatsWriter.FormatNumber(0.001));
        Assert.Equal("0.1", RedisStatsWriter.FormatNumber(0.1));
        Assert.Equal("1E+20", RedisStatsWriter.FormatNumber(1e20));
    }
}
