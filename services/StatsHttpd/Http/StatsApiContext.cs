using System.Text.Json;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Ingest;
using PoolCluster.StatsHttpd.Sinks;

namespace PoolCluster.StatsHttpd.Http;

/// <summary>What the HTTP handlers read: the store, the warm-up state, the writers' health, and request counters.</summary>
internal sealed class StatsApiContext(
    StatsStore store,
    WarmupState warmup,
    StatsHttpdOptions options,
    RedisStatsWriter? redis,
    RedisEventQueue? redisEvents,
    MySqlStatsWriter? mysql,
    FoundBlocksReader? blocks)
{
    private long requests;
    private long responseBytes;

    public StatsStore Store { get; } = store;
    public WarmupState Warmup { get; } = warmup;
    public StatsHttpdOptions Options { get; } = options;
    public RedisStatsWriter? Redis { get; } = redis;
    public RedisEventQueue? RedisEvents { get; } = redisEvents;
    public MySqlStatsWriter? MySql { get; } = mysql;
    public FoundBlocksReader? Blocks { get; } = blocks;

    public DateTimeOffset StartedAt { get; } = store.Time.GetUtcNow();

    public long Requests => Interlocked.Read(ref requests);
    public long ResponseBytes => Interlocked.Read(ref responseBytes);

    public long NowSeconds => Store.Time.GetUtcNow().ToUnixTimeSeconds();

    public void CountRequest() => Interlocked.Increment(ref requests);

    public void CountBytes(int bytes) => Interlocked.Add(ref responseBytes, bytes);

    public EntitySnapshot SnapshotOf(ShareStats entity, long nowSeconds)
    {
        var snapshot = new EntitySnapshot();
        entity.Snapshot(nowSeconds, snapshot);
        return snapshot;
    }

    /// <summary>The warm-up progress object shared by /api/v1/status and the 503 answers.</summary>
    public void WriteWarmup(Utf8JsonWriter w)
    {
        w.WriteStartObject("warmup");
        w.WriteBoolean("warm", Warmup.IsWarm);
        w.WriteString("started_at", Warmup.StartedAt);
        WriteTopic(w, "shares", Warmup.Shares);
        WriteTopic(w, "worker_events", Warmup.WorkerEvents);
        w.WriteEndObject();
    }

    private static void WriteTopic(Utf8JsonWriter w, string name, TopicProgress progress)
    {
        w.WriteStartObject(name);
        w.WriteBoolean("caught_up", progress.CaughtUp);
        w.WriteNumber("backlog", progress.Backlog);
        w.WriteStartArray("partitions");
        foreach (var p in progress.Partitions)
        {
            w.WriteStartObject();
            w.WriteNumber("partition", p.Partition);
            w.WriteNumber("start", p.Start);
            w.WriteNumber("target", p.Target);
            w.WriteNumber("next", p.Next);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
