using System.Diagnostics;
using System.Text.Json;
using PoolCluster.Kafka;
using PoolCluster.Testing;
using PoolCluster.Topics;
using Xunit.Abstractions;

namespace PoolCluster.StatsHttpd.Tests;

/// <summary>Measurements run alone, not beside this assembly's other tests (which would measure the contention).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PerformanceCollection
{
    public const string Name = "StatsHttpd performance";
}

/// <summary>
/// Measured, end to end through the embedded Kafka cluster: how long a share takes from the producer to the API, and
/// how fast the service replays a topic. Figures are written to the test output (docs/statshttpd.md quotes them).
/// </summary>
[Collection(PerformanceCollection.Name)]
public sealed class PerformanceTests(EmbeddedKafkaFixture kafkaCluster, ITestOutputHelper output) : IClassFixture<EmbeddedKafkaFixture>
{
    [Fact]
    public async Task A_share_on_kafka_reaches_the_api_within_a_second_at_p99()
    {
        var kafka = kafkaCluster.CreateManifestTopics();
        // The service's default fetch wait (Kafka:FetchWaitMaxMs = 100), as deployed.
        await using var service = await ServiceHost.StartAsync(kafka, TimeProvider.System, redis: null, mysql: null, fetchWaitMaxMs: 100);
        await service.WaitWarmAsync();

        // Steady state: the first shares also pay for connections and JIT, once per process.
        using (var warmupProducer = new PoolProducer<int, Share>(kafka, TopicManifest.Share))
        {
            for (var i = 0; i < 20; i++)
                warmupProducer.Produce(99, ShareStreams.Make(99, 99, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 1024));
            warmupProducer.Flush(TimeSpan.FromSeconds(10));
        }
        while (service.Store.SharesApplied < 20)
            await Task.Delay(10);
        await service.Client.GetStringAsync("/api/v1/pool");

        const int count = 300;
        var produced = new long[count];
        var seen = new long[count];
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var poller = Task.Run(async () =>
        {
            var observed = 0;
            while (observed < count && !stop.IsCancellationRequested)
            {
                using var pool = JsonDocument.Parse(await service.Client.GetStringAsync("/api/v1/pool", stop.Token));
                var now = Stopwatch.GetTimestamp();
                var accepted = (int)pool.RootElement.GetProperty("accept_count_1d").GetInt64() - 20;
                for (; observed < Math.Min(accepted, count); observed++)
                    seen[observed] = now;
            }
        });

        using (var producer = new PoolProducer<int, Share>(kafka, TopicManifest.Share))
        {
            for (var i = 0; i < count; i++)
            {
                var share = ShareStreams.Make(100 + i % 7, 1000 + i, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 1024);
                produced[i] = Stopwatch.GetTimestamp();
                producer.Produce(share.UserId, share);
                await Task.Delay(10);
            }
            producer.Flush(TimeSpan.FromSeconds(10));
        }
        await poller;

        Assert.All(seen, s => Assert.NotEqual(0, s));
        var latencies = produced.Zip(seen, (p, s) => Stopwatch.GetElapsedTime(p, s).TotalMilliseconds).Order().ToArray();
        double Percentile(double p) => latencies[(int)Math.Ceiling(p * latencies.Length) - 1];
        output.WriteLine($"share -> API latency over {count} shares: p50 {Percentile(0.5):0.0} ms, p90 {Percentile(0.9):0.0} ms, " +
                         $"p99 {Percentile(0.99):0.0} ms, max {latencies[^1]:0.0} ms");
        Assert.True(Percentile(0.99) < 1000, $"p99 {Percentile(0.99):0} ms");
    }

    [Fact]
    public void Applying_a_share_costs_about_a_microsecond_of_cpu()
    {
        // As StatsBenchmarks (tests/Benchmarks), measured in this thread's CPU time (/proc/thread-self/schedstat), which
        // other processes on a busy machine do not inflate the way they inflate wall-clock time.
        const int users = 1000, workersPerUser = 100, count = 200_000, passes = 10;
        var random = new Random(1);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var store = new Aggregation.StatsStore(new Aggregation.StatsStoreSettings(), TimeProvider.System);
        for (var user = 1; user <= users; user++)
            for (var worker = 1; worker <= workersPerUser; worker++)
                store.Apply(ShareStreams.Make(user, (long)user << 20 | (uint)worker, now - 600_000, 1024));
        var shares = new Share[count];
        for (var i = 0; i < count; i++)
        {
            var user = 1 + random.Next(users);
            shares[i] = ShareStreams.Make(user, (long)user << 20 | (uint)(1 + random.Next(workersPerUser)), now - 600_000 + 600_000L * i / count,
                1 << random.Next(10, 17), random.Next(100) < 97 ? ShareStatus.Accepted : ShareStatus.LowDifficulty, serverId: (uint)(1 + random.Next(4)),
                networkDifficulty: 1e14, height: 900_000);
        }
        foreach (var share in shares)
            store.Apply(share);

        var cpuBefore = ThreadCpuNanoseconds();
        var wall = Stopwatch.StartNew();
        for (var pass = 0; pass < passes; pass++)
            foreach (var share in shares)
                store.Apply(share);
        var cpu = ThreadCpuNanoseconds() - cpuBefore;
        var applied = (double)count * passes;
        output.WriteLine($"{applied:0} shares over {users * workersPerUser} workers: {cpu / applied:0} ns CPU per share " +
                         $"({applied / (cpu / 1e9):0} shares per CPU-second), {wall.Elapsed.TotalNanoseconds / applied:0} ns wall per share, " +
                         $"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Assert.True(applied / (cpu / 1e9) > 200_000, $"{applied / (cpu / 1e9):0} shares per CPU-second");
    }

    private static long ThreadCpuNanoseconds() =>
        long.Parse(File.ReadAllText("/proc/thread-self/schedstat").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Replaying_a_topic_runs_at_tens_of_thousands_of_shares_per_second_or_more()
    {
        var kafka = kafkaCluster.CreateManifestTopics();
        var now = DateTimeOffset.UtcNow;
        var shares = ShareStreams.Known(now, TimeSpan.FromHours(2), 200_000, seed: 41, users: 200, workersPerUser: 20);
        using (var producer = new PoolProducer<int, Share>(kafka, TopicManifest.Share))
        {
            foreach (var share in shares)
                producer.Produce(share.UserId, share);
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
        }
        // The embedded cluster's own pace: a bare consumer reading the same messages, doing nothing with them.
        var bare = Stopwatch.StartNew();
        using (var consumer = new PoolConsumer<Confluent.Kafka.Ignore, Share>(kafka, TopicManifest.Share,
                   new ConsumerSettings { StartFrom = StartFrom.Timestamp(now.AddHours(-1)) }))
        {
            var read = 0;
            while (read < shares.Count && bare.Elapsed < TimeSpan.FromSeconds(120))
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) != null)
                    read++;
            Assert.Equal(shares.Count, read);
        }
        var bareRate = shares.Count / bare.Elapsed.TotalSeconds;

        await using var service = await ServiceHost.StartAsync(kafka, TimeProvider.System, redis: null, mysql: null);
        var started = Stopwatch.StartNew();
        await service.WaitWarmAsync(TimeSpan.FromSeconds(120));
        var elapsed = started.Elapsed;
        Assert.Equal(shares.Count, service.Store.SharesApplied);
        var rate = shares.Count / elapsed.TotalSeconds;
        output.WriteLine($"replayed {shares.Count} shares ({service.Store.WorkerCount} workers) from the embedded Kafka cluster in " +
                         $"{elapsed.TotalSeconds:0.00} s: {rate:0} shares/s (a bare consumer of the same topic: {bareRate:0} messages/s)");
        Assert.True(rate > 20_000, $"{rate:0} shares/s");
    }
}
