using System.Diagnostics;
using System.Text.Json;
using PoolCluster.Testing;
using Xunit.Abstractions;

namespace PoolCluster.Simulator.Tests;

/// <summary>One simulator run and what it left: exit code, output, and the parsed --report.</summary>
public sealed class SimulatorRun
{
    private SimulatorRun(int exitCode, string output, string error, JsonElement? report)
    {
        ExitCode = exitCode;
        Output = output;
        Error = error;
        Report = report;
    }

    public int ExitCode { get; }
    public string Output { get; }
    public string Error { get; }
    public JsonElement? Report { get; }

    public JsonElement R => Report ?? throw new InvalidOperationException($"no report was written (exit {ExitCode}):\n{Output}\n{Error}");

    public long Long(params string[] path) => Get(path).GetInt64();
    public double Double(params string[] path) => Get(path).GetDouble();

    public JsonElement Get(params string[] path)
    {
        var element = R;
        foreach (var name in path)
            element = element.TryGetProperty(name, out var child)
                ? child
                : throw new KeyNotFoundException($"report has no {string.Join(".", path)}:\n{R}");
        return element;
    }

    /// <summary>report.shares.rejectedByCode (or a kind's) as code -> count.</summary>
    public Dictionary<int, long> Codes(params string[] path) =>
        Get(path).EnumerateObject().ToDictionary(p => int.Parse(p.Name), p => p.Value.GetInt64());

    public override string ToString() => $"exit {ExitCode}\n--- output\n{Output}\n--- stderr\n{Error}\n--- report\n{Report}";

    /// <summary>Runs the simulator in this process (SimulatorCommand.RunAsync) with a report file.</summary>
    public static Task<SimulatorRun> InProcessAsync(ITestOutputHelper? log, params string[] args) =>
        InProcessUntilAsync(log, CancellationToken.None, args);

    /// <summary>The same, ended early (as by Ctrl-C: stop reason "interrupted") when <paramref name="stop"/> is cancelled.</summary>
    public static async Task<SimulatorRun> InProcessUntilAsync(ITestOutputHelper? log, CancellationToken stop, params string[] args)
    {
        var reportPath = Path.Combine(Path.GetTempPath(), $"simulator-report-{Guid.NewGuid():N}.json");
        var output = new StringWriter();
        var error = new StringWriter();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        int exitCode;
        try
        {
            exitCode = await SimulatorCommand.RunAsync([.. args, "--report", reportPath], TextWriter.Synchronized(output),
                TextWriter.Synchronized(error), timeout.Token, outputIsTerminal: false);
            return Finish(log, exitCode, output.ToString(), error.ToString(), reportPath);
        }
        finally
        {
            File.Delete(reportPath);
        }
    }

    /// <summary>Runs the built executable (dotnet PoolCluster.Simulator.dll) as a child process.</summary>
    public static async Task<SimulatorRun> ProcessAsync(ITestOutputHelper? log, TimeSpan timeout, params string[] args)
    {
        var reportPath = Path.Combine(Path.GetTempPath(), $"simulator-report-{Guid.NewGuid():N}.json");
        try
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add(SimulatorDll);
            foreach (var arg in args)
                info.ArgumentList.Add(arg);
            var writesReport = !args.Contains("--help");
            if (writesReport)
            {
                info.ArgumentList.Add("--report");
                info.ArgumentList.Add(reportPath);
            }
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"the simulator did not exit within {timeout}: {await stdout}\n{await stderr}");
            }
            return Finish(log, process.ExitCode, await stdout, await stderr, reportPath);
        }
        finally
        {
            File.Delete(reportPath);
        }
    }

    private static SimulatorRun Finish(ITestOutputHelper? log, int exitCode, string output, string error, string reportPath)
    {
        JsonElement? report = File.Exists(reportPath) ? JsonDocument.Parse(File.ReadAllBytes(reportPath)).RootElement.Clone() : null;
        var run = new SimulatorRun(exitCode, output, error, report);
        log?.WriteLine(run.Output);
        if (run.Error.Length > 0)
            log?.WriteLine("stderr: " + run.Error);
        return run;
    }

    /// <summary>services/Simulator's build output (the test project builds it through its reference).</summary>
    public static string SimulatorDll
    {
        get
        {
            var besideTests = Path.Combine(AppContext.BaseDirectory, "PoolCluster.Simulator.dll");
            if (File.Exists(besideTests) && File.Exists(Path.ChangeExtension(besideTests, ".runtimeconfig.json")))
                return besideTests;
            return EmbeddedKafkaProcess.FindBuiltAssembly("services/Simulator", "PoolCluster.Simulator");
        }
    }
}
