using System.Buffers.Text;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PoolCluster.Bitcoin;
using PoolCluster.Stratum;

namespace PoolCluster.Simulator;

/// <summary>Why a connection ended, which decides how soon the miner reconnects.</summary>
internal enum SessionEnd
{
    Stopping,
    ConnectFailed,
    LoginFailed,
    ClosedByServer,
    Storm,
    ServerAskedReconnect,
    ProtocolError,
}

/// <summary>
/// One simulated miner: a TCP connection at a time (reconnecting as a real miner does), subscribe and authorize, then
/// following mining.notify / set_difficulty / set_extranonce and submitting shares at the configured rate or hash rate.
/// Two async loops per connection and no thread of its own: a reader that handles server lines as they come, and a
/// share loop that produces and sends submits (the only writer after the login).
/// </summary>
internal sealed class SimulatedMiner
{
    private const long SubscribeId = 1;
    private const long AuthorizeId = 2;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LoginTimeout = TimeSpan.FromSeconds(30);

    private readonly Simulation _simulation;
    private readonly SimulationMetrics _metrics;
    private readonly int _index;
    private readonly byte[] _loginJson;
    private readonly UserCounters _user;
    private readonly Random _random;
    private readonly IPAddress? _source;
    private readonly object _lock = new();
    private StratumEndpoint _server;
    private Session? _session;
    private int _sessions;

    public SimulatedMiner(Simulation simulation, int index, StratumEndpoint server, IPAddress? source, Random random)
    {
        _simulation = simulation;
        _metrics = simulation.Metrics;
        _index = index;
        _server = server;
        _source = source;
        _random = random;
        var settings = simulation.Settings;
        Login = settings.LoginOf(index);
        _loginJson = Encoding.UTF8.GetBytes(Login);
        _user = _metrics.Users[settings.UserIndexOf(index)];
        Interlocked.Increment(ref _user.Miners);
    }

    public string Login { get; }

    public bool IsLoggedIn
    {
        get
        {
            lock (_lock)
                return _session is { LoggedIn: true };
        }
    }

    /// <summary>Drops the connection now (a reconnect storm); the miner reconnects at once.</summary>
    public bool Disconnect(SessionEnd reason)
    {
        Session? session;
        lock (_lock)
            session = _session;
        return session != null && session.Close(reason);
    }

    public async Task RunAsync(TimeSpan startDelay)
    {
        var shutdown = _simulation.Shutdown;
        try
        {
            if (startDelay > TimeSpan.Zero)
                await Task.Delay(startDelay, shutdown);
            var failures = 0;
            while (!shutdown.IsCancellationRequested && !_simulation.SubmitStop.IsCancellationRequested)
            {
                var (end, reconnectWait) = await RunSessionAsync();
                failures = end is SessionEnd.ConnectFailed or SessionEnd.LoginFailed or SessionEnd.ProtocolError ? failures + 1 : 0;
                var delay = end switch
                {
                    SessionEnd.Stopping => TimeSpan.Zero,
                    SessionEnd.Storm => TimeSpan.FromMilliseconds(_random.Next(0, 50)),
                    SessionEnd.ServerAskedReconnect => TimeSpan.FromSeconds(reconnectWait),
                    SessionEnd.ClosedByServer => TimeSpan.FromMilliseconds(500 + _random.Next(0, 1000)),
                    _ => TimeSpan.FromMilliseconds(Math.Min(10_000, 500 * (1 << Math.Min(failures, 5))) + _random.Next(0, 500)),
                };
                if (end == SessionEnd.Stopping)
                    break;
                await Task.Delay(delay, shutdown);
            }
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
        }
    }

    private async Task<(SessionEnd End, int ReconnectWait)> RunSessionAsync()
    {
        var server = _server;
        var socket = new Socket(server.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var session = new Session(socket, _simulation.Shutdown);
        Interlocked.Increment(ref _metrics.ConnectAttempts);
        try
        {
            if (_source != null)
            {
                TryDeferPortChoice(socket);
                socket.Bind(new IPEndPoint(_source, 0));
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_simulation.Shutdown);
            timeout.CancelAfter(ConnectTimeout);
            await socket.ConnectAsync(server.Address, timeout.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            session.Cts.Dispose();
            if (_simulation.Shutdown.IsCancellationRequested)
                return (SessionEnd.Stopping, 0);
            Interlocked.Increment(ref _metrics.ConnectFailures);
            var what = e is SocketException se ? se.SocketErrorCode.ToString() : "timed out";
            _metrics.Errors.Add($"connect to {server} from {(_source?.ToString() ?? "any address")}: {what}");
            return (SessionEnd.ConnectFailed, 0);
        }

        _metrics.ConnectionOpened();
        if (Interlocked.Increment(ref _sessions) > 1)
            Interlocked.Increment(ref _simulation.Reconnects);
        lock (_lock)
            _session = session;
        var reader = ReadLoopAsync(session);
        try
        {
            await SendLoginAsync(session);
            bool loggedIn;
            try
            {
                loggedIn = await session.LoginResult.Task.WaitAsync(LoginTimeout, session.Cts.Token);
            }
            catch (TimeoutException)
            {
                _metrics.Errors.Add($"no answer to subscribe/authorize from {server} within {LoginTimeout.TotalSeconds:0} s");
                session.Close(SessionEnd.LoginFailed);
                loggedIn = false;
            }
            if (!loggedIn)
            {
                session.Close(SessionEnd.LoginFailed);
            }
            else
            {
                lock (_lock)
                    session.LoggedIn = true;
                Interlocked.Increment(ref _metrics.Logins);
                Interlocked.Increment(ref _metrics.LoggedInNow);
                try
                {
                    if (_simulation.Settings.Hashrate is { } hashrate)
                        await HashrateLoopAsync(session, hashrate);
                    else
                        await RateLoopAsync(session, _simulation.Settings.Rate!.Value);
                }
                catch (OperationCanceledException) when (!session.Cts.IsCancellationRequested)
                {
                    // Submitting stopped (the run is ending), not the connection.
                }
                // Stay connected so the answers in flight arrive, until the run shuts down.
                await Task.Delay(Timeout.Infinite, session.Cts.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            session.Close(EndedByPeerUnlessStopping(session));
        }
        finally
        {
            session.Close(EndedByPeerUnlessStopping(session));
            await reader;
            socket.Dispose();
            EndSession(session);
        }
        if (session.End == SessionEnd.ServerAskedReconnect && session.ReconnectTo is { } target)
            _server = target;
        return (session.End, session.ReconnectWaitSeconds);
    }

    private void EndSession(Session session)
    {
        lock (_lock)
        {
            if (ReferenceEquals(_session, session))
                _session = null;
        }
        Interlocked.Decrement(ref _metrics.Open);
        if (session.LoggedIn)
            Interlocked.Decrement(ref _metrics.LoggedInNow);
        switch (session.End)
        {
            case SessionEnd.ClosedByServer: Interlocked.Increment(ref _metrics.ClosedByServer); break;
            case SessionEnd.Storm: Interlocked.Increment(ref _metrics.StormDisconnects); break;
        }
        List<Pending> lost;
        lock (session.Sync)
        {
            lost = [.. session.Pending.Values];
            session.Pending.Clear();
        }
        foreach (var pending in lost)
        {
            Interlocked.Increment(ref _metrics[pending.Kind].Unanswered);
            Interlocked.Decrement(ref _simulation.InFlight);
            if (pending.Gated)
                _simulation.Gate.Complete(accepted: false);
        }
        session.Cts.Dispose();
    }

    /// <summary>IP_BIND_ADDRESS_NO_PORT: bind picks the port at connect time, so one source address serves ~28,000
    /// connections per server rather than in total. Best effort (Linux only).</summary>
    private static void TryDeferPortChoice(Socket socket)
    {
        if (!OperatingSystem.IsLinux() || socket.AddressFamily != AddressFamily.InterNetwork)
            return;
        try
        {
            socket.SetRawSocketOption(0 /* IPPROTO_IP */, 24 /* IP_BIND_ADDRESS_NO_PORT */, [1, 0, 0, 0]);
        }
        catch (SocketException)
        {
        }
    }

    // ------------------------------------------------------------------ reading

    private async Task ReadLoopAsync(Session session)
    {
        await Task.Yield();
        var stream = new NetworkStream(session.Socket, ownsSocket: false);
        var pipe = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true));
        using var lines = new StratumLineReader(pipe, 256 * 1024);
        try
        {
            bool more;
            do
            {
                more = await lines.ReadAsync(session.Cts.Token);
                LineStatus status;
                while ((status = lines.TryReadLine(out var line)) == LineStatus.Line)
                    HandleLine(session, line);
                if (status == LineStatus.LineTooLong)
                {
                    _metrics.Errors.Add($"a line from {_server} longer than {lines.MaxLineLength} bytes");
                    session.Close(SessionEnd.ProtocolError);
                    break;
                }
            } while (more);
            session.Close(EndedByPeerUnlessStopping(session));
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            session.Close(EndedByPeerUnlessStopping(session));
        }
        finally
        {
            await pipe.CompleteAsync();
            await stream.DisposeAsync();
        }
    }

    /// <summary>A read that ends because this side is closing the connection is not the server closing it.</summary>
    private SessionEnd EndedByPeerUnlessStopping(Session session) =>
        _simulation.Shutdown.IsCancellationRequested ? SessionEnd.Stopping : SessionEnd.ClosedByServer;

    private void HandleLine(Session session, ReadOnlySpan<byte> line)
    {
        var now = Stopwatch.GetTimestamp();
        if (!ServerMessage.TryParse(line, out var message, out var problem))
        {
            _metrics.Errors.Add($"unreadable line from the server: {problem}");
            return;
        }
        switch (message.Type)
        {
            case ServerMessageType.Response:
                HandleResponse(session, in message, now);
                break;
            case ServerMessageType.Notify:
                HandleNotify(session, in message, now);
                break;
            case ServerMessageType.SetDifficulty:
                if (ServerParams.TryParseSetDifficulty(message.Params, out var difficulty))
                {
                    Interlocked.Increment(ref _metrics.DifficultyChanges);
                    lock (session.Sync)
                        if (session.Target.Difficulty != difficulty)
                            session.Target = new ShareTarget(difficulty);
                }
                else
                {
                    _metrics.Errors.Add("mining.set_difficulty without a positive number");
                }
                break;
            case ServerMessageType.SetExtranonce:
                if (ServerParams.TryParseSetExtranonce(message.Params, out var extranonce1, out var extranonce2Size, out var extranonceProblem))
                {
                    Interlocked.Increment(ref _metrics.ExtranonceChanges);
                    lock (session.Sync)
                    {
                        session.Extranonce1 = extranonce1;
                        session.Extranonce2Size = extranonce2Size;
                    }
                }
                else
                {
                    _metrics.Errors.Add(extranonceProblem!);
                }
                break;
            case ServerMessageType.SetVersionMask:
                // This miner does not roll version bits (it sends no mining.configure); a mask changes nothing.
                Interlocked.Increment(ref _metrics.VersionMasks);
                break;
            case ServerMessageType.Reconnect:
                Interlocked.Increment(ref _metrics.ServerReconnectRequests);
                if (ServerParams.TryParseReconnect(message.Params, out var host, out var port, out var wait))
                {
                    session.ReconnectWaitSeconds = wait;
                    session.ReconnectTo = ResolveReconnectTarget(host, port);
                }
                session.Close(SessionEnd.ServerAskedReconnect);
                break;
            default:
                Interlocked.Increment(ref _metrics.OtherMethods);
                break;
        }
    }

    private StratumEndpoint? ResolveReconnectTarget(string? host, int? port)
    {
        if (host == null && port == null)
            return null;
        var current = _server;
        var targetHost = host ?? current.Host;
        var targetPort = port ?? current.Port;
        if (IPAddress.TryParse(targetHost, out var address))
            return new StratumEndpoint(targetHost, targetPort, new IPEndPoint(address, targetPort));
        try
        {
            var resolved = Dns.GetHostAddresses(targetHost).FirstOrDefault(a => a.AddressFamily == current.Address.AddressFamily);
            if (resolved != null)
                return new StratumEndpoint(targetHost, targetPort, new IPEndPoint(resolved, targetPort));
        }
        catch (SocketException)
        {
        }
        _metrics.Errors.Add($"client.reconnect to {targetHost}:{targetPort}: cannot resolve; reconnecting to {current}");
        return null;
    }

    private void HandleResponse(Session session, in ServerMessage message, long now)
    {
        if (message.Id == SubscribeId)
        {
            string? problem = null;
            if (message.HasError || !ServerParams.TryParseSubscribeResult(message.Result, out var extranonce1, out var extranonce2Size, out problem))
            {
                Interlocked.Increment(ref _metrics.SubscribeFailures);
                _metrics.Errors.Add(message.HasError
                    ? $"mining.subscribe rejected: {message.ErrorCode} {message.ErrorText}"
                    : $"mining.subscribe answer unusable: {problem}");
                session.LoginResult.TrySetResult(false);
                return;
            }
            lock (session.Sync)
            {
                session.Extranonce1 = extranonce1;
                session.Extranonce2Size = extranonce2Size;
                session.Subscribed = true;
            }
            return;
        }
        if (message.Id == AuthorizeId)
        {
            if (message.IsTrueResult)
            {
                session.LoginResult.TrySetResult(true);
                return;
            }
            Interlocked.Increment(ref _metrics.AuthorizeFailures);
            _metrics.Errors.Add(message.HasError
                ? $"mining.authorize rejected: {message.ErrorCode} {message.ErrorText}"
                : "mining.authorize answered false");
            session.LoginResult.TrySetResult(false);
            return;
        }

        Pending pending;
        lock (session.Sync)
        {
            if (message.Id is { } id && session.Pending.Remove(id, out pending))
            {
            }
            else if (message.Id == null && message.HasError && session.TakeOldestGarbage(out pending))
            {
                // A server that could not read the id of a garbage line answers with id null.
            }
            else
            {
                Interlocked.Increment(ref _metrics.UnexpectedAnswers);
                return;
            }
        }
        Interlocked.Decrement(ref _simulation.InFlight);
        _metrics.AnswerLatency.RecordTicks(now - pending.SentTimestamp);
        var counters = _metrics[pending.Kind];
        var accepted = message.IsTrueResult;
        if (accepted)
        {
            Interlocked.Increment(ref counters.Accepted);
            _user.AddAccepted(pending.Difficulty);
        }
        else
        {
            counters.Reject(message.ErrorCode);
            Interlocked.Increment(ref _user.Rejected);
        }
        if (pending.Gated)
            _simulation.Gate.Complete(accepted);
    }

    private void HandleNotify(Session session, in ServerMessage message, long now)
    {
        Interlocked.Increment(ref _metrics.Notifies);
        if (!ServerParams.TryParseNotifyHead(message.Params, out var jobIdJson, out var clean, out var jobText))
        {
            _metrics.Errors.Add("mining.notify params are not the 9 stratum fields");
            return;
        }
        if (clean)
            Interlocked.Increment(ref _metrics.CleanNotifies);
        byte[] extranonce1;
        int extranonce2Size;
        ShareTarget target;
        lock (session.Sync)
        {
            if (!session.Subscribed)
            {
                _metrics.Errors.Add("mining.notify before the subscribe answer (no extranonce1 yet)");
                return;
            }
            extranonce1 = session.Extranonce1;
            extranonce2Size = session.Extranonce2Size;
            target = session.Target;
        }
        SharedJob shared;
        try
        {
            shared = _simulation.Jobs.GetOrAdd(jobIdJson, jobText, message.Params, extranonce1.Length + extranonce2Size,
                (long)_metrics.Notify.UnixMsAt(now));
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            _metrics.Errors.Add("unusable mining.notify: " + e.Message);
            return;
        }
        var job = new MiningJob(shared, target, extranonce1, extranonce2Size, clean, now);
        bool first;
        lock (session.Sync)
        {
            if (clean)
            {
                foreach (var live in session.LiveJobs)
                {
                    live.Superseded = true;
                    session.RememberStale(live);
                }
                session.LiveJobs.Clear();
            }
            session.LiveJobs.Add(job);
            if (session.LiveJobs.Count > 16)
                session.LiveJobs.RemoveAt(0);
            session.Job = job;
            if (session.CurrentSlice is { } grinding)
                grinding.Abandon = true;
            first = !session.SeenNotify;
            session.SeenNotify = true;
            session.JobArrived.TrySetResult();
        }
        if (!first)
            _metrics.Notify.Record(shared, clean, now);
    }

    // ------------------------------------------------------------------ writing

    private async Task SendLoginAsync(Session session)
    {
        var buffer = session.SendBuffer;
        var length = 0;
        Append(buffer, ref length, "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"poolcluster-simulator/1.0\"]}\n{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\""u8);
        Append(buffer, ref length, _loginJson);
        Append(buffer, ref length, "\",\""u8);
        Append(buffer, ref length, Encoding.UTF8.GetBytes(JsonEscape(_simulation.Settings.Password)));
        Append(buffer, ref length, "\"]}\n"u8);
        await SendAsync(session, buffer.AsMemory(0, length));
    }

    private static string JsonEscape(string text) => System.Text.Json.JsonEncodedText.Encode(text).ToString();

    private static void Append(byte[] buffer, ref int length, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(buffer.AsSpan(length));
        length += bytes.Length;
    }

    private static async ValueTask SendAsync(Session session, ReadOnlyMemory<byte> bytes)
    {
        while (bytes.Length > 0)
        {
            var sent = await session.Socket.SendAsync(bytes, SocketFlags.None, session.Cts.Token);
            if (sent <= 0)
                throw new IOException("the connection closed while sending");
            bytes = bytes[sent..];
        }
    }

    /// <summary>mining.submit for (job, extranonce2, nonce), registered as pending before it leaves.</summary>
    private ValueTask SubmitAsync(Session session, MiningJob job, ulong extranonce2, uint nonce, ShareKind kind, bool gated,
        ReadOnlySpan<byte> jobIdOverride = default)
    {
        var buffer = session.SendBuffer;
        var length = 0;
        long id;
        lock (session.Sync)
            id = session.NextId++;
        Append(buffer, ref length, "{\"id\":"u8);
        Utf8Formatter.TryFormat(id, buffer.AsSpan(length), out var written);
        length += written;
        Append(buffer, ref length, ",\"method\":\"mining.submit\",\"params\":[\""u8);
        Append(buffer, ref length, _loginJson);
        Append(buffer, ref length, "\",\""u8);
        Append(buffer, ref length, jobIdOverride.IsEmpty ? job.Shared.JobIdJson : jobIdOverride);
        Append(buffer, ref length, "\",\""u8);
        length += WriteExtranonce2Hex(extranonce2, job.Extranonce2Size, buffer.AsSpan(length));
        Append(buffer, ref length, "\",\""u8);
        length += WriteHex32(job.Shared.NTime, buffer.AsSpan(length));
        Append(buffer, ref length, "\",\""u8);
        length += WriteHex32(nonce, buffer.AsSpan(length));
        Append(buffer, ref length, "\"]}\n"u8);
        return SendTrackedAsync(session, id, kind, job.Difficulty, gated, buffer.AsMemory(0, length));
    }

    private ValueTask SendTrackedAsync(Session session, long id, ShareKind kind, double difficulty, bool gated, ReadOnlyMemory<byte> line)
    {
        // Counted in flight before looking at the stop flag: the drain, which reads the count after setting the flag,
        // then either sees this submit or this submit sees the flag and is not sent.
        Interlocked.Increment(ref _simulation.InFlight);
        if (_simulation.SubmitStop.IsCancellationRequested)
        {
            Interlocked.Decrement(ref _simulation.InFlight);
            if (gated)
                _simulation.Gate.Complete(accepted: false);
            return ValueTask.CompletedTask;
        }
        lock (session.Sync)
            session.Pending[id] = new Pending(Stopwatch.GetTimestamp(), kind, difficulty, gated);
        Interlocked.Increment(ref _metrics[kind].Sent);
        Interlocked.Increment(ref _user.Submitted);
        return SendAsync(session, line);
    }

    private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

    private static int WriteHex32(uint value, Span<byte> destination)
    {
        for (var i = 7; i >= 0; i--)
        {
            destination[i] = HexDigits[(int)(value & 0xF)];
            value >>= 4;
        }
        return 8;
    }

    /// <summary>The extranonce2 counter as <paramref name="size"/> big-endian bytes in hex.</summary>
    private static int WriteExtranonce2Hex(ulong value, int size, Span<byte> destination)
    {
        for (var i = size * 2 - 1; i >= 0; i--)
        {
            destination[i] = HexDigits[(int)(value & 0xF)];
            value >>= 4;
        }
        return size * 2;
    }

    private static void WriteExtranonce2(ulong value, Span<byte> destination)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)value;
            value >>= 8;
        }
    }

    // ------------------------------------------------------------------ producing shares

    /// <summary>--rate: a share due every 1/rate seconds (random phase); each is found by hashing or taken blind.</summary>
    private async Task RateLoopAsync(Session session, double rate)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(session.Cts.Token, _simulation.SubmitStop);
        var token = linked.Token;
        var interval = (long)(Stopwatch.Frequency / rate);
        var next = Stopwatch.GetTimestamp() + (long)(_random.NextDouble() * interval);
        var badFraction = _simulation.Settings.BadShareFraction;
        while (!token.IsCancellationRequested)
        {
            await DelayUntilAsync(next, token);
            var job = await CurrentJobAsync(session, token);
            if (badFraction > 0 && _random.NextDouble() < badFraction)
            {
                await SubmitBadAsync(session, job);
            }
            else if (_simulation.Gate.TryReserve())
            {
                FoundShare? share = null;
                try
                {
                    share = await FindShareAsync(session, token);
                }
                finally
                {
                    // Not found (the connection or the run ended first): the place goes back to the --shares count.
                    if (share == null)
                        _simulation.Gate.Complete(accepted: false);
                }
                if (share is { } found)
                {
                    lock (session.Sync)
                        session.LastGood = found;
                    await SubmitAsync(session, found.Job, found.Extranonce2, found.Nonce, ShareKind.Good, gated: true);
                }
            }
            else
            {
                // --shares reached with answers still in flight: wait and see whether one is rejected.
                next = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20;
                continue;
            }
            next += interval;
            var now = Stopwatch.GetTimestamp();
            if (next < now - interval)
                next = now; // fell behind (hashing slower than the rate): do not burst to catch up
        }
    }

    /// <summary>--hashrate: grind continuously, paced to the hash rate, and submit every share found.</summary>
    private async Task HashrateLoopAsync(Session session, double hashrate)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(session.Cts.Token, _simulation.SubmitStop);
        var token = linked.Token;
        var badFraction = _simulation.Settings.BadShareFraction;
        var badPerGood = badFraction / (1 - badFraction);
        var sliceNonces = (uint)Math.Clamp(hashrate * 0.05, 1, HashingPool.DefaultSliceNonces);
        while (!token.IsCancellationRequested)
        {
            var job = await CurrentJobAsync(session, token);
            var started = Stopwatch.GetTimestamp();
            var slice = await GrindSliceAsync(session, job, sliceNonces, stopAtFirst: false);
            foreach (var nonce in slice.Found)
            {
                Interlocked.Increment(ref _metrics.RealShares);
                if (job.Superseded || token.IsCancellationRequested || !_simulation.Gate.TryReserve())
                    continue;
                lock (session.Sync)
                    session.LastGood = new FoundShare(job, slice.Extranonce2Counter, nonce);
                await SubmitAsync(session, job, slice.Extranonce2Counter, nonce, ShareKind.Good, gated: true);
                for (var bad = badPerGood; bad > 0; bad--)
                    if (bad >= 1 || _random.NextDouble() < bad)
                        await SubmitBadAsync(session, job);
            }
            var due = started + (long)(slice.Slice.HashesDone / hashrate * Stopwatch.Frequency);
            await DelayUntilAsync(due, token);
        }
    }

    private readonly record struct FoundShare(MiningJob Job, ulong Extranonce2, uint Nonce);

    private readonly record struct GrindOutcome(GrindSlice Slice, ulong Extranonce2Counter)
    {
        public List<uint> Found => Slice.Found;
    }

    /// <summary>The next good share of the current job: by hashing, or blind when the difficulty rules hashing out.</summary>
    private async ValueTask<FoundShare?> FindShareAsync(Session session, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            var job = await CurrentJobAsync(session, token);
            if (!_simulation.ShouldHash(job))
            {
                var (extranonce2, nonce) = TakeNonce(session, job);
                Interlocked.Increment(ref _metrics.BlindShares);
                var en2 = session.Extranonce2Scratch(job.Extranonce2Size);
                WriteExtranonce2(extranonce2, en2);
                if (job.Shared.Checker.Check(job.Extranonce1, en2, job.Shared.NTime, nonce, job.ShareTarget.Target).IsValid)
                    Interlocked.Increment(ref _metrics.BlindLocallyValid);
                return new FoundShare(job, extranonce2, nonce);
            }
            var outcome = await GrindSliceAsync(session, job, HashingPool.DefaultSliceNonces, stopAtFirst: true);
            if (outcome.Found.Count > 0)
            {
                Interlocked.Increment(ref _metrics.RealShares);
                if (!job.Superseded)
                    return new FoundShare(job, outcome.Extranonce2Counter, outcome.Found[0]);
            }
        }
        return null;
    }

    /// <summary>Grinds the job's next nonces on the hashing pool and moves the job's cursor past them.</summary>
    private async ValueTask<GrindOutcome> GrindSliceAsync(Session session, MiningJob job, uint maxNonces, bool stopAtFirst)
    {
        StartJob(session, job);
        var remaining = (uint)Math.Min(maxNonces, 0x1_0000_0000UL - job.NextNonce);
        var extranonce2 = new byte[job.Extranonce2Size];
        WriteExtranonce2(job.Extranonce2, extranonce2);
        var slice = new GrindSlice(job, extranonce2, job.NextNonce, remaining, stopAtFirst);
        var counter = job.Extranonce2;
        lock (session.Sync)
            session.CurrentSlice = slice;
        if (job.Superseded)
            slice.Abandon = true;
        await _simulation.Pool.GrindAsync(slice);
        lock (session.Sync)
            session.CurrentSlice = null;
        Advance(session, job, slice.HashesDone);
        return new GrindOutcome(slice, counter);
    }

    private static void StartJob(Session session, MiningJob job)
    {
        if (job.Started)
            return;
        job.Started = true;
        job.Extranonce2 = session.NextExtranonce2++;
        job.NextNonce = 0;
    }

    /// <summary>Moves past <paramref name="count"/> nonces; a full nonce space moves on to a fresh extranonce2.</summary>
    private static void Advance(Session session, MiningJob job, uint count)
    {
        var next = (ulong)job.NextNonce + count;
        if (next >= 0x1_0000_0000UL)
        {
            job.Extranonce2 = session.NextExtranonce2++;
            job.NextNonce = 0;
        }
        else
        {
            job.NextNonce = (uint)next;
        }
    }

    private static (ulong Extranonce2, uint Nonce) TakeNonce(Session session, MiningJob job)
    {
        StartJob(session, job);
        var taken = (job.Extranonce2, job.NextNonce);
        Advance(session, job, 1);
        return taken;
    }

    private async ValueTask SubmitBadAsync(Session session, MiningJob job)
    {
        var kinds = _simulation.Settings.BadShareKinds;
        var first = _random.Next(kinds.Count);
        for (var attempt = 0; attempt < kinds.Count; attempt++)
        {
            switch (kinds[(first + attempt) % kinds.Count])
            {
                case BadShareKind.Stale:
                {
                    MiningJob? stale;
                    lock (session.Sync)
                        stale = session.NewestStale;
                    if (stale != null)
                    {
                        var (extranonce2, nonce) = TakeNonce(session, stale);
                        await SubmitAsync(session, stale, extranonce2, nonce, ShareKind.Stale, gated: false);
                    }
                    else
                    {
                        // No job was replaced yet: name one that was never issued (the last hex digit changed).
                        var id = job.Shared.JobIdJson.ToArray();
                        id[^1] = id[^1] == (byte)'0' ? (byte)'1' : (byte)'0';
                        var (extranonce2, nonce) = TakeNonce(session, job);
                        await SubmitAsync(session, job, extranonce2, nonce, ShareKind.Stale, gated: false, id);
                    }
                    return;
                }
                case BadShareKind.Duplicate:
                {
                    FoundShare? last;
                    lock (session.Sync)
                        last = session.LastGood;
                    if (last is { } share && ReferenceEquals(share.Job, job) && !job.Superseded)
                    {
                        await SubmitAsync(session, job, share.Extranonce2, share.Nonce, ShareKind.Duplicate, gated: false);
                        return;
                    }
                    break;
                }
                case BadShareKind.LowDifficulty:
                {
                    var en2 = session.Extranonce2Scratch(job.Extranonce2Size);
                    for (var tries = 0; tries < 64; tries++)
                    {
                        var (extranonce2, nonce) = TakeNonce(session, job);
                        WriteExtranonce2(extranonce2, en2);
                        if (job.Shared.Checker.Check(job.Extranonce1, en2, job.Shared.NTime, nonce, job.ShareTarget.Target).Status
                            == ShareCheckStatus.LowDifficulty)
                        {
                            await SubmitAsync(session, job, extranonce2, nonce, ShareKind.LowDifficulty, gated: false);
                            return;
                        }
                    }
                    break; // the difficulty is so low that every hash meets it
                }
                case BadShareKind.Garbage:
                {
                    var buffer = session.SendBuffer;
                    var length = 0;
                    long id;
                    lock (session.Sync)
                        id = session.NextId++;
                    Append(buffer, ref length, "{\"id\":"u8);
                    Utf8Formatter.TryFormat(id, buffer.AsSpan(length), out var written);
                    length += written;
                    Append(buffer, ref length, ",\"method\":\"mining.submit\",\"params\":[\""u8);
                    Append(buffer, ref length, _loginJson);
                    Append(buffer, ref length, "\",\n"u8);
                    await SendTrackedAsync(session, id, ShareKind.Garbage, job.Difficulty, gated: false, buffer.AsMemory(0, length));
                    return;
                }
            }
        }
        Interlocked.Increment(ref _metrics.BadShareUnavailable);
    }

    private static async ValueTask<MiningJob> CurrentJobAsync(Session session, CancellationToken token)
    {
        while (true)
        {
            Task arrived;
            lock (session.Sync)
            {
                if (session.Job != null)
                    return session.Job;
                arrived = session.JobArrived.Task;
            }
            await arrived.WaitAsync(token);
        }
    }

    private static Task DelayUntilAsync(long timestamp, CancellationToken token)
    {
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        return wait > TimeSpan.Zero ? Task.Delay(wait, token) : Task.CompletedTask;
    }

    // ------------------------------------------------------------------ state of one connection

    private readonly record struct Pending(long SentTimestamp, ShareKind Kind, double Difficulty, bool Gated);

    private sealed class Session
    {
        public Session(Socket socket, CancellationToken shutdown)
        {
            Socket = socket;
            Cts = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        }

        public Socket Socket { get; }
        public CancellationTokenSource Cts { get; }
        public readonly object Sync = new();
        public readonly byte[] SendBuffer = new byte[1024];
        public readonly TaskCompletionSource<bool> LoginResult = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource JobArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly Dictionary<long, Pending> Pending = [];
        public readonly List<MiningJob> LiveJobs = [];
        private readonly MiningJob?[] _stale = new MiningJob?[4];
        private int _staleCount;
        private byte[] _extranonce2Scratch = [];
        private int _end = -1;

        public bool LoggedIn;
        public bool Subscribed;
        public bool SeenNotify;
        public byte[] Extranonce1 = [];
        public int Extranonce2Size;
        public ShareTarget Target = ShareTarget.Default;
        public MiningJob? Job;
        public GrindSlice? CurrentSlice;
        public FoundShare? LastGood;
        public long NextId = 3;
        public ulong NextExtranonce2;
        public StratumEndpoint? ReconnectTo;
        public int ReconnectWaitSeconds;

        public SessionEnd End => _end < 0 ? SessionEnd.Stopping : (SessionEnd)_end;

        public MiningJob? NewestStale => _staleCount == 0 ? null : _stale[(_staleCount - 1) % _stale.Length];

        public void RememberStale(MiningJob job) => _stale[_staleCount++ % _stale.Length] = job;

        public byte[] Extranonce2Scratch(int size)
        {
            if (_extranonce2Scratch.Length != size)
                _extranonce2Scratch = new byte[size];
            return _extranonce2Scratch;
        }

        public bool TakeOldestGarbage(out Pending pending)
        {
            long oldest = long.MaxValue;
            foreach (var (id, entry) in Pending)
                if (entry.Kind == ShareKind.Garbage && id < oldest)
                    oldest = id;
            if (oldest == long.MaxValue)
            {
                pending = default;
                return false;
            }
            return Pending.Remove(oldest, out pending);
        }

        /// <summary>Ends the connection (the first reason given is kept); false when it had already ended.</summary>
        public bool Close(SessionEnd reason)
        {
            if (Interlocked.CompareExchange(ref _end, (int)reason, -1) != -1)
                return false;
            try
            {
                Cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
            try
            {
                Socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
            return true;
        }
    }
}
