using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PoolCluster.Testing;

namespace PoolCluster.Cluster.Tests;

/// <summary>
/// The local cluster brought up exactly as a user does it, `install/up.sh`, in a temporary run directory on free ports,
/// and taken down with `install/down.sh`. The services are the ones this test run built (--no-build).
/// </summary>
public sealed class LocalCluster : IDisposable
{
    public LocalCluster(string blockBits)
    {
        RunDir = Path.Combine(Path.GetTempPath(), "poolcluster-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(RunDir);
        var (code, output) = RunScript("install/up.sh", TimeSpan.FromMinutes(4), "--no-build", "--run-dir", RunDir,
            "--stratum-port", FreePort().ToString(), "--stats-port", FreePort().ToString(), "--block-bits", blockBits);
        UpOutput = output;
        if (code != 0)
        {
            Dispose();
            throw new InvalidOperationException($"install/up.sh exited {code}:\n{output}\n{Logs()}");
        }
        Env = File.ReadAllLines(Path.Combine(RunDir, "cluster.env"))
            .Select(line => line.Split('=', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1]);
    }

    public string RunDir { get; }
    public string UpOutput { get; }
    public IReadOnlyDictionary<string, string> Env { get; } = new Dictionary<string, string>();

    public int StratumPort => int.Parse(Env["STRATUM_PORT"]);
    public string StatsUrl => Env["STATS_URL"];
    public string MySqlConnectionString =>
        $"Server=127.0.0.1;Port={Env["MYSQL_PORT"]};User ID={Env["MYSQL_USER"]};Password={Env["MYSQL_PASSWORD"]};Database={Env["MYSQL_DATABASE"]};SslMode=None;AllowPublicKeyRetrieval=true";

    public (int Code, string Output) Supervisorctl(params string[] args) =>
        Run("supervisorctl", TimeSpan.FromSeconds(60), ["-c", Path.Combine(RunDir, "supervisord.conf"), .. args]);

    /// <summary>The pid supervisord reports for a program (0 when not running).</summary>
    public int Pid(string program)
    {
        var (_, output) = Supervisorctl("pid", program);
        return int.TryParse(output.Trim(), out var pid) ? pid : 0;
    }

    /// <summary>The last 25 lines of every service log.</summary>
    public string Logs() => FromEachLog("last 25 lines", lines => lines.TakeLast(25), 400);

    /// <summary>Every warning, error and critical line of every service log (the first 40 per log).</summary>
    public string Warnings() => FromEachLog("warnings", lines => lines
        .Where(l => l.Contains(" warn: ") || l.Contains(" fail: ") || l.Contains(" crit: "))
        .Where(l => !l.Contains("AUTOCREATE") && !l.Contains(">>>> block found"))
        .Take(40), 600);

    private string FromEachLog(string what, Func<IEnumerable<string>, IEnumerable<string>> select, int width)
    {
        var text = new StringBuilder();
        var logs = Path.Combine(RunDir, "logs");
        if (!Directory.Exists(logs))
            return "";
        foreach (var file in Directory.GetFiles(logs, "*.log").Order())
        {
            var lines = select(File.ReadLines(file)).ToList();
            if (lines.Count == 0)
                continue;
            text.AppendLine($"--- {Path.GetFileName(file)} ({what}) ---");
            foreach (var line in lines)
                text.AppendLine(line.Length > width ? line[..width] : line);
        }
        return text.ToString();
    }

    public void Dispose()
    {
        RunScript("install/down.sh", TimeSpan.FromMinutes(2), "--run-dir", RunDir);
        try
        {
            Directory.Delete(RunDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static (int Code, string Output) RunScript(string script, TimeSpan timeout, params string[] args) =>
        Run("bash", timeout, [Path.Combine(TestPaths.RepoRoot, script), .. args]);

    public static (int Code, string Output) Run(string file, TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, output + $"\n(timed out after {timeout.TotalSeconds} s)");
        }
        process.WaitForExit();
        lock (output)
            return (process.ExitCode, output.ToString());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
