using Dapper;
using MySql.Data.MySqlClient;
using PoolCluster.Storage.Migrations;
using PoolCluster.Testing;

namespace PoolCluster.Storage.Tests;

public sealed class MigrationTests(MariaDbFixture mariaDb) : IClassFixture<MariaDbFixture>
{
    private static readonly string[] ExpectedTables =
    [
        "found_blocks", "kafka_positions", "mining_workers", "schema_migrations", "shares",
        "stats_pool_day", "stats_pool_hour", "stats_users_day", "stats_users_hour", "stats_workers_day", "stats_workers_hour",
        "users",
    ];

    [Fact]
    public void Embedded_migrations_are_the_numbered_files_in_order()
    {
        var names = MySqlMigrator.EmbeddedMigrations.Select(m => m.Name).ToArray();
        Assert.Equal(["0001_btcpool_local_db", "0002_btcpool_local_stats_db", "0003_users", "0004_shares", "0005_kafka_positions", "0006_found_blocks_submit_result", "0007_shares_natural_key"], names);
        Assert.All(MySqlMigrator.EmbeddedMigrations, m => Assert.Matches("^[0-9a-f]{64}$", m.Checksum));
    }

    [Fact]
    public async Task Running_twice_applies_everything_once_and_leaves_the_schema_intact()
    {
        var database = mariaDb.CreateDatabase("migrate_twice");
        var connectionString = mariaDb.ConnectionStringFor(database);
        var logger = new ListLogger();

        var first = await MySqlMigrator.MigrateAsync(connectionString, logger);
        Assert.Equal(MySqlMigrator.EmbeddedMigrations.Select(m => m.Name), first.Applied);
        Assert.Empty(first.AlreadyApplied);

        using (var connection = mariaDb.OpenConnection(database))
            await connection.ExecuteAsync("INSERT INTO users (name) VALUES ('survivor')");

        var second = await MySqlMigrator.MigrateAsync(connectionString, logger);
        Assert.Empty(second.Applied);
        Assert.Equal(first.Applied, second.AlreadyApplied);

        using var check = mariaDb.OpenConnection(database);
        var tables = (await check.QueryAsync<string>(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = @database ORDER BY table_name", new { database })).ToArray();
        Assert.Equal(ExpectedTables, tables);
        Assert.Equal(MySqlMigrator.EmbeddedMigrations.Count, await check.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM schema_migrations"));
        Assert.Equal(1, await check.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM users WHERE name = 'survivor'"));
        var recorded = (await check.QueryAsync<(string Name, string Checksum)>("SELECT name, checksum FROM schema_migrations ORDER BY name")).ToArray();
        Assert.Equal(MySqlMigrator.EmbeddedMigrations.Select(m => (m.Name, m.Checksum)), recorded);
    }

    [Fact]
    public async Task Shares_written_before_0007_get_their_Kafka_position_as_id_and_a_rerun_changes_nothing()
    {
        var database = mariaDb.CreateDatabase("migrate_0007");
        var connectionString = mariaDb.ConnectionStringFor(database);
        var embedded = MySqlMigrator.EmbeddedMigrations;
        await MySqlMigrator.MigrateAsync(connectionString, embedded.Where(m => string.CompareOrdinal(m.Name, "0007") < 0).ToList(),
            new ListLogger(), TimeSpan.FromSeconds(30));
        using (var connection = mariaDb.OpenConnection(database))
            foreach (var (partition, offset) in new[] { (0, 5L), (0, 3L), (7, 281_474_976_710_655L), (3, 0L) })
                await connection.ExecuteAsync(
                    "INSERT INTO shares (kafka_partition, kafka_offset, user_id, worker_id, ip, server_id, session_id, job_id, share_diff, " +
                    "network_diff, status, height, created_at, nonce, ntime, extranonce1, extranonce2) " +
                    "VALUES (@partition, @offset, 1, 1, '', 1, 1, 1, 1, 1, 1, 1, '2026-11-22 00:00:00.000', 0, 0, '', '')",
                    new { partition, offset });

        var migration0007 = embedded.Single(m => m.Name == "0007_shares_natural_key");
        await MySqlMigrator.MigrateAsync(connectionString, new ListLogger());
        // As if it had been interrupted before it was recorded: the same statements again.
        using var check = mariaDb.OpenConnection(database);
        foreach (var statement in migration0007.Statements)
            await check.ExecuteAsync(statement);

        var rows = (await check.QueryAsync<(ulong Id, int Partition, long Offset)>("SELECT id, kafka_partition, kafka_offset FROM shares ORDER BY id")).ToList();
        Assert.Equal([(3UL, 0, 3L), (5UL, 0, 5L), ((3UL << 48) + 0, 3, 0L), ((7UL << 48) + 281_474_976_710_655UL, 7, 281_474_976_710_655L)], rows);
        Assert.Equal("id,created_at", await check.ExecuteScalarAsync<string>(
            "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index) FROM information_schema.statistics " +
            "WHERE table_schema = @database AND table_name = 'shares' AND index_name = 'PRIMARY'", new { database }));
        Assert.Equal(0, await check.ExecuteScalarAsync<int>(
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = @database AND table_name = 'shares' AND extra LIKE '%auto_increment%'",
            new { database }));
    }

    [Fact]
    public async Task Concurrent_migrators_apply_each_migration_exactly_once()
    {
        var database = mariaDb.CreateDatabase("migrate_concurrent");
        var connectionString = mariaDb.ConnectionStringFor(database);
        using var start = new Barrier(4);

        // Separate sessions, like separate processes: MySql.Data's async is synchronous, so use threads.
        var runs = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait();
            return MySqlMigrator.MigrateAsync(connectionString, new ListLogger());
        })).ToArray();
        var results = await Task.WhenAll(runs);

        var applied = results.SelectMany(r => r.Applied).ToList();
        Assert.Equal(MySqlMigrator.EmbeddedMigrations.Select(m => m.Name).Order(), applied.Order());
        Assert.All(results, r => Assert.Equal(MySqlMigrator.EmbeddedMigrations.Count, r.Applied.Count + r.AlreadyApplied.Count));
        using var check = mariaDb.OpenConnection(database);
        Assert.Equal(MySqlMigrator.EmbeddedMigrations.Count, await check.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM schema_migrations"));
    }

    [Fact]
    public async Task An_edited_applied_migration_is_refused_before_anything_else_runs()
    {
        var database = mariaDb.CreateDatabase("migrate_edited");
        var connectionString = mariaDb.ConnectionStringFor(database);
        await MySqlMigrator.MigrateAsync(connectionString, new ListLogger());

        var embedded = MySqlMigrator.EmbeddedMigrations;
        var edited = embedded.Select(m => m.Name == "0003_users"
                ? new SqlMigration(m.Name, m.Sql.Replace("varchar(64)", "varchar(128)", StringComparison.Ordinal))
                : m)
            .Append(new SqlMigration("0099_later", "CREATE TABLE later_table (id INT PRIMARY KEY)"))
            .ToList();

        var error = await Assert.ThrowsAsync<MigrationChecksumMismatchException>(
            () => MySqlMigrator.MigrateAsync(connectionString, edited, new ListLogger(), TimeSpan.FromSeconds(30)));
        var original = embedded.Single(m => m.Name == "0003_users");
        Assert.Equal("0003_users", error.MigrationName);
        Assert.Equal(original.Checksum, error.AppliedChecksum);
        Assert.NotEqual(original.Checksum, error.FileChecksum);
        Assert.Contains("0003_users", error.Message, StringComparison.Ordinal);
        Assert.Contains("must not change once applied", error.Message, StringComparison.Ordinal);

        using var check = mariaDb.OpenConnection(database);
        Assert.Equal(0, await check.ExecuteScalarAsync<int>(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = @database AND table_name = 'later_table'", new { database }));
    }

    [Fact]
    public void Line_endings_and_a_bom_do_not_count_as_edits()
    {
        var original = new SqlMigration("0001_x", "CREATE TABLE t (id INT);\nSELECT 1;\n");
        var windows = new SqlMigration("0001_x", "\uFEFFCREATE TABLE t (id INT);\r\nSELECT 1;\r\n");
        Assert.Equal(original.Checksum, windows.Checksum);
        Assert.NotEqual(original.Checksum, new SqlMigration("0001_x", "CREATE TABLE t (id BIGINT);\nSELECT 1;\n").Checksum);
    }

    [Fact]
    public async Task A_failing_migration_rolls_back_its_rows_and_is_not_recorded()
    {
        var database = mariaDb.CreateDatabase("migrate_failing");
        var connectionString = mariaDb.ConnectionStringFor(database);
        var migrations = new List<SqlMigration>
        {
            new("0001_table", "CREATE TABLE IF NOT EXISTS seeds (id INT PRIMARY KEY)"),
            new("0002_seed", "INSERT INTO seeds VALUES (1);\nINSERT INTO seeds VALUES (2);\nINSERT INTO no_such_table VALUES (3);"),
        };

        var error = await Assert.ThrowsAsync<MigrationFailedException>(
            () => MySqlMigrator.MigrateAsync(connectionString, migrations, new ListLogger(), TimeSpan.FromSeconds(30)));
        Assert.Equal("0002_seed", error.MigrationName);
        Assert.Equal(3, error.StatementNumber);
        Assert.Contains("no_such_table", error.Message, StringComparison.Ordinal);

        using var check = mariaDb.OpenConnection(database);
        Assert.Equal(0, await check.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM seeds"));
        Assert.Equal(["0001_table"], await check.QueryAsync<string>("SELECT name FROM schema_migrations"));

        // Fixed, it applies on the next run.
        migrations[1] = new SqlMigration("0002_seed", "INSERT INTO seeds VALUES (1);\nINSERT INTO seeds VALUES (2);");
        var result = await MySqlMigrator.MigrateAsync(connectionString, migrations, new ListLogger(), TimeSpan.FromSeconds(30));
        Assert.Equal(["0002_seed"], result.Applied);
        Assert.Equal(2, await check.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM seeds"));
    }

    [Fact]
    public async Task A_migrator_waits_for_the_lock_and_times_out_with_a_clear_error()
    {
        var database = mariaDb.CreateDatabase("migrate_locked");
        var connectionString = mariaDb.ConnectionStringFor(database);
        using var holder = mariaDb.OpenConnection(database);
        Assert.Equal(1L, await holder.ExecuteScalarAsync<long>("SELECT GET_LOCK(@name, 0)", new { name = "poolcluster.migrate." + database }));

        var error = await Assert.ThrowsAsync<TimeoutException>(() => Task.Run(
            () => MySqlMigrator.MigrateAsync(connectionString, MySqlMigrator.EmbeddedMigrations, new ListLogger(), TimeSpan.FromSeconds(1))));
        Assert.Contains(database, error.Message, StringComparison.Ordinal);
        Assert.Contains("lock", error.Message, StringComparison.Ordinal);

        // Released, the same migrator proceeds.
        await holder.ExecuteAsync("SELECT RELEASE_LOCK(@name)", new { name = "poolcluster.migrate." + database });
        var result = await MySqlMigrator.MigrateAsync(connectionString, new ListLogger());
        Assert.Equal(MySqlMigrator.EmbeddedMigrations.Count, result.Applied.Count);
    }

    [Fact]
    public async Task Migrations_unknown_to_this_build_are_reported_not_fatal()
    {
        var database = mariaDb.CreateDatabase("migrate_newer");
        var connectionString = mariaDb.ConnectionStringFor(database);
        var newer = MySqlMigrator.EmbeddedMigrations.Append(new SqlMigration("0999_from_the_future", "CREATE TABLE IF NOT EXISTS future (id INT)")).ToList();
        await MySqlMigrator.MigrateAsync(connectionString, newer, new ListLogger(), TimeSpan.FromSeconds(30));

        var logger = new ListLogger();
        var result = await MySqlMigrator.MigrateAsync(connectionString, logger);
        Assert.Empty(result.Applied);
        Assert.Contains(logger.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains("0999_from_the_future", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_connection_string_without_a_database_is_rejected_by_name()
    {
        var builder = new MySqlConnectionStringBuilder(mariaDb.Server.ConnectionString) { Database = "" };
        var error = await Assert.ThrowsAsync<ArgumentException>(() => MySqlMigrator.MigrateAsync(builder.ConnectionString, new ListLogger()));
        Assert.Contains("names no database", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migration_names_and_numbers_are_validated()
    {
        Assert.Contains("must look like 0001_description", Assert.Throws<ArgumentException>(() => new SqlMigration("users", "SELECT 1")).Message, StringComparison.Ordinal);
        Assert.Contains("no SQL statement", Assert.Throws<ArgumentException>(() => new SqlMigration("0001_empty", "-- nothing\n")).Message, StringComparison.Ordinal);
        var duplicate = new List<SqlMigration> { new("0001_a", "SELECT 1"), new("0001_b", "SELECT 2") };
        var error = await Assert.ThrowsAsync<ArgumentException>(() => MySqlMigrator.MigrateAsync(mariaDb.Server.ConnectionString, duplicate, new ListLogger(), TimeSpan.FromSeconds(1)));
        Assert.Contains("share the number 1", error.Message, StringComparison.Ordinal);
    }
}
