using System.Diagnostics;

namespace PoolCluster.Zmq.Tests;

public sealed class LifetimeAndErrorTests
{
    [Fact]
    public void MissingLibrary_SaysWhichDebianPackageToInstall()
    {
        var error = Assert.Throws<ZmqLibraryNotFoundException>(() => new ZmqContext("libzmq-not-installed.so.99"));

        Assert.Contains("libzmq-not-installed.so.99", error.Message);
        Assert.Contains("install Debian package libzmq5", error.Message);
        Assert.Contains("cannot open shared object file", error.Message);
        Assert.IsType<DllNotFoundException>(error.InnerException);
    }

    [Fact]
    public void LibraryWithoutZmqExports_IsRefusedWithTheSameAdvice()
    {
        // A real shared library that is not libzmq.
        var error = Assert.Throws<ZmqLibraryNotFoundException>(() => new ZmqContext("libc.so.6"));
        Assert.Contains("zmq_version", error.Message);
        Assert.Contains("libzmq5", error.Message);
    }

    [Fact]
    public void TheInstalledLibrary_IsVersion4()
    {
        Assert.Equal(4, ZmqContext.LibraryVersion.Major);
    }

    [Fact]
    public void ZmqErrors_CarryStrerrorTextAndTheEndpoint()
    {
        using var context = new ZmqContext();
        using var first = new ZmqPublisher(context);
        using var second = new ZmqPublisher(context);
        var endpoint = first.Bind("tcp://127.0.0.1:*");

        var inUse = Assert.Throws<ZmqException>(() => second.Bind(endpoint));
        Assert.Contains($"zmq_bind({endpoint})", inUse.Message);
        Assert.Contains("Address already in use", inUse.Message);
        Assert.Equal(98, inUse.ErrorNumber); // EADDRINUSE on Linux

        var malformed = Assert.Throws<ZmqException>(() => second.Bind("tcp://127.0.0.1:notaport"));
        Assert.Contains("Invalid argument", malformed.Message);

        var unknownTransport = Assert.Throws<ZmqException>(() => second.Connect("carrier-pigeon://coop"));
        Assert.Contains("zmq_connect(carrier-pigeon://coop)", unknownTransport.Message);
        Assert.Contains("Protocol not supported", unknownTransport.Message);
    }

    [Fact]
    public void SocketOptions_AreSetAsDocumented()
    {
        using var context = new ZmqContext();
        using var subscriber = new ZmqSubscriber(context);
        using var publisher = new ZmqPublisher(context);

        Assert.Equal(0, subscriber.GetIntOption(LibZmq.ZMQ_LINGER));
        Assert.Equal(0, publisher.GetIntOption(LibZmq.ZMQ_LINGER));
        Assert.Equal(0, subscriber.GetIntOption(LibZmq.ZMQ_RCVHWM));
        Assert.Equal(1, subscriber.GetIntOption(LibZmq.ZMQ_TCP_KEEPALIVE));
        Assert.Equal(60, subscriber.GetIntOption(LibZmq.ZMQ_TCP_KEEPALIVE_IDLE));
        Assert.Equal(15, subscriber.GetIntOption(LibZmq.ZMQ_TCP_KEEPALIVE_INTVL));
        Assert.Equal(4, subscriber.GetIntOption(LibZmq.ZMQ_TCP_KEEPALIVE_CNT));

        subscriber.SetTcpKeepalive(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), 9);
        subscriber.SetReceiveHighWatermark(5000);
        publisher.SetSendHighWatermark(2000);
        Assert.Equal(30, subscriber.GetIntOption(LibZmq.ZMQ_TCP_KEEPALIVE_IDLE));
        Assert.Equal(5, subscriber.GetIntOption(LibZmq.ZMQ_TCP_KEEPALIVE_INTVL));
        Assert.Equal(9, subscriber.GetIntOption(LibZmq.ZMQ_TCP_KEEPALIVE_CNT));
        Assert.Equal(5000, subscriber.GetIntOption(LibZmq.ZMQ_RCVHWM));
        Assert.Equal(2000, publisher.GetIntOption(LibZmq.ZMQ_SNDHWM));

        subscriber.DisableTcpKeepalive();
        Assert.Equal(0, subscriber.GetIntOption(LibZmq.ZMQ_TCP_KEEPALIVE));
        Assert.Throws<ArgumentOutOfRangeException>(() => subscriber.SetTcpKeepalive(TimeSpan.Zero, TimeSpan.FromSeconds(1), 1));
    }

    [Fact]
    public async Task DisposingWithUndeliveredMessages_DoesNotHang()
    {
        // A subscriber in another context that never reads: TCP buffers and the publisher's queue fill up, so the
        // publisher holds undelivered messages. With libzmq's default linger (forever) terminating the publisher's
        // context would wait for a delivery that never comes.
        using var stalledContext = new ZmqContext();
        using var stalled = new ZmqSubscriber(stalledContext);
        stalled.Subscribe("");
        stalled.SetReceiveHighWatermark(1);

        var disposal = Task.Run(() =>
        {
            var context = new ZmqContext();
            var publisher = new ZmqPublisher(context);
            var subscriber = new ZmqSubscriber(context);
            var endpoint = publisher.Bind("tcp://127.0.0.1:*");
            stalled.Connect(endpoint);
            subscriber.Subscribe("");
            subscriber.Connect(endpoint);
            var payload = new byte[64 * 1024];
            using (var limit = new CancellationTokenSource(PubSubExchange.Limit))
            {
                while (!subscriber.TryReceive(new ZmqMultipartMessage(), TimeSpan.FromMilliseconds(10), limit.Token))
                    publisher.Send(payload);
            }
            for (var i = 0; i < 2000; i++)
                publisher.Send(payload);

            // The context goes first while both sockets are open: it must wait for them, not fail or hang.
            context.Dispose();
            Assert.Throws<ObjectDisposedException>(() => new ZmqSubscriber(context));
            publisher.Send(payload); // sockets keep working until they are closed
            publisher.Dispose();
            subscriber.Dispose();
        });

        var started = Stopwatch.GetTimestamp();
        await disposal.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void ADisposedSocket_ThrowsObjectDisposed()
    {
        using var context = new ZmqContext();
        var subscriber = new ZmqSubscriber(context);
        subscriber.Dispose();
        subscriber.Dispose();

        Assert.Throws<ObjectDisposedException>(() => subscriber.Connect("tcp://127.0.0.1:1"));
        Assert.Throws<ObjectDisposedException>(() => subscriber.TryReceive(new ZmqMultipartMessage(), TimeSpan.Zero));
    }
}
