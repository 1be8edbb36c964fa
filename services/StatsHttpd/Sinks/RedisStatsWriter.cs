using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Ingest;
using StackExchange.Redis;

namespace PoolCluster.StatsHttpd.Sinks;

/// <summary>
/// Writes viabtc's Redis formats (reference 000, viabtc_mining_server metawriter):
/// <list type="bullet">
/// <item>per-minute hashes, field = unix minute (a multiple of 60): <c>&lt;coin&gt;:s:&lt;user&gt;</c> accepted share count,
/// <c>…:reject</c> stale + rejected count, <c>&lt;coin&gt;:p:…</c> accepted difficulty ("pow": × 2^32 = hashes),
/// <c>&lt;coin&gt;:g:…</c> accepted difficulty / network difficulty ("pow goal"), for users and <c>user:worker</c>;</item>
/// <item>pool monitor hashes <c>&lt;coin&gt;:m:{pow,share,reject,block,connections}</c>, per stratum server
/// <c>&lt;coin&gt;:mh:&lt;server id&gt;:{…}</c>, the sets <c>&lt;coin&gt;:mk:&lt;key&gt;</c> (servers per key),
/// <c>monitor:keys</c> (every <c>&lt;coin&gt;:m:&lt;key&gt;</c>) and <c>mining:keys</c> (every per-user/worker key);</item>
/// <item>the event lists <c>newworker</c> and <c>newevent</c> (JSON, RPUSH).</item>
/// </list>
/// Every per-minute value is the minute's total computed from the buckets and written with HSET, so rewriting a minute
/// (each flush rewrites the minutes that changed; a restart or replay rewrites what it re-read) never double counts.
/// The event lists are not idempotent by nature; Lua scripts make them so: newworker only when SADD of the worker to
/// a known-workers set succeeds, newevent only for a WorkerEvent offset beyond the last one pushed for its partition.
/// While Redis is down nothing is lost up to the configured backlog: minutes stay marked, events stay queued.
/// </summary>
internal sealed class RedisStatsWriter
{
    private const int CommandsPerBatch = 4096;
    private const long KeyRegistrationSeconds = 3600;

    private const string NewWorkerScript = """
        if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
          redis.call('RPUSH', KEYS[2], ARGV[2])
          return 1
        end
        return 0
        """;

    private const string NewEventScript = """
        local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
        if tonumber(ARGV[2]) > last then
          redis.call('RPUSH', KEYS[2], ARGV[3])
          redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
          return 1
        end
        return 0
        """;

    // viabtc's entries are plain UTF-8 JSON: no \u-escaping of non-ASCII worker names.
    private static readonly JsonSerializerOptions EntryJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly StatsStore store;
    private readonly IConnectionMultiplexer redis;
    private readonly int database;
    private readonly RedisKeyNames names;
    private readonly RedisEventQueue events;
    private readonly WarmupState warmup;
    private readonly ILogger logger;
    private readonly Dictionary<(ShareStats Entity, long Minute), MinuteRecord> pending = new();
    private readonly int maxPending;
    private volatile bool rewriteAll;
    private long droppedMinutes;
    private long flushes;

    public RedisStatsWriter(StatsStore store, IConnectionMultiplexer redis, int database, RedisKeyNames names, RedisEventQueue events,
        WarmupState warmup, int maxPending, ILogger logger)
    {
        this.store = store;
        this.redis = redis;
        this.database = database;
        this.names = names;
        this.events = events;
        this.warmup = warmup;
        this.maxPending = maxPending;
        this.logger = logger;
        // Redis may come back empty (restarted without persistence): rewrite every minute still held in memory.
        redis.ConnectionRestored += (_, _) => rewriteAll = true;
    }

    /// <summary>Minute buckets waiting for Redis.</summary>
    public int PendingMinutes => pending.Count;

    /// <summary>Minute buckets dropped because the backlog was full while Redis was down.</summary>
    public long DroppedMinutes => Interlocked.Read(ref droppedMinutes);

    public DateTimeOffset? LastSuccess { get; private set; }

    /// <summary>Successful flushes since start.</summary>
    public long Flushes => Interlocked.Read(ref flushes);

    /// <summary>
    /// Writes every changed minute, the connection gauges and the queued events. Returns false when Redis failed (what
    /// was not written stays pending for the next call). Called by one thread at a time.
    /// </summary>
    public async Task<bool> FlushAsync(CancellationToken cancellationToken)
    {
        if (rewriteAll)
        {
            rewriteAll = false;
            foreach (var entity in store.AllEntities())
            {
                lock (entity.Gate)
                {
                    entity.MarkMinutesDirtyLocked();
                    entity.RedisKeys = null;
                }
            }
        }
        CollectPending();
        var db = redis.GetDatabase(database);
        try
        {
            await WriteMinutesAsync(db, cancellationToken).ConfigureAwait(false);
            if (warmup.IsWarm)
                await WriteConnectionsAsync(db).ConfigureAwait(false);
            await WriteEventsAsync(db, cancellationToken).ConfigureAwait(false);
            LastSuccess = store.Time.GetUtcNow();
            Interlocked.Increment(ref flushes);
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            logger.LogWarning("Redis write failed ({Error}); {Minutes} minute buckets and {Events} events wait for the next flush",
                e.Message, pending.Count, events.Count);
            return false;
        }
    }

    private void CollectPending()
    {
        var collected = new List<MinuteRecord>();
        store.DrainEvictedMinutes(collected);
        var firstCovered = store.FirstCoveredMinute;
        foreach (var entity in store.AllEntities())
        {
            lock (entity.Gate)
                entity.CollectDirtyMinutesLocked(firstCovered, collected);
        }
        foreach (var record in collected)
        {
            if (record.Minute < firstCovered)
                continue;
            var key = (record.Entity, record.Minute);
            if (pending.Count >= maxPending && !pending.ContainsKey(key))
            {
                Interlocked.Increment(ref droppedMinutes);
                continue;
            }
            // A newer total of the same minute replaces the older one: only the latest is ever written.
            pending[key] = record;
        }
    }

    private async Task WriteMinutesAsync(IDatabase db, CancellationToken cancellationToken)
    {
        if (pending.Count == 0)
            return;
        var nowSeconds = store.NowSeconds;
        var records = pending.Values.ToList();
        var batchRecords = new List<MinuteRecord>();
        var tasks = new List<Task>();
        IBatch? batch = null;
        foreach (var record in records)
        {
            cancellationToken.ThrowIfCancellationRequested();
            batch ??= db.CreateBatch();
            var field = (RedisValue)(record.Minute * 60);
            var keys = names.For(record.Entity);
            var v = record.Values;
            if (record.Entity.Kind is StatsEntityKind.User or StatsEntityKind.Worker)
            {
                Set(batch, tasks, keys, RedisKeySlot.Share, field, v.AcceptCount, nowSeconds);
                Set(batch, tasks, keys, RedisKeySlot.Reject, field, v.StaleCount + v.RejectCount, nowSeconds);
                Set(batch, tasks, keys, RedisKeySlot.Pow, field, v.Accept, nowSeconds);
                Set(batch, tasks, keys, RedisKeySlot.Goal, field, v.Goal, nowSeconds);
            }
            else
            {
                Set(batch, tasks, keys, RedisKeySlot.Pow, field, v.Accept, nowSeconds);
                Set(batch, tasks, keys, RedisKeySlot.Share, field, v.AcceptCount, nowSeconds);
                Set(batch, tasks, keys, RedisKeySlot.Reject, field, v.StaleCount + v.RejectCount, nowSeconds);
                Set(batch, tasks, keys, RedisKeySlot.Block, field, v.Blocks, nowSeconds);
            }
            batchRecords.Add(record);
            if (tasks.Count >= CommandsPerBatch)
            {
                await CompleteAsync(batch, tasks, batchRecords).ConfigureAwait(false);
                batch = null;
            }
        }
        if (batch != null)
            await CompleteAsync(batch, tasks, batchRecords).ConfigureAwait(false);
    }

    private void Set(IBatch batch, List<Task> tasks, EntityRedisKeys keys, RedisKeySlot slot, RedisValue field, double value, long nowSeconds)
    {
        // viabtc writes a field only for a non-zero total; a minute's totals only grow, so no field is ever stale.
        if (value <= 0)
            return;
        var key = keys[slot];
        tasks.Add(batch.HashSetAsync(key, field, FormatNumber(value)));
        if (keys.NeedsRegistration(slot, nowSeconds, KeyRegistrationSeconds))
        {
            foreach (var (set, member) in names.Registrations(keys, slot))
                tasks.Add(batch.SetAddAsync(set, member));
        }
    }

    private async Task CompleteAsync(IBatch batch, List<Task> tasks, List<MinuteRecord> records)
    {
        batch.Execute();
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        finally
        {
            var allDone = tasks.All(t => t.Status == TaskStatus.RanToCompletion);
            if (allDone)
            {
                // Only this thread changes the backlog, so what was written is still what is pending.
                foreach (var record in records)
                    pending.Remove((record.Entity, record.Minute));
            }
            tasks.Clear();
            records.Clear();
        }
    }

    private async Task WriteConnectionsAsync(IDatabase db)
    {
        var (total, byServer) = store.Connections();
        var minuteField = (RedisValue)(store.NowSeconds / 60 * 60);
        var batch = db.CreateBatch();
        var tasks = new List<Task>
        {
            batch.HashSetAsync(names.PoolMonitor("connections"), minuteField, total),
            batch.SetAddAsync(names.MonitorKeys, names.PoolMonitor("connections").ToString()),
        };
        foreach (var (serverId, count) in byServer)
        {
            var host = RedisKeyNames.HostName(serverId);
            tasks.Add(batch.HashSetAsync(names.HostMonitor(host, "connections"), minuteField, count));
            tasks.Add(batch.SetAddAsync(names.MonitorHosts("connections"), host));
        }
        batch.Execute();
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private async Task WriteEventsAsync(IDatabase db, CancellationToken cancellationToken)
    {
        while (events.TryPeek(out var pending))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (pending.Kind == RedisEventKind.NewWorker)
            {
                var payload = JsonSerializer.Serialize(new NewWorkerEntry(pending.User, pending.Worker, names.CoinName), EntryJson);
                await db.ScriptEvaluateAsync(NewWorkerScript, [names.KnownWorkers, names.NewWorkerList],
                    [$"{pending.User}:{pending.Worker}", payload]).ConfigureAwait(false);
            }
            else
            {
                var payload = JsonSerializer.Serialize(new NewEventEntry(pending.User, pending.Worker, names.CoinName, pending.Peer, pending.Event), EntryJson);
                await db.ScriptEvaluateAsync(NewEventScript, [names.EventOffsets, names.NewEventList],
                    [pending.Partition, pending.Offset, payload]).ConfigureAwait(false);
            }
            events.RemoveHead();
        }
    }

    /// <summary>Integers as integers ("1024"), fractions in the shortest round-trip form ("0.001").</summary>
    internal static string FormatNumber(double value) =>
        value == Math.Floor(value) && Math.Abs(value) < 1e15
            ? ((long)value).ToString(CultureInfo.InvariantCulture)
            : value.ToString("R", CultureInfo.InvariantCulture);

    private sealed record NewWorkerEntry(
        [property: System.Text.Json.Serialization.JsonPropertyName("user")] string User,
        [property: System.Text.Json.Serialization.JsonPropertyName("worker")] string Worker,
        [property: System.Text.Json.Serialization.JsonPropertyName("coin")] string Coin);

    private sealed record NewEventEntry(
        [property: System.Text.Json.Serialization.JsonPropertyName("user")] string User,
        [property: System.Text.Json.Serialization.JsonPropertyName("worker")] string Worker,
        [property: System.Text.Json.Serialization.JsonPropertyName("coin")] string Coin,
        [property: System.Text.Json.Serialization.JsonPropertyName("peer")] string Peer,
        [property: System.Text.Json.Serialization.JsonPropertyName("event")] string Event);
}
