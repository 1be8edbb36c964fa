using Xunit.Abstractions;

namespace PoolCluster.Simulator.Tests;

/// <summary>Bad arguments end with exit code 2 and a message naming the option; nothing connects.</summary>
public class CommandLineTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData("--miners 0", "--miners 0")]
    [InlineData("--miners many", "--miners")]
    [InlineData("--port 70000", "--port 70000")]
    [InlineData("--url http://127.0.0.1:3333", "stratum+tcp://")]
    [InlineData("--url stratum+tcp://127.0.0.1", "has no port")]
    [InlineData("--url stratum+tcp://127.0.0.1:3333 --port 3334", "--url and --host/--port")]
    [InlineData("--rate 1 --hashrate 1000", "--rate and --hashrate")]
    [InlineData("--rate -1", "--rate -1")]
    [InlineData("--hashing sometimes", "--hashing \"sometimes\"")]
    [InlineData("--duration soon", "--duration \"soon\"")]
    [InlineData("--duration 0", "--duration \"0\"")]
    [InlineData("--shares 0", "--shares 0")]
    [InlineData("--bad-share-fraction 1.5", "--bad-share-fraction 1.5")]
    [InlineData("--bad-share-kinds stale,wrong", "unknown kind \"wrong\"")]
    [InlineData("--reconnect-fraction 0.5", "without --reconnect-every")]
    [InlineData("--reconnect-every 5s --reconnect-fraction 2", "--reconnect-fraction 2")]
    [InlineData("--source-ips 127.0.0.9-127.0.0.1", "ends before it starts")]
    [InlineData("--source-ips 127.0.0.x", "is not an IP address")]
    [InlineData("--connect-rate 0", "--connect-rate 0")]
    [InlineData("--user bad!name", "--user \"bad!name\"")]
    [InlineData("--worker-prefix a-very-long-worker-prefix", "--worker-prefix")]
    [InlineData("--report /nonexistent-dir/report.json", "does not exist")]
    [InlineData("--no-such-option 1", "--no-such-option")]
    [InlineData("--hash-threads 0", "--hash-threads 0")]
    public async Task A_bad_argument_exits_with_2_naming_the_problem(string arguments, string named)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await SimulatorCommand.RunAsync(arguments.Split(' '), output, error, CancellationToken.None, outputIsTerminal: false);
        log.WriteLine(error.ToString());
        Assert.Equal(SimulatorCommand.ExitBadArguments, exit);
        Assert.Contains(named, error.ToString());
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public async Task Several_problems_are_all_reported_at_once()
    {
        var error = new StringWriter();
        var exit = await SimulatorCommand.RunAsync(["--miners", "0", "--rate", "0", "--duration", "x"], new StringWriter(), error,
            CancellationToken.None, outputIsTerminal: false);
        Assert.Equal(2, exit);
        Assert.Contains("--miners", error.ToString());
        Assert.Contains("--rate", error.ToString());
        Assert.Contains("--duration", error.ToString());
    }

    [Fact]
    public async Task The_executable_exits_2_on_a_bad_argument_and_0_on_help()
    {
        var bad = await SimulatorRun.ProcessAsync(log, TimeSpan.FromSeconds(60), "--miners", "-5");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--miners -5 must be 1..1000000", bad.Error);
        Assert.Null(bad.Report);

        var help = await SimulatorRun.ProcessAsync(log, TimeSpan.FromSeconds(60), "--help");
        Assert.Equal(0, help.ExitCode);
        foreach (var option in new[] { "--url", "--miners", "--users", "--worker-prefix", "--rate", "--hashrate", "--duration", "--shares",
                     "--bad-share-fraction", "--reconnect-every", "--reconnect-fraction", "--connect-rate", "--source-ips", "--report", "--quiet" })
            Assert.Contains(option, help.Output);
    }

    [Fact]
    public async Task Nothing_listening_ends_with_exit_1_and_says_so()
    {
        // A port that was just free: nothing listens there.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var run = await SimulatorRun.InProcessAsync(log, "--port", port.ToString(), "--miners", "2", "--duration", "1");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("no miner ever logged in", run.Error);
        Assert.Contains("ConnectionRefused", run.Error);
        Assert.True(run.Long("connections", "connectFailures") >= 2);
    }
}
