using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace PoolCluster.Networking.Tests;

/// <summary>The event loop over real TCP sockets on 127.0.0.1: readiness, level triggering, re-arming, removal, posting.</summary>
public sealed class EpollLoopTests : IDisposable
{
    private readonly ConcurrentQueue<Exception> _errors = new();
    private readonly EpollLoop _loop;

    public EpollLoopTests() => _loop = new EpollLoop("test-loop", 4096, _errors.Enqueue);

    public void Dispose()
    {
        _loop.Dispose();
        Assert.Empty(_errors);
    }

    /// <summary>A handler that reads what arrives (at most <see cref="ReadLimit"/> bytes per event) and records it.</summary>
    private sealed class Reader(EpollLoop loop, Socket socket) : IEpollHandler
    {
        public readonly BlockingCollection<string> Received = new();
        public readonly BlockingCollection<EpollEvents> Events = new();
        public int ReadLimit = 4096;
        public int Fd => (int)socket.SafeHandle.DangerousGetHandle();
        public ulong Registration;

        public void OnEvents(EpollEvents events)
        {
            Assert.True(loop.IsOnLoopThread);
            Events.Add(events);
            if ((events & EpollEvents.Readable) == 0)
                return;
            var read = LinuxSockets.Receive(Fd, loop.ReceiveBuffer.AsSpan(0, ReadLimit));
            if (read > 0)
                Received.Add(System.Text.Encoding.ASCII.GetString(loop.ReceiveBuffer, 0, read));
            else if (read == 0)
                Received.Add("<end>");
        }
    }

    private static (Socket Client, Socket Server) Pair()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        var server = listener.Accept();
        server.Blocking = false;
        return (client, server);
    }

    private T OnLoop<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>();
        _loop.Post(_ =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }, null);
        return done.Task.WaitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
    }

    private static string Next(BlockingCollection<string> received) =>
        received.TryTake(out var item, TimeSpan.FromSeconds(10)) ? item : throw new TimeoutException("nothing arrived");

    [Fact]
    public void A_registered_socket_is_read_on_the_loop_thread_and_data_left_unread_is_reported_again()
    {
        var (client, server) = Pair();
        using var _ = client;
        using var __ = server;
        var reader = new Reader(_loop, server) { ReadLimit = 4 };
        reader.Registration = OnLoop(() => _loop.Register(reader.Fd, EpollEvents.Readable, reader));

        client.Send("hello world"u8);
        // Level-triggered: 4 bytes per event, and the loop comes back for the rest without a new send.
        Assert.Equal("hell", Next(reader.Received));
        Assert.Equal("o wo", Next(reader.Received));
        Assert.Equal("rld", Next(reader.Received));

        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("<end>", Next(reader.Received));
        OnLoop(() =>
        {
            _loop.Unregister(reader.Registration, reader.Fd);
            return 0;
        });
        Assert.Equal(0, OnLoop(() => _loop.Count));
    }

    [Fact]
    public void A_socket_watched_for_nothing_still_reports_hang_up_and_a_modified_one_reports_writable()
    {
        var (client, server) = Pair();
        using var __ = server;
        var reader = new Reader(_loop, server);
        reader.Registration = OnLoop(() => _loop.Register(reader.Fd, EpollEvents.None, reader));

        client.Send("ignored while paused"u8);
        Assert.False(reader.Events.TryTake(out _, TimeSpan.FromMilliseconds(200)), "an event for a socket watched for nothing");

        _loop.Modify(reader.Registration, reader.Fd, EpollEvents.Writable); // from this (non-loop) thread
        Assert.True(reader.Events.TryTake(out var writable, TimeSpan.FromSeconds(10)));
        Assert.True((writable & EpollEvents.Writable) != 0);
        _loop.Modify(reader.Registration, reader.Fd, EpollEvents.None);
        while (reader.Events.TryTake(out _, TimeSpan.FromMilliseconds(100)))
        {
        }

        // Our own shutdown of both directions: hang-up is reported although nothing is asked for (how a close from
        // another thread reaches a connection that is not reading).
        LinuxSockets.Shutdown(reader.Fd, LinuxSockets.SHUT_RDWR);
        Assert.True(reader.Events.TryTake(out var hangUp, TimeSpan.FromSeconds(10)));
        Assert.True((hangUp & EpollEvents.HangUp) != 0, hangUp.ToString());
        OnLoop(() =>
        {
            _loop.Unregister(reader.Registration, reader.Fd);
            return 0;
        });
        client.Dispose();
    }

    [Fact]
    public void A_slot_reused_after_removal_gets_a_new_generation_and_the_old_registration_is_inert()
    {
        var (firstClient, firstServer) = Pair();
        var (secondClient, secondServer) = Pair();
        using var a = firstClient;
        using var b = firstServer;
        using var c = secondClient;
        using var d = secondServer;
        var first = new Reader(_loop, firstServer);
        var second = new Reader(_loop, secondServer);
        first.Registration = OnLoop(() => _loop.Register(first.Fd, EpollEvents.Readable, first));
        OnLoop(() =>
        {
            _loop.Unregister(first.Registration, first.Fd);
            return 0;
        });
        second.Registration = OnLoop(() => _loop.Register(second.Fd, EpollEvents.Readable, second));
        Assert.Equal((uint)first.Registration, (uint)second.Registration); // the same slot
        Assert.NotEqual(first.Registration, second.Registration); // another generation

        // Removing with the stale registration does nothing: the second socket is still served.
        OnLoop(() =>
        {
            _loop.Unregister(first.Registration, second.Fd);
            return 0;
        });
        secondClient.Send("still here"u8);
        Assert.Equal("still here", Next(second.Received));
        firstClient.Send("nobody listens"u8);
        Assert.False(first.Received.TryTake(out _, TimeSpan.FromMilliseconds(200)));
    }

    [Fact]
    public void Work_posted_from_many_threads_runs_on_the_loop_thread_in_order_per_thread()
    {
        var seen = new ConcurrentDictionary<int, List<int>>();
        var onLoop = 0;
        Parallel.For(0, 4, thread =>
        {
            for (var i = 0; i < 1000; i++)
            {
                var item = (thread, i);
                _loop.Post(state =>
                {
                    var (t, n) = ((int, int))state!;
                    if (_loop.IsOnLoopThread)
                        Interlocked.Increment(ref onLoop);
                    seen.GetOrAdd(t, _ => []).Add(n);
                }, item);
            }
        });
        Assert.Equal(4000, OnLoop(() => seen.Values.Sum(l => l.Count)));
        Assert.Equal(4000, onLoop);
        Assert.All(seen.Values, list => Assert.Equal(Enumerable.Range(0, 1000), list));
    }

    [Fact]
    public void Register_and_unregister_refuse_other_threads()
    {
        Assert.Throws<InvalidOperationException>(() => _loop.Register(0, EpollEvents.Readable, new Reader(_loop, new Socket(SocketType.Stream, ProtocolType.Tcp))));
        Assert.Throws<InvalidOperationException>(() => _loop.Unregister(0, 0));
    }
}
