using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MySql.Data.MySqlClient;
using PoolCluster.StatsHttpd.Aggregation;

namespace PoolCluster.StatsHttpd.Sinks;

/// <summary>
/// Flushes to Redis every StatsHttpd:Redis:FlushIntervalSeconds, and once more when stopping (after the consumers
/// stopped: it is registered before them, and hosted services stop in reverse order).
/// </summary>
internal sealed class RedisFlushService(RedisStatsWriter writer, IOptions<StatsHttpdOptions> options, ILogger<RedisFlushService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.Redis.FlushIntervalSeconds));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
                await writer.FlushAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            if (!await writer.FlushAsync(timeout.Token).ConfigureAwait(false))
                logger.LogWarning("The final Redis flush failed; what it missed is rewritten after the restart's replay");
        }
        catch (OperationCanceledException)
        {
            logger.LogWarning("The final Redis flush timed out");
        }
    }
}

/// <summary>
/// Flushes to MySQL every StatsHttpd:MySql:FlushIntervalSeconds (and once more when stopping), deletes rows past
/// btcpool's retention once an hour.
/// </summary>
internal sealed class MySqlFlushService(
    MySqlStatsWriter writer, StatsStore store, IOptions<StatsHttpdOptions> options, ILogger<MySqlFlushService> logger)
    : BackgroundService
{
    private static readonly TimeSpan RetentionInterval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.MySql.FlushIntervalSeconds));
        var nextRetention = store.Time.GetUtcNow();
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await writer.FlushAsync(stoppingToken).ConfigureAwait(false);
                if (store.Time.GetUtcNow() < nextRetention)
                    continue;
                nextRetention = store.Time.GetUtcNow() + RetentionInterval;
                try
                {
                    var deleted = await writer.DeleteExpiredAsync(stoppingToken).ConfigureAwait(false);
                    if (deleted > 0)
                        logger.LogInformation("Deleted {Rows} stats rows past retention", deleted);
                }
                catch (Exception e) when (e is MySqlException or InvalidOperationException or TimeoutException)
                {
                    logger.LogWarning("Deleting expired stats rows failed: {Error}", e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (!await writer.FlushAsync(cancellationToken).ConfigureAwait(false))
            logger.LogWarning("The final MySQL flush failed; what it missed is rewritten after the restart's replay");
    }
}

/// <summary>Drops idle workers and users from memory every 10 minutes (StatsHttpd:ExpireIdleHours).</summary>
internal sealed class ExpiryService(StatsStore store, IOptions<StatsHttpdOptions> options, ILogger<ExpiryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(10));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var nowMs = store.Time.GetUtcNow().ToUnixTimeMilliseconds();
                var (workers, users) = store.Expire(nowMs - options.Value.ExpireIdleHours * 3_600_000L, nowMs - 600_000);
                if (workers + users > 0)
                    logger.LogInformation("Dropped {Workers} idle workers and {Users} idle users from memory", workers, users);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
