using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using PoolCluster.Kafka;
using PoolCluster.Networking;
using PoolCluster.Stratum;

namespace PoolCluster.SServer;

/// <summary>
/// The stratum server: owns the listeners, the sessions, the job repository, the share sink and the user resolver,
/// and ties them together. A share's way through it:
/// <see cref="StratumListener"/> (accept) → <see cref="MinerConnection"/> (socket, line framing, limits) →
/// <see cref="StratumSession"/> (protocol) → <see cref="ShareValidator"/> (judgement, with <see cref="JobRepository"/>
/// and <see cref="SessionDifficulty"/>) → <see cref="ShareSink"/> (Kafka). Jobs come the other way:
/// Kafka → <see cref="JobRepository"/> → <see cref="BroadcastJob"/> → every session.
/// </summary>
public sealed class StratumServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<uint, StratumSession> _sessions = new();
    private readonly List<StratumListener> _listeners = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly KafkaOptions? _kafka;
    private readonly ILoggerFactory _loggerFactory;
    private readonly double _timeSpanTicksPerTimestamp;
    private EpollLoop[] _loops = [];
    private ShareSink? _sink;
    private WallClockAnchor _wallClock;
    private Task? _housekeeping;
    private int _stopped;

    public StratumServer(StratumOptions options, VardiffSettings vardiff, UserResolver users, KafkaOptions? kafka,
        ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        Options = options;
        VarDiff = vardiff.ToVarDiffOptions();
        VarDiff.Validate();
        Users = users;
        _kafka = kafka;
        _loggerFactory = loggerFactory;
        Logger = loggerFactory.CreateLogger("PoolCluster.SServer");
        Time = time ?? TimeProvider.System;
        _timeSpanTicksPerTimestamp = TimeSpan.TicksPerSecond / (double)Time.TimestampFrequency;
        _wallClock = new WallClockAnchor(Time.GetUtcNow().ToUnixTimeMilliseconds(), Time.GetTimestamp());
        PoolVersionMask = options.ParsedVersionRollingMask;
        Counters = new SServerCounters();
        Gate = new ConnectionGate(options.Limits, options.Ban, Counters, Logger, Time.TimestampFrequency);
        SessionIds = new SessionIdAllocator(options.ServerId);
        Jobs = new JobRepository(options, kafka, Time, Counters, loggerFactory.CreateLogger("PoolCluster.SServer.Jobs"), loggerFactory)
        {
            Broadcast = BroadcastJob,
        };
        Validator = new ShareValidator(Jobs, options);
        TlsOptions = options.Tls.Port != 0 ? LoadTls(options.Tls) : null;
    }

    public StratumOptions Options { get; }
    public VarDiffOptions VarDiff { get; }

    /// <summary>Share targets by difficulty, computed once for all connections.</summary>
    public DifficultyTargets DifficultyTargets { get; } = new();
    public UserResolver Users { get; }
    public JobRepository Jobs { get; }
    public ShareValidator Validator { get; }
    public ConnectionGate Gate { get; }
    public SessionIdAllocator SessionIds { get; }
    public SServerCounters Counters { get; }
    public TimeProvider Time { get; }
    internal ILogger Logger { get; }
    internal uint PoolVersionMask { get; }
    internal SslServerAuthenticationOptions? TlsOptions { get; }
    internal CancellationToken Stopping => _stopping.Token;

    public ShareSink Sink => _sink ?? throw new InvalidOperationException("the server is not started");

    /// <summary>The plain listener's port (-1 when there is none).</summary>
    public int Port => _listeners.FirstOrDefault(l => !l.IsTls)?.Port ?? -1;

    /// <summary>The TLS listener's port (-1 when there is none).</summary>
    public int TlsPort => _listeners.FirstOrDefault(l => l.IsTls)?.Port ?? -1;

    /// <summary>The sessions now (a snapshot).</summary>
    public IReadOnlyList<StratumSession> Sessions => _sessions.Values.ToList();

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        // Building the producers waits for Kafka's metadata (up to seconds when the cluster is away): not on the caller's thread.
        _sink = await Task.Run(() => new ShareSink(_kafka, Options.OutputQueueCapacity, Counters,
            _loggerFactory.CreateLogger("PoolCluster.SServer.ShareSink"), _loggerFactory), cancellationToken).ConfigureAwait(false);
        await Users.StartAsync(cancellationToken).ConfigureAwait(false);
        Jobs.Start();
        _loops = StartEventLoops();
        var address = IPAddress.Parse(Options.BindAddress);
        if (Options.Port >= 0)
            _listeners.Add(new StratumListener(this, address, Options.Port, tls: false));
        if (Options.Tls.Port != 0)
            _listeners.Add(new StratumListener(this, address, Options.Tls.Port, tls: true));
        foreach (var listener in _listeners)
        {
            listener.Start();
            Logger.LogInformation("listening for miners on {Address}:{Port}{Tls} (server id {ServerId})", address, listener.Port,
                listener.IsTls ? " (TLS)" : "", Options.ServerId);
        }
        _housekeeping = Task.Run(() => HousekeepingAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>Called by a listener for each accepted socket.</summary>
    internal void Accept(Socket socket, bool tls)
    {
        var now = Time.GetTimestamp();
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        if (remote.Address.IsIPv4MappedToIPv6)
            remote = new IPEndPoint(remote.Address.MapToIPv4(), remote.Port);
        var admission = Options.ProxyProtocol ? Gate.TryAdmitAnonymous() : Gate.TryAdmit(remote.Address, now);
        if (admission != Admission.Admitted)
        {
            Counters.ConnectionRefused();
            Logger.LogDebug("refused {Ip}: {Reason}", remote.Address, admission);
            socket.Dispose();
            return;
        }
        if (_stopping.IsCancellationRequested || !SessionIds.TryAllocate(out var sessionId))
        {
            Gate.Release(Options.ProxyProtocol ? null : remote.Address);
            Counters.ConnectionRefused();
            socket.Dispose();
            return;
        }
        socket.NoDelay = true;
        if (!tls)
            socket.Blocking = false; // sends go to the kernel without ever blocking a thread; what it refuses is queued
        var admittedAs = Options.ProxyProtocol ? null : remote.Address;
        MinerConnection connection = !tls && _loops.Length > 0
            ? new EpollMinerConnection(this, _loops[sessionId % (uint)_loops.Length], socket, remote, sessionId, admittedAs)
            : new StreamMinerConnection(this, socket, remote, sessionId, tls, admittedAs);
        _sessions[sessionId] = connection.Session;
        Counters.ConnectionOpened();
        connection.Start();
    }

    /// <summary>The epoll loops plain connections run on (none with IoEngine Sockets, or where epoll is not available).</summary>
    private EpollLoop[] StartEventLoops()
    {
        if (Options.IoEngine != StratumIoEngine.Epoll || Options.Port < 0)
            return [];
        if (!LinuxSockets.IsSupported)
        {
            Logger.LogWarning("Stratum:IoEngine Epoll needs Linux on x64 or arm64: using Sockets");
            return [];
        }
        var count = Options.IoThreads > 0 ? Options.IoThreads : Environment.ProcessorCount;
        return Enumerable.Range(0, count)
            .Select(i => new EpollLoop($"sserver-io-{i}", Options.Limits.MaxLineBytes + 2,
                e => Logger.LogError(e, "a connection's event handler failed")))
            .ToArray();
    }

    internal void OnConnectionClosed(MinerConnection connection)
    {
        var session = connection.Session;
        if (_sessions.TryRemove(session.SessionId, out _))
        {
            Counters.ConnectionClosed();
            SessionIds.Release(session.SessionId);
            session.OnClosed();
        }
    }

    /// <summary>
    /// Sends a job entry to every authorized session. One send syscall per session is the cost (the notify bytes are
    /// prepared once), so the sessions are split over the cores. The log line says when the last session had it and
    /// the spread (p50/p99 of the moments each send returned, i.e. the bytes were in the kernel on their way).
    /// </summary>
    private void BroadcastJob(JobEntry entry, bool clean)
    {
        var started = Stopwatch.GetTimestamp();
        var now = Time.GetTimestamp();
        var sessions = _sessions.Values.ToArray();
        var sentAt = new long[sessions.Length];
        var parts = sessions.Length < 512 ? 1 : Environment.ProcessorCount;
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts },
            part => SendToPart(sessions, part, parts, entry, clean, now, started, sentAt));
        var level = clean ? LogLevel.Information : LogLevel.Debug;
        if (!Logger.IsEnabled(level))
            return;
        var times = sentAt.Where(t => t > 0).Order().ToArray();
        var sent = times.Length;
        Logger.Log(level, "job {JobId} (wire id {WireId}, height {Height}, clean={Clean}) sent to {Sessions} sessions in {Ms:0.0} ms (p50 {P50:0.0} ms, p99 {P99:0.0} ms)",
            entry.Job.JobId, entry.WireId, entry.Job.Height, clean, sent, Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            Percentile(times, 0.50), Percentile(times, 0.99));
    }

    /// <summary>
    /// One core's share of a broadcast. Fully optimized from its first call: it runs once per job, so tiered
    /// compilation would leave it (and the loop's first thousands of sends) in slow tier-0 code.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SendToPart(StratumSession[] sessions, int part, int parts, JobEntry entry, bool clean, long now, long started, long[] sentAt)
    {
        for (var i = part; i < sessions.Length; i += parts)
            if (sessions[i].SendJob(entry, clean, now))
                sentAt[i] = Math.Max(1, Stopwatch.GetTimestamp() - started);
    }

    private static double Percentile(long[] sorted, double quantile) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(quantile * sorted.Length))] * 1000.0 / Stopwatch.Frequency;

    internal TimeSpan ToTimeSpan(long timestamp) => TimeSpan.FromTicks((long)(timestamp * _timeSpanTicksPerTimestamp));

    /// <summary>
    /// The wall-clock time (Unix ms) of a <see cref="TimeProvider.GetTimestamp"/> value, from an anchor housekeeping
    /// re-takes twice a second: shares are stamped with the time their read began, without a clock read each.
    /// </summary>
    internal long ToUnixMs(long timestamp)
    {
        var anchor = Volatile.Read(ref _wallClock);
        return anchor.UnixMs + (timestamp - anchor.Timestamp) * 1000 / Time.TimestampFrequency;
    }

    private sealed record WallClockAnchor(long UnixMs, long Timestamp);

    private async Task HousekeepingAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500), Time);
        var lastStats = Time.GetTimestamp();
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                var now = Time.GetTimestamp();
                Volatile.Write(ref _wallClock, new WallClockAnchor(Time.GetUtcNow().ToUnixTimeMilliseconds(), now));
                // Enumerating the dictionary itself: no snapshot of 15,000 sessions twice a second.
                foreach (var (_, session) in _sessions)
                {
                    var connection = session.Connection;
                    if (!connection.IsClosed && now > connection.Deadline)
                    {
                        Counters.Timeout();
                        connection.Close(session.IsAuthorized
                            ? $"idle for {Options.Limits.IdleTimeoutSeconds} s (Stratum:Limits:IdleTimeoutSeconds)"
                            : $"not authorized within {Options.Limits.UnauthorizedTimeoutSeconds} s (Stratum:Limits:UnauthorizedTimeoutSeconds)");
                    }
                }
                Gate.Sweep(now);
                if (Options.StatsIntervalSeconds > 0 && now - lastStats >= Options.StatsIntervalSeconds * Time.TimestampFrequency)
                {
                    lastStats = now;
                    Logger.LogInformation("stats: {Stats} output_queue={Queued}", Counters.Describe(), _sink?.Queued ?? 0);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Graceful stop: stop accepting, send client.reconnect to every miner, wait up to
    /// <see cref="StratumOptions.DrainSeconds"/> for them to go, close the rest, then hand what is queued to Kafka.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
            return;
        foreach (var listener in _listeners)
            listener.Stop();
        var sessions = _sessions.Values.ToList();
        Logger.LogInformation("stopping: asking {Count} miners to reconnect", sessions.Count);
        foreach (var session in sessions)
            session.SendReconnect();
        var deadline = Stopwatch.GetTimestamp() + (long)(Options.DrainSeconds * (double)Stopwatch.Frequency);
        while (!_sessions.IsEmpty && Stopwatch.GetTimestamp() < deadline && !cancellationToken.IsCancellationRequested)
            await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
        foreach (var session in _sessions.Values)
            session.Connection.Close("server stopping");
        for (var i = 0; i < 100 && !_sessions.IsEmpty; i++)
            await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
        _stopping.Cancel();
        if (_housekeeping != null)
            await _housekeeping.ConfigureAwait(false);
        Jobs.Dispose();
        foreach (var loop in _loops)
            loop.Dispose();
        await Task.Run(() => _sink?.Dispose(), CancellationToken.None).ConfigureAwait(false);
        Users.Dispose();
        foreach (var listener in _listeners)
            listener.Dispose();
        Logger.LogInformation("stopped: {Stats}", Counters.Describe());
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private static SslServerAuthenticationOptions LoadTls(TlsOptions tls)
    {
        var extension = Path.GetExtension(tls.CertificatePath).ToLowerInvariant();
        var certificate = extension is ".pem" or ".crt"
            ? X509Certificate2.CreateFromPemFile(tls.CertificatePath, string.IsNullOrWhiteSpace(tls.KeyPath) ? null : tls.KeyPath)
            : X509CertificateLoader.LoadPkcs12FromFile(tls.CertificatePath, tls.CertificatePassword);
        if (!certificate.HasPrivateKey)
            throw new InvalidOperationException($"Stratum:Tls:CertificatePath '{tls.CertificatePath}' has no private key (set Stratum:Tls:KeyPath for a PEM key file)");
        return new SslServerAuthenticationOptions { ServerCertificate = certificate, ClientCertificateRequired = false };
    }
}
