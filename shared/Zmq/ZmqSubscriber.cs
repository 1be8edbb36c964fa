using System.Diagnostics;
using System.Text;
using PoolCluster.Networking;

namespace PoolCluster.Zmq;

/// <summary>
/// A SUB socket: connect to one or more publishers, subscribe to topic prefixes, receive whole multipart messages.
/// Defaults follow what bitcoind's documentation and example client do: no receive high-water mark (nothing dropped
/// on our side) and TCP keepalive on, so a connection silently dropped by a middle box is noticed and re-made.
/// </summary>
public sealed unsafe class ZmqSubscriber : ZmqSocket
{
    public static readonly TimeSpan DefaultKeepaliveIdle = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan DefaultKeepaliveInterval = TimeSpan.FromSeconds(15);
    public const int DefaultKeepaliveProbeCount = 4;

    private static readonly Action<object?> s_wake = state => ((EventFd)state!).Signal();

    private readonly EventFd _wakeup = EventFd.Create();

    public ZmqSubscriber(ZmqContext context) : base(context, LibZmq.ZMQ_SUB)
    {
        SetOption(LibZmq.ZMQ_RCVHWM, 0);
        SetTcpKeepalive(DefaultKeepaliveIdle, DefaultKeepaliveInterval, DefaultKeepaliveProbeCount);
    }

    /// <summary>Receives messages whose first frame starts with <paramref name="topicPrefix"/> ("" = everything).</summary>
    public void Subscribe(string topicPrefix) => Subscribe(Encoding.UTF8.GetBytes(topicPrefix));

    public void Subscribe(ReadOnlySpan<byte> topicPrefix) => SetOption(LibZmq.ZMQ_SUBSCRIBE, topicPrefix);

    public void Unsubscribe(string topicPrefix) => SetOption(LibZmq.ZMQ_UNSUBSCRIBE, Encoding.UTF8.GetBytes(topicPrefix));

    /// <summary>Messages queued on our side before further ones are dropped (default here: 0 = unlimited).</summary>
    public void SetReceiveHighWatermark(int messages)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(messages);
        SetOption(LibZmq.ZMQ_RCVHWM, messages);
    }

    /// <summary>
    /// TCP keepalive for connections made after this call (set it before <see cref="ZmqSocket.Connect"/>): the first
    /// probe after <paramref name="idle"/>, then every <paramref name="interval"/>, giving up after
    /// <paramref name="probeCount"/> unanswered probes. Whole seconds.
    /// </summary>
    public void SetTcpKeepalive(TimeSpan idle, TimeSpan interval, int probeCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(idle, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(probeCount, 1);
        SetOption(LibZmq.ZMQ_TCP_KEEPALIVE, 1);
        SetOption(LibZmq.ZMQ_TCP_KEEPALIVE_IDLE, checked((int)idle.TotalSeconds));
        SetOption(LibZmq.ZMQ_TCP_KEEPALIVE_INTVL, checked((int)interval.TotalSeconds));
        SetOption(LibZmq.ZMQ_TCP_KEEPALIVE_CNT, probeCount);
    }

    /// <summary>Connections made after this call use no TCP keepalive.</summary>
    public void DisableTcpKeepalive() => SetOption(LibZmq.ZMQ_TCP_KEEPALIVE, 0);

    /// <summary>Blocks until a message arrives; throws <see cref="OperationCanceledException"/> when cancelled.</summary>
    public void Receive(ZmqMultipartMessage message, CancellationToken cancellationToken) =>
        TryReceive(message, Timeout.InfiniteTimeSpan, cancellationToken);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/> = no limit) for a message and
    /// puts all its frames into <paramref name="message"/>. False (and an empty message) when none came in time;
    /// <see cref="OperationCanceledException"/> as soon as <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public bool TryReceive(ZmqMultipartMessage message, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "must be >= 0 or Timeout.InfiniteTimeSpan");
        message.Clear();
        cancellationToken.ThrowIfCancellationRequested();

        var started = Stopwatch.GetTimestamp();
        var socket = AddRef();
        var wakeupAdded = false;
        var registration = default(CancellationTokenRegistration);
        try
        {
            _wakeup.DangerousAddRef(ref wakeupAdded);
            var items = stackalloc ZmqPollItem[2];
            items[0] = new ZmqPollItem { Socket = socket, Events = LibZmq.ZMQ_POLLIN };
            items[1] = new ZmqPollItem { FileDescriptor = _wakeup.FileDescriptor, Events = LibZmq.ZMQ_POLLIN };
            var itemCount = 1;
            if (cancellationToken.CanBeCanceled)
            {
                registration = cancellationToken.UnsafeRegister(s_wake, _wakeup);
                itemCount = 2;
            }

            while (true)
            {
                if (TryReceiveFrames(socket, message))
                    return true;
                cancellationToken.ThrowIfCancellationRequested();

                nint waitMilliseconds = -1;
                if (timeout != Timeout.InfiniteTimeSpan)
                {
                    var remaining = timeout - Stopwatch.GetElapsedTime(started);
                    if (remaining <= TimeSpan.Zero)
                        return false;
                    waitMilliseconds = (nint)Math.Ceiling(remaining.TotalMilliseconds);
                }

                items[0].ReturnedEvents = items[1].ReturnedEvents = 0;
                if (Native.zmq_poll(items, itemCount, waitMilliseconds) < 0 && Native.zmq_errno() != LibZmq.EINTR)
                    throw Native.LastError("zmq_poll");
                if ((items[1].ReturnedEvents & LibZmq.ZMQ_POLLIN) != 0)
                    _wakeup.Reset();
            }
        }
        finally
        {
            registration.Dispose();
            if (wakeupAdded)
                _wakeup.DangerousRelease();
            Handle.DangerousRelease();
        }
    }

    private protected override void DisposeCore()
    {
        base.DisposeCore();
        _wakeup.Dispose();
    }

    private bool TryReceiveFrames(nint socket, ZmqMultipartMessage message)
    {
        ZmqMsg frame;
        if (Native.zmq_msg_init(&frame) != 0)
            throw Native.LastError("zmq_msg_init");
        try
        {
            if (!ReceiveFrame(socket, &frame, LibZmq.ZMQ_DONTWAIT))
                return false;
            while (true)
            {
                message.AddFrame(new ReadOnlySpan<byte>(Native.zmq_msg_data(&frame), checked((int)Native.zmq_msg_size(&frame))));
                if (Native.zmq_msg_more(&frame) == 0)
                    return true;
                // ZMQ delivers a multipart message atomically: once the first frame is here, so are the rest.
                ReceiveFrame(socket, &frame, 0);
            }
        }
        finally
        {
            Native.zmq_msg_close(&frame);
        }
    }

    private bool ReceiveFrame(nint socket, ZmqMsg* frame, int flags)
    {
        while (Native.zmq_msg_recv(frame, socket, flags) < 0)
        {
            var error = Native.zmq_errno();
            if (error == LibZmq.EAGAIN && (flags & LibZmq.ZMQ_DONTWAIT) != 0)
                return false;
            // EINTR: a signal (the runtime's GC suspension uses them) interrupted the call; it is safe to retry.
            if (error != LibZmq.EINTR)
                throw Native.LastError("zmq_msg_recv");
        }
        return true;
    }
}
