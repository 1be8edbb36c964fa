using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PoolCluster.Kafka;
using PoolCluster.Storage;
using StackExchange.Redis;

namespace PoolCluster.BlkMaker;

/// <summary>Hosts <see cref="BlkMakerEngine"/> on its own thread (the Kafka consumer blocks).</summary>
public sealed class BlkMakerService(
    IOptions<BlkMakerOptions> options, KafkaOptions kafka, MySqlConnectionFactory mysql, IConnectionMultiplexer redis, IOptions<RedisOptions> redisOptions,
    ILoggerFactory loggerFactory, TimeProvider time) : BackgroundService
{
    public BlkMakerEngine Engine { get; } = new(options.Value, kafka, mysql.ConnectionString, redis, redisOptions.Value, loggerFactory, time);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Engine.Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    public override void Dispose()
    {
        Engine.Dispose();
        base.Dispose();
    }
}
