using System.Diagnostics;
using System.Security.Cryptography;
using PoolCluster.Testing.ServerProcesses;

namespace PoolCluster.Testing;

/// <summary>
/// The process handling <see cref="MariaDbServer"/> and <see cref="RedisServer"/> share: a server in its own temp dir
/// on a free port of 127.0.0.1, with a random password, started until it is ready to serve a client that has the
/// password; <see cref="Stop"/> (SIGTERM) or <see cref="Kill"/> (SIGKILL) and <see cref="Start"/> again on the same port
/// and dir simulate an outage. The process cannot outlive the test process (see ServerProcess). The shared server of a
/// test assembly refuses Stop/Kill. Subclasses say how to launch their program and how to tell that it is ready.
/// </summary>
public abstract class LocalTestServer : IDisposable
{
    public const string Host = "127.0.0.1";

    private readonly object _gate = new();
    private ServerProcess? _process;
    private bool _disposed;

    private protected LocalTestServer(string rootDirectory, bool isShared)
    {
        RootDirectory = rootDirectory;
        IsShared = isShared;
        Password = RandomToken(24);
    }

    public int Port { get; private set; }

    public string Password { get; }

    /// <summary>The temp dir holding the server's files and logs; deleted on dispose.</summary>
    public string RootDirectory { get; }

    /// <summary>The shared server of a test assembly refuses Stop/Kill: other test classes use it concurrently.</summary>
    public bool IsShared { get; }

    /// <summary>How long the last (re)start took until the server was ready.</summary>
    public TimeSpan LastStartDuration { get; private set; }

    public bool IsRunning
    {
        get
        {
            lock (_gate)
                return _process is { HasExited: false };
        }
    }

    /// <summary>"MariaDB", "Redis": for messages.</summary>
    private protected abstract string Kind { get; }

    /// <summary>The program to run, looked up on PATH.</summary>
    private protected abstract string Executable { get; }

    /// <summary>The Debian package that installs <see cref="Executable"/>, for the error when it is missing.</summary>
    private protected abstract string DebianPackage { get; }

    /// <summary>The file the server logs to (read for the reason when it fails to start).</summary>
    private protected abstract string LogFile { get; }

    private protected abstract TimeSpan StartTimeout { get; }

    /// <summary>How long a clean shutdown may take before it becomes a SIGKILL.</summary>
    private protected abstract TimeSpan StopTimeout { get; }

    /// <summary>What "ready" means, for the timeout message ("accept connections").</summary>
    private protected abstract string ReadyMeans { get; }

    /// <summary>The command line for the current <see cref="Port"/>.</summary>
    private protected abstract IReadOnlyList<string> Arguments();

    /// <summary>True once a client with the password can use the server (listening is not enough).</summary>
    private protected abstract bool IsReady();

    /// <summary>Runs once before the first launch (files the server needs in <see cref="RootDirectory"/>).</summary>
    private protected virtual void Prepare()
    {
    }

    /// <summary>Clean shutdown (SIGTERM), as when an operator stops the server. Its files and port are kept for <see cref="Start"/>.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            ThrowIfSharedOrDisposed(nameof(Stop));
            _process?.Terminate(StopTimeout);
        }
    }

    /// <summary>SIGKILL, as in a crash.</summary>
    public void Kill()
    {
        lock (_gate)
        {
            ThrowIfSharedOrDisposed(nameof(Kill));
            _process?.Kill();
        }
    }

    /// <summary>Starts the stopped server again on the same port and dir; returns once it is ready.</summary>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_process is { HasExited: false })
                throw new InvalidOperationException($"the {Kind} server is already running");
            _process?.Dispose();
            _process = null;
            Launch(Stopwatch.StartNew(), allowPortRetry: false);
        }
    }

    public void Dispose()
    {
        if (!MarkDisposed(process => process.Dispose()))
            return;
        ServerDirectories.Delete(RootDirectory);
    }

    public override string ToString() => $"{Kind} on {Host}:{Port} ({RootDirectory})";

    /// <summary>Process-exit variant of Dispose: nothing that waits, so it finishes before the test runner kills the host.</summary>
    internal void DisposeAtProcessExit()
    {
        if (!MarkDisposed(process => process.SignalKill()))
            return;
        ServerDirectories.DeleteDetached(RootDirectory);
    }

    /// <summary>Marks the server disposed and lets go of its process; false when it already was.</summary>
    private bool MarkDisposed(Action<ServerProcess> release)
    {
        lock (_gate)
        {
            if (_disposed)
                return false;
            _disposed = true;
            if (_process != null)
                release(_process);
            _process = null;
            return true;
        }
    }

    internal static string RandomToken(int length)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        return RandomNumberGenerator.GetString(alphabet, length);
    }

    /// <summary>Prepares and launches a new server on a free port; disposes it (its dir included) when that fails.</summary>
    private protected static T StartOnFreePort<T>(T server) where T : LocalTestServer
    {
        try
        {
            var started = Stopwatch.StartNew();
            server.Prepare();
            // A port that looked free can be taken by a parallel test process before the server binds it: pick again.
            for (var attempt = 1; ; attempt++)
            {
                server.Port = ServerPorts.PickFree();
                if (server.Launch(started, allowPortRetry: attempt < 5))
                    return server;
            }
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <returns>false when the port turned out to be taken and <paramref name="allowPortRetry"/> is set.</returns>
    private bool Launch(Stopwatch started, bool allowPortRetry)
    {
        var executable = Posix.FindExecutable(Executable, $"install Debian's {DebianPackage} (install/setup.sh does)");
        var arguments = Arguments();
        if (File.Exists(LogFile))
            File.AppendAllText(LogFile, $"---- test fixture: starting again on port {Port} ----\n");
        // Only this attempt's lines count when deciding why it failed.
        var logStart = ServerProcess.LengthOf(LogFile);
        var process = ServerProcess.Start(executable, arguments, RootDirectory);
        _process = process;

        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                var log = ServerProcess.Tail(LogFile, logStart);
                // mariadbd may print only the errno (98, EADDRINUSE).
                var portTaken = log.Contains("Address already in use", StringComparison.Ordinal) || log.Contains("error: 98", StringComparison.Ordinal);
                if (portTaken && allowPortRetry)
                {
                    process.Dispose();
                    _process = null;
                    return false;
                }
                throw new InvalidOperationException(
                    $"{Executable} exited with code {process.ExitCode} while starting on port {Port}{(portTaken ? " (the port is taken by another process)" : "")}. " +
                    $"Log {LogFile}:\n{log}\n{process.Output}");
            }
            if (waited.Elapsed > StartTimeout)
                throw new TimeoutException(
                    $"{Executable} did not {ReadyMeans} on port {Port} within {StartTimeout.TotalSeconds:F0} s. Log {LogFile}:\n{ServerProcess.Tail(LogFile, logStart)}");
            if (IsReady())
                break;
            Thread.Sleep(10);
        }
        LastStartDuration = started.Elapsed;
        return true;
    }

    private void ThrowIfSharedOrDisposed(string operation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsShared)
            throw new InvalidOperationException(
                $"{operation} on the shared {Kind} server of this test assembly would break the test classes using it concurrently: " +
                $"start a private one with {GetType().Name}.StartNew()");
    }
}
