using System.Runtime.InteropServices;

namespace PoolCluster.Networking;

/// <summary>
/// The few libc socket and epoll calls the event loops make, without .NET's Socket machinery in between (no
/// SocketAsyncContext, no thread-pool hop, no allocation): one syscall per call. Errors come back as errno values.
/// </summary>
public static unsafe partial class LinuxSockets
{
    public const int EAGAIN = 11, EINTR = 4;

    /// <summary>Never block; never raise SIGPIPE on a closed peer (send returns EPIPE instead).</summary>
    public const int MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000;

    public const int SHUT_RD = 0, SHUT_WR = 1, SHUT_RDWR = 2;

    internal const int EPOLL_CLOEXEC = 0x80000;
    internal const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;

    /// <summary>
    /// Whether the event loops can run here: Linux on x64 (where struct epoll_event is packed: 12 bytes) or arm64
    /// (16 bytes, naturally aligned).
    /// </summary>
    public static bool IsSupported => OperatingSystem.IsLinux() &&
        RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>Size of struct epoll_event and the offset of its data field on this architecture.</summary>
    internal static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    internal static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    /// <summary>recv(2) into <paramref name="buffer"/>: bytes read, 0 at end of stream, or -errno.</summary>
    public static int Receive(int fd, Span<byte> buffer)
    {
        fixed (byte* pointer = buffer)
        {
            var read = recv(fd, pointer, buffer.Length, MSG_DONTWAIT);
            return read >= 0 ? (int)read : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>send(2) of <paramref name="data"/> without blocking: bytes the kernel took (maybe fewer), or -errno.</summary>
    public static int Send(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* pointer = data)
        {
            var sent = send(fd, pointer, data.Length, MSG_DONTWAIT | MSG_NOSIGNAL);
            return sent >= 0 ? (int)sent : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>shutdown(2); errors (the peer already gone) are of no interest to the callers.</summary>
    public static void Shutdown(int fd, int how) => _ = shutdown(fd, how);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int shutdown(int fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int epoll_ctl(int epfd, int op, int fd, byte* epollEvent);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int epoll_wait(int epfd, byte* events, int maxEvents, int timeoutMs);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int close(int fd);
}
