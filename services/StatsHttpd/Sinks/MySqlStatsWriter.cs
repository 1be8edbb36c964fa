using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Ingest;
using PoolCluster.Storage;

namespace PoolCluster.StatsHttpd.Sinks;

/// <summary>
/// Writes btcpool's tables (shared/Storage migrations 0001/0002, btcpool's bpool_local_db / bpool_local_stats_db):
/// <list type="bullet">
/// <item><c>mining_workers</c>: one row per worker (and per user with worker_id 0, as btcpool), its rolling windows,
/// upserted every flush once warm;</item>
/// <item><c>stats_{workers,users,pool}_{hour,day}</c>: accept/stale/reject difficulty, reject_detail, reject_rate,
/// score and earn per hour (YYYYMMDDHH) and day (YYYYMMDD), UTC.</item>
/// </list>
/// Every row holds the absolute totals of its bucket and is written with INSERT … ON DUPLICATE KEY UPDATE
/// col = VALUES(col) on the tables' unique keys, so rewriting a bucket (every flush rewrites those that changed; a
/// restart or replay rewrites what it re-read) yields the same row, never a doubled one. Buckets that began before the
/// replay start are never written (they would hold only part of their shares).
/// </summary>
internal sealed class MySqlStatsWriter
{
    private const string StatsValueColumns =
        "`share_accept`,`share_stale`,`share_reject`,`reject_detail`,`reject_rate`,`score`,`earn`,`created_at`,`updated_at`";

    private const string StatsUpdate =
        " ON DUPLICATE KEY UPDATE `share_accept`=VALUES(`share_accept`),`share_stale`=VALUES(`share_stale`)," +
        "`share_reject`=VALUES(`share_reject`),`reject_detail`=VALUES(`reject_detail`),`reject_rate`=VALUES(`reject_rate`)," +
        "`score`=VALUES(`score`),`earn`=VALUES(`earn`),`updated_at`=VALUES(`updated_at`)";

    private const string MiningWorkersInsert =
        "INSERT INTO `mining_workers` (`worker_id`,`puid`,`group_id`,`worker_name`,`accept_1m`,`accept_5m`,`accept_15m`," +
        "`stale_15m`,`reject_15m`,`reject_detail_15m`,`accept_1h`,`stale_1h`,`reject_1h`,`reject_detail_1h`,`accept_count`," +
        "`last_share_ip`,`last_share_time`,`miner_agent`,`created_at`,`updated_at`) VALUES ";

    // group_id and created_at are left alone on update: users move workers between groups in btcpool's web UI.
    private const string MiningWorkersUpdate =
        " ON DUPLICATE KEY UPDATE `worker_name`=COALESCE(VALUES(`worker_name`),`worker_name`)," +
        "`accept_1m`=VALUES(`accept_1m`),`accept_5m`=VALUES(`accept_5m`),`accept_15m`=VALUES(`accept_15m`)," +
        "`stale_15m`=VALUES(`stale_15m`),`reject_15m`=VALUES(`reject_15m`),`reject_detail_15m`=VALUES(`reject_detail_15m`)," +
        "`accept_1h`=VALUES(`accept_1h`),`stale_1h`=VALUES(`stale_1h`),`reject_1h`=VALUES(`reject_1h`)," +
        "`reject_detail_1h`=VALUES(`reject_detail_1h`),`accept_count`=VALUES(`accept_count`)," +
        "`last_share_ip`=VALUES(`last_share_ip`),`last_share_time`=VALUES(`last_share_time`)," +
        "`miner_agent`=COALESCE(VALUES(`miner_agent`),`miner_agent`),`updated_at`=VALUES(`updated_at`)";

    private readonly StatsStore store;
    private readonly MySqlConnectionFactory connections;
    private readonly StatsMySqlOptions options;
    private readonly WarmupState warmup;
    private readonly ILogger logger;
    private readonly Dictionary<(ShareStats Entity, PeriodKind Kind, long Index), PeriodRecord> pending = new();
    private readonly int maxPending;
    private long droppedPeriods;
    private long flushes;

    public MySqlStatsWriter(StatsStore store, MySqlConnectionFactory connections, StatsMySqlOptions options, WarmupState warmup,
        int maxPending, ILogger logger)
    {
        this.store = store;
        this.connections = connections;
        this.options = options;
        this.warmup = warmup;
        this.maxPending = maxPending;
        this.logger = logger;
    }

    /// <summary>When mining_workers was last written in full (btcpool's /flush_db_time); null before the first time.</summary>
    public DateTimeOffset? LastMiningWorkersFlush { get; private set; }

    public int PendingPeriods => pending.Count;

    /// <summary>Successful flushes since start.</summary>
    public long Flushes => Interlocked.Read(ref flushes);

    public long DroppedPeriods => Interlocked.Read(ref droppedPeriods);

    /// <summary>
    /// Writes the changed hour/day buckets and, once warm, every worker's and user's windows to mining_workers.
    /// Returns false when MySQL failed (unwritten buckets stay pending). Called by one thread at a time.
    /// </summary>
    public async Task<bool> FlushAsync(CancellationToken cancellationToken)
    {
        CollectPending();
        try
        {
            await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await WriteStatsAsync(connection, cancellationToken).ConfigureAwait(false);
            if (warmup.IsWarm)
            {
                var flushedAt = store.Time.GetUtcNow();
                await WriteMiningWorkersAsync(connection, flushedAt, cancellationToken).ConfigureAwait(false);
                LastMiningWorkersFlush = flushedAt;
            }
            Interlocked.Increment(ref flushes);
            return true;
        }
        catch (Exception e) when (e is MySqlException or InvalidOperationException or TimeoutException or System.IO.IOException)
        {
            logger.LogWarning("MySQL write failed ({Error}); {Buckets} hour/day buckets wait for the next flush", e.Message, pending.Count);
            // Pooled connections to a server that restarted are dead: drop them so the next flush opens fresh ones.
            using (var probe = connections.CreateConnection())
                MySqlConnection.ClearPool(probe);
            return false;
        }
    }

    /// <summary>Deletes rows past btcpool's retention: stats_workers_hour, stats_users_hour, stats_workers_day.</summary>
    public async Task<long> DeleteExpiredAsync(CancellationToken cancellationToken)
    {
        var now = store.NowSeconds;
        var hour = TimeKeys.FloorDiv(now, 3600);
        var day = TimeKeys.FloorDiv(now, 86400);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        long deleted = 0;
        deleted += await DeleteBeforeAsync(connection, "stats_workers_hour", "hour", TimeKeys.HourKey(hour - options.WorkersHourRetentionDays * 24L), options.WorkersHourRetentionDays, cancellationToken).ConfigureAwait(false);
        deleted += await DeleteBeforeAsync(connection, "stats_users_hour", "hour", TimeKeys.HourKey(hour - options.UsersHourRetentionDays * 24L), options.UsersHourRetentionDays, cancellationToken).ConfigureAwait(false);
        deleted += await DeleteBeforeAsync(connection, "stats_workers_day", "day", TimeKeys.DayKey(day - options.WorkersDayRetentionDays), options.WorkersDayRetentionDays, cancellationToken).ConfigureAwait(false);
        return deleted;
    }

    private static async Task<long> DeleteBeforeAsync(MySqlConnection connection, string table, string column, int before, int retentionDays,
        CancellationToken cancellationToken)
    {
        if (retentionDays == 0)
            return 0;
        long total = 0;
        while (true)
        {
            // In slices, so a large backlog does not hold locks the flushes need.
            await using var command = new MySqlCommand($"DELETE FROM `{table}` WHERE `{column}` < @before LIMIT 10000", connection);
            command.Parameters.AddWithValue("@before", before);
            var deleted = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            total += deleted;
            if (deleted < 10000)
                return total;
        }
    }

    private async Task<MySqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await connections.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // TIMESTAMP columns follow the session time zone; the pool writes UTC.
            await using var command = new MySqlCommand("SET time_zone = '+00:00'", connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void CollectPending()
    {
        var collected = new List<PeriodRecord>();
        store.DrainEvictedPeriods(collected);
        var firstHour = store.FirstCoveredHour;
        var firstDay = store.FirstCoveredDay;
        foreach (var entity in store.AllEntities())
        {
            if (entity.Kind == StatsEntityKind.Host)
                continue;
            lock (entity.Gate)
                entity.CollectDirtyPeriodsLocked(firstHour, firstDay, collected);
        }
        foreach (var record in collected)
        {
            if (record.Entity.Kind == StatsEntityKind.Host)
                continue;
            if (record.Index < (record.Kind == PeriodKind.Hour ? firstHour : firstDay))
                continue;
            var key = (record.Entity, record.Kind, record.Index);
            if (pending.Count >= maxPending && !pending.ContainsKey(key))
            {
                Interlocked.Increment(ref droppedPeriods);
                continue;
            }
            pending[key] = record;
        }
    }

    private async Task WriteStatsAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        if (pending.Count == 0)
            return;
        var now = FormatTimestamp(store.Time.GetUtcNow());
        var groups = pending.Values.GroupBy(r => (r.Entity.Kind, r.Kind)).ToList();
        foreach (var group in groups)
        {
            var (table, keyColumns) = StatsTable(group.Key.Item1, group.Key.Item2);
            foreach (var chunk in group.Chunk(options.BatchRows))
            {
                var sql = new StringBuilder(256 + chunk.Length * 160);
                sql.Append("INSERT INTO `").Append(table).Append("` (").Append(keyColumns).Append(',').Append(StatsValueColumns).Append(") VALUES ");
                for (var i = 0; i < chunk.Length; i++)
                {
                    if (i > 0)
                        sql.Append(',');
                    AppendStatsRow(sql, chunk[i], now);
                }
                sql.Append(StatsUpdate);
                await using var command = new MySqlCommand(sql.ToString(), connection);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                foreach (var record in chunk)
                    pending.Remove((record.Entity, record.Kind, record.Index));
            }
        }
    }

    private static (string Table, string KeyColumns) StatsTable(StatsEntityKind entity, PeriodKind period) => (entity, period) switch
    {
        (StatsEntityKind.Worker, PeriodKind.Hour) => ("stats_workers_hour", "`puid`,`worker_id`,`hour`"),
        (StatsEntityKind.Worker, PeriodKind.Day) => ("stats_workers_day", "`puid`,`worker_id`,`day`"),
        (StatsEntityKind.User, PeriodKind.Hour) => ("stats_users_hour", "`puid`,`hour`"),
        (StatsEntityKind.User, PeriodKind.Day) => ("stats_users_day", "`puid`,`day`"),
        (StatsEntityKind.Pool, PeriodKind.Hour) => ("stats_pool_hour", "`hour`"),
        (StatsEntityKind.Pool, PeriodKind.Day) => ("stats_pool_day", "`day`"),
        _ => throw new InvalidOperationException($"no stats table for {entity} per {period}"),
    };

    private static void AppendStatsRow(StringBuilder sql, in PeriodRecord record, string now)
    {
        var entity = record.Entity;
        var key = record.Kind == PeriodKind.Hour ? TimeKeys.HourKey(record.Index) : TimeKeys.DayKey(record.Index);
        var v = record.Values;
        sql.Append('(');
        if (entity.Kind != StatsEntityKind.Pool)
            sql.Append(entity.UserId.ToString(CultureInfo.InvariantCulture)).Append(',');
        if (entity.Kind == StatsEntityKind.Worker)
            sql.Append(entity.WorkerId.ToString(CultureInfo.InvariantCulture)).Append(',');
        sql.Append(key.ToString(CultureInfo.InvariantCulture)).Append(',')
            .Append(Integer(v.Accept)).Append(',')
            .Append(Integer(v.Stale)).Append(',')
            .Append(Integer(v.Reject)).Append(",'")
            .Append(MySqlHelper.EscapeString(RejectDetailJson(record.RejectByReason))).Append("',")
            .Append(RejectRate(v.Accept, v.Reject).ToString("R", CultureInfo.InvariantCulture)).Append(",'")
            .Append(v.Score.ToString("R", CultureInfo.InvariantCulture)).Append("',")
            .Append(Integer(v.Earn)).Append(",'")
            .Append(now).Append("','").Append(now).Append("')");
    }

    private async Task WriteMiningWorkersAsync(MySqlConnection connection, DateTimeOffset flushedAt, CancellationToken cancellationToken)
    {
        var nowSeconds = flushedAt.ToUnixTimeSeconds();
        var now = FormatTimestamp(flushedAt);
        var snapshot = new EntitySnapshot();
        var rows = new StringBuilder();
        var command = new MySqlCommand { Connection = connection };
        var count = 0;
        try
        {
            foreach (var entity in store.Users.Concat(store.Workers))
            {
                cancellationToken.ThrowIfCancellationRequested();
                entity.Snapshot(nowSeconds, snapshot);
                if (count > 0)
                    rows.Append(',');
                AppendMiningWorkerRow(rows, command, count, entity, snapshot, now);
                count++;
                if (count == options.BatchRows)
                {
                    await ExecuteMiningWorkersAsync(command, rows, cancellationToken).ConfigureAwait(false);
                    count = 0;
                }
            }
            if (count > 0)
                await ExecuteMiningWorkersAsync(command, rows, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await command.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task ExecuteMiningWorkersAsync(MySqlCommand command, StringBuilder rows, CancellationToken cancellationToken)
    {
        command.CommandText = MiningWorkersInsert + rows + MiningWorkersUpdate;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        command.Parameters.Clear();
        rows.Clear();
    }

    private static void AppendMiningWorkerRow(StringBuilder sql, MySqlCommand command, int row, ShareStats entity, EntitySnapshot s, string now)
    {
        var isWorker = entity.Kind == StatsEntityKind.Worker;
        var name = $"@n{row}";
        var agent = $"@a{row}";
        var ip = $"@i{row}";
        command.Parameters.AddWithValue(name, isWorker ? Truncate(s.WorkerName, 50) : DBNull.Value);
        command.Parameters.AddWithValue(agent, isWorker && s.MinerAgent != null ? Truncate(s.MinerAgent, 30) : DBNull.Value);
        command.Parameters.AddWithValue(ip, MiningWorkersIp(s.LastShareIp));
        var fifteen = s[StatsWindow.FifteenMinutes];
        var hour = s[StatsWindow.OneHour];
        sql.Append('(')
            .Append(entity.WorkerId.ToString(CultureInfo.InvariantCulture)).Append(',')
            .Append(entity.UserId.ToString(CultureInfo.InvariantCulture)).Append(',')
            .Append((-entity.UserId).ToString(CultureInfo.InvariantCulture)).Append(',')
            .Append(name).Append(',')
            .Append(Integer(s[StatsWindow.OneMinute].Accept)).Append(',')
            .Append(Integer(s[StatsWindow.FiveMinutes].Accept)).Append(',')
            .Append(Integer(fifteen.Accept)).Append(',')
            .Append(Integer(fifteen.Stale)).Append(',')
            .Append(Integer(fifteen.Reject)).Append(",'")
            .Append(MySqlHelper.EscapeString(RejectDetailJson(s.ReasonsOf(StatsWindow.FifteenMinutes)))).Append("',")
            .Append(Integer(hour.Accept)).Append(',')
            .Append(Integer(hour.Stale)).Append(',')
            .Append(Integer(hour.Reject)).Append(",'")
            .Append(MySqlHelper.EscapeString(RejectDetailJson(s.ReasonsOf(StatsWindow.OneHour)))).Append("',")
            .Append(Math.Min(s.AcceptCountDay, int.MaxValue).ToString(CultureInfo.InvariantCulture)).Append(',')
            .Append(ip).Append(",'")
            .Append(s.LastShareMs > 0 ? FormatTimestamp(DateTimeOffset.FromUnixTimeMilliseconds(s.LastShareMs)) : "1970-01-01 00:00:01").Append("',")
            .Append(agent).Append(",'")
            .Append(now).Append("','").Append(now).Append("')");
    }

    /// <summary>btcpool's reject_detail: the rejected difficulty per status code, e.g. {"23":1024,"31":512}; "{}" when none.</summary>
    internal static string RejectDetailJson(ReadOnlySpan<double> byReason)
    {
        if (byReason.IsEmpty)
            return "{}";
        var json = new StringBuilder("{");
        for (var i = 0; i < byReason.Length; i++)
        {
            if (byReason[i] == 0)
                continue;
            if (json.Length > 1)
                json.Append(',');
            json.Append('"').Append(RejectReasons.Code(i)).Append("\":").Append(RedisStatsWriter.FormatNumber(byReason[i]));
        }
        return json.Append('}').ToString();
    }

    internal static string RejectDetailJson(double[]? byReason) => RejectDetailJson(byReason.AsSpan());

    /// <summary>btcpool's reject_rate: reject / (accept + reject), stale not counted; 0 without rejects.</summary>
    internal static double RejectRate(double accept, double reject) => reject > 0 ? reject / (accept + reject) : 0;

    /// <summary>The BIGINT difficulty columns hold whole numbers (btcpool's share difficulties are integers).</summary>
    private static string Integer(double value) => ((long)Math.Round(value, MidpointRounding.AwayFromZero)).ToString(CultureInfo.InvariantCulture);

    private static string FormatTimestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>last_share_ip is CHAR(16): an IPv4 address (IPv4-mapped IPv6 unwrapped); anything longer is stored as btcpool's default.</summary>
    internal static string MiningWorkersIp(string? ip)
    {
        if (string.IsNullOrEmpty(ip))
            return "0.0.0.0";
        if (System.Net.IPAddress.TryParse(ip, out var address) && address.IsIPv4MappedToIPv6)
            ip = address.MapToIPv4().ToString();
        return ip.Length <= 16 ? ip : "0.0.0.0";
    }

    private static string Truncate(string value, int length) => value.Length <= length ? value : value[..length];
}
