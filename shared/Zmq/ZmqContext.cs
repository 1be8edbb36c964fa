using System.Runtime.InteropServices;

namespace PoolCluster.Zmq;

/// <summary>
/// A libzmq context (its I/O thread). Sockets created from it keep it alive: disposing the context terminates it
/// once its last socket is closed, and since every socket lingers 0, that never blocks on undelivered messages.
/// </summary>
public sealed class ZmqContext : IDisposable
{
    public ZmqContext() : this(LibZmq.Default)
    {
    }

    /// <summary>Binds a specific library (soname or path); lets a test exercise the missing-library path.</summary>
    internal ZmqContext(string nativeLibraryName) : this(LibZmq.Load(nativeLibraryName))
    {
    }

    private unsafe ZmqContext(LibZmq native)
    {
        Native = native;
        Handle = new ZmqContextHandle(native, native.zmq_ctx_new());
        if (Handle.IsInvalid)
            throw native.LastError("zmq_ctx_new");
    }

    /// <summary>The version of the loaded libzmq (loads libzmq.so.5 if not yet loaded).</summary>
    public static Version LibraryVersion => LibZmq.Default.Version;

    internal LibZmq Native { get; }

    internal ZmqContextHandle Handle { get; }

    /// <summary>Set by Dispose; the handle itself closes only once the last socket has released it.</summary>
    internal bool IsDisposed { get; private set; }

    public void Dispose()
    {
        IsDisposed = true;
        Handle.Dispose();
    }
}

internal sealed class ZmqContextHandle : SafeHandle
{
    private readonly LibZmq _native;

    public ZmqContextHandle(LibZmq native, nint context) : base(0, ownsHandle: true)
    {
        _native = native;
        SetHandle(context);
    }

    public override bool IsInvalid => handle == 0;

    protected override unsafe bool ReleaseHandle()
    {
        // zmq_ctx_term is interrupted by signals (the runtime uses them for GC suspension); it must be retried.
        while (_native.zmq_ctx_term(handle) != 0)
        {
            if (_native.zmq_errno() != LibZmq.EINTR)
                return false;
        }
        return true;
    }
}

internal sealed class ZmqSocketHandle : SafeHandle
{
    private readonly LibZmq _native;
    private readonly ZmqContextHandle _context;

    /// <summary>Takes a reference on the context so it is terminated only after this socket is closed.</summary>
    public ZmqSocketHandle(ZmqContext context, int socketType) : base(0, ownsHandle: true)
    {
        _native = context.Native;
        _context = context.Handle;
        ObjectDisposedException.ThrowIf(context.IsDisposed, context);
        var contextAdded = false;
        _context.DangerousAddRef(ref contextAdded);
        try
        {
            unsafe
            {
                var socket = _native.zmq_socket(_context.DangerousGetHandle(), socketType);
                if (socket == 0)
                    throw _native.LastError("zmq_socket");
                SetHandle(socket);
            }
        }
        catch
        {
            _context.DangerousRelease();
            throw;
        }
    }

    public override bool IsInvalid => handle == 0;

    protected override unsafe bool ReleaseHandle()
    {
        var closed = _native.zmq_close(handle) == 0;
        _context.DangerousRelease();
        return closed;
    }
}
