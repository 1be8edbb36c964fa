using System.Globalization;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;
using PoolCluster.Storage;

namespace PoolCluster.ShareLogger.Partitions;

/// <summary>One RANGE COLUMNS partition of `shares`: rows with created_at below <see cref="UpperBound"/> (null: MAXVALUE).</summary>
public sealed record SharePartition(string Name, DateTime? UpperBound);

/// <summary>What one maintenance run did.</summary>
public sealed record PartitionMaintenanceResult(bool Ran, IReadOnlyList<string> Created, IReadOnlyList<string> Dropped, string? Problem = null)
{
    public static PartitionMaintenanceResult Skipped(string why) => new(false, [], [], why);
}

/// <summary>
/// Keeps `shares` in daily partitions (docs/storage.md): splits the still-empty catch-all p_max into one partition per
/// day, from today up to <see cref="SharePartitionOptions.DaysAhead"/> days ahead (instant while p_max is empty), and
/// drops the partitions whose every row is older than <see cref="SharePartitionOptions.RetentionDays"/> (instant,
/// unlike DELETE). Partitions are named pYYYYMMDD after the day they hold and bounded by the next midnight (UTC).
/// Several ShareLoggers may run it: GET_LOCK lets one work at a time, the others skip.
/// </summary>
public sealed class SharePartitionMaintenance(string connectionString, SharePartitionOptions options, TimeProvider time, ILogger logger)
{
    public const string CatchAllPartition = "p_max";

    public async Task<PartitionMaintenanceResult> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        MySqlDriverCompatibility.Apply();
        var builder = new MySqlConnectionStringBuilder(connectionString) { DefaultCommandTimeout = 0 };
        await using var connection = new MySqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        var lockName = $"poolcluster.shares.partitions.{connection.Database}";
        if (Convert.ToInt64(await Scalar(connection, "SELECT GET_LOCK(@name, 0)", lockName).ConfigureAwait(false), CultureInfo.InvariantCulture) != 1)
            return PartitionMaintenanceResult.Skipped("another instance holds the maintenance lock");
        try
        {
            return await MaintainAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await Scalar(connection, "SELECT RELEASE_LOCK(@name)", lockName).ConfigureAwait(false);
        }
    }

    /// <summary>The partitions of `shares`, in order.</summary>
    public static async Task<IReadOnlyList<SharePartition>> ReadPartitionsAsync(MySqlConnection connection, CancellationToken cancellationToken = default)
    {
        await using var command = new MySqlCommand(
            """
            SELECT `PARTITION_NAME`, `PARTITION_DESCRIPTION` FROM `information_schema`.`PARTITIONS`
            WHERE `TABLE_SCHEMA` = DATABASE() AND `TABLE_NAME` = 'shares' AND `PARTITION_NAME` IS NOT NULL
            ORDER BY `PARTITION_ORDINAL_POSITION`
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<SharePartition>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var name = reader.GetString(0);
            var description = reader.IsDBNull(1) ? "" : reader.GetString(1);
            result.Add(new SharePartition(name, ParseBound(description)));
        }
        return result;
    }

    private async Task<PartitionMaintenanceResult> MaintainAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        var existing = await ReadPartitionsAsync(connection, cancellationToken).ConfigureAwait(false);
        if (existing.Count == 0)
            return Problem("`shares` is not partitioned: apply migration 0004_shares");
        if (existing[^1] is not { Name: CatchAllPartition, UpperBound: null })
            return Problem($"the last partition of `shares` is {existing[^1].Name}, not {CatchAllPartition} VALUES LESS THAN (MAXVALUE): new days cannot be split off");

        var today = time.GetUtcNow().UtcDateTime.Date;
        var created = new List<string>();
        var covered = existing.Where(p => p.UpperBound != null).Select(p => p.UpperBound!.Value).DefaultIfEmpty(DateTime.MinValue).Max();
        var names = existing.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var definitions = new List<string>();
        // Each new partition holds one day [d, d+1); the first one also takes everything older that no partition covers.
        for (var day = covered > today ? covered : today; day <= today.AddDays(options.DaysAhead); day = day.AddDays(1))
        {
            var name = $"p{day:yyyyMMdd}";
            if (!names.Add(name))
                return Problem($"a partition named {name} already exists with another bound: fix the partitions of `shares` by hand");
            definitions.Add($"PARTITION `{name}` VALUES LESS THAN ('{day.AddDays(1):yyyy-MM-dd}')");
            created.Add(name);
        }
        if (definitions.Count > 0)
        {
            if (await CatchAllHasRowsAsync(connection, cancellationToken).ConfigureAwait(false))
                logger.LogWarning("splitting {Partition} while it holds rows: MySQL copies them (slow on a big table); run maintenance before shares arrive", CatchAllPartition);
            await Execute(connection,
                $"ALTER TABLE `shares` REORGANIZE PARTITION `{CatchAllPartition}` INTO ({string.Join(", ", definitions)}, " +
                $"PARTITION `{CatchAllPartition}` VALUES LESS THAN (MAXVALUE))", cancellationToken).ConfigureAwait(false);
            logger.LogInformation("created partitions of `shares`: {Partitions}", string.Join(", ", created));
        }

        var dropped = new List<string>();
        if (options.RetentionDays > 0)
        {
            var cutoff = today.AddDays(-options.RetentionDays);
            dropped.AddRange(existing.Where(p => p.UpperBound is { } bound && bound <= cutoff).Select(p => p.Name));
            if (dropped.Count > 0)
            {
                await Execute(connection, $"ALTER TABLE `shares` DROP PARTITION {string.Join(", ", dropped.Select(n => $"`{n}`"))}", cancellationToken)
                    .ConfigureAwait(false);
                logger.LogInformation("dropped partitions of `shares` older than {Days} days: {Partitions}", options.RetentionDays, string.Join(", ", dropped));
            }
        }
        return new PartitionMaintenanceResult(true, created, dropped);
    }

    private PartitionMaintenanceResult Problem(string problem)
    {
        logger.LogError("partition maintenance of `shares` cannot run: {Problem}", problem);
        return new PartitionMaintenanceResult(false, [], [], problem);
    }

    private static async Task<bool> CatchAllHasRowsAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand($"SELECT EXISTS (SELECT 1 FROM `shares` PARTITION (`{CatchAllPartition}`))", connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) == 1;
    }

    /// <summary>'2026-04-03' or '2026-04-03 00:00:00.000' → the date; MAXVALUE → null.</summary>
    internal static DateTime? ParseBound(string description)
    {
        var text = description.Trim().Trim('\'');
        if (text.Equals("MAXVALUE", StringComparison.OrdinalIgnoreCase) || text.Length == 0)
            return null;
        if (DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var bound))
            return bound;
        throw new FormatException($"partition bound '{description}' of `shares` is not a date");
    }

    private static async Task<object?> Scalar(MySqlConnection connection, string sql, string name)
    {
        await using var command = new MySqlCommand(sql, connection);
        command.Parameters.AddWithValue("@name", name);
        return await command.ExecuteScalarAsync().ConfigureAwait(false);
    }

    private static async Task Execute(MySqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
