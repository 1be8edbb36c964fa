using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PoolCluster.Hosting;
using PoolCluster.Kafka;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Http;
using PoolCluster.StatsHttpd.Ingest;
using PoolCluster.StatsHttpd.Sinks;
using PoolCluster.Storage;
using PoolCluster.Topics;
using StackExchange.Redis;

namespace PoolCluster.StatsHttpd;

public static class StatsHttpdServices
{
    public const string ServiceName = "statshttpd";

    /// <summary>
    /// Registers StatsHttpd on a host builder from <see cref="PoolHost.CreateBuilder"/>: options "StatsHttpd" (validated),
    /// "Kafka", and — when enabled — "MySql" and "Redis"; the store; the hosted services. Hosted services start in this
    /// order and stop in reverse: the writers (so they flush last), expiry, the two consumers, the HTTP server.
    /// </summary>
    public static HostApplicationBuilder AddStatsHttpd(this HostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddValidatedOptions<StatsHttpdOptions>(StatsHttpdOptions.SectionName);
        var services = builder.Services;
        var configuration = builder.Configuration;
        // Which storage sections are needed is decided before options exist; a malformed value is reported by the
        // options validation (as true here).
        var mysqlEnabled = Flag(configuration, "StatsHttpd:MySql:Enabled");
        var redisEnabled = Flag(configuration, "StatsHttpd:Redis:Enabled");

        services.TryAddSingleton(TimeProvider.System);
        services.AddPoolKafka(configuration);
        services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<StatsHttpdOptions>>().Value;
            return new StatsStore(new StatsStoreSettings
            {
                Network = options.ResolveNetwork(),
                MaxFutureSkew = TimeSpan.FromSeconds(options.MaxFutureSkewSeconds),
                TrackMinutesForRedis = redisEnabled,
                TrackPeriodsForMySql = mysqlEnabled,
                MaxPendingRecords = options.MaxPendingRecords,
                // The replay starts WarmupHours before the current hour: up to an hour more.
                ReplaySpan = TimeSpan.FromHours(options.WarmupHours + 1),
            }, provider.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton(provider => new WarmupState(provider.GetRequiredService<TimeProvider>()));

        if (mysqlEnabled)
        {
            services.AddMySqlStorage(configuration);
            if (Flag(configuration, "StatsHttpd:MySql:MigrateOnStart"))
                services.AddMySqlMigrationsOnStart();
            services.AddSingleton(provider => new MySqlStatsWriter(
                provider.GetRequiredService<StatsStore>(), provider.GetRequiredService<MySqlConnectionFactory>(),
                provider.GetRequiredService<IOptions<StatsHttpdOptions>>().Value.MySql, provider.GetRequiredService<WarmupState>(),
                provider.GetRequiredService<IOptions<StatsHttpdOptions>>().Value.MaxPendingRecords,
                provider.GetRequiredService<ILoggerFactory>().CreateLogger<MySqlStatsWriter>()));
            services.AddSingleton(provider => new FoundBlocksReader(provider.GetRequiredService<MySqlConnectionFactory>()));
            services.AddHostedService<MySqlFlushService>();
        }
        if (redisEnabled)
        {
            services.AddRedisStorage(configuration);
            services.AddSingleton(provider => new RedisEventQueue(provider.GetRequiredService<IOptions<StatsHttpdOptions>>().Value.Redis.MaxPendingEvents));
            services.AddSingleton(provider =>
            {
                var options = provider.GetRequiredService<IOptions<StatsHttpdOptions>>().Value;
                var redisOptions = provider.GetRequiredService<IOptions<RedisOptions>>().Value;
                var kafka = provider.GetRequiredService<KafkaOptions>();
                var store = provider.GetRequiredService<StatsStore>();
                var events = provider.GetRequiredService<RedisEventQueue>();
                var names = new RedisKeyNames(redisOptions.KeyPrefix, options.Redis.GlobalKeyPrefix, options.Redis.CoinName,
                    kafka.TopicName(TopicManifest.WorkerEvent));
                // A worker's first appearance (first share or event since start) is offered to newworker; the Redis
                // set of known workers makes it once per worker ever.
                store.WorkerCreated = worker => events.Enqueue(
                    new PendingRedisEvent(RedisEventKind.NewWorker, worker.UserName, worker.WorkerName, "", "", -1, -1));
                return new RedisStatsWriter(store, provider.GetRequiredService<IConnectionMultiplexer>(), redisOptions.Database, names,
                    events, provider.GetRequiredService<WarmupState>(), options.MaxPendingRecords,
                    provider.GetRequiredService<ILoggerFactory>().CreateLogger<RedisStatsWriter>());
            });
            services.AddHostedService<RedisFlushService>();
        }
        services.AddSingleton(provider => new StatsApiContext(
            provider.GetRequiredService<StatsStore>(), provider.GetRequiredService<WarmupState>(),
            provider.GetRequiredService<IOptions<StatsHttpdOptions>>().Value,
            provider.GetService<RedisStatsWriter>(), provider.GetService<RedisEventQueue>(), provider.GetService<MySqlStatsWriter>(),
            provider.GetService<FoundBlocksReader>()));
        services.AddHostedService<ExpiryService>();
        services.AddHostedService<ShareIngestService>();
        services.AddHostedService(provider => new WorkerEventIngestService(
            provider.GetRequiredService<StatsStore>(), provider.GetRequiredService<KafkaOptions>(),
            provider.GetRequiredService<IOptions<StatsHttpdOptions>>(), provider.GetRequiredService<WarmupState>(),
            provider.GetRequiredService<ILogger<WorkerEventIngestService>>(), provider.GetService<RedisEventQueue>()));
        services.AddSingleton<StatsHttpServer>();
        services.AddHostedService(provider => provider.GetRequiredService<StatsHttpServer>());
        return builder;
    }

    private static bool Flag(IConfiguration configuration, string key) =>
        !bool.TryParse(configuration[key], out var value) || value;
}
