using System.Text;

namespace PoolCluster.Zmq;

/// <summary>
/// What PUB and SUB sockets share: bind/connect, options, disposal. Like every ZMQ socket, an instance must be used
/// by one thread at a time (it may move between threads); stop a blocked receive with its CancellationToken,
/// not by disposing from another thread.
/// </summary>
public abstract unsafe class ZmqSocket : IDisposable
{
    private volatile bool _disposed;

    private protected ZmqSocket(ZmqContext context, int socketType)
    {
        ArgumentNullException.ThrowIfNull(context);
        Native = context.Native;
        Handle = new ZmqSocketHandle(context, socketType);
        // Linger 0: closing drops undelivered messages at once, so neither Dispose nor context termination can hang
        // on a peer that went away.
        SetOption(LibZmq.ZMQ_LINGER, 0);
    }

    private protected LibZmq Native { get; }

    internal ZmqSocketHandle Handle { get; }

    /// <summary>
    /// Binds to an endpoint (tcp://127.0.0.1:28332, tcp://*:*, ipc:///path, inproc://name) and returns the endpoint
    /// actually bound, which resolves a wildcard port ("tcp://127.0.0.1:*") to the port the OS chose.
    /// </summary>
    public string Bind(string endpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        var socket = AddRef();
        try
        {
            fixed (byte* address = NullTerminatedUtf8(endpoint))
            {
                if (Native.zmq_bind(socket, address) != 0)
                    throw Native.LastError($"zmq_bind({endpoint})");
            }
            return GetStringOption(LibZmq.ZMQ_LAST_ENDPOINT);
        }
        finally
        {
            Handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Connects to an endpoint; may be called for several endpoints. ZMQ connects (and reconnects) in the background,
    /// so this succeeds even when nothing listens there yet.
    /// </summary>
    public void Connect(string endpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        var socket = AddRef();
        try
        {
            fixed (byte* address = NullTerminatedUtf8(endpoint))
            {
                if (Native.zmq_connect(socket, address) != 0)
                    throw Native.LastError($"zmq_connect({endpoint})");
            }
        }
        finally
        {
            Handle.DangerousRelease();
        }
    }

    public void Dispose()
    {
        _disposed = true;
        DisposeCore();
        GC.SuppressFinalize(this);
    }

    private protected virtual void DisposeCore() => Handle.Dispose();

    private protected nint AddRef()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var added = false;
        Handle.DangerousAddRef(ref added);
        return Handle.DangerousGetHandle();
    }

    private protected void SetOption(int option, int value) => SetOption(option, new ReadOnlySpan<byte>(&value, sizeof(int)));

    private protected void SetOption(int option, ReadOnlySpan<byte> value)
    {
        var socket = AddRef();
        try
        {
            fixed (byte* bytes = value)
            {
                if (Native.zmq_setsockopt(socket, option, bytes, (nuint)value.Length) != 0)
                    throw Native.LastError($"zmq_setsockopt(option {option})");
            }
        }
        finally
        {
            Handle.DangerousRelease();
        }
    }

    internal int GetIntOption(int option)
    {
        var socket = AddRef();
        try
        {
            int value;
            var length = (nuint)sizeof(int);
            if (Native.zmq_getsockopt(socket, option, &value, &length) != 0)
                throw Native.LastError($"zmq_getsockopt(option {option})");
            return value;
        }
        finally
        {
            Handle.DangerousRelease();
        }
    }

    internal string GetStringOption(int option)
    {
        var socket = AddRef();
        try
        {
            var buffer = stackalloc byte[1024];
            nuint length = 1024;
            if (Native.zmq_getsockopt(socket, option, buffer, &length) != 0)
                throw Native.LastError($"zmq_getsockopt(option {option})");
            // The length libzmq reports includes the terminating NUL.
            return Encoding.UTF8.GetString(buffer, Math.Max(0, (int)length - 1));
        }
        finally
        {
            Handle.DangerousRelease();
        }
    }

    private static byte[] NullTerminatedUtf8(string text) => Encoding.UTF8.GetBytes(text + '\0');
}
