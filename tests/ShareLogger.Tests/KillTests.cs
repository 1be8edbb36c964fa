using System.Diagnostics;
using System.Globalization;
using PoolCluster.Testing;
using Xunit.Abstractions;

namespace PoolCluster.ShareLogger.Tests;

/// <summary>
/// ShareLogger as separate OS processes, killed with SIGKILL at random moments while shares stream in, restarted each
/// time: MySQL ends up with every share exactly once (count, sum of difficulty, every offset once). Two processes
/// share the group, so kills also cause rebalances with batches of the dead or departing member still in flight.
/// POOL_KILLTEST_SHARES overrides the share count (the documented run used 1,000,000).
/// </summary>
[Collection("Kafka")]
public sealed class KillTests(EmbeddedKafkaFixture kafka, MariaDbFixture mariaDb, ITestOutputHelper output) : IClassFixture<MariaDbFixture>
{
    [Fact]
    public async Task Kill_9_at_random_moments_loses_and_duplicates_nothing()
    {
        var total = int.TryParse(Environment.GetEnvironmentVariable("POOL_KILLTEST_SHARES"), CultureInfo.InvariantCulture, out var n) ? n : 100_000;
        var database = await mariaDb.CreateMigratedDatabaseAsync("kill");
        Run(kafka, mariaDb.ConnectionStringFor(database), mariaDb.OptionsFor(database), total, output);
    }

    /// <summary>The kill test against any migrated database (the 1,000,000-share run uses a server sized for it).</summary>
    internal static void Run(EmbeddedKafkaFixture kafka, string connectionString, Storage.MySqlOptions mysql, int total, ITestOutputHelper output)
    {
        // The embedded broker keeps at most 100,000 messages (5 MB) per partition and drops older ones: the backlog must
        // stay below that, so big runs stream at a rate the loggers keep up with between kills. While kills come every few
        // seconds the two processes spend most of their time starting and rebalancing (a 2-core machine wrote about
        // 2,600 rows/s then), so 15,000/s overflowed the broker; 5,000/s keeps the backlog near 40,000 a partition.
        var big = total > 500_000;
        var rate = big ? 5_000 : Math.Max(10_000, total / 20);
        var backlog = big ? 100_000 : total * 2 / 5;
        var kills = big ? 12 : 5;
        var options = kafka.CreateManifestTopics();
        var group = EmbeddedKafkaFixture.UniqueGroupId("sharelogger");
        var random = new Random();
        var clock = Stopwatch.StartNew();

        var processes = new[]
        {
            ShareLoggerProcess.Start(options, mysql, group, "--ShareLogger:BatchRows=5000"),
            ShareLoggerProcess.Start(options, mysql, group, "--ShareLogger:BatchRows=5000"),
        };
        var killed = new List<ShareLoggerProcess>();
        try
        {
            var produced = new ProducedShares();
            // A backlog first, so every restarted process has work at once; the rest streams in meanwhile.
            Shares.Produce(options, backlog, into: produced);
            var producing = Task.Run(() => Shares.Produce(options, total - backlog, perSecond: rate, into: produced, seed: 2));
            var killLog = new List<string>();
            var rows = 0L;
            for (var kill = 0; kill < kills; kill++)
            {
                // Kill while rows are flowing: after the table grew by a random amount, plus a random few milliseconds,
                // so kills land anywhere in the encode/insert/commit cycle.
                var target = rows + random.Next(1_000, Math.Max(2_000, total / (kills * 3)));
                Eventually.True(() => (rows = TableContents.Count(connectionString)) >= target || rows >= total - 1_000, TimeSpan.FromSeconds(60),
                    () => $"{rows} rows, waiting for {target}\n{string.Join('\n', killLog)}\n--- process 0:\n{processes[0].Output}\n--- process 1:\n{processes[1].Output}", pollMs: 5);
                if (rows >= total - 1_000)
                    break;
                Thread.Sleep(random.Next(0, 60));
                var victim = random.Next(processes.Length);
                processes[victim].Kill();
                killLog.Add($"{clock.Elapsed.TotalSeconds:F1}s: killed process {victim} (pid {processes[victim].Id}) at about {rows} rows");
                killed.Add(processes[victim]);
                processes[victim] = ShareLoggerProcess.Start(options, mysql, group, "--ShareLogger:BatchRows=5000");
            }
            Assert.True(killLog.Count >= Math.Min(kills, 3), "too few kills happened while shares were being written:\n" + string.Join('\n', killLog));
            producing.GetAwaiter().GetResult();
            killLog.Add($"{clock.Elapsed.TotalSeconds:F1}s: all {total} shares produced");
            Eventually.True(() => TableContents.Count(connectionString) >= total, TimeSpan.FromSeconds(90 + total / 5_000),
                () => $"{TableContents.Count(connectionString)} of {total} rows" +
                      (processes.Concat(killed).Any(p => p.SawKafkaLoss) ? " (THE EMBEDDED BROKER DROPPED SHARES: its partitions keep 100,000 messages)" : "") +
                      $"\n{string.Join('\n', killLog)}\n--- process 0:\n{processes[0].Output}\n--- process 1:\n{processes[1].Output}");
            // Let them run a little longer: a duplicate written late would show up now.
            Thread.Sleep(1_000);
            var contents = TableContents.Read(connectionString, group);
            foreach (var line in killLog)
                output.WriteLine(line);
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1}s: {contents.Rows} rows, difficulty {contents.DifficultySum}, produced {produced.Count} / {produced.DifficultySum}");
            Assert.False(processes.Concat(killed).Any(p => p.SawKafkaLoss),
                "the embedded broker dropped shares before they were logged (its partitions keep 100,000 messages): lower the rate or the backlog");
            contents.AssertExactly(produced);

            foreach (var process in processes)
                Assert.Equal(0, process.Stop(TimeSpan.FromSeconds(20)));
            Assert.Equal(contents.Rows, TableContents.Read(connectionString, group).Rows);
        }
        finally
        {
            foreach (var process in processes.Concat(killed))
                process.Dispose();
        }
    }
}
