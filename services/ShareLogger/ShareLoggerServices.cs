using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MySql.Data.MySqlClient;
using PoolCluster.Kafka;
using PoolCluster.ShareLogger.Partitions;
using PoolCluster.Storage;

namespace PoolCluster.ShareLogger;

/// <summary>Hosts <see cref="ShareLoggerEngine"/> on its own thread (librdkafka and MySql.Data block).</summary>
public sealed class ShareLoggerService(
    IOptions<ShareLoggerOptions> options, KafkaOptions kafka, MySqlConnectionFactory mysql, ILoggerFactory loggerFactory) : BackgroundService
{
    public ShareLoggerEngine Engine { get; } = new(options.Value, kafka, mysql.ConnectionString, loggerFactory);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Engine.Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}

/// <summary>Runs <see cref="SharePartitionMaintenance"/> at start and every ShareLogger:Partitions:IntervalMinutes.</summary>
public sealed class SharePartitionMaintenanceService(
    IOptions<ShareLoggerOptions> options, MySqlConnectionFactory mysql, TimeProvider time, ILogger<SharePartitionMaintenanceService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value.Partitions;
        if (!settings.Enabled)
        {
            logger.LogInformation("partition maintenance of `shares` is off (ShareLogger:Partitions:Enabled)");
            return;
        }
        var maintenance = new SharePartitionMaintenance(mysql.ConnectionString, settings, time, logger);
        while (!stoppingToken.IsCancellationRequested)
        {
            var retryMinutes = settings.IntervalMinutes;
            try
            {
                await maintenance.RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is MySqlException or IOException or TimeoutException or InvalidOperationException or FormatException)
            {
                // MySQL down or busy: try again soon rather than in an hour, partitions ahead must exist before midnight.
                logger.LogError("partition maintenance of `shares` failed: {Reason}; retrying in a minute", e.GetBaseException().Message);
                retryMinutes = 1;
            }
            try
            {
                await Task.Delay(TimeSpan.FromMinutes(retryMinutes), time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
