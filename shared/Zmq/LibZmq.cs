using System.Runtime.InteropServices;

namespace PoolCluster.Zmq;

/// <summary>
/// The libzmq entry points this wrapper uses, bound explicitly from one loaded library (NativeLibrary + function
/// pointers rather than DllImport) so that a missing library surfaces as our own message naming the Debian package,
/// and so that a test can bind to a library name that does not exist.
/// </summary>
internal sealed unsafe class LibZmq
{
    /// <summary>The soname Debian's libzmq5 package installs.</summary>
    public const string DefaultLibraryName = "libzmq.so.5";

    // Constants from zmq.h (stable ABI: "the value of constants must not change").
    public const int ZMQ_PUB = 1, ZMQ_SUB = 2;
    public const int ZMQ_SUBSCRIBE = 6, ZMQ_UNSUBSCRIBE = 7, ZMQ_LINGER = 17, ZMQ_SNDHWM = 23, ZMQ_RCVHWM = 24,
        ZMQ_LAST_ENDPOINT = 32, ZMQ_TCP_KEEPALIVE = 34, ZMQ_TCP_KEEPALIVE_CNT = 35, ZMQ_TCP_KEEPALIVE_IDLE = 36,
        ZMQ_TCP_KEEPALIVE_INTVL = 37;
    public const int ZMQ_DONTWAIT = 1, ZMQ_SNDMORE = 2;
    public const short ZMQ_POLLIN = 1;
    public const int EINTR = 4, EAGAIN = 11;

    private static readonly Lazy<LibZmq> s_default = new(() => Load(DefaultLibraryName));

    /// <summary>libzmq.so.5, loaded on first use; throws <see cref="ZmqLibraryNotFoundException"/> when absent.</summary>
    public static LibZmq Default => s_default.Value;

    public readonly Version Version;
    public readonly delegate* unmanaged<int*, int*, int*, void> zmq_version;
    public readonly delegate* unmanaged<int> zmq_errno;
    public readonly delegate* unmanaged<int, byte*> zmq_strerror;
    public readonly delegate* unmanaged<nint> zmq_ctx_new;
    public readonly delegate* unmanaged<nint, int> zmq_ctx_term;
    public readonly delegate* unmanaged<nint, int, nint> zmq_socket;
    public readonly delegate* unmanaged<nint, int> zmq_close;
    public readonly delegate* unmanaged<nint, int, void*, nuint, int> zmq_setsockopt;
    public readonly delegate* unmanaged<nint, int, void*, nuint*, int> zmq_getsockopt;
    public readonly delegate* unmanaged<nint, byte*, int> zmq_bind;
    public readonly delegate* unmanaged<nint, byte*, int> zmq_connect;
    public readonly delegate* unmanaged<nint, void*, nuint, int, int> zmq_send;
    public readonly delegate* unmanaged<ZmqMsg*, int> zmq_msg_init;
    public readonly delegate* unmanaged<ZmqMsg*, nint, int, int> zmq_msg_recv;
    public readonly delegate* unmanaged<ZmqMsg*, void*> zmq_msg_data;
    public readonly delegate* unmanaged<ZmqMsg*, nuint> zmq_msg_size;
    public readonly delegate* unmanaged<ZmqMsg*, int> zmq_msg_more;
    public readonly delegate* unmanaged<ZmqMsg*, int> zmq_msg_close;
    public readonly delegate* unmanaged<ZmqPollItem*, int, nint, int> zmq_poll;

    private LibZmq(string libraryName, nint library)
    {
        nint Export(string name)
        {
            if (NativeLibrary.TryGetExport(library, name, out var address))
                return address;
            throw new ZmqLibraryNotFoundException(
                $"{libraryName} has no export {name}: libzmq 4.x is required (install Debian package libzmq5)", null);
        }

        zmq_version = (delegate* unmanaged<int*, int*, int*, void>)Export(nameof(zmq_version));
        zmq_errno = (delegate* unmanaged<int>)Export(nameof(zmq_errno));
        zmq_strerror = (delegate* unmanaged<int, byte*>)Export(nameof(zmq_strerror));
        zmq_ctx_new = (delegate* unmanaged<nint>)Export(nameof(zmq_ctx_new));
        zmq_ctx_term = (delegate* unmanaged<nint, int>)Export(nameof(zmq_ctx_term));
        zmq_socket = (delegate* unmanaged<nint, int, nint>)Export(nameof(zmq_socket));
        zmq_close = (delegate* unmanaged<nint, int>)Export(nameof(zmq_close));
        zmq_setsockopt = (delegate* unmanaged<nint, int, void*, nuint, int>)Export(nameof(zmq_setsockopt));
        zmq_getsockopt = (delegate* unmanaged<nint, int, void*, nuint*, int>)Export(nameof(zmq_getsockopt));
        zmq_bind = (delegate* unmanaged<nint, byte*, int>)Export(nameof(zmq_bind));
        zmq_connect = (delegate* unmanaged<nint, byte*, int>)Export(nameof(zmq_connect));
        zmq_send = (delegate* unmanaged<nint, void*, nuint, int, int>)Export(nameof(zmq_send));
        zmq_msg_init = (delegate* unmanaged<ZmqMsg*, int>)Export(nameof(zmq_msg_init));
        zmq_msg_recv = (delegate* unmanaged<ZmqMsg*, nint, int, int>)Export(nameof(zmq_msg_recv));
        zmq_msg_data = (delegate* unmanaged<ZmqMsg*, void*>)Export(nameof(zmq_msg_data));
        zmq_msg_size = (delegate* unmanaged<ZmqMsg*, nuint>)Export(nameof(zmq_msg_size));
        zmq_msg_more = (delegate* unmanaged<ZmqMsg*, int>)Export(nameof(zmq_msg_more));
        zmq_msg_close = (delegate* unmanaged<ZmqMsg*, int>)Export(nameof(zmq_msg_close));
        zmq_poll = (delegate* unmanaged<ZmqPollItem*, int, nint, int>)Export(nameof(zmq_poll));

        int major, minor, patch;
        zmq_version(&major, &minor, &patch);
        Version = new Version(major, minor, patch);
        if (major < 4)
            throw new ZmqLibraryNotFoundException(
                $"{libraryName} is libzmq {Version}: libzmq 4.x is required (install Debian package libzmq5)", null);
    }

    /// <summary>Loads and binds <paramref name="libraryName"/> (a soname or a path).</summary>
    public static LibZmq Load(string libraryName)
    {
        nint library;
        try
        {
            library = NativeLibrary.Load(libraryName);
        }
        catch (DllNotFoundException e)
        {
            // The loader's text ends with dlerror()'s line, which says why (absent, wrong architecture, ...).
            var reason = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
            throw new ZmqLibraryNotFoundException(
                $"libzmq could not be loaded as {libraryName} ({reason}): install Debian package libzmq5 (apt-get install libzmq5)", e);
        }
        return new LibZmq(libraryName, library);
    }

    /// <summary>The exception for the call that just failed on this thread: zmq_strerror's text, the errno and what we tried.</summary>
    public ZmqException LastError(string operation)
    {
        var errorNumber = zmq_errno();
        return new ZmqException(errorNumber, $"{operation} failed: {ErrorText(errorNumber)} (zmq errno {errorNumber})");
    }

    public string ErrorText(int errorNumber) => Marshal.PtrToStringUTF8((nint)zmq_strerror(errorNumber)) ?? "unknown error";
}

/// <summary>zmq_msg_t: 64 opaque bytes, pointer-aligned (the union with void* in zmq.h).</summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
internal struct ZmqMsg
{
    private nint _alignment;
}

/// <summary>zmq_pollitem_t on POSIX: { void *socket; int fd; short events; short revents; }.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ZmqPollItem
{
    public nint Socket;
    public int FileDescriptor;
    public short Events;
    public short ReturnedEvents;
}
