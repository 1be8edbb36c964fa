using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace PoolCluster.Testing;

/// <summary>
/// A PoolCluster service (services/NAME) run as its own OS process, as supervisord runs it: `dotnet PoolCluster.NAME.dll
/// --config FILE` with the given configuration written to a temp JSON file. Output is captured for assertions and
/// failure messages; Stop sends SIGTERM (graceful), Kill sends SIGKILL, Dispose makes sure it is gone. The test project
/// must build the service (ProjectReference with ReferenceOutputAssembly="false").
/// </summary>
public sealed class ServiceProcess : IDisposable
{
    private const int SigTerm = 15;
    private readonly StringBuilder _output = new();
    private readonly List<(string Needle, TaskCompletionSource Seen)> _waits = [];
    private Process _process;

    private ServiceProcess(string serviceName, string dll, string configFile, IReadOnlyDictionary<string, string>? environment)
    {
        ServiceName = serviceName;
        Dll = dll;
        ConfigFile = configFile;
        Environment = environment;
        _process = Launch();
    }

    public string ServiceName { get; }
    public string Dll { get; }
    public string ConfigFile { get; }
    public IReadOnlyDictionary<string, string>? Environment { get; }
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process wrote on stdout and stderr so far, across restarts.</summary>
    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    /// <summary>Starts services/<paramref name="serviceName"/> with <paramref name="configuration"/> (serialized to JSON).</summary>
    public static ServiceProcess Start(string serviceName, object configuration, IReadOnlyDictionary<string, string>? environment = null)
    {
        var dll = EmbeddedKafkaProcess.FindBuiltAssembly($"services/{serviceName}", $"PoolCluster.{serviceName}");
        var configFile = Path.Combine(Path.GetTempPath(), $"poolcluster-{serviceName.ToLowerInvariant()}-{Guid.NewGuid():N}.json");
        File.WriteAllText(configFile, JsonSerializer.Serialize(configuration, new JsonSerializerOptions { WriteIndented = true }));
        return new ServiceProcess(serviceName, dll, configFile, environment);
    }

    /// <summary>Completes when the output (from now on or already) contains <paramref name="needle"/>; throws with the output on timeout or exit.</summary>
    public async Task WaitForOutputAsync(string needle, TimeSpan timeout)
    {
        TaskCompletionSource seen;
        lock (_output)
        {
            if (_output.ToString().Contains(needle, StringComparison.Ordinal))
                return;
            seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waits.Add((needle, seen));
        }
        var exited = _process.WaitForExitAsync();
        var first = await Task.WhenAny(seen.Task, exited, Task.Delay(timeout)).ConfigureAwait(false);
        if (first == seen.Task)
            return;
        throw new TimeoutException(first == exited
            ? $"{ServiceName} exited with code {_process.ExitCode} before printing '{needle}':\n{Output}"
            : $"{ServiceName} did not print '{needle}' within {timeout.TotalSeconds} s:\n{Output}");
    }

    /// <summary>SIGTERM and wait for a graceful exit; returns the exit code.</summary>
    public int Stop(TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
        {
            _ = kill(_process.Id, SigTerm);
            if (!_process.WaitForExit(timeout ?? TimeSpan.FromSeconds(15)))
                _process.Kill(entireProcessTree: true);
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: the crash a supervisor restarts from.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>Starts the same service with the same configuration again (after Stop or Kill).</summary>
    public void Restart()
    {
        if (!_process.HasExited)
            throw new InvalidOperationException($"{ServiceName} is still running");
        _process.Dispose();
        _process = Launch();
    }

    private Process Launch()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll);
        info.ArgumentList.Add("--config");
        info.ArgumentList.Add(ConfigFile);
        if (Environment != null)
            foreach (var (key, value) in Environment)
                info.Environment[key] = value;
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Append(string? line)
    {
        if (line == null)
            return;
        lock (_output)
        {
            _output.AppendLine(line);
            for (var i = _waits.Count - 1; i >= 0; i--)
                if (line.Contains(_waits[i].Needle, StringComparison.Ordinal))
                {
                    _waits[i].Seen.TrySetResult();
                    _waits.RemoveAt(i);
                }
        }
    }

    public void Dispose()
    {
        try
        {
            Kill();
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        try
        {
            File.Delete(ConfigFile);
        }
        catch (IOException)
        {
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
