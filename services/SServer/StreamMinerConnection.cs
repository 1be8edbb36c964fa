using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;

namespace PoolCluster.SServer;

/// <summary>
/// A miner over .NET's async sockets: TLS connections (through <see cref="SslStream"/>), and plain TCP when
/// <c>Stratum:IoEngine</c> is Sockets or epoll is not available.
/// <para>
/// Memory: an idle connection holds no buffer. It waits with a zero-byte receive (the kernel says "readable" without
/// a buffer being pinned), then rents a receive buffer from the shared pool, takes every complete line, and returns
/// the buffer unless a partial line is left. Sends go straight to the socket without blocking; only what the kernel
/// does not take is queued, in rented buffers, and written asynchronously.
/// </para>
/// </summary>
public sealed class StreamMinerConnection : MinerConnection
{
    private readonly Socket _socket;
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
    private bool _shutdownAfterFlush;

    internal StreamMinerConnection(StratumServer server, Socket socket, IPEndPoint remote, uint sessionId, bool tls, IPAddress? admittedAs)
        : base(server, remote, sessionId, tls, admittedAs)
    {
        _socket = socket;
    }

    internal override bool HoldsReceiveBuffer => _receive != null;

    internal override void Start() => _ = RunAsync();

    private async Task RunAsync()
    {
        try
        {
            if (IsTls && !await AuthenticateTlsAsync().ConfigureAwait(false))
                return;
            OnStarted();

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
                _receive ??= ArrayPool<byte>.Shared.Rent(ReceiveBufferBytes);
                var read = _tls == null
                    ? await _socket.ReceiveAsync(_receive.AsMemory(_received), SocketFlags.None).ConfigureAwait(false)
                    : await _tls.ReadAsync(_receive.AsMemory(_received)).ConfigureAwait(false);
                if (read == 0)
                {
                    Close("closed by the client");
                    break;
                }
                _received += read;

                while (true)
                {
                    _consumed += HandleLines(_receive.AsSpan(_consumed, _received - _consumed), Server.Time.GetTimestamp(), out var pending);
                    if (pending == null)
                        break;
                    await pending.ConfigureAwait(false);
                }
                // Keep only the partial line, at the front.
                var left = _received - _consumed;
                if (left > 0 && _consumed > 0)
                    Buffer.BlockCopy(_receive, _consumed, _receive, 0, left);
                _received = left;
                _consumed = 0;

                if (CloseRequested)
                {
                    await DrainSendQueueAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                    Close(CloseReason);
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
            Close(IsClosed ? CloseReason : e.Message);
        }
        catch (Exception e)
        {
            Server.Logger.LogError(e, "session {Session:x8} from {Ip} failed", Session.SessionId, RemoteEndPoint.Address);
            Close("internal error: " + e.Message);
        }
        finally
        {
            Cleanup();
        }
    }

    private async Task<bool> AuthenticateTlsAsync()
    {
        var options = Server.TlsOptions ?? throw new InvalidOperationException("TLS connection without a certificate");
        _tls = new SslStream(new NetworkStream(_socket, ownsSocket: false), leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(Server.Options.Tls.HandshakeTimeoutSeconds));
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

    private protected override bool IsQueueingLocked => _flushing || _tls != null;

    private protected override int QueuedBytesLocked => _fillingCount + _inFlight;

    private protected override int SendNowLocked(ReadOnlySpan<byte> data, out string? error)
    {
        var sent = _socket.Send(data, SocketFlags.None, out var status);
        error = status is SocketError.Success or SocketError.WouldBlock ? null : status.ToString();
        return Math.Max(sent, 0);
    }

    private protected override void QueueLocked(ReadOnlySpan<byte> data)
    {
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
                CloseLocked(IsClosed ? CloseReason : "send failed: " + e.Message);
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

    private protected override void ShutdownSendAfterQueueLocked()
    {
        if (_flushing)
            _shutdownAfterFlush = true;
        else
            ShutdownSendLocked();
    }

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

    private protected override void CloseLocked(string reason)
    {
        if (!MarkClosed(reason))
            return;
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
        Close(CloseReasonOr("closed"));
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
        OnCleanedUp();
    }
}
