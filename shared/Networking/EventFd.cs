using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace PoolCluster.Networking;

/// <summary>
/// A Linux eventfd: a file descriptor that zmq_poll or epoll can watch next to sockets, and that any thread may signal.
/// It is how another thread wakes a loop blocked in zmq_poll or epoll_wait at once, without polling in short slices.
/// </summary>
public sealed unsafe partial class EventFd : SafeHandleMinusOneIsInvalid
{
    private const int EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;

    private EventFd() : base(ownsHandle: true)
    {
    }

    public int FileDescriptor => (int)handle;

    public static EventFd Create()
    {
        var fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError(), "eventfd failed");
        var eventFd = new EventFd();
        eventFd.SetHandle(fd);
        return eventFd;
    }

    /// <summary>Makes the descriptor readable; safe from any thread, a no-op once disposed.</summary>
    public void Signal()
    {
        var added = false;
        try
        {
            DangerousAddRef(ref added);
            ulong one = 1;
            _ = write(FileDescriptor, &one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    /// <summary>Makes the descriptor unreadable again (reads the counter; non-blocking).</summary>
    public void Reset()
    {
        ulong counter;
        _ = read(FileDescriptor, &counter, sizeof(ulong));
    }

    protected override bool ReleaseHandle() => close((int)handle) == 0;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initialValue, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, ulong* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, ulong* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
