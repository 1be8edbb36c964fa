using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PoolCluster.Storage;
using PoolCluster.Testing.ServerProcesses;

namespace PoolCluster.Testing;

/// <summary>
/// A real redis-server for tests: a free port on 127.0.0.1, a random password, no persistence (--save "",
/// --appendonly no), a temp dir under /tmp. Stop/Kill and Start simulate a Redis outage on the same port (the data
/// is gone after a restart, as with the pool's real no-persistence Redis). Dispose kills it and deletes the dir; a
/// killed test process takes the server with it. Most tests want <see cref="RedisFixture"/> (one shared server per
/// test assembly, isolated by key prefix).
/// </summary>
public sealed class RedisServer : IDisposable
{
    public const string Host = "127.0.0.1";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private readonly object _gate = new();
    private ServerProcess? _process;
    private bool _disposed;

    private RedisServer(string rootDirectory, bool isShared)
    {
        RootDirectory = rootDirectory;
        IsShared = isShared;
        Password = MariaDbServer.RandomToken(24);
    }

    public int Port { get; private set; }
    public string Password { get; }
    public string RootDirectory { get; }
    public string LogPath => Path.Combine(RootDirectory, "redis.log");
    public bool IsShared { get; }
    public TimeSpan LastStartDuration { get; private set; }

    /// <summary>StackExchange.Redis configuration string without the password ("127.0.0.1:port").</summary>
    public string Configuration => $"{Host}:{Port}";

    public bool IsRunning
    {
        get
        {
            lock (_gate)
                return _process is { HasExited: false };
        }
    }

    /// <summary>Starts a private server; use it for tests that stop or kill Redis.</summary>
    public static RedisServer StartNew() => StartNew(isShared: false);

    internal static RedisServer StartNew(bool isShared)
    {
        var server = new RedisServer(ServerDirectories.Create("redis"), isShared);
        try
        {
            var started = Stopwatch.StartNew();
            for (var attempt = 1; ; attempt++)
            {
                server.Port = ServerPorts.PickFree();
                if (server.Launch(started, allowPortRetry: attempt < 5))
                    break;
            }
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>The options a service would bind from its "Redis" section, with the given key prefix.</summary>
    public RedisOptions CreateOptions(string keyPrefix = "btc") => new()
    {
        Configuration = Configuration,
        Password = Password,
        KeyPrefix = keyPrefix,
        ConnectTimeoutMilliseconds = 2000,
        SyncTimeoutMilliseconds = 2000,
    };

    /// <summary>Shutdown by SIGTERM; the port is kept for <see cref="Start"/>.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            ThrowIfSharedOrDisposed(nameof(Stop));
            _process?.Terminate(TimeSpan.FromSeconds(30));
        }
    }

    public void Kill()
    {
        lock (_gate)
        {
            ThrowIfSharedOrDisposed(nameof(Kill));
            _process?.Kill();
        }
    }

    /// <summary>Starts the stopped server again on the same port (empty: nothing is persisted).</summary>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_process is { HasExited: false })
                throw new InvalidOperationException("the Redis server is already running");
            _process?.Dispose();
            _process = null;
            Launch(Stopwatch.StartNew(), allowPortRetry: false);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            _process?.Dispose();
            _process = null;
        }
        ServerDirectories.Delete(RootDirectory);
    }

    /// <summary>Process-exit variant of Dispose: nothing that waits, so it finishes before the test runner kills the host.</summary>
    internal void DisposeAtProcessExit()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            _process?.SignalKill();
        }
        ServerDirectories.DeleteDetached(RootDirectory);
    }

    public override string ToString() => $"Redis on {Host}:{Port} ({RootDirectory})";

    private bool Launch(Stopwatch started, bool allowPortRetry)
    {
        var redisServer = Posix.FindExecutable("redis-server", "install Debian's redis-server (install/setup.sh does)");
        string[] arguments =
        [
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", Host,
            "--requirepass", Password,
            // The pool's Redis holds derived, rebuildable state: no RDB snapshots, no AOF.
            "--save", "",
            "--appendonly", "no",
            "--dir", RootDirectory,
            "--logfile", LogPath,
            "--daemonize", "no",
        ];
        // Only this attempt's lines count when deciding why it failed.
        var logStart = ServerProcess.LengthOf(LogPath);
        var process = ServerProcess.Start(redisServer, arguments, RootDirectory);
        _process = process;

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                var log = ServerProcess.Tail(LogPath, logStart);
                var portTaken = log.Contains("Address already in use", StringComparison.Ordinal);
                if (portTaken && allowPortRetry)
                {
                    process.Dispose();
                    _process = null;
                    return false;
                }
                throw new InvalidOperationException(
                    $"redis-server exited with code {process.ExitCode} while starting on port {Port}{(portTaken ? " (the port is taken by another process)" : "")}. " +
                    $"Log {LogPath}:\n{log}\n{process.Output}");
            }
            if (deadline.Elapsed > StartTimeout)
                throw new TimeoutException($"redis-server did not answer PING on port {Port} within {StartTimeout.TotalSeconds:F0} s. Log {LogPath}:\n{ServerProcess.Tail(LogPath, logStart)}");
            if (AnswersPing())
                break;
            Thread.Sleep(10);
        }
        LastStartDuration = started.Elapsed;
        return true;
    }

    /// <summary>Authenticates and PINGs over the wire protocol, so "ready" means ready for a client with the password.</summary>
    private bool AnswersPing()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            client.ReceiveTimeout = 2000;
            using var stream = client.GetStream();
            stream.Write(Encoding.ASCII.GetBytes($"AUTH {Password}\r\nPING\r\n"));
            var reply = new StringBuilder();
            var buffer = new byte[256];
            while (!reply.ToString().Contains("\r\n+PONG\r\n", StringComparison.Ordinal) && !reply.ToString().StartsWith('-'))
            {
                var n = stream.Read(buffer);
                if (n == 0)
                    return false;
                reply.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
            return reply.ToString() == "+OK\r\n+PONG\r\n";
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return false;
        }
    }

    private void ThrowIfSharedOrDisposed(string operation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsShared)
            throw new InvalidOperationException(
                $"{operation} on the shared Redis server of this test assembly would break the test classes using it concurrently: start a private one with RedisServer.StartNew()");
    }
}
