using System.Collections.Concurrent;
using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using MySql.Data.MySqlClient;
using PoolCluster.Kafka;
using PoolCluster.Storage.Migrations;
using PoolCluster.Testing;
using PoolCluster.Topics;
using Xunit.Abstractions;

namespace PoolCluster.ShareLogger.Tests;

/// <summary>A test that only runs when POOL_BENCHMARKS=1: the long measurements docs/sharelogger.md reports.</summary>
public sealed class BenchmarkFactAttribute : FactAttribute
{
    public BenchmarkFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("POOL_BENCHMARKS") != "1")
            Skip = "a benchmark: set POOL_BENCHMARKS=1 to run it";
    }
}

/// <summary>
/// Throughput and lag of ShareLogger into a private MariaDB set up like a production server (2 GB buffer pool, 1 GB redo
/// log, innodb_flush_log_at_trx_commit=1: every commit durable). Run by hand:
/// POOL_BENCHMARKS=1 dotnet test tests/ShareLogger.Tests -c Release --filter "FullyQualifiedName~Benchmarks" --logger "console;verbosity=detailed"
/// POOL_BENCH_SHARES (default 1000000) sets the shares per configuration; POOL_BENCH_CONFIGS e.g. "LoadData:20000,Insert:5000" the configurations.
/// </summary>
[Collection("Kafka")]
public sealed class Benchmarks(EmbeddedKafkaFixture kafka, ITestOutputHelper testOutput)
{
    /// <summary>Lines go to the test output and, as they happen, to stderr (the test output only shows at the end).</summary>
    private readonly LineOutput output = new(testOutput);

    private sealed class LineOutput(ITestOutputHelper inner)
    {
        public void WriteLine(string line)
        {
            inner.WriteLine(line);
            Console.Error.WriteLine($"[benchmark {DateTime.UtcNow:HH:mm:ss}] {line}");
        }
    }

    private static MariaDbServer ProductionLikeServer()
    {
        var server = MariaDbServer.StartNew();
        using var connection = new MySqlConnection(server.ConnectionString);
        connection.Open();
        foreach (var setting in new[]
                 {
                     "SET GLOBAL innodb_buffer_pool_size = 2147483648", "SET GLOBAL innodb_log_file_size = 1073741824",
                     "SET GLOBAL innodb_flush_log_at_trx_commit = 1",
                 })
            new MySqlCommand(setting, connection).ExecuteNonQuery();
        return server;
    }

    private static async Task<string> DatabaseAsync(MariaDbServer server, string name)
    {
        server.CreateDatabase(name);
        var connectionString = server.ConnectionStringFor(name);
        await MySqlMigrator.MigrateAsync(connectionString, NullLogger.Instance);
        return connectionString;
    }

    /// <summary>
    /// ShareLogger reading the share topic while it is being filled, one configuration after the other. The shares are
    /// produced as fast as the broker takes them but never more than <see cref="BacklogLimit"/> ahead of what is already
    /// written: the embedded broker keeps at most 100,000 messages (5 MB) a partition and deletes older ones, so a backlog
    /// of the whole run would be deleted before it is read. The producer runs in this process, on the same 2 cores.
    /// </summary>
    [BenchmarkFact]
    public async Task Sustained_throughput_by_write_method_and_batch_size()
    {
        var total = int.TryParse(Environment.GetEnvironmentVariable("POOL_BENCH_SHARES"), out var n) ? n : 1_000_000;
        var configs = (Environment.GetEnvironmentVariable("POOL_BENCH_CONFIGS") ?? "LoadData:5000,LoadData:20000,LoadData:50000,Insert:2000,Insert:5000,Insert:20000")
            .Split(',').Select(c => c.Split(':')).Select(c => (Method: Enum.Parse<ShareWriteMethod>(c[0]), Rows: int.Parse(c[1]))).ToList();
        using var server = ProductionLikeServer();
        // Big record batches, as a stratum server under load makes them (the mock broker returns one batch per partition per fetch).
        var producerOptions = kafka.CreateManifestTopics().Clone();
        producerOptions.LingerMs = 50;

        // The ceiling Kafka alone sets: a consumer reading and decoding every share while they are produced.
        var kafkaRead = 0L;
        var clock = Stopwatch.StartNew();
        using (var consumer = new PoolConsumer<Ignore, Share>(producerOptions, TopicManifest.Share, new ConsumerSettings { StartFrom = StartFrom.Timestamp(DateTimeOffset.UnixEpoch) }))
        {
            var producing = Task.Run(() => ProduceAhead(producerOptions, total, () => Interlocked.Read(ref kafkaRead)));
            var first = TimeSpan.Zero;
            while (Interlocked.Read(ref kafkaRead) < total && clock.Elapsed < TimeSpan.FromMinutes(5))
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) != null && Interlocked.Increment(ref kafkaRead) == 1)
                    first = clock.Elapsed;
            await producing;
            Assert.Equal(total, kafkaRead);
            output.WriteLine($"Kafka alone: {total / (clock.Elapsed - first).TotalSeconds:F0} shares/s produced, read and decoded ({total} shares)");
        }

        foreach (var (method, rows) in configs)
        {
            var options = kafka.CreateManifestTopics();
            var connectionString = await DatabaseAsync(server, $"bench_{method}_{rows}".ToLowerInvariant());
            var settings = EngineTests.TestOptions(EmbeddedKafkaFixture.UniqueGroupId("bench"), method);
            settings.BatchRows = rows;
            settings.FlushIntervalMs = 500;
            settings.LagLogIntervalSeconds = 60;
            long firstCommitTicks = 0, lastCommitTicks = 0, firstBatchRows = 0;
            using var engine = new EngineTests.RunningEngine(settings, options, connectionString);
            engine.Status.BatchCommitted += (batchRows, _, _) =>
            {
                var now = Stopwatch.GetTimestamp();
                if (Interlocked.CompareExchange(ref firstCommitTicks, now, 0) == 0)
                    firstBatchRows = batchRows;
                lastCommitTicks = now;
            };
            var options2 = options.Clone();
            options2.LingerMs = 50;
            var produced = ProduceAhead(options2, total, () => engine.Status.RowsWritten);
            Eventually.True(() => engine.Status.RowsWritten >= total, TimeSpan.FromMinutes(10), () => $"{engine.Status.RowsWritten} rows\n{engine.Logs.Tail()}");
            engine.Stop();
            var seconds = (lastCommitTicks - firstCommitTicks) / (double)Stopwatch.Frequency;
            var rate = (total - firstBatchRows) / seconds;
            output.WriteLine($"{method,-8} batch {rows,6}: {rate,8:F0} shares/s ({total} shares, {engine.Status.BatchesWritten} transactions, {seconds:F1} s)");
            Assert.Equal(0, engine.Status.GapsDetected);
            TableContents.Read(connectionString, settings.ConsumerGroup).AssertExactly(produced);
            using var connection = new MySqlConnection(connectionString);
            connection.Open();
            new MySqlCommand("DROP TABLE `shares`", connection).ExecuteNonQuery();
        }
    }

    /// <summary>At most this many shares produced and not yet consumed: about 20,000 in the fullest partition, well under the embedded broker's 5 MB.</summary>
    private const int BacklogLimit = 100_000;

    /// <summary>Produces <paramref name="total"/> shares in chunks, each only once fewer than <see cref="BacklogLimit"/> shares are ahead of <paramref name="done"/>.</summary>
    private static ProducedShares ProduceAhead(KafkaOptions options, int total, Func<long> done)
    {
        const int chunk = 20_000;
        var produced = new ProducedShares();
        for (var sent = 0; sent < total; sent += chunk)
        {
            while (sent - done() > BacklogLimit - chunk)
                Thread.Sleep(2);
            Shares.Produce(options, Math.Min(chunk, total - sent), into: produced, seed: 10 + sent / chunk);
        }
        return produced;
    }

    /// <summary>
    /// MySQL alone: pre-encoded batches written by <see cref="Writing.ShareBatchWriter"/> exactly as the engine does
    /// (positions locked, rows, positions saved, one transaction per batch), so Kafka and encoding are out of the picture.
    /// Also the encoder alone (shares to row text per second on one core).
    /// </summary>
    [BenchmarkFact]
    public async Task MySQL_write_rate_by_method_and_batch_size()
    {
        var total = int.TryParse(Environment.GetEnvironmentVariable("POOL_BENCH_SHARES"), out var n) ? n : 1_000_000;
        var configs = (Environment.GetEnvironmentVariable("POOL_BENCH_CONFIGS") ?? "LoadData:1000,LoadData:5000,LoadData:20000,LoadData:50000,Insert:1000,Insert:5000,Insert:20000")
            .Split(',').Select(c => c.Split(':')).Select(c => (Method: Enum.Parse<ShareWriteMethod>(c[0]), Rows: int.Parse(c[1]))).ToList();
        using var server = ProductionLikeServer();
        var random = new Random(5);
        var shares = Enumerable.Range(0, 200_000).Select(i => Shares.Make(i, random)).ToArray();

        foreach (var method in configs.Select(c => c.Method).Distinct())
        {
            var format = Rows.ShareRowFormat.For(method);
            var encodeClock = Stopwatch.StartNew();
            var batch = new Rows.ShareBatch(format, 20_000);
            for (var i = 0; i < shares.Length; i++)
            {
                if (batch.Rows == 20_000)
                    batch.Reset();
                batch.Add(batch.Open(i % 8, null, 1), shares[i], i / 8);
            }
            output.WriteLine($"{method} encoding alone: {shares.Length / encodeClock.Elapsed.TotalSeconds:F0} shares/s on one core");
        }

        foreach (var (method, rows) in configs)
        {
            var connectionString = await DatabaseAsync(server, $"write_{method}_{rows}".ToLowerInvariant());
            using var writer = new Writing.ShareBatchWriter(connectionString, "bench", "btc.share", method, new ShareLoggerOptions().InsertStatementRows,
                NullLogger.Instance);
            writer.ResolveMethod();
            var batches = new List<Rows.ShareBatch>();
            var next = new long[8];
            var written = 0;
            var clock = new Stopwatch();
            while (written < total)
            {
                // Encode the next batch (not timed), 8 partitions as the share topic has, then write it (timed).
                var batch = new Rows.ShareBatch(Rows.ShareRowFormat.For(method), rows);
                for (var i = 0; i < rows && written + i < total; i++)
                {
                    var partition = (written + i) % 8;
                    var share = shares[(written + i) % shares.Length];
                    share.TimestampUnixMs = 1_800_000_000_000 + written + i;
                    batch.Add(batch.Open(partition, next[partition] == 0 ? null : next[partition], 1), share, next[partition]++);
                }
                clock.Start();
                var result = writer.Write(batch);
                clock.Stop();
                written += result.RowsWritten;
                Assert.Equal(batch.Rows, result.RowsWritten);
            }
            output.WriteLine($"{method,-8} batch {rows,6}: {written / clock.Elapsed.TotalSeconds,8:F0} shares/s into MariaDB ({written} rows, {clock.Elapsed.TotalSeconds:F1} s)");
            using var connection = new MySqlConnection(connectionString);
            connection.Open();
            Assert.Equal((long)total, Convert.ToInt64(new MySqlCommand("SELECT COUNT(*) FROM `shares`", connection).ExecuteScalar()));
            new MySqlCommand("DROP TABLE `shares`", connection).ExecuteNonQuery();
        }
    }

    [BenchmarkFact]
    public async Task End_to_end_lag_at_50000_shares_per_second()
    {
        var perSecond = int.TryParse(Environment.GetEnvironmentVariable("POOL_BENCH_RATE"), out var r) ? r : 50_000;
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("POOL_BENCH_SECONDS"), out var s) ? s : 30;
        using var server = ProductionLikeServer();
        var connectionString = await DatabaseAsync(server, "lag");
        var options = kafka.CreateManifestTopics();
        var settings = EngineTests.TestOptions(EmbeddedKafkaFixture.UniqueGroupId("lag"));
        settings.BatchRows = int.TryParse(Environment.GetEnvironmentVariable("POOL_BENCH_BATCH"), out var b) ? b : new ShareLoggerOptions().BatchRows;
        settings.FlushIntervalMs = new ShareLoggerOptions().FlushIntervalMs;
        var latencies = new ConcurrentQueue<(int Rows, long OldestMs, long NewestMs, long CommittedMs)>();
        using var engine = new EngineTests.RunningEngine(settings, options, connectionString);
        engine.Status.BatchCommitted += (rows, oldest, newest) => latencies.Enqueue((rows, oldest, newest, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        Shares.Produce(options, 1_000); // warm up: assignment, first batches
        Eventually.True(() => engine.Status.RowsWritten >= 1_000, TimeSpan.FromSeconds(30), () => engine.Logs.Tail());
        latencies.Clear();

        var clock = Stopwatch.StartNew();
        var produced = Shares.Produce(options, perSecond * seconds, perSecond, seed: 3);
        var produceSeconds = clock.Elapsed.TotalSeconds;
        // The embedded broker deletes a partition's oldest messages beyond 100,000 (5 MB): a ShareLogger that falls that far
        // behind loses them (GapsDetected), and the run says so instead of waiting for rows that will never come.
        Eventually.True(() => engine.Status.RowsWritten >= 1_000 + perSecond * seconds || engine.Status.GapsDetected > 0, TimeSpan.FromMinutes(5), () => engine.Logs.Tail());
        engine.Stop();
        Assert.True(engine.Status.GapsDetected == 0,
            $"ShareLogger fell more than the embedded broker's 100,000 messages a partition behind {produced.Count / produceSeconds:F0} shares/s: it does not keep up at this rate here\n{engine.Logs.Tail()}");

        // Per batch: its oldest share waited longest (from SServer's timestamp to the commit), its newest the least.
        var batches = latencies.ToList();
        var worst = batches.Select(l => (double)(l.CommittedMs - l.OldestMs)).Order().ToList();
        var best = batches.Select(l => (double)(l.CommittedMs - l.NewestMs)).Order().ToList();
        double P(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];
        output.WriteLine($"{produced.Count} shares at {produced.Count / produceSeconds:F0}/s (target {perSecond}/s) in {batches.Count} batches " +
                         $"(mean {batches.Average(l => l.Rows):F0} rows)");
        output.WriteLine($"share -> committed, oldest share of each batch: p50 {P(worst, 0.5):F0} ms, p99 {P(worst, 0.99):F0} ms, max {worst[^1]:F0} ms");
        output.WriteLine($"share -> committed, newest share of each batch: p50 {P(best, 0.5):F0} ms, p99 {P(best, 0.99):F0} ms");
    }

    /// <summary>The kill test at full size, as documented (1,000,000 shares), against a server sized for a million rows.</summary>
    [BenchmarkFact]
    public async Task Kill_test_with_a_million_shares()
    {
        var total = int.TryParse(Environment.GetEnvironmentVariable("POOL_KILLTEST_SHARES"), out var n) ? n : 1_000_000;
        using var server = ProductionLikeServer();
        var connectionString = await DatabaseAsync(server, "kill");
        KillTests.Run(kafka, connectionString, server.OptionsFor("kill"), total, testOutput);
    }
}
