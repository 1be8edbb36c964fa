using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PoolCluster.Networking;

namespace PoolCluster.SServer;

/// <summary>
/// A miner over plain TCP, driven by one of the server's <see cref="EpollLoop"/>s: the loop's thread reads the socket
/// when epoll says it is readable, handles the lines and sends the answers itself. Per share that is one recv and one
/// send, and no thread-pool hop (.NET's async sockets cost three receives, the hop and a continuation).
/// <para>
/// Memory: an idle connection holds no buffer. Reads go into the loop's shared buffer; only a partial line (or the
/// lines after an answer that must wait) is copied into a rented buffer of the connection's own, returned when it is
/// used up. Sends go straight to the kernel from whatever thread sends (answers from the loop, jobs from the
/// broadcast); what the kernel does not take is queued in a rented buffer and written when epoll says writable.
/// </para>
/// <para>
/// Threading: reading, the handling of lines and <see cref="Cleanup"/> happen on the loop's thread only. Sending,
/// closing and the event mask are under <c>lock(this)</c>, from any thread. A close from another thread shuts the
/// socket down; epoll then reports it hung up and the loop cleans up.
/// </para>
/// </summary>
public sealed class EpollMinerConnection : MinerConnection, IEpollHandler
{
    /// <summary>Reads per readiness event before the loop moves on to other sockets (fairness under a flood).</summary>
    private const int MaxReadsPerEvent = 4;

    private readonly Socket _socket;
    private readonly int _fd;
    private readonly EpollLoop _loop;
    private ulong _registration;
    private bool _registered;
    private bool _cleanedUp;

    // Loop thread only: bytes received but not yet handled (a partial line, or lines waiting behind a pending answer).
    private byte[]? _carry;
    private int _carryCount;

    // Under lock(this).
    private byte[]? _queue;
    private int _queueStart;
    private int _queueEnd;
    private bool _waiting;
    private bool _closeWhenSent;
    private bool _shutdownWhenSent;
    private EpollEvents _armed;

    internal EpollMinerConnection(StratumServer server, EpollLoop loop, Socket socket, IPEndPoint remote, uint sessionId, IPAddress? admittedAs)
        : base(server, remote, sessionId, tls: false, admittedAs)
    {
        _loop = loop;
        _socket = socket;
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
    }

    internal override bool HoldsReceiveBuffer => _carry != null;

    /// <summary>Hands the connection to its loop (from the accepting thread).</summary>
    internal override void Start() => _loop.Post(static state => ((EpollMinerConnection)state!).Register(), this);

    private void Register()
    {
        lock (this)
        {
            if (!IsClosed)
            {
                _armed = EpollEvents.Readable;
                _registration = _loop.Register(_fd, _armed, this);
                _registered = true;
            }
        }
        if (IsClosed)
        {
            Cleanup();
            return;
        }
        OnStarted();
    }

    public void OnEvents(EpollEvents events)
    {
        try
        {
            HandleEvents(events);
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    /// <summary>A bug in handling one miner ends that miner's connection, not the loop (and never leaves it half open).</summary>
    private void Fail(Exception e)
    {
        Server.Logger.LogError(e, "session {Session:x8} from {Ip} failed", Session.SessionId, RemoteEndPoint.Address);
        Close("internal error: " + e.Message);
        Cleanup();
    }

    private void HandleEvents(EpollEvents events)
    {
        if (IsClosed)
        {
            Cleanup();
            return;
        }
        if ((events & EpollEvents.Writable) != 0)
        {
            WriteQueued();
            if (IsClosed)
            {
                Cleanup();
                return;
            }
        }
        if ((events & (EpollEvents.Readable | EpollEvents.HangUp | EpollEvents.Error)) == 0)
            return;
        bool waiting;
        lock (this)
            waiting = _waiting || _closeWhenSent;
        if (waiting)
        {
            // Not reading now; a hang-up or error is reported anyway (and again and again, level-triggered): end it.
            if ((events & (EpollEvents.HangUp | EpollEvents.Error)) != 0)
            {
                Close("closed by the client");
                Cleanup();
            }
            return;
        }
        Read();
    }

    private void Read()
    {
        for (var round = 0; round < MaxReadsPerEvent; round++)
        {
            var target = _carry != null ? _carry.AsSpan(_carryCount) : _loop.ReceiveBuffer.AsSpan(0, ReceiveBufferBytes);
            var read = LinuxSockets.Receive(_fd, target);
            if (read == -LinuxSockets.EAGAIN)
                return;
            if (read == -LinuxSockets.EINTR)
                continue;
            if (read <= 0)
            {
                Close(read == 0 ? "closed by the client" : $"receive failed: errno {-read}");
                Cleanup();
                return;
            }
            var data = _carry != null ? _carry.AsSpan(0, _carryCount + read) : target[..read];
            var consumed = HandleLines(data, Server.Time.GetTimestamp(), out var pending);
            Keep(data[consumed..]);
            if (pending != null)
            {
                Wait(pending);
                return;
            }
            if (!AfterHandling())
                return;
            if (read < target.Length)
                return; // drained: epoll says when more arrives
        }
    }

    /// <summary>Keeps what was not handled (at the front of the connection's own buffer); returns the buffer when nothing is left.</summary>
    private void Keep(ReadOnlySpan<byte> rest)
    {
        if (rest.IsEmpty)
        {
            ReturnCarry();
            return;
        }
        if (_carry == null)
            _carry = ArrayPool<byte>.Shared.Rent(ReceiveBufferBytes);
        rest.CopyTo(_carry); // overlapping copy to the front is safe: Span.CopyTo handles overlap
        _carryCount = rest.Length;
    }

    private void ReturnCarry()
    {
        if (_carry != null)
        {
            ArrayPool<byte>.Shared.Return(_carry);
            _carry = null;
        }
        _carryCount = 0;
    }

    /// <summary>An answer waits for a task: stop reading until it completed, then handle the kept lines and read on.</summary>
    private void Wait(Task pending)
    {
        lock (this)
        {
            _waiting = true;
            ArmLocked();
        }
        pending.ContinueWith(static (_, state) =>
        {
            var connection = (EpollMinerConnection)state!;
            connection._loop.Post(static s => ((EpollMinerConnection)s!).Resume(), connection);
        }, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Resume()
    {
        try
        {
            ResumeReading();
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    private void ResumeReading()
    {
        if (IsClosed)
        {
            Cleanup();
            return;
        }
        if (_carryCount > 0)
        {
            var data = _carry.AsSpan(0, _carryCount);
            var consumed = HandleLines(data, Server.Time.GetTimestamp(), out var pending);
            Keep(data[consumed..]);
            if (pending != null)
            {
                Wait(pending);
                return;
            }
        }
        lock (this)
        {
            _waiting = false;
            ArmLocked();
        }
        AfterHandling();
    }

    /// <summary>After lines were handled: a requested close happens once the answers are sent. False when reading stops.</summary>
    private bool AfterHandling()
    {
        if (IsClosed)
        {
            Cleanup();
            return false;
        }
        if (!CloseRequested)
            return true;
        lock (this)
        {
            if (_queueEnd == _queueStart)
                CloseLocked(CloseReason);
            else
            {
                _closeWhenSent = true;
                ArmLocked();
                Deadline = Server.Time.GetTimestamp() + 2 * Server.Time.TimestampFrequency;
            }
        }
        if (IsClosed)
            Cleanup();
        return false;
    }

    private protected override bool IsQueueingLocked => _queueEnd != _queueStart;

    private protected override int QueuedBytesLocked => _queueEnd - _queueStart;

    private protected override int SendNowLocked(ReadOnlySpan<byte> data, out string? error)
    {
        var sent = LinuxSockets.Send(_fd, data);
        error = sent >= 0 || sent == -LinuxSockets.EAGAIN || sent == -LinuxSockets.EINTR ? null : $"errno {-sent}";
        return Math.Max(sent, 0);
    }

    private protected override void QueueLocked(ReadOnlySpan<byte> data)
    {
        var queued = _queueEnd - _queueStart;
        if (_queue == null || _queue.Length - _queueEnd < data.Length)
        {
            var target = _queue != null && _queue.Length >= queued + data.Length ? _queue : ArrayPool<byte>.Shared.Rent(Math.Max(4096, queued + data.Length));
            if (_queue != null)
            {
                _queue.AsSpan(_queueStart, queued).CopyTo(target);
                if (!ReferenceEquals(target, _queue))
                    ArrayPool<byte>.Shared.Return(_queue);
            }
            _queue = target;
            _queueStart = 0;
            _queueEnd = queued;
        }
        data.CopyTo(_queue.AsSpan(_queueEnd));
        _queueEnd += data.Length;
        ArmLocked();
    }

    /// <summary>Epoll said writable: write what is queued; then a pending shutdown or close.</summary>
    private void WriteQueued()
    {
        lock (this)
        {
            while (!IsClosed && _queueEnd > _queueStart)
            {
                var sent = SendNowLocked(_queue.AsSpan(_queueStart, _queueEnd - _queueStart), out var error);
                if (error != null)
                {
                    CloseLocked("send failed: " + error);
                    return;
                }
                if (sent == 0)
                    return; // the kernel's buffer is full (or a signal came): epoll says writable again
                _queueStart += sent;
            }
            ReturnQueueLocked();
            if (IsClosed)
                return;
            if (_shutdownWhenSent)
                LinuxSockets.Shutdown(_fd, LinuxSockets.SHUT_WR);
            if (_closeWhenSent)
                CloseLocked(CloseReason);
            else
                ArmLocked();
        }
    }

    /// <summary>Watches for what the connection needs now: readable while it reads, writable while bytes are queued.</summary>
    private void ArmLocked()
    {
        if (!_registered || IsClosed)
            return;
        var wanted = (_waiting || _closeWhenSent ? EpollEvents.None : EpollEvents.Readable) |
                     (_queueEnd > _queueStart ? EpollEvents.Writable : EpollEvents.None);
        if (wanted == _armed)
            return;
        _armed = wanted;
        _loop.Modify(_registration, _fd, wanted);
    }

    private protected override void ShutdownSendAfterQueueLocked()
    {
        if (_queueEnd > _queueStart)
            _shutdownWhenSent = true;
        else
            LinuxSockets.Shutdown(_fd, LinuxSockets.SHUT_WR);
    }

    private protected override void CloseLocked(string reason)
    {
        if (!MarkClosed(reason))
            return;
        // Epoll reports the shut-down socket as hung up, so its loop cleans up (also when it is not reading now).
        LinuxSockets.Shutdown(_fd, LinuxSockets.SHUT_RDWR);
        if (!_loop.IsOnLoopThread)
            _loop.Post(static state => ((EpollMinerConnection)state!).Cleanup(), this);
    }

    private void ReturnQueueLocked()
    {
        if (_queue != null)
            ArrayPool<byte>.Shared.Return(_queue);
        _queue = null;
        _queueStart = _queueEnd = 0;
    }

    /// <summary>Loop thread, once closed: off epoll, buffers back, socket closed, the session ended. Idempotent.</summary>
    private void Cleanup()
    {
        if (_cleanedUp)
            return;
        _cleanedUp = true;
        lock (this)
        {
            CloseLocked("closed");
            if (_registered)
                _loop.Unregister(_registration, _fd);
            _registered = false;
            ReturnQueueLocked();
            // Under the lock: a send on another thread never uses the descriptor after it is closed (and maybe reused).
            _socket.Dispose();
        }
        ReturnCarry();
        OnCleanedUp();
    }
}
