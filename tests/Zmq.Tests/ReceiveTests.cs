using System.Diagnostics;

namespace PoolCluster.Zmq.Tests;

public sealed class ReceiveTests : IDisposable
{
    private readonly ZmqContext _context = new();

    public void Dispose() => _context.Dispose();

    [Fact]
    public void TryReceive_WithNothingPublished_ReturnsFalseAfterTheTimeout()
    {
        using var publisher = new ZmqPublisher(_context);
        using var subscriber = new ZmqSubscriber(_context);
        subscriber.Subscribe("");
        subscriber.Connect(publisher.Bind("tcp://127.0.0.1:*"));
        var message = new ZmqMultipartMessage();

        var started = Stopwatch.GetTimestamp();
        var received = subscriber.TryReceive(message, TimeSpan.FromMilliseconds(300));
        var elapsed = Stopwatch.GetElapsedTime(started);

        Assert.False(received);
        Assert.Equal(0, message.FrameCount);
        Assert.InRange(elapsed, TimeSpan.FromMilliseconds(290), TimeSpan.FromSeconds(3));
        Assert.False(subscriber.TryReceive(message, TimeSpan.Zero));
    }

    [Fact]
    public async Task Cancellation_StopsABlockedReceivePromptly()
    {
        using var publisher = new ZmqPublisher(_context);
        var endpoint = publisher.Bind("tcp://127.0.0.1:*");
        using var cancel = new CancellationTokenSource();
        var blocked = new ManualResetEventSlim();
        var receiver = Task.Factory.StartNew(() =>
        {
            using var subscriber = new ZmqSubscriber(_context);
            subscriber.Subscribe("");
            subscriber.Connect(endpoint);
            blocked.Set();
            subscriber.Receive(new ZmqMultipartMessage(), cancel.Token);
        }, TaskCreationOptions.LongRunning);

        Assert.True(blocked.Wait(TimeSpan.FromSeconds(10)));
        await Task.Delay(200); // let it settle into zmq_poll
        Assert.False(receiver.IsCompleted);
        var cancelledAt = Stopwatch.GetTimestamp();
        cancel.Cancel();
        var exception = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receiver.WaitAsync(TimeSpan.FromSeconds(10)));
        var latency = Stopwatch.GetElapsedTime(cancelledAt);

        Assert.Equal(cancel.Token, exception.CancellationToken);
        // The eventfd wakes zmq_poll at once; a slice-polling loop would show its slice here.
        // Prompt means well inside the 10 s receive timeout; the bound is loose because the test machine may be loaded.
        Assert.True(latency < TimeSpan.FromMilliseconds(3000), $"receive stopped {latency.TotalMilliseconds:F0} ms after Cancel");
    }

    [Fact]
    public void Cancellation_StopsATimedReceiveBeforeItsTimeout()
    {
        using var subscriber = new ZmqSubscriber(_context);
        subscriber.Subscribe("");
        subscriber.Connect($"inproc://nobody-{Guid.NewGuid():N}");
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        var started = Stopwatch.GetTimestamp();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            subscriber.TryReceive(new ZmqMultipartMessage(), TimeSpan.FromSeconds(30), cancel.Token));
        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void AnAlreadyCancelledToken_ThrowsWithoutWaiting()
    {
        using var subscriber = new ZmqSubscriber(_context);
        Assert.ThrowsAny<OperationCanceledException>(() =>
            subscriber.TryReceive(new ZmqMultipartMessage(), TimeSpan.FromSeconds(30), new CancellationToken(canceled: true)));
    }

    [Fact]
    public void AfterACancelledReceive_TheSocketStillReceivesAndTimesOut()
    {
        using var publisher = new ZmqPublisher(_context);
        var endpoint = publisher.Bind("tcp://127.0.0.1:*");
        using var subscriber = new ZmqSubscriber(_context);
        subscriber.Subscribe("");
        subscriber.Connect(endpoint);
        var message = new ZmqMultipartMessage();

        using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50)))
            Assert.ThrowsAny<OperationCanceledException>(() => subscriber.Receive(message, cancel.Token));

        // A stale wake-up left behind must neither end a later wait early nor stop it from receiving.
        using var other = new CancellationTokenSource();
        var started = Stopwatch.GetTimestamp();
        Assert.False(subscriber.TryReceive(message, TimeSpan.FromMilliseconds(200), other.Token));
        Assert.True(Stopwatch.GetElapsedTime(started) >= TimeSpan.FromMilliseconds(190));

        // The same thread publishes and receives here; the subscriber is already connected, so warm up inline.
        using var limit = new CancellationTokenSource(PubSubExchange.Limit);
        while (!subscriber.TryReceive(message, TimeSpan.FromMilliseconds(20), limit.Token))
            publisher.SendMultipart("ping"u8.ToArray(), "1"u8.ToArray());
        Assert.Equal(2, message.FrameCount);
        Assert.Equal("ping", message.FrameString(0));
    }

    [Fact]
    public void TryReceive_RejectsANegativeTimeout()
    {
        using var subscriber = new ZmqSubscriber(_context);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            subscriber.TryReceive(new ZmqMultipartMessage(), TimeSpan.FromMilliseconds(-5)));
    }
}
