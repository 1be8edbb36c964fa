using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using PoolCluster.Stratum;

namespace PoolCluster.SServer;

/// <summary>
/// The socket side of one miner: reads newline-framed requests and hands each line to its <see cref="StratumSession"/>;
/// writes what the session and the job broadcasts send; enforces the per-client limits.
/// <para>
/// Memory: an idle connection holds no buffer. It waits with a zero-byte receive (the kernel says "readable" without
/// a buffer being pinned), then rents a receive buffer from the shared pool, takes every complete line, and returns
/// the buffer unless a partial line is left. Sends go straight to the socket without blocking; only what the kernel
/// does not take is queued, in rented buffers, up to <see cref="LimitOptions.MaxSendQueueBytes"/>: a client that does
/// not read is dropped, never buffered without bound.
/// </para>
/// <para>
/// Limits: a line over <see cref="LimitOptions.MaxLineBytes"/> disconnects; the session counts invalid lines; a
/// deadline (short before authorize, long after, refreshed by each line once authorized) is enforced by the server's
/// housekeeping timer; an optional PROXY protocol v1 header gives the real client address; TLS is optional.
/// </para>
/// </summary>
public sealed class MinerConnection
{
    private readonly Socket _socket;
    private readonly StratumServer _server;
    private readonly bool _expectProxyHeader;
    private readonly int _maxLineBytes;
    private SslStream? _tls;
    private byte[]? _receive;
    private int _received;
    private int _consumed;

    // Send queue (under lock(this)): bytes the kernel has not taken yet.
    private byte[]? _filling;
    private int _fillingCount;
    private int _inFlight;
    private bool _flushing;
    private TaskCompletionSource? _flushed;

    private int _closed;
    private volatile bool _closeRequested;
    private string _closeReason = "";
    private IPAddress? _admittedAs;
    private long _deadline;

    internal MinerConnection(StratumServer server, Socket socket, IPEndPoint remote, uint sessionId, bool tls, IPAddress? admittedAs)
    {
        _server = server;
        _socket = socket;
        RemoteEndPoint = remote;
        IsTls = tls;
        _admittedAs = admittedAs;
        _expectProxyHeader = server.Options.ProxyProtocol;
        _maxLineBytes = server.Options.Limits.MaxLineBytes;
        Session = new StratumSession(server, this, sessionId);
    }

    public StratumSession Session { get; }

    /// <summary>The client's address: the socket's peer, or the PROXY header's source.</summary>
    public IPEndPoint RemoteEndPoint { get; private set; }

    public bool IsTls { get; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Why the connection closed (empty while open).</summary>
    public string CloseReason => _closeReason;

    /// <summary>Bytes waiting to be sent (queue plus the write in flight).</summary>
    public int QueuedBytes
    {
        get
        {
            lock (this)
                return _fillingCount + _inFlight;
        }
    }

    /// <summary>Whether the receive buffer is rented now (false for an idle connection).</summary>
    internal bool HoldsReceiveBuffer => _receive != null;

    internal long Deadline
    {
        get => Volatile.Read(ref _deadline);
        set => Volatile.Write(ref _deadline, value);
    }

    internal async Task RunAsync()
    {
        var now = _server.Time.GetTimestamp();
        Deadline = now + _server.Options.Limits.UnauthorizedTimeoutSeconds * _server.Time.TimestampFrequency;
        try
        {
            if (IsTls && !await AuthenticateTlsAsync().ConfigureAwait(false))
                return;
            if (!_expectProxyHeader)
                Session.OnConnected();

            while (!IsClosed)
            {
                if (_received == 0)
                {
                    // Idle: wait for data without holding a buffer (what keeps an idle connection at a few hundred bytes).
                    if (_tls == null)
                        await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                    else
                        await _tls.ReadAsync(Memory<byte>.Empty).ConfigureAwait(false);
                }
                // At least a full line and its terminator: a partial line longer than the cap is always detected.
                _receive ??= ArrayPool<byte>.Shared.Rent(_maxLineBytes + 2);
                var read = _tls == null
                    ? await _socket.ReceiveAsync(_receive.AsMemory(_received), SocketFlags.None).ConfigureAwait(false)
                    : await _tls.ReadAsync(_receive.AsMemory(_received)).ConfigureAwait(false);
                if (read == 0)
                {
                    Close("closed by the client");
                    break;
                }
                _received += read;

                Task? pending;
                while ((pending = ProcessLines()) != null)
                    await pending.ConfigureAwait(false);

                if (_closeRequested)
                {
                    await DrainSendQueueAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                    Close(_closeReason);
                    break;
                }
                if (_received == 0 && _receive != null)
                {
                    ArrayPool<byte>.Shared.Return(_receive);
                    _receive = null;
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or AuthenticationException or OperationCanceledException)
        {
            Close(IsClosed ? _closeReason : e.Message);
        }
        catch (Exception e)
        {
            _server.Logger.LogError(e, "session {Session:x8} from {Ip} failed", Session.SessionId, RemoteEndPoint.Address);
            Close("internal error: " + e.Message);
        }
        finally
        {
            Cleanup();
        }
    }

    /// <summary>
    /// Hands the complete lines in the receive buffer to the session. Returns null when all were handled, or a task
    /// (authorize waiting for the user directory, a solved block waiting for Kafka) to await before calling again:
    /// later lines wait for it, so answers keep their order.
    /// </summary>
    private Task? ProcessLines()
    {
        var now = _server.Time.GetTimestamp();
        var outbox = Outbox.Rent();
        try
        {
            while (!IsClosed && !_closeRequested)
            {
                var buffer = new ReadOnlySequence<byte>(_receive!, _consumed, _received - _consumed);
                var status = StratumLineFramer.TryReadLine(ref buffer, _maxLineBytes, out var line);
                if (status == LineStatus.NeedMoreData)
                    break;
                if (status == LineStatus.LineTooLong)
                {
                    Send(outbox.WrittenSpan);
                    Garbage($"a line longer than {_maxLineBytes} bytes (Stratum:Limits:MaxLineBytes)", now);
                    _received = _consumed = 0;
                    return null;
                }
                _consumed = _received - (int)buffer.Length;

                if (_expectProxyHeader && !_proxyHeaderSeen)
                {
                    AcceptProxyHeader(line.FirstSpan, now);
                    continue;
                }

                var pending = Session.HandleLine(line.FirstSpan, outbox, now);
                if (pending != null)
                {
                    Send(outbox.WrittenSpan);
                    return pending;
                }
            }
            if (Session.IsAuthorized)
                Deadline = now + _server.Options.Limits.IdleTimeoutSeconds * _server.Time.TimestampFrequency;
            Send(outbox.WrittenSpan);
            // Keep only the partial line, at the front.
            var left = _received - _consumed;
            if (left > 0 && _consumed > 0)
                Buffer.BlockCopy(_receive!, _consumed, _receive!, 0, left);
            _received = left;
            _consumed = 0;
            return null;
        }
        finally
        {
            Outbox.Return(outbox);
        }
    }

    private bool _proxyHeaderSeen;

    private void AcceptProxyHeader(ReadOnlySpan<byte> line, long now)
    {
        _proxyHeaderSeen = true;
        if (!ProxyProtocolHeader.TryParse(line, out var source, out var error))
        {
            _server.Gate.Strike(RemoteEndPoint.Address, now, error);
            RequestClose(error);
            return;
        }
        if (source != null)
            RemoteEndPoint = source;
        var admission = _server.Gate.TryAdmit(RemoteEndPoint.Address, now, countedInTotal: true);
        if (admission != Admission.Admitted)
        {
            // The gate already took this connection out of the total.
            _admittedAs = null;
            _admissionReleased = true;
            _server.Counters.ConnectionRefused();
            RequestClose($"refused after the PROXY header: {admission}");
            return;
        }
        _admittedAs = RemoteEndPoint.Address;
        Session.OnConnected();
    }

    private bool _admissionReleased;

    /// <summary>A line that is not stratum: counted by the session; a line too long or a broken PROXY header ends the connection.</summary>
    private void Garbage(string reason, long now)
    {
        _server.Counters.GarbageDisconnect();
        _server.Gate.Strike(RemoteEndPoint.Address, now, reason);
        RequestClose(reason);
    }

    internal void GarbageDisconnect(string reason, long now) => Garbage(reason, now);

    private async Task<bool> AuthenticateTlsAsync()
    {
        var options = _server.TlsOptions ?? throw new InvalidOperationException("TLS connection without a certificate");
        _tls = new SslStream(new NetworkStream(_socket, ownsSocket: false), leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(_server.Options.Tls.HandshakeTimeoutSeconds));
        try
        {
            await _tls.AuthenticateAsServerAsync(options, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or SocketException)
        {
            Close("TLS handshake failed: " + e.Message);
            return false;
        }
    }

    /// <summary>
    /// Sends <paramref name="data"/> without ever blocking: straight to the socket, the rest (if the kernel's buffer is
    /// full) queued and written asynchronously. A client whose queue would pass the limit is disconnected.
    /// Messages from different threads never interleave.
    /// </summary>
    public void Send(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
            return;
        lock (this)
        {
            if (IsClosed)
                return;
            if (!_flushing && _tls == null)
            {
                var sent = _socket.Send(data, SocketFlags.None, out var error);
                if (error == SocketError.Success && sent == data.Length)
                    return;
                if (error is not (SocketError.Success or SocketError.WouldBlock))
                {
                    CloseLocked("send failed: " + error);
                    return;
                }
                data = data[Math.Max(sent, 0)..];
            }
            if (_fillingCount + _inFlight + data.Length > _server.Options.Limits.MaxSendQueueBytes)
            {
                _server.Counters.SlowClientDropped();
                CloseLocked($"the client does not read: more than {_server.Options.Limits.MaxSendQueueBytes} bytes queued (Stratum:Limits:MaxSendQueueBytes)");
                return;
            }
            if (_filling == null || _filling.Length - _fillingCount < data.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(4096, _fillingCount + data.Length));
                if (_filling != null)
                {
                    Buffer.BlockCopy(_filling, 0, bigger, 0, _fillingCount);
                    ArrayPool<byte>.Shared.Return(_filling);
                }
                _filling = bigger;
            }
            data.CopyTo(_filling.AsSpan(_fillingCount));
            _fillingCount += data.Length;
            if (!_flushing)
            {
                _flushing = true;
                _ = FlushAsync();
            }
        }
    }

    private async Task FlushAsync()
    {
        byte[]? chunk = null;
        try
        {
            while (true)
            {
                int length;
                lock (this)
                {
                    if (IsClosed || _fillingCount == 0)
                    {
                        _flushing = false;
                        if (_shutdownAfterFlush && !IsClosed)
                            ShutdownSendLocked();
                        _flushed?.TrySetResult();
                        _flushed = null;
                        if (IsClosed)
                            ReturnFillingLocked();
                        return;
                    }
                    chunk = _filling!;
                    length = _fillingCount;
                    _filling = null;
                    _fillingCount = 0;
                    _inFlight = length;
                }
                if (_tls != null)
                {
                    await _tls.WriteAsync(chunk.AsMemory(0, length)).ConfigureAwait(false);
                }
                else
                {
                    for (var offset = 0; offset < length;)
                        offset += await _socket.SendAsync(chunk.AsMemory(offset, length - offset), SocketFlags.None).ConfigureAwait(false);
                }
                ArrayPool<byte>.Shared.Return(chunk);
                chunk = null;
                lock (this)
                    _inFlight = 0;
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            if (chunk != null)
                ArrayPool<byte>.Shared.Return(chunk);
            lock (this)
            {
                _inFlight = 0;
                _flushing = false;
                _flushed?.TrySetResult();
                _flushed = null;
                CloseLocked(IsClosed ? _closeReason : "send failed: " + e.Message);
                ReturnFillingLocked();
            }
        }
    }

    private Task DrainSendQueueAsync(TimeSpan timeout)
    {
        Task wait;
        lock (this)
        {
            if (!_flushing)
                return Task.CompletedTask;
            _flushed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _flushed.Task;
        }
        return wait.WaitAsync(timeout).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>Closes once the current lines are answered and sent (decided while handling a line).</summary>
    public void RequestClose(string reason)
    {
        if (_closeRequested)
            return;
        _closeReason = reason;
        _closeRequested = true;
    }

    internal bool CloseRequested => _closeRequested;

    /// <summary>
    /// Closes after what is queued has been sent, for a close decided outside the receive loop (a broadcast asking
    /// the miner to reconnect): the send side is shut down (the miner reads the last message, then end of stream)
    /// and the housekeeping timer closes the rest if the miner lingers.
    /// </summary>
    public void CloseAfterSend(string reason)
    {
        lock (this)
        {
            if (IsClosed)
                return;
            RequestClose(reason);
            Deadline = _server.Time.GetTimestamp() + 2 * _server.Time.TimestampFrequency;
            if (_flushing)
                _shutdownAfterFlush = true;
            else
                ShutdownSendLocked();
        }
    }

    private bool _shutdownAfterFlush;

    private void ShutdownSendLocked()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Closes now: the receive loop ends and cleans up. Idempotent, from any thread.</summary>
    public void Close(string reason)
    {
        lock (this)
            CloseLocked(reason);
    }

    private void CloseLocked(string reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
            return;
        _closeReason = reason;
        try
        {
            // Wakes the receive loop (its pending receive completes) without an exception on the hot path.
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void ReturnFillingLocked()
    {
        if (_filling != null)
        {
            ArrayPool<byte>.Shared.Return(_filling);
            _filling = null;
            _fillingCount = 0;
        }
    }

    private void Cleanup()
    {
        Close(_closeReason.Length > 0 ? _closeReason : "closed");
        if (_receive != null)
        {
            ArrayPool<byte>.Shared.Return(_receive);
            _receive = null;
        }
        lock (this)
            if (!_flushing)
                ReturnFillingLocked();
        _tls?.Dispose();
        _socket.Dispose();
        if (!_admissionReleased)
            _server.Gate.Release(_admittedAs);
        _server.OnConnectionClosed(this);
    }
}

/// <summary>
/// A per-thread reusable buffer the session writes its answers into before they are sent in one piece. Rented and
/// returned around each batch of lines; a nested use on the same thread simply gets a new one.
/// </summary>
internal static class Outbox
{
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_free;

    public static ArrayBufferWriter<byte> Rent()
    {
        var writer = t_free;
        if (writer == null)
            return new ArrayBufferWriter<byte>(4096);
        t_free = null;
        writer.ResetWrittenCount();
        return writer;
    }

    public static void Return(ArrayBufferWriter<byte> writer)
    {
        if (writer.Capacity <= 256 * 1024)
            t_free = writer;
    }
}
