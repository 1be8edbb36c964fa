using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace PoolCluster.Hosting.Tests;

/// <summary>The probe service as a real process: signals, exit codes, stderr, log lines.</summary>
public sealed partial class ProcessLevelTests
{
    [Fact]
    public async Task Sigterm_StopsGracefully_RunningStopAsync_AndExits0()
    {
        using var probe = ProbeProcess.Start([]);
        await probe.WaitForStdoutLineAsync(l => l.StartsWith("probe: started", StringComparison.Ordinal));

        var signalled = Stopwatch.GetTimestamp();
        probe.SendSigterm();
        await probe.WaitForExitAsync(ProbeProcess.Limit);
        var stopTime = Stopwatch.GetElapsedTime(signalled);

        Assert.True(probe.ExitCode == 0, probe.Output());
        Assert.True(stopTime < TimeSpan.FromSeconds(10), $"stopping took {stopTime}");
        var stdout = probe.Stdout.ToList();
        Assert.True(stdout.IndexOf("probe: stopping") < stdout.IndexOf("probe: stopped"), probe.Output());
        Assert.Contains(stdout, l => l.Contains("Application is shutting down", StringComparison.Ordinal));
        Assert.Contains(stdout, l => l.EndsWith("Hosting environment: Production", StringComparison.Ordinal));
        Assert.Empty(probe.Stderr);

        // Log lines: one per entry, UTC timestamp first, the service name as the outermost scope.
        var logLines = stdout.Where(l => !l.StartsWith("probe: ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(logLines);
        Assert.All(logLines, l => Assert.Matches(SimpleLogLine(), l));
        Assert.Contains(logLines, l => l.EndsWith("ProbeService[0] => hosting-probe probe listening on port 1000", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sigterm_WithAStopSlowerThanTheShutdownTimeout_GivesUpAfterTheTimeout()
    {
        using var probe = ProbeProcess.Start(["--Probe:StopDelayMilliseconds=60000", "--Hosting:ShutdownTimeoutSeconds=1"]);
        await probe.WaitForStdoutLineAsync(l => l.StartsWith("probe: started", StringComparison.Ordinal));

        var signalled = Stopwatch.GetTimestamp();
        probe.SendSigterm();
        await probe.WaitForExitAsync(ProbeProcess.Limit);
        var stopTime = Stopwatch.GetElapsedTime(signalled);

        Assert.Contains("probe: stop cut short by the shutdown timeout", probe.Stdout);
        Assert.InRange(stopTime, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ABadValueFromTheEnvironment_Exits2_WithTheKeyOnOneStderrLine_AndNoStart()
    {
        using var probe = ProbeProcess.Start([], new Dictionary<string, string> { ["POOL_Probe__Port"] = "70000" });
        await probe.WaitForExitAsync(ProbeProcess.Limit);

        Assert.Equal(2, probe.ExitCode);
        var line = Assert.Single(probe.Stderr);
        Assert.Equal("hosting-probe: configuration error: Probe:Port: The field Port must be between 1 and 65535 (was '70000')", line);
        Assert.DoesNotContain(probe.Stdout, l => l.Contains("probe: started", StringComparison.Ordinal) || l.Contains("   at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUnknownKeyOnTheCommandLine_Exits2()
    {
        using var probe = ProbeProcess.Start(["--Probe:Prot=4000"]);
        await probe.WaitForExitAsync(ProbeProcess.Limit);

        Assert.Equal(2, probe.ExitCode);
        Assert.StartsWith("hosting-probe: configuration error: Probe:Prot: unknown key: ProbeOptions has no setting 'Prot'", Assert.Single(probe.Stderr));
    }

    [Fact]
    public async Task PoolConfigAndEnvironment_AreRead_AndJsonLogsCarryTheService()
    {
        using var configDirectory = new TempDirectory();
        var config = configDirectory.Write("probe.json", """{ "Probe": { "Port": 4242 }, "Logging": { "Format": "json" } }""");
        using var probe = ProbeProcess.Start([], new Dictionary<string, string> { ["POOL_CONFIG"] = config, ["POOL_ENVIRONMENT"] = "Staging" });
        await probe.WaitForStdoutLineAsync(l => l.Contains("probe listening on port 4242", StringComparison.Ordinal));
        probe.SendSigterm();
        await probe.WaitForExitAsync(ProbeProcess.Limit);

        Assert.True(probe.ExitCode == 0, probe.Output());
        var logLines = probe.Stdout.Where(l => !l.StartsWith("probe: ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(logLines);
        foreach (var line in logLines)
        {
            using var entry = JsonDocument.Parse(line);
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", entry.RootElement.GetProperty("Timestamp").GetString());
            var outermost = entry.RootElement.GetProperty("Scopes")[0];
            Assert.Equal("hosting-probe", outermost.GetProperty("Service").GetString());
        }
        Assert.Contains(logLines, l => JsonDocument.Parse(l).RootElement.GetProperty("State").TryGetProperty("Port", out var port) && port.GetInt32() == 4242);
        Assert.Contains(logLines, l => JsonDocument.Parse(l).RootElement.GetProperty("Message").GetString() == "Hosting environment: Staging");
    }

    [Fact]
    public async Task AFailedStart_Exits1_WithOneStderrLine()
    {
        using var probe = ProbeProcess.Start(["--Probe:FailStart=true"]);
        await probe.WaitForExitAsync(ProbeProcess.Limit);

        Assert.Equal(1, probe.ExitCode);
        Assert.Equal("hosting-probe: fatal: InvalidOperationException: probe start failure requested", Assert.Single(probe.Stderr));
    }

    [Fact]
    public async Task ACrashedBackgroundService_StopsTheHost_AndExits1()
    {
        using var probe = ProbeProcess.Start(["--Probe:Crash=true"]);
        await probe.WaitForExitAsync(ProbeProcess.Limit);

        Assert.Equal(1, probe.ExitCode);
        Assert.Contains("probe: stopped", probe.Stdout);
        Assert.Equal("hosting-probe: fatal: CrashingService failed: InvalidOperationException: probe crash requested", Assert.Single(probe.Stderr));
    }

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trce|dbug|info|warn|fail|crit): \S+\[\d+\] => hosting-probe ")]
    private static partial Regex SimpleLogLine();
}
