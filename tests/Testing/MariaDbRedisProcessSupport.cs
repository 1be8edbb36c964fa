using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

// Plumbing shared by MariaDbServer and RedisServer: free ports, owned temp dirs with orphan cleanup, and starting
// server processes that die with the test process.
namespace PoolCluster.Testing.ServerProcesses;

internal static class Posix
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Kill(int pid, int signal);

    /// <summary>
    /// The process's start time in clock ticks since boot (field 22 of /proc/pid/stat), which with the pid identifies a
    /// process uniquely (pids are reused); null when there is no such live process (gone or a zombie).
    /// </summary>
    public static long? StartTime(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        // The command name (field 2) is in parentheses and may contain spaces; fields after it are plain.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        if (fields[0] == "Z" || fields[0] == "X")
            return null;
        return long.Parse(fields[19], System.Globalization.CultureInfo.InvariantCulture);
    }

    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    public static string FindExecutable(string name, string installHint)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        // /usr/sbin holds mariadbd and is not on every user's PATH.
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"]))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException($"{name} not found on PATH or in /usr/sbin, /usr/bin: {installHint}");
    }
}

/// <summary>
/// Picks TCP ports for test servers below the kernel's ephemeral range, so outgoing connections of any process on the
/// machine can never be handed the port while a server is stopped for an outage test.
/// </summary>
internal static class ServerPorts
{
    private static readonly (int Low, int High) Range = ComputeRange();

    public static int PickFree()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(Range.Low, Range.High);
            if (CanBind(port))
                return port;
        }
        throw new InvalidOperationException($"no free TCP port found on 127.0.0.1 in {Range.Low}-{Range.High}");
    }

    public static bool CanBind(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static bool Accepts(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static (int, int) ComputeRange()
    {
        var ephemeralLow = 32768;
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            ephemeralLow = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
        }
        return ephemeralLow > 12000 ? (10000, ephemeralLow) : (ephemeralLow - 5000 > 1024 ? ephemeralLow - 5000 : 1025, ephemeralLow);
    }
}

/// <summary>
/// Temp dirs /tmp/poolcluster-db-&lt;kind&gt;-&lt;pid&gt;-&lt;random&gt; owned by this test process. Each holds an "owner" file
/// (pid and start time of the test process) and, once started, "server.pid". A test process killed before it could
/// clean up leaves them behind; the first server started by any later test process removes such dirs and kills
/// their server if it still runs.
/// </summary>
internal static class ServerDirectories
{
    public const string Prefix = "poolcluster-db-";
    private const string OwnerFile = "owner";
    public const string ServerPidFile = "server.pid";

    private static readonly Lazy<bool> Cleaned = new(() =>
    {
        CleanStale();
        return true;
    });

    public static string Create(string kind)
    {
        _ = Cleaned.Value;
        var self = Environment.ProcessId;
        var dir = Path.Combine(Path.GetTempPath(), $"{Prefix}{kind}-{self}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, OwnerFile), $"{self} {Posix.StartTime(self)}");
        return dir;
    }

    public static void Delete(string dir)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (Directory.Exists(dir))
                    Directory.Delete(dir, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 20)
            {
                // A server that just died may still be removing its own files (socket, pid file).
                Thread.Sleep(50);
            }
            catch (IOException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Deletes <paramref name="dir"/> in a detached `rm -rf`, for process exit: the test runner kills the test host
    /// shortly (100 ms by default) after the last test, too soon to delete a data dir in-process.
    /// </summary>
    public static void DeleteDetached(string dir)
    {
        if (!Path.GetFileName(dir).StartsWith(Prefix, StringComparison.Ordinal) || !Directory.Exists(dir))
            return;
        try
        {
            var info = new ProcessStartInfo("/bin/rm")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            info.ArgumentList.Add("-rf");
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(dir);
            Process.Start(info)?.Dispose();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            // The next test run's orphan cleanup removes it.
        }
    }

    /// <summary>Removes dirs whose owning test process is gone, killing their server first.</summary>
    public static void CleanStale()
    {
        foreach (var dir in Directory.EnumerateDirectories(Path.GetTempPath(), Prefix + "*"))
        {
            try
            {
                if (OwnerAlive(dir))
                    continue;
                var pidFile = Path.Combine(dir, ServerPidFile);
                if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var serverPid)
                    && Posix.StartTime(serverPid) != null
                    && Posix.CommandLine(serverPid).Contains(dir, StringComparison.Ordinal))
                {
                    Posix.Kill(serverPid, Posix.SigKill);
                    for (var i = 0; i < 100 && Posix.StartTime(serverPid) != null; i++)
                        Thread.Sleep(20);
                }
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                // Another test process is cleaning the same dir, or it is not ours to delete: leave it.
            }
        }
    }

    private static bool OwnerAlive(string dir)
    {
        var ownerFile = Path.Combine(dir, OwnerFile);
        if (!File.Exists(ownerFile))
        {
            // Created a moment ago and the owner file is not written yet, or not one of ours: leave young dirs alone.
            return DateTime.UtcNow - Directory.GetCreationTimeUtc(dir) < TimeSpan.FromMinutes(10);
        }
        var parts = File.ReadAllText(ownerFile).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 1 || !int.TryParse(parts[0], out var pid))
            return false;
        var startTime = Posix.StartTime(pid);
        if (startTime == null)
            return false;
        return parts.Length < 2 || !long.TryParse(parts[1], out var recorded) || recorded == startTime;
    }
}

/// <summary>
/// A server process started so that it cannot outlive the test process: it runs under `setpriv --pdeathsig KILL`,
/// which makes the kernel kill it when its parent dies, even by SIGKILL. The kernel's "parent" is the thread that
/// forked, so every server is forked from one dedicated thread that lives as long as the process.
/// </summary>
internal sealed class ServerProcess : IDisposable
{
    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Started)> LaunchQueue = new();
    private static readonly string? SetPriv = File.Exists("/usr/bin/setpriv") ? "/usr/bin/setpriv" : null;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    static ServerProcess()
    {
        var launcher = new Thread(() =>
        {
            foreach (var (info, started) in LaunchQueue.GetConsumingEnumerable())
            {
                try
                {
                    started.SetResult(Process.Start(info) ?? throw new InvalidOperationException($"{info.FileName} did not start"));
                }
                catch (Exception e)
                {
                    started.SetException(e);
                }
            }
        })
        {
            IsBackground = true,
            Name = "test server launcher",
        };
        launcher.Start();
    }

    private ServerProcess(Process process, string name)
    {
        _process = process;
        Name = name;
        // The servers log to files; this catches what setpriv or an early failure prints.
        _process.OutputDataReceived += (_, e) => Remember(e.Data);
        _process.ErrorDataReceived += (_, e) => Remember(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _process.StandardInput.Close();
    }

    public string Name { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;
    public string Output => string.Join('\n', _output);

    public static ServerProcess Start(string executable, IReadOnlyList<string> arguments, string ownerDirectory)
    {
        var info = new ProcessStartInfo
        {
            FileName = SetPriv ?? executable,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = ownerDirectory,
        };
        if (SetPriv != null)
        {
            info.ArgumentList.Add("--pdeathsig");
            info.ArgumentList.Add("KILL");
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(executable);
        }
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);

        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        LaunchQueue.Add((info, started));
        var process = started.Task.GetAwaiter().GetResult();
        // setpriv execs the server in place, so this pid is the server's: recorded for orphan cleanup.
        File.WriteAllText(Path.Combine(ownerDirectory, ServerDirectories.ServerPidFile), process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new ServerProcess(process, Path.GetFileName(executable));
    }

    /// <summary>SIGTERM (a clean shutdown), escalating to SIGKILL after <paramref name="timeout"/>.</summary>
    public void Terminate(TimeSpan timeout)
    {
        if (_process.HasExited)
            return;
        Posix.Kill(_process.Id, Posix.SigTerm);
        if (!_process.WaitForExit(timeout))
            Kill();
        _process.WaitForExit();
    }

    /// <summary>Sends SIGKILL without waiting for the process to go.</summary>
    public void SignalKill()
    {
        if (!_process.HasExited)
            Posix.Kill(_process.Id, Posix.SigKill);
    }

    /// <summary>SIGKILL: the server dies as in a crash or power loss.</summary>
    public void Kill()
    {
        if (_process.HasExited)
            return;
        try
        {
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // exited meanwhile
        }
        _process.WaitForExit();
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void Remember(string? line)
    {
        if (line == null)
            return;
        _output.Enqueue(line);
        while (_output.Count > 50 && _output.TryDequeue(out _))
        {
        }
    }

    public static long LengthOf(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    /// <summary>The last lines a log file got since it was <paramref name="fromLength"/> bytes long, for error messages.</summary>
    public static string Tail(string path, long fromLength = 0, int lines = 25)
    {
        try
        {
            if (!File.Exists(path))
                return "(no log written)";
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            stream.Seek(Math.Min(fromLength, stream.Length), SeekOrigin.Begin);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var all = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
        }
        catch (IOException e)
        {
            return $"(log unreadable: {e.Message})";
        }
    }
}
