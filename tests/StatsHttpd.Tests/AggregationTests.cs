using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.Topics;

namespace PoolCluster.StatsHttpd.Tests;

public class AggregationTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-03-14T15:09:26.5Z");

    private static (StatsStore Store, ManualClock Clock) NewStore(DateTimeOffset? now = null, bool trackSinks = true)
    {
        var clock = new ManualClock(now ?? Now);
        var store = new StatsStore(new StatsStoreSettings { TrackMinutesForRedis = trackSinks, TrackPeriodsForMySql = trackSinks }, clock);
        return (store, clock);
    }

    private static IEnumerable<(string Key, ShareStats Entity)> EntitiesOf(StatsStore store, IEnumerable<Share> shares)
    {
        yield return (ReferenceStats.Pool, store.Pool);
        foreach (var share in shares.DistinctBy(s => (s.UserId, s.WorkerId)))
        {
            Assert.True(store.TryGetWorker(share.UserId, share.WorkerId, out var worker));
            yield return (ReferenceStats.Worker(share.UserId, share.WorkerId), worker);
        }
        foreach (var share in shares.DistinctBy(s => s.UserId))
        {
            Assert.True(store.TryGetUser(share.UserId, out var user));
            yield return (ReferenceStats.User(share.UserId), user);
        }
        foreach (var host in store.Hosts)
            yield return (ReferenceStats.Host(host.ServerId), host);
    }

    [Fact]
    public void Every_window_of_every_entity_matches_the_reference_at_several_instants()
    {
        var shares = ShareStreams.Known(Now, TimeSpan.FromHours(26), 20_000, seed: 7);
        var reference = new ReferenceStats(shares);
        var (store, clock) = NewStore();
        foreach (var share in shares)
            Assert.Equal(ShareApplyResult.Applied, store.Apply(share));

        // Later instants move every window (including past the last share); the sums follow by the share timestamps.
        foreach (var later in new[] { 0, 1, 37, 61, 299, 3599, 7200 })
        {
            clock.Set(Now.AddSeconds(later));
            var nowSeconds = clock.GetUtcNow().ToUnixTimeSeconds();
            var snapshot = new EntitySnapshot();
            foreach (var (key, entity) in EntitiesOf(store, shares))
            {
                entity.Snapshot(nowSeconds, snapshot);
                foreach (var window in StatsWindows.All)
                {
                    Assert.Equal(reference.Totals(key, window, nowSeconds), snapshot[window]);
                    Assert.Equal(reference.Reasons(key, window, nowSeconds), snapshot.ReasonsOf(window).ToArray());
                }
                Assert.Equal(reference.AcceptCountDay(key, nowSeconds), snapshot.AcceptCountDay);
                Assert.Equal(reference.LastShare(key).Ms, snapshot.LastShareMs);
            }
        }
        // The stream really fills the windows: a check that compares zeros with zeros proves nothing.
        var pool = new EntitySnapshot();
        clock.Set(Now);
        store.Pool.Snapshot(Now.ToUnixTimeSeconds(), pool);
        foreach (var window in StatsWindows.All)
            Assert.True(pool[window].Accept > 0, $"the {window} window of the pool is empty");
        Assert.True(pool[StatsWindow.OneHour].RejectCount > 0 && pool[StatsWindow.OneHour].StaleCount > 0);
    }

    [Fact]
    public void Hand_computed_windows_and_hashrate()
    {
        // now = 15:09:26.5; current minute 15:09, current second …:26.
        var (store, _) = NewStore();
        var now = Now.ToUnixTimeMilliseconds();
        store.Apply(ShareStreams.Make(1, 11, now - 500, 1024));                                     // this second: 1m
        store.Apply(ShareStreams.Make(1, 11, now - 59_000, 2048));                                  // 15:08:27: 1m and 5m
        store.Apply(ShareStreams.Make(1, 11, now - 60_600, 4096));                                  // 15:08:25: 5m, not 1m
        store.Apply(ShareStreams.Make(1, 11, now - 20_000, 8192));                                  // 15:09:06: this minute, 1m only
        store.Apply(ShareStreams.Make(1, 11, now - 6 * 60_000, 16384, ShareStatus.JobNotFound));    // 15:03: 15m, not 5m
        store.Apply(ShareStreams.Make(1, 11, now - 5 * 60_000, 32768, ShareStatus.LowDifficulty));  // 15:04: 5m
        store.Apply(ShareStreams.Make(1, 11, now - 2 * 3_600_000, 65536));                          // 13:09: 1d only

        Assert.True(store.TryGetWorker(1, 11, out var worker));
        var s = new EntitySnapshot();
        worker.Snapshot(Now.ToUnixTimeSeconds(), s);
        Assert.Equal(new WindowTotals(1024 + 2048 + 8192, 0, 0, 3, 0, 0), s[StatsWindow.OneMinute]);
        // 5 min = the complete minutes 15:04 to 15:08; the current minute 15:09 is not counted yet.
        Assert.Equal(new WindowTotals(2048 + 4096, 0, 32768, 2, 0, 1), s[StatsWindow.FiveMinutes]);
        Assert.Equal(new WindowTotals(2048 + 4096, 16384, 32768, 2, 1, 1), s[StatsWindow.FifteenMinutes]);
        Assert.Equal(new WindowTotals(2048 + 4096, 16384, 32768, 2, 1, 1), s[StatsWindow.OneHour]);
        // 1 day = the 24 complete hours before 15:00: 13:09's share only (the others are in the current hour).
        Assert.Equal(new WindowTotals(65536, 0, 0, 1, 0, 0), s[StatsWindow.OneDay]);
        Assert.Equal(32768, s.ReasonsOf(StatsWindow.FiveMinutes)[Array.IndexOf(ReasonNames(), "LOW_DIFFICULTY")]);
        Assert.Equal(5, s.AcceptCountDay);
        Assert.Equal("10.0.1.11", s.LastShareIp);
        // difficulty × 2^32 / window seconds.
        Assert.Equal((1024 + 2048 + 8192) * 4294967296.0 / 60, StatsWindow.OneMinute.Hashrate(s[StatsWindow.OneMinute].Accept));
    }

    private static string[] ReasonNames() => [.. Enumerable.Range(0, RejectReasons.Count).Select(RejectReasons.Name)];

    [Fact]
    public void Partitions_replayed_hours_apart_still_add_up_in_the_pool_and_per_server()
    {
        // During the replay one partition (user 1's) can be read to its end before another (user 2's) starts: the
        // pool's rings must still take user 2's older shares.
        var shares = ShareStreams.Known(Now, TimeSpan.FromHours(20), 6000, seed: 8, users: 2);
        var byPartition = shares.Where(s => s.UserId == 101).Concat(shares.Where(s => s.UserId == 102)).ToList();
        var reference = new ReferenceStats(shares);
        var (store, _) = NewStore();
        var minutes = new List<MinuteRecord>();
        var periods = new List<PeriodRecord>();
        foreach (var share in byPartition)
            store.Apply(share);
        store.DrainEvictedMinutes(minutes);
        store.DrainEvictedPeriods(periods);
        foreach (var entity in store.AllEntities())
        {
            lock (entity.Gate)
            {
                entity.CollectDirtyMinutesLocked(long.MinValue, minutes);
                entity.CollectDirtyPeriodsLocked(long.MinValue, long.MinValue, periods);
            }
        }
        foreach (var record in minutes.Where(m => m.Entity.Kind is StatsEntityKind.Pool or StatsEntityKind.Host))
        {
            var key = record.Entity.Kind == StatsEntityKind.Pool ? ReferenceStats.Pool : ReferenceStats.Host(record.Entity.ServerId);
            Assert.Equal(reference.Minute(key, record.Minute).Accept, record.Values.Accept);
            Assert.Equal(reference.Minute(key, record.Minute).Blocks, record.Values.Blocks);
        }
        Assert.Equal(reference.MinutesOf(ReferenceStats.Pool).Count(), minutes.Count(m => m.Entity.Kind == StatsEntityKind.Pool));
        foreach (var record in periods.Where(p => p.Entity.Kind == StatsEntityKind.Pool))
            Assert.Equal(reference.Period(ReferenceStats.Pool, record.Kind == PeriodKind.Hour ? 'h' : 'd', record.Index).Accept, record.Values.Accept);
        Assert.Equal(reference.PeriodsOf(ReferenceStats.Pool).Count(), periods.Count(p => p.Entity.Kind == StatsEntityKind.Pool));
    }

    [Fact]
    public void Unusable_and_future_shares_are_refused_and_counted()
    {
        var (store, _) = NewStore();
        var now = Now.ToUnixTimeMilliseconds();
        Assert.Equal(ShareApplyResult.Invalid, store.Apply(ShareStreams.Make(1, 11, now, 1024, ShareStatus.Unspecified)));
        Assert.Equal(ShareApplyResult.Invalid, store.Apply(ShareStreams.Make(0, 11, now, 1024)));
        Assert.Equal(ShareApplyResult.Invalid, store.Apply(ShareStreams.Make(1, 0, now, 1024)));
        Assert.Equal(ShareApplyResult.Invalid, store.Apply(ShareStreams.Make(1, 11, now, 0)));
        Assert.Equal(ShareApplyResult.Invalid, store.Apply(ShareStreams.Make(1, 11, now, double.NaN)));
        Assert.Equal(ShareApplyResult.Invalid, store.Apply(ShareStreams.Make(1, 11, 0, 1024)));
        Assert.Equal(ShareApplyResult.FromTheFuture, store.Apply(ShareStreams.Make(1, 11, now + 301_000, 1024)));
        Assert.Equal(ShareApplyResult.Applied, store.Apply(ShareStreams.Make(1, 11, now + 299_000, 1024)));
        Assert.Equal(6, store.SharesInvalid);
        Assert.Equal(1, store.SharesFromTheFuture);
        Assert.Equal(1, store.SharesApplied);
        Assert.Equal(1, store.WorkerCount);
    }

    [Fact]
    public void A_share_older_than_a_ring_is_kept_out_of_that_ring_only()
    {
        var (store, _) = NewStore();
        var now = Now.ToUnixTimeMilliseconds();
        var x = now - 65 * 60_000;
        store.Apply(ShareStreams.Make(1, 11, x, 1024));
        store.Apply(ShareStreams.Make(1, 11, now - 60_000, 2048));
        // Minute x + 65 pushes x + 64 into x's place in the ring: x leaves it (to the backlog, unwritten).
        store.Apply(ShareStreams.Make(1, 11, now, 4096));
        // A late share of minute x: its place holds a newer minute, so the minute ring refuses it (a bucket is never
        // rebuilt from part of its shares); the hour and day rings take it.
        store.Apply(ShareStreams.Make(1, 11, x + 1000, 8192));
        Assert.True(store.TryGetWorker(1, 11, out var worker));
        var evicted = new List<MinuteRecord>();
        store.DrainEvictedMinutes(evicted);
        Assert.Equal(1024, Assert.Single(evicted, r => r.Entity == worker).Values.Accept);
        var minutes = new List<MinuteRecord>();
        var periods = new List<PeriodRecord>();
        lock (worker.Gate)
        {
            worker.CollectDirtyMinutesLocked(long.MinValue, minutes);
            worker.CollectDirtyPeriodsLocked(long.MinValue, long.MinValue, periods);
        }
        Assert.Equal([2048.0, 4096.0], minutes.OrderBy(m => m.Minute).Select(m => m.Values.Accept));
        Assert.Equal(1024 + 2048 + 4096 + 8192, periods.Single(p => p.Kind == PeriodKind.Day).Values.Accept);
        Assert.Equal(1024 + 8192, periods.Where(p => p.Kind == PeriodKind.Hour).OrderBy(p => p.Index).First().Values.Accept);
    }

    [Fact]
    public void Dirty_buckets_are_collected_once_and_only_from_the_coverage_start()
    {
        var (store, _) = NewStore();
        var now = Now.ToUnixTimeMilliseconds();
        // Coverage starts at 15:05:30: minute 15:05 is partial, 15:06 on are complete; hour 15 is partial.
        store.CoverageStartSeconds = Now.ToUnixTimeSeconds() / 60 * 60 - 3 * 60 - 30;
        store.Apply(ShareStreams.Make(1, 11, now - 4 * 60_000, 1024)); // 15:05:26 (before coverage; minute partial)
        store.Apply(ShareStreams.Make(1, 11, now - 2 * 60_000, 2048)); // 15:07
        store.Apply(ShareStreams.Make(1, 11, now, 4096));              // 15:09
        Assert.True(store.TryGetWorker(1, 11, out var worker));
        var minutes = new List<MinuteRecord>();
        lock (worker.Gate)
            worker.CollectDirtyMinutesLocked(store.FirstCoveredMinute, minutes);
        Assert.Equal([2048.0, 4096.0], minutes.OrderBy(m => m.Minute).Select(m => m.Values.Accept));

        var periods = new List<PeriodRecord>();
        lock (worker.Gate)
            worker.CollectDirtyPeriodsLocked(store.FirstCoveredHour, store.FirstCoveredDay, periods);
        Assert.Empty(periods); // hour 15 and the day began before the coverage start

        minutes.Clear();
        lock (worker.Gate)
            worker.CollectDirtyMinutesLocked(store.FirstCoveredMinute, minutes);
        Assert.Empty(minutes);
        store.Apply(ShareStreams.Make(1, 11, now, 8192));
        lock (worker.Gate)
            worker.CollectDirtyMinutesLocked(store.FirstCoveredMinute, minutes);
        Assert.Equal(4096 + 8192, Assert.Single(minutes).Values.Accept);
    }

    [Fact]
    public void A_dirty_bucket_recycled_before_it_was_written_goes_to_the_backlog_with_its_full_total()
    {
        var (store, clock) = NewStore();
        var start = Now.ToUnixTimeMilliseconds() - 70 * 60_000;
        store.Apply(ShareStreams.Make(1, 11, start, 1024));
        store.Apply(ShareStreams.Make(1, 11, start + 1000, 1024));
        // 64 and 65 minutes later: the minute 64 later takes that minute's place in the ring, unwritten.
        store.Apply(ShareStreams.Make(1, 11, start + 64 * 60_000, 4096));
        store.Apply(ShareStreams.Make(1, 11, start + 65 * 60_000, 4096));
        var evicted = new List<MinuteRecord>();
        store.DrainEvictedMinutes(evicted);
        var record = Assert.Single(evicted, r => r.Entity.Kind == StatsEntityKind.Worker);
        Assert.Equal(TimeKeys.FloorDiv(start / 1000, 60), record.Minute);
        Assert.Equal(2048, record.Values.Accept);
        Assert.Equal(2, record.Values.AcceptCount);
        // The pool's and the server's rings span the whole replay: only the worker's and the user's minute left.
        Assert.Equal(2, evicted.Count);
        _ = clock;
    }

    [Fact]
    public void The_backlog_is_bounded_and_counts_what_it_drops()
    {
        var clock = new ManualClock(Now);
        var store = new StatsStore(new StatsStoreSettings { MaxPendingRecords = 3 }, clock);
        var start = Now.ToUnixTimeMilliseconds() - 200 * 60_000;
        for (var minute = 0; minute < 67; minute++)
            store.Apply(ShareStreams.Make(1, 11, start + minute * 60_000L, 1024));
        // Two minutes were recycled in the worker and in the user (the pool's ring is longer): 4 records, 3 kept.
        var evicted = new List<MinuteRecord>();
        store.DrainEvictedMinutes(evicted);
        Assert.Equal(3, evicted.Count);
        Assert.Equal(1, store.EvictionsDropped);
    }

    [Fact]
    public void Worker_events_track_sessions_online_state_and_connections()
    {
        var (store, _) = NewStore();
        var now = Now.ToUnixTimeMilliseconds();
        WorkerEvent Event(WorkerEventKind kind, ulong session, int user = 7, long worker = 70, uint server = 1) => new()
        {
            Kind = kind, UserId = user, WorkerId = worker, UserName = user == 0 ? "" : "alice", WorkerName = worker == 0 ? "" : "rig1",
            Ip = "192.0.2.1", ServerId = server, SessionId = session, TimestampUnixMs = now, Agent = kind == WorkerEventKind.Authorized ? "cgminer/4.10" : "",
        };

        Assert.Equal(WorkerEventEffect.None, store.ApplyWorkerEvent(Event(WorkerEventKind.Connected, 1, user: 0, worker: 0)));
        var connected = store.ApplyWorkerEvent(Event(WorkerEventKind.Authorized, 1));
        Assert.Equal("connected", connected.RedisEvent);
        Assert.Equal("192.0.2.1", connected.Peer);
        store.ApplyWorkerEvent(Event(WorkerEventKind.Authorized, 2, server: 2));
        Assert.True(store.TryGetWorker(7, 70, out var worker));
        Assert.Equal(2, worker.OnlineSessions);
        Assert.Equal("cgminer/4.10", worker.MinerAgent);
        Assert.Equal(2, store.Connections().Total);
        Assert.Equal(new Dictionary<uint, int> { [1] = 1, [2] = 1 }, store.Connections().ByServer);

        Assert.Equal("disconnected", store.ApplyWorkerEvent(Event(WorkerEventKind.Disconnected, 1)).RedisEvent);
        Assert.Equal(1, worker.OnlineSessions);
        // A CONNECTED arriving after its session's DISCONNECTED (another partition) does not reopen it.
        store.ApplyWorkerEvent(Event(WorkerEventKind.Connected, 1, user: 0, worker: 0));
        Assert.Equal(1, store.Connections().Total);
        // UPDATED for a session never seen (opened before the replayed history) heals it.
        store.ApplyWorkerEvent(Event(WorkerEventKind.Updated, 3));
        Assert.Equal(2, worker.OnlineSessions);
        store.ApplyWorkerEvent(Event(WorkerEventKind.Disconnected, 2, server: 2));
        store.ApplyWorkerEvent(Event(WorkerEventKind.Disconnected, 3));
        Assert.Equal(0, worker.OnlineSessions);
        Assert.Equal(0, store.Connections().Total);
    }

    [Fact]
    public void Idle_workers_and_users_expire_but_not_while_online_or_unwritten()
    {
        var (store, clock) = NewStore(trackSinks: false);
        var now = Now.ToUnixTimeMilliseconds();
        store.Apply(ShareStreams.Make(1, 11, now - 30 * 3_600_000L, 1024));
        store.Apply(ShareStreams.Make(1, 12, now, 1024));
        store.Apply(ShareStreams.Make(2, 21, now - 30 * 3_600_000L, 1024));
        store.ApplyWorkerEvent(new WorkerEvent
        {
            Kind = WorkerEventKind.Authorized, UserId = 3, WorkerId = 31, UserName = "carol", WorkerName = "a", ServerId = 1, SessionId = 9,
            TimestampUnixMs = now - 30 * 3_600_000L,
        });
        var (workers, users) = store.Expire(now - 25 * 3_600_000L, now);
        Assert.Equal((2, 1), (workers, users)); // 1/11 and 2/21 go, user 2 with them; user 1 keeps 1/12; 3/31 is online
        Assert.False(store.TryGetWorker(1, 11, out _));
        Assert.True(store.TryGetWorker(1, 12, out _));
        Assert.False(store.TryGetUser(2, out _));
        Assert.True(store.TryGetWorker(3, 31, out _));

        // A share for an expired worker makes a fresh one, registered with its user.
        store.Apply(ShareStreams.Make(2, 21, now, 2048));
        Assert.True(store.TryGetUser(2, out var user2));
        Assert.True(user2.Workers!.ContainsKey(21));
        _ = clock;

        var (tracking, _) = NewStore(trackSinks: true);
        tracking.Apply(ShareStreams.Make(1, 11, now - 30 * 3_600_000L, 1024));
        Assert.Equal((0, 0), tracking.Expire(now - 25 * 3_600_000L, now)); // its buckets are not written yet
    }

    [Fact]
    public void Applying_shares_and_reading_windows_allocate_nothing_once_the_entities_exist()
    {
        var (store, _) = NewStore();
        var now = Now.ToUnixTimeMilliseconds();
        var shares = Enumerable.Range(0, 2000)
            .Select(i => ShareStreams.Make(1 + i % 5, 10 + i % 50, now - 1_800_000 + i * 900L, 1024, i % 10 == 0 ? ShareStatus.LowDifficulty : ShareStatus.Accepted))
            .ToList();
        // First sight of every worker, user, server and reject reason allocates their rings; the first pass also pays
        // for one-off runtime work (tiered JIT, generic statics).
        foreach (var share in shares)
            store.Apply(share);
        Assert.True(store.TryGetWorker(1, 10, out var worker));
        var snapshot = new EntitySnapshot();
        worker.Snapshot(Now.ToUnixTimeSeconds(), snapshot);

        var again = shares.Skip(500).ToArray();
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var share in again)
            store.Apply(share);
        var afterApply = GC.GetAllocatedBytesForCurrentThread();
        worker.Snapshot(Now.ToUnixTimeSeconds(), snapshot);
        Assert.Equal((0L, 0L), (afterApply - before, GC.GetAllocatedBytesForCurrentThread() - afterApply));
    }

    [Fact]
    public void Rings_refuse_bad_capacities()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BucketRing<SecondBucket>(60));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BucketRing<SecondBucket>(1));
    }

    [Fact]
    public void Time_keys_are_btcpool_hours_and_days_in_utc()
    {
        var t = DateTimeOffset.Parse("2026-03-14T15:09:26Z").ToUnixTimeSeconds();
        Assert.Equal(2026031415, TimeKeys.HourKey(t / 3600));
        Assert.Equal(20260314, TimeKeys.DayKey(t / 86400));
        Assert.Equal(-1, TimeKeys.FloorDiv(-1, 60));
    }
}
