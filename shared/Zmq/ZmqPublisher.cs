namespace PoolCluster.Zmq;

/// <summary>
/// A PUB socket. Sends never block: a subscriber that is not connected (yet) or is over its high-water mark simply
/// misses the message, which is ZMQ's publish/subscribe contract.
/// </summary>
public sealed unsafe class ZmqPublisher : ZmqSocket
{
    public ZmqPublisher(ZmqContext context) : base(context, LibZmq.ZMQ_PUB)
    {
    }

    /// <summary>Messages queued per subscriber before further ones are dropped (libzmq default 1000; 0 = unlimited).</summary>
    public void SetSendHighWatermark(int messages)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(messages);
        SetOption(LibZmq.ZMQ_SNDHWM, messages);
    }

    /// <summary>Sends one frame; <paramref name="more"/> = true means further frames of the same message follow.</summary>
    public void Send(ReadOnlySpan<byte> frame, bool more = false)
    {
        var socket = AddRef();
        try
        {
            SendFrame(socket, frame, more);
        }
        finally
        {
            Handle.DangerousRelease();
        }
    }

    /// <summary>Sends a multipart message; subscribers receive all of its frames or none.</summary>
    public void SendMultipart(params ReadOnlySpan<ReadOnlyMemory<byte>> frames)
    {
        if (frames.IsEmpty)
            throw new ArgumentException("a message has at least one frame", nameof(frames));
        var socket = AddRef();
        try
        {
            for (var i = 0; i < frames.Length; i++)
                SendFrame(socket, frames[i].Span, more: i < frames.Length - 1);
        }
        finally
        {
            Handle.DangerousRelease();
        }
    }

    private void SendFrame(nint socket, ReadOnlySpan<byte> frame, bool more)
    {
        fixed (byte* data = frame)
        {
            while (Native.zmq_send(socket, data, (nuint)frame.Length, more ? LibZmq.ZMQ_SNDMORE : 0) < 0)
            {
                if (Native.zmq_errno() != LibZmq.EINTR)
                    throw Native.LastError("zmq_send");
            }
        }
    }
}
