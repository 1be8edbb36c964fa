using System.Globalization;
using System.Net;
using System.Text.Json;
using MySql.Data.MySqlClient;
using PoolCluster.Kafka;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.Storage;
using PoolCluster.Testing;
using PoolCluster.Topics;
using StackExchange.Redis;

namespace PoolCluster.StatsHttpd.Tests;

/// <summary>
/// The whole service against the embedded Kafka cluster, a real MariaDB and a real Redis: the warm-up from the
/// topic, a restart in the middle of a stream, and a replay, each ending with exactly the reference's windows, Redis
/// keys and MySQL rows.
/// </summary>
public sealed class ServiceTests(EmbeddedKafkaFixture kafkaCluster, RedisFixture redis, MariaDbFixture mariaDb)
    : IClassFixture<EmbeddedKafkaFixture>, IClassFixture<RedisFixture>, IClassFixture<MariaDbFixture>
{
    private static void Produce(KafkaOptions kafka, IEnumerable<Share> shares)
    {
        using var producer = new PoolProducer<int, Share>(kafka, TopicManifest.Share);
        foreach (var share in shares)
            producer.Produce(share.UserId, share);
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, producer.DeliveryFailures);
    }

    private static void Produce(KafkaOptions kafka, IEnumerable<WorkerEvent> events)
    {
        using var producer = new PoolProducer<int, WorkerEvent>(kafka, TopicManifest.WorkerEvent);
        foreach (var workerEvent in events)
            producer.Produce(workerEvent.UserId, workerEvent);
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
    }

    private static WorkerEvent Event(WorkerEventKind kind, Share like, ulong session, DateTimeOffset at, string ip) => new()
    {
        Kind = kind, UserId = like.UserId, WorkerId = like.WorkerId, UserName = like.UserName, WorkerName = like.WorkerName,
        Agent = "cgminer/4.12.0", Ip = ip, ServerId = like.ServerId, SessionId = session, TimestampUnixMs = at.ToUnixTimeMilliseconds(),
    };

    /// <summary>What a stream and its events must leave in Redis (per-minute keys, sets, event lists as sorted sets of entries).</summary>
    private static SortedDictionary<string, string> ExpectedRedis(ReferenceStats reference, IReadOnlyList<Share> shares, RedisOptions options,
        long currentMinute, IReadOnlyDictionary<uint, int> connections, IEnumerable<string> newEvents)
    {
        var coin = options.KeyPrefix;
        var expected = RedisSnapshot.Expected(reference, coin, coin + "/", currentMinute, connectionsByServer: connections);
        expected[coin + "/newworker"] = "list " + string.Join(" | ", shares.Select(s => (s.UserName, s.WorkerName)).Distinct()
            .Select(w => $$"""{"user":"{{w.UserName}}","worker":"{{w.WorkerName}}","coin":"BTC"}""").Order(StringComparer.Ordinal));
        expected[coin + "/newevent"] = "list " + string.Join(" | ", newEvents);
        return expected;
    }

    private static SortedDictionary<string, string> ReadRedis(IConnectionMultiplexer multiplexer, string coin)
    {
        var actual = RedisSnapshot.Read(multiplexer, $"{coin}:s:*", $"{coin}:p:*", $"{coin}:g:*", $"{coin}:m:*", $"{coin}:mh:*", $"{coin}:mk:*", $"{coin}/*");
        // newworker's order depends on which consumer thread met a worker first: compare it as a set.
        if (actual.TryGetValue(coin + "/newworker", out var list))
            actual[coin + "/newworker"] = "list " + string.Join(" | ", list["list ".Length..].Split(" | ").Order(StringComparer.Ordinal));
        return actual;
    }

    private static async Task AssertApiMatchesAsync(ServiceHost service, ReferenceStats reference, IReadOnlyList<Share> shares, long nowSeconds)
    {
        using var pool = JsonDocument.Parse(await service.Client.GetStringAsync("/api/v1/pool"));
        foreach (var window in StatsWindows.All)
        {
            var expected = reference.Totals(ReferenceStats.Pool, window, nowSeconds);
            var actual = pool.RootElement.GetProperty("windows").GetProperty(window.Label());
            Assert.Equal(expected.Accept, actual.GetProperty("accept").GetDouble());
            Assert.Equal(expected.Reject, actual.GetProperty("reject").GetDouble());
            Assert.Equal(expected.AcceptCount, actual.GetProperty("accept_count").GetInt64());
        }
        var user = shares[0].UserId;
        var workers = shares.Where(s => s.UserId == user).Select(s => s.WorkerId).Distinct().ToList();
        using var status = JsonDocument.Parse(await service.Client.GetStringAsync($"/worker_status?user_id={user}&worker_id={string.Join(',', workers)},0"));
        foreach (var worker in workers)
        {
            var entry = status.RootElement.GetProperty("data").GetProperty(worker.ToString(CultureInfo.InvariantCulture));
            var entity = ReferenceStats.Worker(user, worker);
            Assert.Equal(
                new[] { StatsWindow.OneMinute, StatsWindow.FiveMinutes, StatsWindow.FifteenMinutes, StatsWindow.OneHour }
                    .Select(w => reference.Totals(entity, w, nowSeconds).Accept),
                entry.GetProperty("accept").EnumerateArray().Select(e => e.GetDouble()));
            Assert.Equal(reference.AcceptCountDay(entity, nowSeconds), entry.GetProperty("accept_count").GetInt64());
        }
    }

    /// <summary>
    /// The hours and days a service started at <paramref name="clock"/>'s time rewrites: those from its replay start
    /// (the start of the hour, 24 hours back) on. Near midnight that leaves out yesterday's day row, which began
    /// before the replay and would be partial.
    /// </summary>
    private static Func<char, long, bool> Covered(TimeProvider clock)
    {
        var start = clock.GetUtcNow().ToUnixTimeSeconds() / 3600 * 3600 - 24 * 3600;
        return (period, index) => period == 'h' ? index * 3600 >= start : index * 86400 >= start;
    }

    private static Func<char, long, bool> Covered(ServiceHost service)
    {
        var start = service.Store.CoverageStartSeconds;
        return (period, index) => period == 'h' ? index * 3600 >= start : index * 86400 >= start;
    }

    [Fact]
    public async Task Warming_from_the_topic_restores_the_windows_and_writes_redis_and_mysql_exactly()
    {
        var clock = ManualClock.NearNow();
        var now = clock.GetUtcNow();
        var kafka = kafkaCluster.CreateManifestTopics();
        var shares = ShareStreams.Known(now, TimeSpan.FromHours(3), 3000, seed: 31);
        Produce(kafka, shares);
        var first = shares[0];
        var other = shares.First(s => s.UserId != first.UserId);
        Produce(kafka, [
            Event(WorkerEventKind.Authorized, first, 1, now.AddMinutes(-2), "192.0.2.1"),
            Event(WorkerEventKind.Authorized, other, 2, now.AddMinutes(-1), "192.0.2.2"),
            Event(WorkerEventKind.Disconnected, first, 1, now.AddSeconds(-30), "192.0.2.1"),
        ]);
        var redisOptions = redis.CreateOptions();
        var database = mariaDb.CreateDatabase("statshttpd"); // the service migrates it (StatsHttpd:MySql:MigrateOnStart)

        await using var service = await ServiceHost.StartAsync(kafka, clock, redisOptions, mariaDb.OptionsFor(database));
        await service.WaitWarmAsync();
        // Warm means every replayed share is applied, exactly once.
        Assert.Equal(shares.Count, service.Store.SharesApplied);
        var reference = new ReferenceStats(shares);
        await AssertApiMatchesAsync(service, reference, shares, now.ToUnixTimeSeconds());
        using var worker = JsonDocument.Parse(await service.Client.GetStringAsync($"/api/v1/users/{other.UserId}/workers/{other.WorkerId}"));
        Assert.True(worker.RootElement.GetProperty("online").GetBoolean());
        Assert.Equal("cgminer/4.12.0", worker.RootElement.GetProperty("miner_agent").GetString());

        await service.WaitAppliedAndFlushedAsync(shares.Count);
        var connections = new Dictionary<uint, int> { [first.ServerId] = 0 };
        connections[other.ServerId] = connections.GetValueOrDefault(other.ServerId) + 1;
        string NewEvent(Share s, string ip, string kind) => $$"""{"user":"{{s.UserName}}","worker":"{{s.WorkerName}}","coin":"BTC","peer":"{{ip}}","event":"{{kind}}"}""";
        var events = new[] { NewEvent(first, "192.0.2.1", "connected"), NewEvent(other, "192.0.2.2", "connected"), NewEvent(first, "192.0.2.1", "disconnected") };
        // Users' events sit in their own partitions, which may interleave: each user's events in order, all of them once.
        using var multiplexer = RedisConnectionFactory.Connect(redisOptions);
        var actualRedis = ReadRedis(multiplexer, redisOptions.KeyPrefix);
        var actualEvents = actualRedis[redisOptions.KeyPrefix + "/newevent"]["list ".Length..].Split(" | ");
        Assert.Equal(events.Order(StringComparer.Ordinal), actualEvents.Order(StringComparer.Ordinal));
        bool OfFirst(string entry) => entry.Contains($"\"user\":\"{first.UserName}\",\"worker\":\"{first.WorkerName}\"", StringComparison.Ordinal);
        Assert.Equal(events.Where(OfFirst), actualEvents.Where(OfFirst));
        actualRedis[redisOptions.KeyPrefix + "/newevent"] = "list " + string.Join(" | ", events);
        RedisSnapshot.AssertSame(ExpectedRedis(reference, shares, redisOptions, now.ToUnixTimeSeconds() / 60, connections, events), actualRedis);

        var stats = new MySqlConnectionFactory(mariaDb.OptionsFor(database));
        MySqlSnapshot.AssertSame(MySqlSnapshot.ExpectedStats(reference, Covered(service)), await MySqlSnapshot.ReadStatsAsync(stats));
        await using var connection = await stats.OpenConnectionAsync();
        await using var count = new MySqlCommand("SELECT COUNT(*) FROM mining_workers", connection);
        Assert.Equal((long)(shares.DistinctBy(s => (s.UserId, s.WorkerId)).Count() + shares.DistinctBy(s => s.UserId).Count()),
            Convert.ToInt64(await count.ExecuteScalarAsync(), CultureInfo.InvariantCulture));
        using var flushTime = JsonDocument.Parse(await service.Client.GetStringAsync("/flush_db_time"));
        Assert.Equal(now.ToUnixTimeSeconds(), flushTime.RootElement.GetProperty("data").GetProperty("flush_db_time").GetInt64());
    }

    [Fact]
    public async Task A_restart_mid_stream_and_a_replay_end_with_the_same_values()
    {
        var clock = ManualClock.NearNow();
        var now = clock.GetUtcNow();
        var kafka = kafkaCluster.CreateManifestTopics();
        var shares = ShareStreams.Known(now, TimeSpan.FromMinutes(90), 3000, seed: 32);
        var firstHalf = shares.Take(1700).ToList();
        var redisOptions = redis.CreateOptions();
        var database = await mariaDb.CreateMigratedDatabaseAsync("restart");
        var mysqlOptions = mariaDb.OptionsFor(database);

        await using (var before = await ServiceHost.StartAsync(kafka, clock, redisOptions, mysqlOptions))
        {
            await before.WaitWarmAsync();
            Produce(kafka, firstHalf);
            await before.WaitAppliedAndFlushedAsync(firstHalf.Count);
        } // stopped: a final flush, then gone

        await using (var after = await ServiceHost.StartAsync(kafka, clock, redisOptions, mysqlOptions))
        {
            await after.WaitWarmAsync();
            Assert.Equal(firstHalf.Count, after.Store.SharesApplied); // the replay restored the first half
            Produce(kafka, shares.Skip(firstHalf.Count));
            await after.WaitAppliedAndFlushedAsync(shares.Count);
            await AssertApiMatchesAsync(after, new ReferenceStats(shares), shares, now.ToUnixTimeSeconds());
        }

        var reference = new ReferenceStats(shares);
        using var multiplexer = RedisConnectionFactory.Connect(redisOptions);
        var afterRestart = ReadRedis(multiplexer, redisOptions.KeyPrefix);
        var covered = Covered(clock);
        var expected = ExpectedRedis(reference, shares, redisOptions, now.ToUnixTimeSeconds() / 60, new Dictionary<uint, int>(), []);
        expected.Remove(redisOptions.KeyPrefix + "/newevent");
        RedisSnapshot.AssertSame(expected, afterRestart);
        var stats = new MySqlConnectionFactory(mysqlOptions);
        var rows = await MySqlSnapshot.ReadStatsAsync(stats);
        MySqlSnapshot.AssertSame(MySqlSnapshot.ExpectedStats(reference, covered), rows);

        // A third instance replays everything again: nothing changes.
        await using (var replay = await ServiceHost.StartAsync(kafka, clock, redisOptions, mysqlOptions))
        {
            await replay.WaitWarmAsync();
            await replay.WaitAppliedAndFlushedAsync(shares.Count);
        }
        RedisSnapshot.AssertSame(afterRestart, ReadRedis(multiplexer, redisOptions.KeyPrefix));
        MySqlSnapshot.AssertSame(rows, await MySqlSnapshot.ReadStatsAsync(stats));
    }

    [Fact]
    public async Task Without_redis_and_mysql_the_service_still_serves_and_blocks_say_503()
    {
        var clock = ManualClock.NearNow();
        var kafka = kafkaCluster.CreateManifestTopics();
        var shares = ShareStreams.Known(clock.GetUtcNow(), TimeSpan.FromMinutes(20), 500, seed: 33);
        Produce(kafka, shares);
        await using var service = await ServiceHost.StartAsync(kafka, clock, redis: null, mysql: null);
        await service.WaitWarmAsync();
        await AssertApiMatchesAsync(service, new ReferenceStats(shares), shares, clock.GetUtcNow().ToUnixTimeSeconds());
        using var blocks = await service.Client.GetAsync("/api/v1/blocks");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, blocks.StatusCode);
        using var status = JsonDocument.Parse(await service.Client.GetStringAsync("/api/v1/status"));
        Assert.True(status.RootElement.GetProperty("warm").GetBoolean());
        Assert.False(status.RootElement.GetProperty("redis").GetProperty("enabled").GetBoolean());
        Assert.Equal(shares.Count, status.RootElement.GetProperty("shares").GetProperty("applied").GetInt64());
    }
}
