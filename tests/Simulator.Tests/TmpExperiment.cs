using Xunit.Abstractions;
namespace PoolCluster.Simulator.Tests;
public class TmpExperiment(ITestOutputHelper log)
{
    [Theory]
    [InlineData(0, false)]
    [InlineData(400, false)]
    [InlineData(0, true)]
    [InlineData(400, true)]
    public async Task Rate(int delayMs, bool process)
    {
        await using var server = TestStratumServer.Start(new TestServerOptions { Recording = RecordedSession.Load(), Difficulty = 1e-12, AnswerDelay = TimeSpan.FromMilliseconds(delayMs) });
        string[] args = ["--url", server.Url, "--miners", "10", "--rate", "20", "--duration", "3", "--hashing", "blind", "--progress-interval", "1s"];
        var run = process ? await SimulatorRun.ProcessAsync(log, TimeSpan.FromMinutes(1), args) : await SimulatorRun.InProcessAsync(log, args);
        log.WriteLine($"delay {delayMs} process {process}: {run.Double("shares", "submittedPerSecond")}/s");
    }
}
