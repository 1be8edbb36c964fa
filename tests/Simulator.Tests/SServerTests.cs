using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Google.Protobuf;
using PoolCluster.Kafka;
using PoolCluster.Testing;
using PoolCluster.Topics;
using Xunit.Abstractions;

namespace PoolCluster.Simulator.Tests;

/// <summary>
/// The simulator against the real SServer (its own process, jobs from an embedded Kafka): what the report says was
/// accepted, per user and difficulty, is what SServer published on the Share topic.
/// </summary>
public partial class SServerTests(EmbeddedKafkaFixture kafka, ITestOutputHelper log) : IClassFixture<EmbeddedKafkaFixture>
{
    [Fact]
    public async Task Against_the_real_SServer_the_report_matches_the_share_messages_it_published()
    {
        var options = kafka.CreateManifestTopics();
        var recording = RecordedSession.Load();
        using (var producer = new PoolProducer<string, StratumJob>(options, TopicManifest.StratumJob, ProducerMode.Durable))
            await producer.ProduceAsync("", JobOf(recording));

        const double Difficulty = 0.0001;
        var config = Path.Combine(Path.GetTempPath(), $"simulator-sserver-{Guid.NewGuid():N}.json");
        File.WriteAllText(config, JsonSerializer.Serialize(new
        {
            Stratum = new { BindAddress = "127.0.0.1", Port = 0, ServerId = 5, StatsIntervalSeconds = 0, DrainSeconds = 1 },
            // Pinned: vardiff would otherwise raise it for miners submitting several shares a second.
            Vardiff = new { InitialDifficulty = Difficulty, MinDifficulty = Difficulty, MaxDifficulty = Difficulty },
            Users = new { Source = "None" },
            Kafka = new { options.BootstrapServers, options.TopicPrefix, ClientId = "simulator-test-sserver" },
        }));
        using var sserver = SServerProcess.Start(config);
        try
        {
            var port = await sserver.WaitForPortAsync(TimeSpan.FromSeconds(60));
            using var shares = new PoolConsumer<int, Share>(options, TopicManifest.Share,
                new ConsumerSettings { StartFrom = StartFrom.Timestamp(DateTimeOffset.UtcNow.AddMinutes(-5)) });

            var run = await SimulatorRun.InProcessAsync(log, "--port", port.ToString(), "--miners", "4", "--users", "2",
                "--worker-prefix", "ss", "--rate", "4", "--hashing", "real", "--shares", "12", "--duration", "90",
                "--bad-share-fraction", "0.25", "--bad-share-kinds", "stale,duplicate,lowdiff", "--seed", "11", "--progress-interval", "2s");
            Assert.True(run.ExitCode == 0, run + "\nSServer:\n" + sserver.Output);
            Assert.Equal("shares", run.Get("stopReason").GetString());
            Assert.Equal(12, run.Long("shares", "good", "accepted"));
            Assert.True(run.Long("shares", "unanswered") == 0, run + "\nSServer:\n" + sserver.Output);

            // One Share message per submit, accepted or not.
            var submitted = run.Long("shares", "submitted");
            var published = new List<Share>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (published.Count < submitted)
            {
                Assert.True(DateTime.UtcNow < deadline, $"only {published.Count} of {submitted} Share messages arrived\n{sserver.Output}");
                if (shares.Consume(TimeSpan.FromMilliseconds(100))?.Message?.Value is { } share)
                    published.Add(share);
            }
            Assert.Null(shares.Consume(TimeSpan.FromMilliseconds(500))?.Message?.Value);

            var accepted = published.Where(s => s.Status is ShareStatus.Accepted or ShareStatus.Solved).ToList();
            Assert.Equal(run.Long("shares", "accepted"), accepted.Count);
            Assert.All(accepted, s => Assert.Equal(Difficulty, s.ShareDifficulty));
            foreach (var user in run.Get("users").EnumerateArray())
            {
                var name = user.GetProperty("user").GetString()!;
                Assert.Equal(accepted.Where(s => s.UserName == name).Sum(s => s.ShareDifficulty),
                    user.GetProperty("acceptedDifficultySum").GetDouble(), 1e-12);
                Assert.Equal(accepted.Count(s => s.UserName == name), user.GetProperty("accepted").GetInt64());
            }
            var rejectedByStatus = published.Where(s => s.Status is not (ShareStatus.Accepted or ShareStatus.Solved))
                .GroupBy(s => (int)s.Status).ToDictionary(g => g.Key, g => (long)g.Count());
            Assert.Equal(rejectedByStatus.OrderBy(k => k.Key), run.Codes("shares", "rejectedByCode").OrderBy(k => k.Key));
            Assert.All(published, s => Assert.Matches(@"^ss-0000[1-4]$", s.WorkerName));
            // The bad kinds got SServer's codes: stale 21 (or 36 for an id it never issued), duplicate 22, low difficulty 23.
            Assert.Equal(0, run.Long("shares", "bad", "duplicate", "accepted") + run.Long("shares", "bad", "lowdiff", "accepted")
                            + run.Long("shares", "bad", "stale", "accepted"));
            Assert.Equal(run.Long("shares", "bad", "lowdiff", "sent"), run.Codes("shares", "bad", "lowdiff", "rejectedByCode").GetValueOrDefault(23));
            Assert.Equal(run.Long("shares", "bad", "duplicate", "sent"), run.Codes("shares", "bad", "duplicate", "rejectedByCode").GetValueOrDefault(22));
        }
        finally
        {
            sserver.Stop();
            File.Delete(config);
        }
    }

    /// <summary>The recorded job as JobMaker would publish it (a current JobMaker id, so SServer takes it as new).</summary>
    private static StratumJob JobOf(RecordedSession recording)
    {
        var checker = recording.CreateChecker();
        var job = new StratumJob
        {
            JobId = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() << 23,
            GbtHash = ByteString.CopyFrom(new byte[32]),
            Height = 300025,
            PreviousBlockHash = ByteString.CopyFrom(checker.PreviousBlockHash.ToInternalBytes()),
            Coinbase1 = ByteString.CopyFrom(checker.Coinbase1),
            Coinbase2 = ByteString.CopyFrom(checker.Coinbase2),
            Version = checker.Version,
            Bits = checker.Bits,
            CurTime = recording.NTime,
            MinTime = recording.NTime - 600,
            Clean = true,
            CreatedAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Extranonce1Size = 4,
            Extranonce2Size = (uint)recording.Extranonce2Size,
            NodeName = "recorded",
        };
        foreach (var hash in checker.MerkleBranch)
            job.MerkleBranch.Add(ByteString.CopyFrom(hash.ToInternalBytes()));
        return job;
    }

    /// <summary>services/SServer as its own process: dotnet PoolCluster.SServer.dll --config FILE.</summary>
    private sealed partial class SServerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private SServerProcess(Process process) => _process = process;

        public string Output
        {
            get
            {
                lock (_output)
                    return _output.ToString();
            }
        }

        public static SServerProcess Start(string config)
        {
            var dll = EmbeddedKafkaProcess.FindBuiltAssembly("services/SServer", "PoolCluster.SServer");
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add(dll);
            info.ArgumentList.Add("--config");
            info.ArgumentList.Add(config);
            var server = new SServerProcess(new Process { StartInfo = info });
            DataReceivedEventHandler collect = (_, e) =>
            {
                if (e.Data == null)
                    return;
                lock (server._output)
                    server._output.AppendLine(e.Data);
                if (ListeningLine().Match(e.Data) is { Success: true } match)
                    server._port.TrySetResult(int.Parse(match.Groups[1].Value));
            };
            server._process.OutputDataReceived += collect;
            server._process.ErrorDataReceived += collect;
            server._process.Start();
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            return server;
        }

        [GeneratedRegex(@"listening for miners on 127\.0\.0\.1:(\d+)")]
        private static partial Regex ListeningLine();

        public async Task<int> WaitForPortAsync(TimeSpan timeout)
        {
            var exited = _process.WaitForExitAsync();
            var first = await Task.WhenAny(_port.Task, exited, Task.Delay(timeout));
            if (first == _port.Task)
                return await _port.Task;
            throw new TimeoutException($"SServer did not start listening ({(first == exited ? "it exited" : "timed out")}); its output:\n{Output}");
        }

        /// <summary>SIGTERM (graceful), then SIGKILL if it does not exit.</summary>
        public void Stop()
        {
            if (_process.HasExited)
                return;
            _ = Kill(_process.Id, 15);
            if (!_process.WaitForExit(TimeSpan.FromSeconds(15)))
                _process.Kill(entireProcessTree: true);
        }

        [LibraryImport("libc", EntryPoint = "kill")]
        private static partial int Kill(int pid, int signal);

        public void Dispose()
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
    }
}
