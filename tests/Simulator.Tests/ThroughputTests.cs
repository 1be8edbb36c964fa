using Xunit.Abstractions;

namespace PoolCluster.Simulator.Tests;

/// <summary>
/// What one simulator process (the real executable, a child process) drives against the in-test server running in
/// the test process. The default run is short; for the figure in docs/simulator.md set SIMULATOR_THROUGHPUT_ARGS, e.g.
/// <c>SIMULATOR_THROUGHPUT_ARGS="--miners 2000 --rate 5 --duration 20" dotnet test tests/Simulator.Tests --filter Throughput</c>.
/// </summary>
public class ThroughputTests(ITestOutputHelper log)
{
    [Fact]
    public async Task Throughput_one_simulator_process_drives_hundreds_of_miners_and_their_shares()
    {
        await using var server = TestStratumServer.Start(new TestServerOptions { Recording = RecordedSession.Load(), Difficulty = 1e-12 });
        var custom = Environment.GetEnvironmentVariable("SIMULATOR_THROUGHPUT_ARGS");
        string[] load = string.IsNullOrWhiteSpace(custom)
            ? ["--miners", "300", "--rate", "3", "--duration", "4"]
            : custom.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var run = await SimulatorRun.ProcessAsync(log, TimeSpan.FromMinutes(10),
            ["--url", server.Url, "--hashing", "blind", "--connect-rate", "5000", "--progress-interval", "2s", "--drain", "30s", .. load]);

        Assert.True(run.ExitCode == 0, run.ToString());
        log.WriteLine(run.R.ToString());
        var miners = run.Long("settings", "miners");
        var rate = run.Double("settings", "rate");
        var perSecond = run.Double("shares", "submittedPerSecond");
        log.WriteLine($"{miners} miners x {rate} shares/s: {perSecond:F0} submits/s sent, {run.Double("shares", "acceptedPerSecond"):F0}/s accepted; " +
                      $"submit->answer p50 {run.Double("latency", "submitToAnswerMs", "p50")} ms p99 {run.Double("latency", "submitToAnswerMs", "p99")} ms; " +
                      $"simulator CPU {run.Double("process", "cpuSeconds"):F1} s over {run.Double("durationSeconds"):F1} s, " +
                      $"peak RSS {run.Long("process", "peakWorkingSetBytes") / 1048576.0:F0} MB");
        Assert.Equal(miners, run.Long("connections", "peakOpen"));
        Assert.Equal(0, run.Long("shares", "rejected"));
        Assert.Equal(server.Accepted, run.Long("shares", "accepted"));
        // Averaged over the whole run, including the start (JIT, ramp-up, each miner's random first phase) on a shared machine.
        Assert.True(perSecond >= 0.3 * miners * rate, run.ToString());
        Assert.Equal(0, run.Long("shares", "unanswered"));
    }
}
