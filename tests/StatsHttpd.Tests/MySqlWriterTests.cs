using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using MySql.Data.MySqlClient;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Ingest;
using PoolCluster.StatsHttpd.Sinks;
using PoolCluster.Storage;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.StatsHttpd.Tests;

public class MySqlWriterTests(MariaDbFixture mariaDb) : IClassFixture<MariaDbFixture>
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-03-14T01:09:26.5Z");

    private sealed class Rig
    {
        public Rig(MySqlConnectionFactory connections, ManualClock clock, bool warm = true, StatsMySqlOptions? options = null)
        {
            Clock = clock;
            Store = new StatsStore(new StatsStoreSettings { TrackMinutesForRedis = false }, clock);
            Warmup = new WarmupState(clock);
            if (warm)
            {
                Warmup.Shares.MarkCaughtUp();
                Warmup.WorkerEvents.MarkCaughtUp();
            }
            Writer = new MySqlStatsWriter(Store, connections, options ?? new StatsMySqlOptions { BatchRows = 37 }, Warmup, 1_000_000,
                NullLogger.Instance);
        }

        public ManualClock Clock { get; }
        public StatsStore Store { get; }
        public WarmupState Warmup { get; }
        public MySqlStatsWriter Writer { get; }
    }

    private async Task<(MySqlConnectionFactory Factory, string Database)> NewDatabaseAsync()
    {
        var database = await mariaDb.CreateMigratedDatabaseAsync("statshttpd");
        return (new MySqlConnectionFactory(mariaDb.OptionsFor(database)), database);
    }

    [Fact]
    public async Task A_known_stream_gives_exactly_btcpools_hour_and_day_rows_and_a_replay_changes_nothing()
    {
        // Across midnight and two days: hours and days of the pool, users and workers.
        var shares = ShareStreams.Known(Now, TimeSpan.FromHours(26), 8000, seed: 11);
        var (factory, _) = await NewDatabaseAsync();
        var first = new Rig(factory, new ManualClock(Now));
        foreach (var share in shares)
            first.Store.Apply(share);
        Assert.True(await first.Writer.FlushAsync(CancellationToken.None));
        var expected = MySqlSnapshot.ExpectedStats(new ReferenceStats(shares));
        var written = await MySqlSnapshot.ReadStatsAsync(factory);
        MySqlSnapshot.AssertSame(expected, written);
        Assert.Contains(written, row => row.Key.StartsWith("stats_pool_day/", StringComparison.Ordinal));
        Assert.Contains(written.Values, value => value.Contains("\"23\":", StringComparison.Ordinal));

        Assert.True(await first.Writer.FlushAsync(CancellationToken.None));
        var replay = new Rig(factory, new ManualClock(Now));
        foreach (var share in shares)
            replay.Store.Apply(share);
        Assert.True(await replay.Writer.FlushAsync(CancellationToken.None));
        MySqlSnapshot.AssertSame(written, await MySqlSnapshot.ReadStatsAsync(factory));
    }

    [Fact]
    public async Task A_restart_replaying_from_mid_hour_never_overwrites_that_hour_or_day()
    {
        var shares = ShareStreams.Known(Now, TimeSpan.FromHours(5), 4000, seed: 12);
        var (factory, _) = await NewDatabaseAsync();
        var first = new Rig(factory, new ManualClock(Now));
        foreach (var share in shares)
            first.Store.Apply(share);
        Assert.True(await first.Writer.FlushAsync(CancellationToken.None));
        var written = await MySqlSnapshot.ReadStatsAsync(factory);

        var restartFrom = Now.AddHours(-2).AddMinutes(-20).ToUnixTimeMilliseconds();
        var restarted = new Rig(factory, new ManualClock(Now));
        restarted.Store.CoverageStartSeconds = restartFrom / 1000;
        foreach (var share in shares.Where(s => s.TimestampUnixMs >= restartFrom))
            restarted.Store.Apply(share);
        Assert.True(await restarted.Writer.FlushAsync(CancellationToken.None));
        MySqlSnapshot.AssertSame(written, await MySqlSnapshot.ReadStatsAsync(factory));

        // Without the coverage rule the partial hour would differ: the check above can fail.
        var (otherFactory, _) = await NewDatabaseAsync();
        var careless = new Rig(otherFactory, new ManualClock(Now));
        foreach (var share in shares.Where(s => s.TimestampUnixMs >= restartFrom))
            careless.Store.Apply(share);
        Assert.True(await careless.Writer.FlushAsync(CancellationToken.None));
        var partialHour = $"stats_pool_hour/{TimeKeys.HourKey(restartFrom / 3_600_000)}";
        Assert.NotEqual(written[partialHour], (await MySqlSnapshot.ReadStatsAsync(otherFactory))[partialHour]);
    }

    [Fact]
    public async Task Mining_workers_holds_btcpools_columns_for_every_worker_and_user_once_warm()
    {
        var shares = ShareStreams.Known(Now, TimeSpan.FromHours(2), 3000, seed: 13);
        shares.Add(ShareStreams.Make(101, ShareStreams.WorkerId(101, 0), Now.ToUnixTimeMilliseconds() - 100, 1024, ip: "::ffff:203.0.113.9"));
        var reference = new ReferenceStats(shares);
        var (factory, _) = await NewDatabaseAsync();
        var rig = new Rig(factory, new ManualClock(Now), warm: false);
        foreach (var share in shares)
            rig.Store.Apply(share);
        rig.Store.ApplyWorkerEvent(new WorkerEvent
        {
            Kind = WorkerEventKind.Authorized, UserId = 101, WorkerId = ShareStreams.WorkerId(101, 0), UserName = "user101",
            WorkerName = ShareStreams.WorkerName(ShareStreams.WorkerId(101, 0)), Agent = "bmminer/2.0.0 with a very long agent name",
            ServerId = 1, SessionId = 1, TimestampUnixMs = Now.ToUnixTimeMilliseconds(),
        });

        // Not warm yet: the windows are still filling, so mining_workers is left alone (btcpool does the same).
        Assert.True(await rig.Writer.FlushAsync(CancellationToken.None));
        Assert.Null(rig.Writer.LastMiningWorkersFlush);
        Assert.Equal(0L, await ScalarAsync(factory, "SELECT COUNT(*) FROM mining_workers"));

        rig.Warmup.Shares.MarkCaughtUp();
        rig.Warmup.WorkerEvents.MarkCaughtUp();
        Assert.True(await rig.Writer.FlushAsync(CancellationToken.None));
        Assert.Equal(Now.ToUnixTimeSeconds(), rig.Writer.LastMiningWorkersFlush!.Value.ToUnixTimeSeconds());

        var nowSeconds = Now.ToUnixTimeSeconds();
        var expected = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var share in shares.DistinctBy(s => (s.UserId, s.WorkerId)))
            expected[$"{share.UserId}/{share.WorkerId}"] = Row(ReferenceStats.Worker(share.UserId, share.WorkerId), share.UserId, share.WorkerId);
        foreach (var share in shares.DistinctBy(s => s.UserId))
            expected[$"{share.UserId}/0"] = Row(ReferenceStats.User(share.UserId), share.UserId, 0);

        string Row(string entity, int userId, long workerId)
        {
            var fifteen = reference.Totals(entity, StatsWindow.FifteenMinutes, nowSeconds);
            var hour = reference.Totals(entity, StatsWindow.OneHour, nowSeconds);
            var (lastMs, lastIp) = reference.LastShare(entity);
            var isAgentWorker = workerId == ShareStreams.WorkerId(101, 0);
            return string.Join(" | ", -userId, workerId == 0 ? "NULL" : ShareStreams.WorkerName(workerId),
                (long)reference.Totals(entity, StatsWindow.OneMinute, nowSeconds).Accept,
                (long)reference.Totals(entity, StatsWindow.FiveMinutes, nowSeconds).Accept,
                (long)fifteen.Accept, (long)fifteen.Stale, (long)fifteen.Reject,
                MySqlStatsWriter.RejectDetailJson(reference.Reasons(entity, StatsWindow.FifteenMinutes, nowSeconds)),
                (long)hour.Accept, (long)hour.Stale, (long)hour.Reject,
                MySqlStatsWriter.RejectDetailJson(reference.Reasons(entity, StatsWindow.OneHour, nowSeconds)),
                reference.AcceptCountDay(entity, nowSeconds),
                lastIp == "::ffff:203.0.113.9" ? "203.0.113.9" : lastIp,
                DateTimeOffset.FromUnixTimeMilliseconds(lastMs).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                workerId != 0 && isAgentWorker ? "bmminer/2.0.0 with a very long" : "NULL");
        }

        var actual = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await using (var connection = await factory.OpenConnectionAsync())
        {
            await using (var utc = new MySqlCommand("SET time_zone = '+00:00'", connection))
                await utc.ExecuteNonQueryAsync();
            await using var command = new MySqlCommand(
                """
                SELECT puid, worker_id, group_id, IFNULL(worker_name, 'NULL'), accept_1m, accept_5m, accept_15m, stale_15m, reject_15m,
                       reject_detail_15m, accept_1h, stale_1h, reject_1h, reject_detail_1h, accept_count, last_share_ip,
                       DATE_FORMAT(last_share_time, '%Y-%m-%d %H:%i:%s'), IFNULL(miner_agent, 'NULL')
                FROM mining_workers
                """, connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var values = Enumerable.Range(2, reader.FieldCount - 2).Select(i => Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture));
                actual[$"{reader.GetInt32(0)}/{reader.GetInt64(1)}"] = string.Join(" | ", values);
            }
        }
        MySqlSnapshot.AssertSame(expected, actual);
        Assert.Contains(actual.Values, v => v.Contains("\"23\":", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rows_past_btcpools_retention_are_deleted_and_the_rest_kept()
    {
        var (factory, _) = await NewDatabaseAsync();
        var rig = new Rig(factory, new ManualClock(Now));
        var hour = Now.ToUnixTimeSeconds() / 3600;
        var day = Now.ToUnixTimeSeconds() / 86400;
        await ExecuteAsync(factory,
            $"INSERT INTO stats_workers_hour (puid, worker_id, hour) VALUES (1, 1, {TimeKeys.HourKey(hour - 73)}), (1, 2, {TimeKeys.HourKey(hour - 72)})",
            $"INSERT INTO stats_users_hour (puid, hour) VALUES (1, {TimeKeys.HourKey(hour - 30 * 24 - 1)}), (2, {TimeKeys.HourKey(hour - 30 * 24)})",
            $"INSERT INTO stats_workers_day (puid, worker_id, day) VALUES (1, 1, {TimeKeys.DayKey(day - 91)}), (1, 2, {TimeKeys.DayKey(day - 90)})",
            $"INSERT INTO stats_users_day (puid, day) VALUES (1, {TimeKeys.DayKey(day - 2000)})",
            $"INSERT INTO stats_pool_hour (hour) VALUES ({TimeKeys.HourKey(hour - 20000)})");
        Assert.Equal(3, await rig.Writer.DeleteExpiredAsync(CancellationToken.None));
        Assert.Equal(2L, await ScalarAsync(factory, "SELECT worker_id FROM stats_workers_hour"));
        Assert.Equal(2L, await ScalarAsync(factory, "SELECT puid FROM stats_users_hour"));
        Assert.Equal(2L, await ScalarAsync(factory, "SELECT worker_id FROM stats_workers_day"));
        Assert.Equal(1L, await ScalarAsync(factory, "SELECT COUNT(*) FROM stats_users_day"));
        Assert.Equal(1L, await ScalarAsync(factory, "SELECT COUNT(*) FROM stats_pool_hour"));
    }

    [Fact]
    public async Task While_mysql_is_down_buckets_wait_and_are_written_when_it_returns()
    {
        using var server = MariaDbServer.StartNew();
        var database = server.CreateUniqueDatabase("outage");
        await Storage.Migrations.MySqlMigrator.MigrateAsync(server.ConnectionStringFor(database), NullLogger.Instance);
        var factory = new MySqlConnectionFactory(server.OptionsFor(database));
        var shares = ShareStreams.Known(Now, TimeSpan.FromHours(3), 2000, seed: 14);
        var rig = new Rig(factory, new ManualClock(Now));
        foreach (var share in shares.Take(1000))
            rig.Store.Apply(share);
        Assert.True(await rig.Writer.FlushAsync(CancellationToken.None));

        server.Stop();
        foreach (var share in shares.Skip(1000))
            rig.Store.Apply(share);
        Assert.False(await rig.Writer.FlushAsync(CancellationToken.None));
        Assert.True(rig.Writer.PendingPeriods > 0);

        server.Start();
        Assert.True(await rig.Writer.FlushAsync(CancellationToken.None));
        MySqlSnapshot.AssertSame(MySqlSnapshot.ExpectedStats(new ReferenceStats(shares)), await MySqlSnapshot.ReadStatsAsync(factory));
        Assert.Equal(0, rig.Writer.PendingPeriods);
    }

    private static async Task ExecuteAsync(MySqlConnectionFactory factory, params string[] statements)
    {
        await using var connection = await factory.OpenConnectionAsync();
        foreach (var sql in statements)
        {
            await using var command = new MySqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    private static async Task<long> ScalarAsync(MySqlConnectionFactory factory, string sql)
    {
        await using var connection = await factory.OpenConnectionAsync();
        await using var command = new MySqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
