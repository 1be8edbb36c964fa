using System.Diagnostics;
using PoolCluster.Testing;
using Xunit.Abstractions;

namespace PoolCluster.BlkMaker.Tests;

/// <summary>A test that only runs when POOL_BENCHMARKS=1: the measurement docs/blkmaker.md reports.</summary>
public sealed class BenchmarkFactAttribute : FactAttribute
{
    public BenchmarkFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("POOL_BENCHMARKS") != "1")
            Skip = "a benchmark: set POOL_BENCHMARKS=1 to run it";
    }
}

/// <summary>
/// From a SolvedShare on Kafka to submitblock written to every node. Run by hand:
/// POOL_BENCHMARKS=1 dotnet test tests/BlkMaker.Tests -c Release --filter "FullyQualifiedName~LatencyBenchmark" --logger "console;verbosity=detailed"
/// POOL_BENCH_TXS (default 7000, about 1.6 MB) sets the template's transaction count, POOL_BENCH_BLOCKS (default 200) the samples.
/// </summary>
[Collection("Kafka")]
public sealed class LatencyBenchmark(EmbeddedKafkaFixture kafka, MariaDbFixture mariaDb, RedisFixture redisFixture, ITestOutputHelper output)
    : IClassFixture<MariaDbFixture>, IClassFixture<RedisFixture>
{
    [BenchmarkFact]
    public async Task Solved_share_on_Kafka_to_submitblock_written_to_all_nodes()
    {
        var transactions = int.TryParse(Environment.GetEnvironmentVariable("POOL_BENCH_TXS"), out var t) ? t : 7_000;
        var blocks = int.TryParse(Environment.GetEnvironmentVariable("POOL_BENCH_BLOCKS"), out var b) ? b : 200;
        await using var first = await TestNode.StartAsync("node-a");
        await using var second = await TestNode.StartAsync("node-b");
        if (transactions > 0)
            first.Server.Node.AddSyntheticTransactions(transactions);
        var options = kafka.CreateManifestTopics();
        var sinks = Sinks.Create(mariaDb.ConnectionStringFor(await mariaDb.CreateMigratedDatabaseAsync("lat")), redisFixture.CreateOptions());
        using var topics = new PoolTopics(options);
        var gbt = await first.TemplateAsync();
        foreach (var tx in gbt.Transactions)
            second.Server.Node.AddTransaction(PoolCluster.Bitcoin.Transaction.Parse(tx.Data.Span), tx.Fee);
        var job = Mining.Job(gbt);
        topics.Publish(gbt);
        topics.Publish(job);
        var settings = RunningBlkMaker.Options(EmbeddedKafkaFixture.UniqueGroupId("lat"), first.Endpoint, second.Endpoint);
        using var blkmaker = new RunningBlkMaker(settings, options, sinks);
        blkmaker.WaitForHistory();
        Eventually.True(() => blkmaker.Engine.Templates.FindTemplate(gbt.GbtHash.Span)?.IsHot == true, TimeSpan.FromSeconds(30), () => "template not hot");

        // Every share solves the same height: the first block wins, the others are side-chain blocks the nodes still
        // validate; each sample waits until the previous block is settled, so the nodes are idle when it goes out.
        var acked = new Dictionary<string, long>();
        var shares = Enumerable.Range(0, blocks + 5).Select(i => Mining.Solve(job, session: (uint)(1000 + i))).ToList();
        foreach (var share in shares)
        {
            var sent = blkmaker.Sent.Count;
            acked[Mining.DisplayHash(share)] = topics.Publish(share);
            Eventually.True(() => blkmaker.Sent.Count > sent, TimeSpan.FromSeconds(30), () => "not sent");
            Eventually.True(() => blkmaker.Status.PendingBlocks == 0, TimeSpan.FromSeconds(60), () => "not settled");
        }

        var samples = blkmaker.Sent.Skip(5).ToList(); // the first few warm up the JIT
        static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        var kafkaToConsumed = samples.Select(s => Ms(s.ConsumedTicks - acked[s.Hash])).Order().ToList();
        var building = samples.Select(s => Ms(s.BuiltTicks - s.ConsumedTicks)).Order().ToList();
        var toWriting = samples.Select(s => Ms(s.WritingTicks.Max() - acked[s.Hash])).Order().ToList();
        var toWritten = samples.Select(s => Ms(s.WrittenTicks.Max() - acked[s.Hash])).Order().ToList();
        var transfer = samples.Select(s => Ms(s.WrittenTicks.Max() - s.WritingTicks.Min())).Order().ToList();
        var ownWriting = samples.Select(s => Ms(s.WritingTicks.Max() - s.ConsumedTicks)).Order().ToList();
        var ownWritten = samples.Select(s => Ms(s.WrittenTicks.Max() - s.ConsumedTicks)).Order().ToList();
        double P(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];
        string Line(List<double> sorted) => $"p50 {P(sorted, 0.5),6:F2} ms, p99 {P(sorted, 0.99),6:F2} ms, max {sorted[^1],6:F2} ms";
        var block = blkmaker.Status.Recorded.Values.First();
        output.WriteLine($"{samples.Count} blocks of {gbt.Transactions.Count + 1} transactions, {block.Size} bytes, 2 nodes, solved-share fetch wait {settings.SolvedShareFetchWaitMs} ms");
        output.WriteLine($"Kafka ack -> consumed by BlkMaker:            {Line(kafkaToConsumed)}");
        output.WriteLine($"consumed  -> submitblock request built:      {Line(building)}");
        output.WriteLine($"Kafka ack -> request going out to all nodes: {Line(toWriting)}");
        output.WriteLine($"Kafka ack -> last byte handed to the kernel: {Line(toWritten)}");
        output.WriteLine($"  of which the transfer (node reading):      {Line(transfer)}");
        output.WriteLine($"BlkMaker alone: consumed -> going out:       {Line(ownWriting)}");
        output.WriteLine($"BlkMaker alone: consumed -> last byte:       {Line(ownWritten)}");
        var nodes = samples[0].WritingTicks.Count;
        for (var node = 0; node < nodes; node++)
        {
            var perNode = samples.Select(s => Ms(s.WritingTicks[node] - s.ConsumedTicks)).Order().ToList();
            // BlkMaker starts every node's submit on the thread pool but the last one's, which runs on the consumer thread.
            output.WriteLine($"  node {node} (started {(node == nodes - 1 ? "on the consumer thread" : "on the thread pool")}): consumed -> going out: {Line(perNode)}");
        }
    }
}
