using System.Collections.Concurrent;
using System.ComponentModel;
using System.Runtime.InteropServices;

namespace PoolCluster.Networking;

/// <summary>What a file descriptor is ready for (the epoll event bits the loops use).</summary>
[Flags]
public enum EpollEvents : uint
{
    None = 0,
    Readable = 0x001,
    Writable = 0x004,
    /// <summary>Always reported, whether asked for or not.</summary>
    Error = 0x008,
    /// <summary>Always reported, whether asked for or not (both directions shut down, or the peer reset).</summary>
    HangUp = 0x010,
}

/// <summary>Something registered with an <see cref="EpollLoop"/>: told on the loop's thread what its descriptor is ready for.</summary>
public interface IEpollHandler
{
    void OnEvents(EpollEvents events);
}

/// <summary>
/// One thread that waits in epoll_wait for many sockets and calls each ready one's handler itself: no thread-pool
/// hop, no allocation, and one receive buffer shared by all of the loop's sockets (an idle socket holds none).
/// Level-triggered: a handler that leaves data unread is called again.
/// <para>
/// Threading: <see cref="Register"/> and <see cref="Unregister"/> only on the loop's thread (so the handler table needs
/// no lock); <see cref="Modify"/> and <see cref="Post"/> from any thread. Work for the loop's thread from elsewhere
/// (a new socket, a task that finished) goes through <see cref="Post"/>, which wakes the loop with an eventfd.
/// </para>
/// </summary>
public sealed unsafe class EpollLoop : IDisposable
{
    private const ulong WakeupToken = ulong.MaxValue;
    private const int MaxEventsPerWait = 256;

    private readonly int _epoll;
    private readonly EventFd _wakeup;
    private readonly Thread _thread;
    private readonly Action<Exception> _onHandlerError;
    private readonly ConcurrentQueue<(Action<object?> Work, object? State)> _posted = new();
    private IEpollHandler?[] _handlers = new IEpollHandler?[256];
    private uint[] _generations = new uint[256];
    private readonly Stack<int> _freeSlots = new();
    private int _nextSlot;
    private volatile bool _stopping;

    /// <param name="name">The thread's name.</param>
    /// <param name="receiveBufferBytes">Size of <see cref="ReceiveBuffer"/>.</param>
    /// <param name="onHandlerError">Called (on the loop's thread) with what a handler or posted work threw; the loop goes on.</param>
    public EpollLoop(string name, int receiveBufferBytes, Action<Exception> onHandlerError)
    {
        if (!LinuxSockets.IsSupported)
            throw new PlatformNotSupportedException("epoll event loops need Linux on x64 or arm64");
        _onHandlerError = onHandlerError;
        ReceiveBuffer = GC.AllocateUninitializedArray<byte>(receiveBufferBytes, pinned: true);
        _epoll = LinuxSockets.epoll_create1(LinuxSockets.EPOLL_CLOEXEC);
        if (_epoll < 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError(), "epoll_create1 failed");
        _wakeup = EventFd.Create();
        Control(LinuxSockets.EPOLL_CTL_ADD, _wakeup.FileDescriptor, EpollEvents.Readable, WakeupToken);
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>A buffer for receives on the loop's thread: what a handler reads is handled before the next handler runs.</summary>
    public byte[] ReceiveBuffer { get; }

    public bool IsOnLoopThread => Thread.CurrentThread == _thread;

    /// <summary>Descriptors registered now.</summary>
    public int Count { get; private set; }

    /// <summary>Adds <paramref name="fd"/> (loop thread only). Returns the registration to pass to <see cref="Modify"/> and <see cref="Unregister"/>.</summary>
    public ulong Register(int fd, EpollEvents events, IEpollHandler handler)
    {
        EnsureLoopThread();
        int slot;
        if (!_freeSlots.TryPop(out slot))
        {
            slot = _nextSlot++;
            if (slot == _handlers.Length)
            {
                Array.Resize(ref _handlers, slot * 2);
                Array.Resize(ref _generations, slot * 2);
            }
        }
        _handlers[slot] = handler;
        var registration = (ulong)_generations[slot] << 32 | (uint)slot;
        Control(LinuxSockets.EPOLL_CTL_ADD, fd, events, registration);
        Count++;
        return registration;
    }

    /// <summary>Changes what <paramref name="fd"/> is watched for (any thread). Error and hang-up are always reported.</summary>
    public void Modify(ulong registration, int fd, EpollEvents events) => Control(LinuxSockets.EPOLL_CTL_MOD, fd, events, registration);

    /// <summary>Removes <paramref name="fd"/> (loop thread only; before the descriptor is closed). Events already fetched for it are dropped.</summary>
    public void Unregister(ulong registration, int fd)
    {
        EnsureLoopThread();
        var slot = (int)(uint)registration;
        if (_handlers[slot] == null || _generations[slot] != (uint)(registration >> 32))
            return;
        _ = LinuxSockets.epoll_ctl(_epoll, LinuxSockets.EPOLL_CTL_DEL, fd, null);
        _handlers[slot] = null;
        _generations[slot]++;
        _freeSlots.Push(slot);
        Count--;
    }

    /// <summary>Runs <paramref name="work"/> on the loop's thread soon (any thread; static lambdas and a state avoid allocating).</summary>
    public void Post(Action<object?> work, object? state)
    {
        _posted.Enqueue((work, state));
        _wakeup.Signal();
    }

    private void Control(int operation, int fd, EpollEvents events, ulong data)
    {
        var buffer = stackalloc byte[16];
        *(uint*)buffer = (uint)events;
        *(ulong*)(buffer + LinuxSockets.EpollDataOffset) = data;
        if (LinuxSockets.epoll_ctl(_epoll, operation, fd, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            // ENOENT/EBADF: the descriptor was closed or removed meanwhile (a race with a close on another thread): nothing to watch.
            if (operation == LinuxSockets.EPOLL_CTL_MOD && errno is 2 or 9)
                return;
            throw new Win32Exception(errno, $"epoll_ctl({operation}) of fd {fd} failed");
        }
    }

    private void EnsureLoopThread()
    {
        if (!IsOnLoopThread)
            throw new InvalidOperationException("only on the loop's thread");
    }

    private void Run()
    {
        var size = LinuxSockets.EpollEventSize;
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEventsPerWait * size));
        try
        {
            while (!_stopping)
            {
                var count = LinuxSockets.epoll_wait(_epoll, events, MaxEventsPerWait, -1);
                if (count < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == LinuxSockets.EINTR)
                        continue;
                    _onHandlerError(new Win32Exception(errno, "epoll_wait failed"));
                    Thread.Sleep(10);
                    continue;
                }
                for (var i = 0; i < count; i++)
                {
                    var entry = events + i * size;
                    var ready = (EpollEvents)(*(uint*)entry);
                    var data = *(ulong*)(entry + LinuxSockets.EpollDataOffset);
                    if (data == WakeupToken)
                    {
                        _wakeup.Reset();
                        RunPosted();
                        continue;
                    }
                    var slot = (int)(uint)data;
                    var handler = _handlers[slot];
                    if (handler == null || _generations[slot] != (uint)(data >> 32))
                        continue; // unregistered earlier in this batch
                    try
                    {
                        handler.OnEvents(ready);
                    }
                    catch (Exception e)
                    {
                        _onHandlerError(e);
                    }
                }
            }
            RunPosted();
        }
        finally
        {
            NativeMemory.Free(events);
        }
    }

    private void RunPosted()
    {
        while (_posted.TryDequeue(out var item))
        {
            try
            {
                item.Work(item.State);
            }
            catch (Exception e)
            {
                _onHandlerError(e);
            }
        }
    }

    /// <summary>Stops the thread (after the work posted so far) and closes the epoll descriptor; registered sockets stay open.</summary>
    public void Dispose()
    {
        if (_stopping)
            return;
        _stopping = true;
        _wakeup.Signal();
        if (!IsOnLoopThread)
            _thread.Join(TimeSpan.FromSeconds(5));
        _wakeup.Dispose();
        _ = LinuxSockets.close(_epoll);
    }
}
