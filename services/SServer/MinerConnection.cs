using System.Buffers;
using System.Net;
using PoolCluster.Stratum;

namespace PoolCluster.SServer;

/// <summary>
/// The socket side of one miner, whatever carries the bytes: newline framing with the line cap, the optional PROXY
/// header, handing each line to the <see cref="StratumSession"/>, the deadline, and closing. Two transports:
/// <see cref="EpollMinerConnection"/> (plain TCP on Linux: the server's own epoll loops, one syscall per read and per
/// write) and <see cref="StreamMinerConnection"/> (TLS, and plain TCP with <c>Stratum:IoEngine</c> Sockets: .NET's
/// async sockets).
/// <para>
/// Sends never block: straight to the kernel, and only what it does not take is queued, up to
/// <see cref="LimitOptions.MaxSendQueueBytes"/>: a client that does not read is dropped, never buffered without bound.
/// </para>
/// </summary>
public abstract class MinerConnection
{
    private readonly bool _expectProxyHeader;
    private readonly int _maxLineBytes;
    private bool _proxyHeaderSeen;
    private int _closed;
    private volatile bool _closeRequested;
    private string _closeReason = "";
    private IPAddress? _admittedAs;
    private bool _admissionReleased;
    private long _deadline;

    private protected MinerConnection(StratumServer server, IPEndPoint remote, uint sessionId, bool tls, IPAddress? admittedAs)
    {
        Server = server;
        RemoteEndPoint = remote;
        IsTls = tls;
        _admittedAs = admittedAs;
        _expectProxyHeader = server.Options.ProxyProtocol;
        _maxLineBytes = server.Options.Limits.MaxLineBytes;
        Session = new StratumSession(server, this, sessionId);
        var now = server.Time.GetTimestamp();
        Deadline = now + server.Options.Limits.UnauthorizedTimeoutSeconds * server.Time.TimestampFrequency;
    }

    private protected StratumServer Server { get; }

    public StratumSession Session { get; }

    /// <summary>The client's address: the socket's peer, or the PROXY header's source.</summary>
    public IPEndPoint RemoteEndPoint { get; private set; }

    public bool IsTls { get; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Why the connection closed (empty while open).</summary>
    public string CloseReason => _closeReason;

    /// <summary>Bytes waiting to be sent.</summary>
    public int QueuedBytes
    {
        get
        {
            lock (this)
                return QueuedBytesLocked;
        }
    }

    /// <summary>Whether the connection holds a receive buffer of its own now (false for an idle connection).</summary>
    internal abstract bool HoldsReceiveBuffer { get; }

    /// <summary>Receive buffer size: at least a full line and its terminator, so a partial line over the cap is always detected.</summary>
    private protected int ReceiveBufferBytes => _maxLineBytes + 2;

    internal long Deadline
    {
        get => Volatile.Read(ref _deadline);
        set => Volatile.Write(ref _deadline, value);
    }

    internal bool CloseRequested => _closeRequested;

    /// <summary>
    /// Sends <paramref name="data"/> without ever blocking: straight to the socket, the rest (if the kernel's buffer is
    /// full, or bytes are already waiting) queued. A client whose queue would pass the limit is disconnected. Messages
    /// from different threads never interleave (everything here is under <c>lock(this)</c>).
    /// </summary>
    public void Send(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
            return;
        lock (this)
        {
            if (IsClosed)
                return;
            if (!IsQueueingLocked)
            {
                var sent = SendNowLocked(data, out var error);
                if (error != null)
                {
                    CloseLocked("send failed: " + error);
                    return;
                }
                if (sent == data.Length)
                    return;
                data = data[sent..];
            }
            if (QueueOverflow(QueuedBytesLocked, data.Length) is { } overflow)
            {
                CloseLocked(overflow);
                return;
            }
            QueueLocked(data);
        }
    }

    /// <summary>Bytes are waiting to be sent (or the transport cannot write directly): new bytes go behind them.</summary>
    private protected abstract bool IsQueueingLocked { get; }

    /// <summary>Bytes waiting to be sent.</summary>
    private protected abstract int QueuedBytesLocked { get; }

    /// <summary>Hands <paramref name="data"/> to the kernel without blocking: how much it took (0 when its buffer is full), or an error.</summary>
    private protected abstract int SendNowLocked(ReadOnlySpan<byte> data, out string? error);

    /// <summary>Queues <paramref name="data"/> (it fits the limit) and makes sure it will be written.</summary>
    private protected abstract void QueueLocked(ReadOnlySpan<byte> data);

    /// <summary>Closes now (the caller holds the lock). Idempotent.</summary>
    private protected abstract void CloseLocked(string reason);

    /// <summary>Closes now. Idempotent, from any thread.</summary>
    public void Close(string reason)
    {
        lock (this)
            CloseLocked(reason);
    }

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
            Deadline = Server.Time.GetTimestamp() + 2 * Server.Time.TimestampFrequency;
            ShutdownSendAfterQueueLocked();
        }
    }

    /// <summary>Shuts the send side down once the queued bytes are written (now, when none are).</summary>
    private protected abstract void ShutdownSendAfterQueueLocked();

    /// <summary>Closes once the current lines are answered and sent (decided while handling a line).</summary>
    public void RequestClose(string reason)
    {
        if (_closeRequested)
            return;
        _closeReason = reason;
        _closeRequested = true;
    }

    internal void GarbageDisconnect(string reason, long now) => Garbage(reason, now);

    /// <summary>
    /// Null when <paramref name="adding"/> more bytes fit the send queue; otherwise the slow client is counted and the
    /// reason to close it returned: a client that does not read is dropped, never buffered without bound.
    /// </summary>
    private string? QueueOverflow(int queued, int adding)
    {
        var limit = Server.Options.Limits.MaxSendQueueBytes;
        if (queued + adding <= limit)
            return null;
        Server.Counters.SlowClientDropped();
        return $"the client does not read: more than {limit} bytes queued (Stratum:Limits:MaxSendQueueBytes)";
    }

    /// <summary>Marks the connection closed (once); false when it already was. Callers hold the send lock.</summary>
    private protected bool MarkClosed(string reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
            return false;
        _closeReason = reason;
        return true;
    }

    private protected string CloseReasonOr(string fallback) => _closeReason.Length > 0 ? _closeReason : fallback;

    /// <summary>Starts serving the connection (from the accepting thread; returns at once).</summary>
    internal abstract void Start();

    /// <summary>Called once the socket is set up: the session starts now, or after the PROXY header.</summary>
    private protected void OnStarted()
    {
        if (!_expectProxyHeader)
            Session.OnConnected();
    }

    /// <summary>
    /// Hands the complete lines at the front of <paramref name="data"/> to the session, sends the answers in one piece,
    /// and returns how many bytes it consumed (the rest is a partial line, or lines after a pause). When the session
    /// must wait (authorize waiting for the user directory, a solved block waiting for Kafka), <paramref name="pending"/>
    /// is set: handle the rest only after it completed, so answers keep their order. A line over the cap consumes
    /// everything and requests the close.
    /// </summary>
    private protected int HandleLines(ReadOnlySpan<byte> data, long now, out Task? pending)
    {
        pending = null;
        var outbox = Outbox.Rent();
        try
        {
            var rest = data;
            while (!IsClosed && !_closeRequested)
            {
                var status = StratumLineFramer.TryReadLine(ref rest, _maxLineBytes, out var line);
                if (status == LineStatus.NeedMoreData)
                    break;
                if (status == LineStatus.LineTooLong)
                {
                    Send(outbox.WrittenSpan);
                    Garbage($"a line longer than {_maxLineBytes} bytes (Stratum:Limits:MaxLineBytes)", now);
                    return data.Length;
                }
                if (_expectProxyHeader && !_proxyHeaderSeen)
                {
                    AcceptProxyHeader(line, now);
                    continue;
                }
                pending = Session.HandleLine(line, outbox, now);
                if (pending != null)
                    break;
            }
            if (pending == null && Session.IsAuthorized)
                Deadline = now + Server.Options.Limits.IdleTimeoutSeconds * Server.Time.TimestampFrequency;
            Send(outbox.WrittenSpan);
            return data.Length - rest.Length;
        }
        finally
        {
            Outbox.Return(outbox);
        }
    }

    private void AcceptProxyHeader(ReadOnlySpan<byte> line, long now)
    {
        _proxyHeaderSeen = true;
        if (!ProxyProtocolHeader.TryParse(line, out var source, out var error))
        {
            Server.Gate.Strike(RemoteEndPoint.Address, now, error);
            RequestClose(error);
            return;
        }
        if (source != null)
            RemoteEndPoint = source;
        var admission = Server.Gate.TryAdmit(RemoteEndPoint.Address, now, countedInTotal: true);
        if (admission != Admission.Admitted)
        {
            // The gate already took this connection out of the total.
            _admittedAs = null;
            _admissionReleased = true;
            Server.Counters.ConnectionRefused();
            RequestClose($"refused after the PROXY header: {admission}");
            return;
        }
        _admittedAs = RemoteEndPoint.Address;
        Session.OnConnected();
    }

    /// <summary>A line that is not stratum: counted by the session; a line too long or a broken PROXY header ends the connection.</summary>
    private void Garbage(string reason, long now)
    {
        Server.Counters.GarbageDisconnect();
        Server.Gate.Strike(RemoteEndPoint.Address, now, reason);
        RequestClose(reason);
    }

    /// <summary>The end of every connection, once its socket is disposed: limits released, the session closed.</summary>
    private protected void OnCleanedUp()
    {
        if (!_admissionReleased)
            Server.Gate.Release(_admittedAs);
        Server.OnConnectionClosed(this);
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
