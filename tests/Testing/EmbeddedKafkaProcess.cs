using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace PoolCluster.Testing;

/// <summary>
/// services/EmbeddedKafka run as a child process (dotnet PoolCluster.EmbeddedKafka.dll), for tests whose processes
/// must meet on a cluster none of them hosts. The child exits on Dispose (SIGTERM, then kill) and by itself when the
/// test process dies (--parent-pid). The test project must build services/EmbeddedKafka (a ProjectReference with
/// ReferenceOutputAssembly="false").
/// </summary>
public sealed class EmbeddedKafkaProcess : IDisposable
{
    private const string BootstrapLinePrefix = "KAFKA_BOOTSTRAP=";
    private const int SigTerm = 15;

    private readonly Process process;
    private readonly StringBuilder stderr = new();
    private readonly TaskCompletionSource<string> bootstrap = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private EmbeddedKafkaProcess(Process process, string bootstrapFile)
    {
        this.process = process;
        BootstrapFile = bootstrapFile;
    }

    /// <summary>The address the child printed (KAFKA_BOOTSTRAP=...).</summary>
    public string BootstrapServers { get; private set; } = "";

    /// <summary>The file the child wrote its address to (a temp file; removed by the child on a clean exit).</summary>
    public string BootstrapFile { get; }

    public int ProcessId => process.Id;

    public bool HasExited => process.HasExited;

    /// <summary>What the child wrote on stderr so far (its own log and librdkafka's).</summary>
    public string StandardError
    {
        get
        {
            lock (stderr)
                return stderr.ToString();
        }
    }

    /// <summary>Starts the child and waits until it printed its bootstrap address.</summary>
    public static EmbeddedKafkaProcess Start(int brokers = 1, string topicPrefix = "", TimeSpan? startTimeout = null)
    {
        var dll = FindBuiltAssembly("services/EmbeddedKafka", "PoolCluster.EmbeddedKafka");
        var bootstrapFile = Path.Combine(Path.GetTempPath(), $"poolcluster-kafka-{Guid.NewGuid():N}.bootstrap");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     dll, "--brokers", brokers.ToString(CultureInfo.InvariantCulture), "--bootstrap-file", bootstrapFile,
                     "--topic-prefix", topicPrefix, "--parent-pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
                 })
            info.ArgumentList.Add(arg);

        var child = new EmbeddedKafkaProcess(new Process { StartInfo = info }, bootstrapFile);
        child.process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == null)
                child.bootstrap.TrySetException(new InvalidOperationException("EmbeddedKafka closed stdout before printing its address"));
            else if (e.Data.StartsWith(BootstrapLinePrefix, StringComparison.Ordinal))
                child.bootstrap.TrySetResult(e.Data[BootstrapLinePrefix.Length..].Trim());
        };
        child.process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data != null)
                lock (child.stderr)
                    child.stderr.AppendLine(e.Data);
        };
        child.process.Start();
        child.process.BeginOutputReadLine();
        child.process.BeginErrorReadLine();

        var timeout = startTimeout ?? TimeSpan.FromSeconds(30);
        try
        {
            if (!child.bootstrap.Task.Wait(timeout))
                throw new TimeoutException($"EmbeddedKafka did not print {BootstrapLinePrefix} within {timeout.TotalSeconds:0.#} s");
            child.BootstrapServers = child.bootstrap.Task.Result;
            return child;
        }
        catch (Exception e) when (e is TimeoutException or AggregateException)
        {
            child.Dispose();
            throw new InvalidOperationException($"EmbeddedKafka ({dll}) did not start: {e.GetBaseException().Message}; stderr:\n{child.StandardError}", e);
        }
    }

    /// <summary>Stops the child with SIGTERM and waits for it; returns its exit code (kills it if it does not stop in time).</summary>
    public int Stop(TimeSpan? timeout = null)
    {
        if (!process.HasExited)
        {
            _ = SendSignal(process.Id, SigTerm);
            if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(10)))
                process.Kill(entireProcessTree: true);
        }
        process.WaitForExit(); // also drains the redirected streams
        return process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            Stop();
        }
        catch (InvalidOperationException)
        {
            // never started
        }
        process.Dispose();
        try
        {
            File.Delete(BootstrapFile);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// The built main assembly of a project of this repository (e.g. "services/EmbeddedKafka", "PoolCluster.EmbeddedKafka"):
    /// bin/&lt;the configuration these tests were built in&gt;/&lt;tfm&gt;/ first, else the newest build found.
    /// </summary>
    public static string FindBuiltAssembly(string projectDirectory, string assemblyName)
    {
        var bin = Path.Combine(TestPaths.RepoRoot, projectDirectory, "bin");
        // The tests run from .../bin/<Configuration>/<tfm>/.
        var ownConfiguration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent?.Name;
        var candidates = Directory.Exists(bin)
            ? Directory.GetFiles(bin, assemblyName + ".dll", SearchOption.AllDirectories)
                .Where(f => File.Exists(Path.ChangeExtension(f, ".runtimeconfig.json")))
                .OrderByDescending(f => new DirectoryInfo(Path.GetDirectoryName(f)!).Parent?.Name == ownConfiguration)
                .ThenByDescending(File.GetLastWriteTimeUtc)
                .ToList()
            : [];
        return candidates.FirstOrDefault() ?? throw new FileNotFoundException(
            $"{assemblyName}.dll is not built under {bin}: build it (dotnet build {projectDirectory} -c Release) or reference the " +
            "project from the test project with ReferenceOutputAssembly=\"false\"");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
}
