using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PoolCluster.Hosting;
using PoolCluster.Kafka;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Http;
using PoolCluster.StatsHttpd.Ingest;
using PoolCluster.StatsHttpd.Sinks;
using PoolCluster.Storage;

namespace PoolCluster.StatsHttpd.Tests;

/// <summary>
/// The whole StatsHttpd service as Program.cs builds it (PoolHost + AddStatsHttpd), configured by command-line
/// switches for the test's Kafka topics, MariaDB database and Redis key prefix; Kestrel on 127.0.0.1 port 0.
/// </summary>
internal sealed class ServiceHost : IAsyncDisposable
{
    private readonly IHost host;

    private ServiceHost(IHost host)
    {
        this.host = host;
        Store = host.Services.GetRequiredService<StatsStore>();
        Warmup = host.Services.GetRequiredService<WarmupState>();
        Http = host.Services.GetRequiredService<StatsHttpServer>();
        Redis = host.Services.GetService<RedisStatsWriter>();
        MySql = host.Services.GetService<MySqlStatsWriter>();
    }

    public StatsStore Store { get; }
    public WarmupState Warmup { get; }
    public StatsHttpServer Http { get; }
    public RedisStatsWriter? Redis { get; }
    public MySqlStatsWriter? MySql { get; }
    public HttpClient Client { get; private set; } = null!;

    public static async Task<ServiceHost> StartAsync(KafkaOptions kafka, TimeProvider clock, RedisOptions? redis, MySqlOptions? mysql,
        string? redisGlobalPrefix = null, int fetchWaitMaxMs = 50)
    {
        var args = new List<string>
        {
            "--StatsHttpd:Url=http://127.0.0.1:0",
            "--StatsHttpd:MySql:FlushIntervalSeconds=1",
            "--StatsHttpd:Redis:FlushIntervalSeconds=1",
            $"--StatsHttpd:MySql:Enabled={mysql != null}",
            $"--StatsHttpd:Redis:Enabled={redis != null}",
            $"--Kafka:BootstrapServers={kafka.BootstrapServers}",
            $"--Kafka:TopicPrefix={kafka.TopicPrefix}",
            $"--Kafka:ClientId=statshttpd-test",
            $"--Kafka:FetchWaitMaxMs={fetchWaitMaxMs.ToString(CultureInfo.InvariantCulture)}",
            "--Logging:LogLevel:Default=Warning",
        };
        if (redis != null)
        {
            args.Add($"--Redis:Configuration={redis.Configuration}");
            args.Add($"--Redis:KeyPrefix={redis.KeyPrefix}");
            // SE.Redis 1.2.6's Dispose waits up to the sync timeout: keep stops quick.
            args.Add("--Redis:SyncTimeoutMilliseconds=1000");
            args.Add($"--Redis:ConnectTimeoutMilliseconds={redis.ConnectTimeoutMilliseconds.ToString(CultureInfo.InvariantCulture)}");
            if (redis.Password != null)
                args.Add($"--Redis:Password={redis.Password}");
            args.Add($"--StatsHttpd:Redis:GlobalKeyPrefix={redisGlobalPrefix ?? redis.KeyPrefix + "/"}");
        }
        if (mysql != null)
        {
            args.Add($"--MySql:Host={mysql.Host}");
            args.Add($"--MySql:Port={mysql.Port.ToString(CultureInfo.InvariantCulture)}");
            args.Add($"--MySql:User={mysql.User}");
            args.Add($"--MySql:Password={mysql.Password}");
            args.Add($"--MySql:Database={mysql.Database}");
        }
        var builder = PoolHost.CreateBuilder(StatsHttpdServices.ServiceName, [.. args]);
        builder.Services.AddSingleton(clock);
        builder.AddStatsHttpd();
        var host = builder.Build();
        await host.StartAsync();
        var service = new ServiceHost(host);
        service.Client = new HttpClient { BaseAddress = service.Http.Address, Timeout = TimeSpan.FromSeconds(10) };
        return service;
    }

    public async Task WaitWarmAsync(TimeSpan? timeout = null)
    {
        var warm = Warmup.WarmTask;
        if (await Task.WhenAny(warm, Task.Delay(timeout ?? TimeSpan.FromSeconds(60))) != warm)
            throw new TimeoutException($"not warm: shares backlog {Warmup.Shares.Backlog}, events backlog {Warmup.WorkerEvents.Backlog}");
    }

    /// <summary>Waits until <paramref name="applied"/> shares were applied, then for two more flushes of each writer.</summary>
    public async Task WaitAppliedAndFlushedAsync(long applied, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        while (Store.SharesApplied < applied)
        {
            if (deadline.Elapsed > limit)
                throw new TimeoutException($"{Store.SharesApplied} of {applied} shares applied");
            await Task.Delay(20);
        }
        var redisTarget = (Redis?.Flushes ?? 0) + 2;
        var mysqlTarget = (MySql?.Flushes ?? 0) + 2;
        while ((Redis != null && Redis.Flushes < redisTarget) || (MySql != null && MySql.Flushes < mysqlTarget))
        {
            if (deadline.Elapsed > limit)
                throw new TimeoutException("the writers did not flush");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        await host.StopAsync();
        if (host is IAsyncDisposable asyncDisposable)
            await asyncDisposable.DisposeAsync();
        else
            host.Dispose();
    }
}
