using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PoolCluster.Kafka;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Sinks;
using PoolCluster.Topics;

namespace PoolCluster.StatsHttpd.Ingest;

/// <summary>
/// Reads the Share topic into the <see cref="StatsStore"/> on a dedicated thread: first the replay (from
/// StatsHttpd:WarmupHours before the current hour), then live. Sets the store's coverage start to the replay start.
/// </summary>
internal sealed class ShareIngestService(
    StatsStore store, KafkaOptions kafka, IOptions<StatsHttpdOptions> options, WarmupState warmup, ILogger<ShareIngestService> logger)
    : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Run(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stoppingToken)
    {
        var now = store.Time.GetUtcNow();
        var startOfHour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        var startAt = startOfHour.AddHours(-options.Value.WarmupHours);
        store.CoverageStartSeconds = startAt.ToUnixTimeSeconds();
        logger.LogInformation("Replaying shares since {Start:O} before serving", startAt);
        var reader = new TopicReader<Share>(kafka, TopicManifest.Share, warmup.Shares, logger);
        _ = warmup.Shares.CaughtUpTask.ContinueWith(_ => logger.LogInformation(
            "Share history replayed: {Shares} shares applied, {Users} users, {Workers} workers",
            store.SharesApplied, store.UserCount, store.WorkerCount), TaskScheduler.Default);
        reader.Run(startAt, (share, _, _) => store.Apply(share), stoppingToken);
    }
}

/// <summary>
/// Reads the WorkerEvent topic (StatsHttpd:WorkerEventWarmupHours of history, then live) into the store's sessions,
/// and queues viabtc's newworker/newevent entries for Redis.
/// </summary>
internal sealed class WorkerEventIngestService(
    StatsStore store, KafkaOptions kafka, IOptions<StatsHttpdOptions> options, WarmupState warmup, ILogger<WorkerEventIngestService> logger,
    RedisEventQueue? redisEvents = null)
    : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Run(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var startAt = store.Time.GetUtcNow().AddHours(-settings.WorkerEventWarmupHours);
        var maxAgeMs = (long)settings.Redis.EventMaxAgeMinutes * 60_000;
        var reader = new TopicReader<WorkerEvent>(kafka, TopicManifest.WorkerEvent, warmup.WorkerEvents, logger);
        reader.Run(startAt, (workerEvent, partition, offset) =>
        {
            var effect = store.ApplyWorkerEvent(workerEvent);
            if (redisEvents == null || effect.RedisEvent == null || effect.Worker == null)
                return;
            // Replaying days of history into an empty Redis would flood newevent with stale connects.
            if (store.Time.GetUtcNow().ToUnixTimeMilliseconds() - workerEvent.TimestampUnixMs > maxAgeMs)
                return;
            var worker = effect.Worker;
            if (effect.RedisEvent == "connected")
                redisEvents.Enqueue(new PendingRedisEvent(RedisEventKind.NewWorker, worker.UserName, worker.WorkerName, "", "", partition, offset));
            redisEvents.Enqueue(new PendingRedisEvent(RedisEventKind.NewEvent, worker.UserName, worker.WorkerName, effect.Peer,
                effect.RedisEvent, partition, offset));
        }, stoppingToken);
    }
}
