using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using PoolCluster.Kafka;
using PoolCluster.Storage;
using PoolCluster.Testing;

namespace PoolCluster.ShareLogger.Tests;

/// <summary>
/// services/ShareLogger as a separate OS process (dotnet PoolCluster.ShareLogger.dll), configured through its command
/// line and environment as an operator would. It runs under `setpriv --pdeathsig KILL`, forked from one long-lived
/// thread, so it dies with the test process even when that is killed.
/// </summary>
internal sealed class ShareLoggerProcess : IDisposable
{
    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Started)> Launches = new();
    private static readonly string? SetPriv = File.Exists("/usr/bin/setpriv") ? "/usr/bin/setpriv" : null;
    private readonly Process process;
    private readonly ConcurrentQueue<string> output = new();

    static ShareLoggerProcess()
    {
        new Thread(() =>
        {
            foreach (var (info, started) in Launches.GetConsumingEnumerable())
            {
                try
                {
                    started.SetResult(Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start"));
                }
                catch (Exception e)
                {
                    started.SetException(e);
                }
            }
        }) { IsBackground = true, Name = "sharelogger launcher" }.Start();
    }

    private ShareLoggerProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => process.Id;

    public bool HasExited => process.HasExited;

    public int ExitCode => process.ExitCode;

    public string Output => string.Join('\n', output);

    /// <summary>The process reported shares that Kafka deleted before they were logged (the embedded broker keeps at most 100,000 messages / 5 MB a partition).</summary>
    public bool SawKafkaLoss { get; private set; }

    public static ShareLoggerProcess Start(KafkaOptions kafka, MySqlOptions mysql, string group, params string[] settings)
    {
        var dll = EmbeddedKafkaProcess.FindBuiltAssembly("services/ShareLogger", "PoolCluster.ShareLogger");
        var info = new ProcessStartInfo(SetPriv ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        if (SetPriv != null)
        {
            foreach (var arg in new[] { "--pdeathsig", "KILL", "--", "dotnet" })
                info.ArgumentList.Add(arg);
        }
        info.ArgumentList.Add(dll);
        var arguments = new List<string>
        {
            $"--Kafka:BootstrapServers={kafka.BootstrapServers}",
            $"--Kafka:TopicPrefix={kafka.TopicPrefix}",
            $"--Kafka:ClientId=sharelogger-test-{Guid.NewGuid():N}",
            $"--Kafka:SessionTimeoutMs={kafka.SessionTimeoutMs}",
            $"--Kafka:HeartbeatIntervalMs={kafka.HeartbeatIntervalMs}",
            $"--Kafka:FetchWaitMaxMs={kafka.FetchWaitMaxMs}",
            $"--MySql:Host={mysql.Host}",
            $"--MySql:Port={mysql.Port.ToString(CultureInfo.InvariantCulture)}",
            $"--MySql:User={mysql.User}",
            $"--MySql:Database={mysql.Database}",
            $"--ShareLogger:ConsumerGroup={group}",
            "--ShareLogger:LagLogIntervalSeconds=1",
            "--ShareLogger:RevokeFlushTimeoutSeconds=2",
            "--Hosting:ShutdownTimeoutSeconds=15",
            "--ShareLogger:ShutdownDrainSeconds=10",
        };
        arguments.AddRange(settings);
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        // The secret goes through the environment, as in production (never on a command line others can read).
        info.Environment["POOL_MySql__Password"] = mysql.Password;
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Launches.Add((info, started));
        return new ShareLoggerProcess(started.Task.GetAwaiter().GetResult());
    }

    /// <summary>SIGKILL: the process dies wherever it is, mid-transaction or not.</summary>
    public void Kill()
    {
        if (process.HasExited)
            return;
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
        }
        process.WaitForExit();
    }

    /// <summary>SIGTERM and wait: a clean stop.</summary>
    public int Stop(TimeSpan timeout)
    {
        if (!process.HasExited)
        {
            _ = Posix.kill(process.Id, 15);
            if (!process.WaitForExit(timeout))
                Kill();
        }
        process.WaitForExit();
        return process.ExitCode;
    }

    /// <summary>Waits for the exit and for the last output lines (the timed wait alone does not wait for them).</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout))
            return false;
        process.WaitForExit();
        return true;
    }

    public void Dispose()
    {
        Kill();
        process.Dispose();
    }

    private void Remember(string? line)
    {
        if (line == null)
            return;
        // For diagnosing a failed run: every line of every process (killed ones included) in a directory.
        if (Environment.GetEnvironmentVariable("POOL_TEST_PROCESS_LOGS") is { Length: > 0 } directory)
            lock (output)
                File.AppendAllText(Path.Combine(directory, $"sharelogger-{process.Id}.log"), line + "\n");
        if (line.Contains("no longer in Kafka", StringComparison.Ordinal))
            SawKafkaLoss = true;
        output.Enqueue(line);
        while (output.Count > 300 && output.TryDequeue(out _))
        {
        }
    }

    private static class Posix
    {
        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
        public static extern int kill(int pid, int signal);
    }
}
