using System.Data;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;

namespace PoolCluster.Storage.Migrations;

/// <summary>What a migration run did.</summary>
public sealed record MigrationResult(string Database, IReadOnlyList<string> Applied, IReadOnlyList<string> AlreadyApplied);

/// <summary>
/// Brings a database's schema up to date with the migrations embedded in this assembly (Migrations/NNNN_*.sql).
/// Safe to run at every service start, twice, and from several processes at once: runs are serialised by a MySQL
/// named lock (GET_LOCK) per database, and each migration is recorded in schema_migrations (name, checksum,
/// applied_at) in the same transaction as its statements. MySQL commits DDL implicitly, so only a migration's DML is
/// atomic; migrations are written with IF NOT EXISTS so re-running a half-applied one completes it.
/// </summary>
public static class MySqlMigrator
{
    public const string SchemaTable = "schema_migrations";

    private const string ResourcePrefix = "PoolCluster.Storage.Migrations.";
    private static readonly Lazy<IReadOnlyList<SqlMigration>> Embedded = new(LoadEmbedded);

    static MySqlMigrator() => MySqlDriverCompatibility.Apply();

    /// <summary>The migrations shipped in this assembly, in order.</summary>
    public static IReadOnlyList<SqlMigration> EmbeddedMigrations => Embedded.Value;

    /// <summary>Applies the embedded migrations to the database named in <paramref name="connectionString"/>.</summary>
    public static Task<MigrationResult> MigrateAsync(string connectionString, ILogger logger, CancellationToken cancellationToken = default)
        => MigrateAsync(connectionString, EmbeddedMigrations, logger, TimeSpan.FromMinutes(2), cancellationToken);

    /// <summary>
    /// Applies <paramref name="migrations"/> not yet recorded, in order of number. Throws
    /// <see cref="MigrationChecksumMismatchException"/> before changing anything if an applied migration's text
    /// changed, <see cref="MigrationFailedException"/> when a statement fails, and <see cref="TimeoutException"/> when
    /// another migrator holds the lock longer than <paramref name="lockTimeout"/>.
    /// </summary>
    public static async Task<MigrationResult> MigrateAsync(
        string connectionString, IReadOnlyList<SqlMigration> migrations, ILogger logger, TimeSpan lockTimeout,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(migrations);
        ArgumentNullException.ThrowIfNull(logger);
        var ordered = Order(migrations);

        var builder = new MySqlConnectionStringBuilder(connectionString);
        var database = builder.Database;
        if (string.IsNullOrWhiteSpace(database))
            throw new ArgumentException("the connection string names no database (Database=...): migrations need the database to migrate", nameof(connectionString));
        // DDL must not be cut short by a service's short default command timeout.
        builder.DefaultCommandTimeout = 0;
        builder.AllowUserVariables = true;

        await using var connection = new MySqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        // btcpool's schema relies on UTC (TIMESTAMP defaults such as '1970-01-01 00:00:01' are invalid in zones east
        // of UTC), and strict mode turns silent truncation in a migration into an error.
        await connection.ExecuteAsync(
            "SET time_zone = '+00:00', sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'").ConfigureAwait(false);

        var lockName = LockName(database);
        var lockSeconds = Math.Max(0, (int)Math.Ceiling(lockTimeout.TotalSeconds));
        var got = await connection.ExecuteScalarAsync<long?>("SELECT GET_LOCK(@name, @seconds)", new { name = lockName, seconds = lockSeconds })
            .ConfigureAwait(false);
        if (got != 1)
            throw new TimeoutException($"another migrator held the migration lock '{lockName}' of database '{database}' for more than {lockSeconds} s; is a migration stuck (see SHOW PROCESSLIST)?");
        try
        {
            return await MigrateLockedAsync(connection, database, ordered, logger, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Closing the session would release it too; releasing explicitly keeps a pooled session from holding it.
            await connection.ExecuteAsync("SELECT RELEASE_LOCK(@name)", new { name = lockName }).ConfigureAwait(false);
        }
    }

    private static async Task<MigrationResult> MigrateLockedAsync(
        MySqlConnection connection, string database, IReadOnlyList<SqlMigration> migrations, ILogger logger, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync($"""
            CREATE TABLE IF NOT EXISTS `{SchemaTable}` (
              `name` varchar(255) NOT NULL,
              `checksum` char(64) NOT NULL,
              `applied_at` datetime(3) NOT NULL,
              PRIMARY KEY (`name`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
            """).ConfigureAwait(false);

        var applied = (await connection.QueryAsync<(string Name, string Checksum)>($"SELECT `name`, `checksum` FROM `{SchemaTable}`").ConfigureAwait(false))
            .ToDictionary(row => row.Name, row => row.Checksum, StringComparer.Ordinal);

        // Verify everything before changing anything: an edited migration means the code and the database disagree.
        foreach (var migration in migrations)
            if (applied.TryGetValue(migration.Name, out var appliedChecksum) && !string.Equals(appliedChecksum, migration.Checksum, StringComparison.OrdinalIgnoreCase))
                throw new MigrationChecksumMismatchException(migration.Name, appliedChecksum, migration.Checksum, database);

        var known = migrations.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = applied.Keys.Where(name => !known.Contains(name)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            logger.LogWarning("Database {Database} has migrations this build does not know ({Unknown}): it was migrated by a newer build", database, string.Join(", ", unknown));

        var highestApplied = migrations.Where(m => applied.ContainsKey(m.Name)).Select(m => m.Number).DefaultIfEmpty(0).Max();
        var appliedNow = new List<string>();
        var alreadyApplied = new List<string>();
        foreach (var migration in migrations)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (applied.ContainsKey(migration.Name))
            {
                alreadyApplied.Add(migration.Name);
                continue;
            }
            if (migration.Number < highestApplied)
                logger.LogWarning("Migration {Migration} is older than the newest applied one of database {Database}; applying it out of order", migration.Name, database);

            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await ApplyAsync(connection, migration).ConfigureAwait(false);
            appliedNow.Add(migration.Name);
            logger.LogInformation("Applied migration {Migration} to database {Database} in {Milliseconds:F0} ms",
                migration.Name, database, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        if (appliedNow.Count == 0)
            logger.LogInformation("Database {Database} schema is up to date ({Count} migrations)", database, alreadyApplied.Count);
        return new MigrationResult(database, appliedNow, alreadyApplied);
    }

    private static async Task ApplyAsync(MySqlConnection connection, SqlMigration migration)
    {
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted).ConfigureAwait(false);
        for (var i = 0; i < migration.Statements.Count; i++)
        {
            var statement = migration.Statements[i];
            try
            {
                await using var command = new MySqlCommand(statement, connection, transaction);
                await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
            catch (MySqlException e)
            {
                await transaction.RollbackAsync().ConfigureAwait(false);
                throw new MigrationFailedException(migration.Name, i + 1, statement, e);
            }
        }
        await connection.ExecuteAsync(
            $"INSERT INTO `{SchemaTable}` (`name`, `checksum`, `applied_at`) VALUES (@Name, @Checksum, UTC_TIMESTAMP(3))",
            new { migration.Name, migration.Checksum }, transaction).ConfigureAwait(false);
        await transaction.CommitAsync().ConfigureAwait(false);
    }

    private static List<SqlMigration> Order(IReadOnlyList<SqlMigration> migrations)
    {
        var ordered = migrations.OrderBy(m => m.Number).ToList();
        for (var i = 1; i < ordered.Count; i++)
            if (ordered[i].Number == ordered[i - 1].Number)
                throw new ArgumentException($"migrations {ordered[i - 1].Name} and {ordered[i].Name} share the number {ordered[i].Number}; renumber the newer one", nameof(migrations));
        return ordered;
    }

    /// <summary>One lock per database so unrelated databases on a server migrate independently; MySQL caps names at 64 characters.</summary>
    private static string LockName(string database)
    {
        var name = "poolcluster.migrate." + database;
        return name.Length <= 64
            ? name
            : "poolcluster.migrate." + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(database)))[..40];
    }

    private static IReadOnlyList<SqlMigration> LoadEmbedded()
    {
        var assembly = typeof(MySqlMigrator).Assembly;
        var migrations = new List<SqlMigration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
                continue;
            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"embedded migration {resource} cannot be read");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var name = resource[ResourcePrefix.Length..^".sql".Length];
            migrations.Add(new SqlMigration(name, reader.ReadToEnd()));
        }
        if (migrations.Count == 0)
            throw new InvalidOperationException($"no migrations are embedded in {assembly.GetName().Name}: the build lost Migrations/*.sql");
        return Order(migrations);
    }
}
