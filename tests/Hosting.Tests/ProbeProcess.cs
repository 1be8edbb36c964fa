using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace PoolCluster.Hosting.Tests;

/// <summary>
/// The Hosting.Probe service run as a real process (dotnet PoolCluster.Hosting.Probe.dll): its stdout and stderr
/// lines collected as they come, signals sent with kill(2).
/// </summary>
internal sealed partial class ProbeProcess : IDisposable
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private const int SIGTERM = 15;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly SemaphoreSlim _lineArrived = new(0);

    private ProbeProcess(Process process) => _process = process;

    public IReadOnlyList<string> Stdout => [.. _stdout];

    public IReadOnlyList<string> Stderr => [.. _stderr];

    public int ExitCode => _process.ExitCode;

    public static ProbeProcess Start(string[] args, IDictionary<string, string>? environment = null)
    {
        var probe = typeof(ProbeProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "HostingProbePath").Value!;
        Assert.True(File.Exists(probe), $"the probe was not built at {probe}");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(probe)!,
        };
        start.ArgumentList.Add(probe);
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        // Only what the test sets: nothing from this process's environment may configure the probe.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("POOL_", StringComparison.OrdinalIgnoreCase)
                                                             || k.Equals("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;

        var process = new Process { StartInfo = start };
        var probeProcess = new ProbeProcess(process);
        process.OutputDataReceived += (_, e) => probeProcess.Collect(probeProcess._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => probeProcess.Collect(probeProcess._stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return probeProcess;
    }

    /// <summary>Waits until stdout has a line matching <paramref name="match"/>; fails with the output so far.</summary>
    public async Task<string> WaitForStdoutLineAsync(Func<string, bool> match)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            if (_stdout.FirstOrDefault(match) is { } line)
                return line;
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(); // and for the rest of its output
                if (_stdout.FirstOrDefault(match) is { } last)
                    return last;
                Assert.Fail($"the probe exited ({_process.ExitCode}) without the expected line.\n{Output()}");
            }
            Assert.True(Stopwatch.GetElapsedTime(started) < Limit, $"no expected line within {Limit}.\n{Output()}");
            await _lineArrived.WaitAsync(TimeSpan.FromMilliseconds(100));
        }
    }

    public void SendSigterm() => Assert.Equal(0, kill(_process.Id, SIGTERM));

    /// <summary>Waits for the exit (and the end of its output); fails, killing the probe, after <paramref name="limit"/>.</summary>
    public async Task WaitForExitAsync(TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            Assert.Fail($"the probe did not exit within {limit}.\n{Output()}");
        }
    }

    public string Output() => $"stdout:\n{string.Join('\n', _stdout)}\nstderr:\n{string.Join('\n', _stderr)}";

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    private void Collect(ConcurrentQueue<string> lines, string? line)
    {
        if (line is null)
            return;
        lines.Enqueue(line);
        _lineArrived.Release();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
