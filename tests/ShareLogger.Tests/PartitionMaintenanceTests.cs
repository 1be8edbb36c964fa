using Microsoft.Extensions.Logging.Abstractions;
using MySql.Data.MySqlClient;
using PoolCluster.ShareLogger.Partitions;
using PoolCluster.Testing;

namespace PoolCluster.ShareLogger.Tests;

/// <summary>The daily partition job on the real `shares` table, with a clock the test moves.</summary>
public sealed class PartitionMaintenanceTests(MariaDbFixture mariaDb) : IClassFixture<MariaDbFixture>
{
    private sealed class Clock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static void Insert(MySqlConnection connection, string createdAt, long offset) =>
        new MySqlCommand(
            "INSERT INTO `shares` (`id`, `kafka_partition`, `kafka_offset`, `user_id`, `worker_id`, `ip`, `server_id`, `session_id`, `job_id`, " +
            "`share_diff`, `network_diff`, `status`, `height`, `created_at`, `nonce`, `ntime`, `extranonce1`, `extranonce2`) " +
            $"VALUES ({offset}, 0, {offset}, 1, 1, '', 1, 1, 1, 1, 1, 1, 1, '{createdAt}', 0, 0, '', '')", connection).ExecuteNonQuery();

    private static long Rows(MySqlConnection connection) => Convert.ToInt64(new MySqlCommand("SELECT COUNT(*) FROM `shares`", connection).ExecuteScalar());

    [Fact]
    public async Task Days_ahead_are_split_off_the_empty_catch_all_and_days_past_retention_are_dropped()
    {
        var database = await mariaDb.CreateMigratedDatabaseAsync("parts");
        var connectionString = mariaDb.ConnectionStringFor(database);
        var clock = new Clock(new DateTimeOffset(2026, 4, 2, 13, 0, 0, TimeSpan.Zero));
        var maintenance = new SharePartitionMaintenance(connectionString, new SharePartitionOptions { DaysAhead = 3, RetentionDays = 2 }, clock,
            NullLogger.Instance);
        using var connection = mariaDb.OpenConnection(database);

        var first = await maintenance.RunOnceAsync();
        Assert.True(first.Ran);
        Assert.Equal(["p20260402", "p20260403", "p20260404", "p20260405"], first.Created);
        Assert.Empty(first.Dropped);
        var partitions = await SharePartitionMaintenance.ReadPartitionsAsync(connection);
        Assert.Equal(["p20260402", "p20260403", "p20260404", "p20260405", "p_max"], partitions.Select(p => p.Name));
        Assert.Equal(new DateTime(2026, 4, 3), partitions[0].UpperBound);
        Assert.Null(partitions[^1].UpperBound);

        // Rows land in their day's partition (the first one also takes anything older).
        Insert(connection, "2026-03-01 00:00:00.000", 1);
        Insert(connection, "2026-04-02 23:59:59.999", 2);
        Insert(connection, "2026-04-03 00:00:00.000", 3);
        Insert(connection, "2026-04-05 12:00:00.000", 4);
        Assert.Equal(2L, Convert.ToInt64(new MySqlCommand("SELECT COUNT(*) FROM `shares` PARTITION (`p20260402`)", connection).ExecuteScalar()));
        Assert.Equal(1L, Convert.ToInt64(new MySqlCommand("SELECT COUNT(*) FROM `shares` PARTITION (`p20260403`)", connection).ExecuteScalar()));

        // The same day again: nothing to do.
        var again = await maintenance.RunOnceAsync();
        Assert.Empty(again.Created);
        Assert.Empty(again.Dropped);

        // Three days later: three more days ahead; with 2 days' retention, days before 2026-04-03 go (04-02's rows with them).
        clock.Now = clock.Now.AddDays(3);
        var later = await maintenance.RunOnceAsync();
        Assert.Equal(["p20260406", "p20260407", "p20260408"], later.Created);
        Assert.Equal(["p20260402"], later.Dropped);
        Assert.Equal(2L, Rows(connection));
        Assert.Equal(["p20260403", "p20260404", "p20260405", "p20260406", "p20260407", "p20260408", "p_max"],
            (await SharePartitionMaintenance.ReadPartitionsAsync(connection)).Select(p => p.Name));

        // Down for weeks: the gap days need no partitions; today's takes them, the old ones all go.
        clock.Now = clock.Now.AddDays(20);
        var afterOutage = await maintenance.RunOnceAsync();
        Assert.Equal(["p20260425", "p20260426", "p20260427", "p20260428"], afterOutage.Created);
        Assert.Equal(6, afterOutage.Dropped.Count);
        Assert.Equal(0L, Rows(connection));
    }

    [Fact]
    public async Task Only_one_instance_works_at_a_time_and_retention_zero_keeps_everything()
    {
        var database = await mariaDb.CreateMigratedDatabaseAsync("partlock");
        var connectionString = mariaDb.ConnectionStringFor(database);
        var clock = new Clock(new DateTimeOffset(2026, 1, 10, 0, 0, 0, TimeSpan.Zero));
        var keepAll = new SharePartitionMaintenance(connectionString, new SharePartitionOptions { DaysAhead = 1, RetentionDays = 0 }, clock, NullLogger.Instance);
        Assert.Equal(2, (await keepAll.RunOnceAsync()).Created.Count);

        using (var holder = mariaDb.OpenConnection(database))
        {
            new MySqlCommand($"SELECT GET_LOCK('poolcluster.shares.partitions.{database}', 0)", holder).ExecuteScalar();
            var skipped = await keepAll.RunOnceAsync();
            Assert.False(skipped.Ran);
            Assert.Contains("lock", skipped.Problem);
            // A pooled connection keeps its session (and its named locks) when disposed.
            new MySqlCommand($"SELECT RELEASE_LOCK('poolcluster.shares.partitions.{database}')", holder).ExecuteScalar();
        }

        clock.Now = clock.Now.AddDays(400);
        var result = await keepAll.RunOnceAsync();
        Assert.Empty(result.Dropped);
        Assert.Equal(2, result.Created.Count);
    }

    [Theory]
    [InlineData("'2026-04-03'", 2026, 4, 3)]
    [InlineData("'2026-04-03 00:00:00.000'", 2026, 4, 3)]
    public void Partition_bounds_parse_as_MySQL_prints_them(string description, int year, int month, int day) =>
        Assert.Equal(new DateTime(year, month, day), SharePartitionMaintenance.ParseBound(description));

    [Fact]
    public void Maxvalue_is_no_bound_and_garbage_is_an_error_naming_it()
    {
        Assert.Null(SharePartitionMaintenance.ParseBound("MAXVALUE"));
        var error = Assert.Throws<FormatException>(() => SharePartitionMaintenance.ParseBound("'next tuesday'"));
        Assert.Contains("next tuesday", error.Message);
    }
}
