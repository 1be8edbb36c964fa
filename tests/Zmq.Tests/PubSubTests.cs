using System.Security.Cryptography;
using System.Text;
using PoolCluster.Testing;

namespace PoolCluster.Zmq.Tests;

public sealed class PubSubTests : IDisposable
{
    private readonly ZmqContext _context = new();

    public void Dispose() => _context.Dispose();

    [Fact]
    public async Task Tcp_PublisherThreadReachesSubscriberThread()
    {
        using var publisher = new ZmqPublisher(_context);
        var endpoint = publisher.Bind("tcp://127.0.0.1:*");
        Assert.Matches(@"^tcp://127\.0\.0\.1:\d+$", endpoint);
        Assert.NotEqual("tcp://127.0.0.1:0", endpoint);

        var received = await PubSubExchange.RunAsync(_context, publisher, [endpoint], s => s.Subscribe("block"),
            p =>
            {
                for (var i = 0; i < 3; i++)
                    p.SendMultipart(Encoding.ASCII.GetBytes("block"), BitConverter.GetBytes(i));
            });

        Assert.Equal(3, received.Count);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("block", Encoding.ASCII.GetString(received[i][0]));
            Assert.Equal(i, BitConverter.ToInt32(received[i][1]));
        }
    }

    public static TheoryData<string> LocalTransports => new()
    {
        $"inproc://pubsub-{Guid.NewGuid():N}",
        $"ipc://{Path.Combine(Path.GetTempPath(), $"poolcluster-zmq-{Guid.NewGuid():N}.ipc")}",
    };

    [Theory]
    [MemberData(nameof(LocalTransports))]
    public async Task LocalTransport_DeliversMultipartMessages(string endpoint)
    {
        try
        {
            using var publisher = new ZmqPublisher(_context);
            var bound = publisher.Bind(endpoint);
            Assert.Equal(endpoint, bound);

            var received = await PubSubExchange.RunAsync(_context, publisher, [bound], s => s.Subscribe("t"),
                p => p.SendMultipart("t"u8.ToArray(), Array.Empty<byte>(), "third"u8.ToArray(), new byte[] { 0, 1, 2 }));

            var frames = Assert.Single(received);
            Assert.Equal(4, frames.Length);
            Assert.Equal("t"u8.ToArray(), frames[0]);
            Assert.Empty(frames[1]);
            Assert.Equal("third"u8.ToArray(), frames[2]);
            Assert.Equal(new byte[] { 0, 1, 2 }, frames[3]);
        }
        finally
        {
            if (endpoint.StartsWith("ipc://", StringComparison.Ordinal))
                File.Delete(endpoint["ipc://".Length..]);
        }
    }

    [Fact]
    public async Task TopicFilters_DeliverOnlyMatchingPrefixes()
    {
        using var publisher = new ZmqPublisher(_context);
        var endpoint = publisher.Bind("tcp://127.0.0.1:*");

        var received = await PubSubExchange.RunAsync(_context, publisher, [endpoint],
            s =>
            {
                s.Subscribe("hash");       // hashblock, hashtx
                s.Subscribe("rawblock");
                s.Subscribe("rawtx");
                s.Unsubscribe("rawtx");
            },
            p =>
            {
                foreach (var topic in new[] { "hashblock", "rawblock", "hashtx", "rawtx", "sequence", "has" })
                    BitcoindZmq.Publish(p, topic, Encoding.ASCII.GetBytes(topic), 7);
            });

        Assert.Equal(["hashblock", "rawblock", "hashtx"], received.Select(m => Encoding.ASCII.GetString(m[0])));
    }

    [Fact]
    public async Task Subscriber_ConnectedToTwoPublishers_ReceivesFromBoth()
    {
        using var tcp = new ZmqPublisher(_context);
        using var inproc = new ZmqPublisher(_context);
        var tcpEndpoint = tcp.Bind("tcp://127.0.0.1:*");
        var inprocEndpoint = inproc.Bind($"inproc://second-{Guid.NewGuid():N}");

        var warmedUpBoth = new CountdownEvent(2);
        var received = new List<string>();
        var subscriberThread = Task.Factory.StartNew(() =>
        {
            using var subscriber = new ZmqSubscriber(_context);
            subscriber.Subscribe("");
            subscriber.Connect(tcpEndpoint);
            subscriber.Connect(inprocEndpoint);
            var message = new ZmqMultipartMessage();
            var seen = new HashSet<string>();
            using var limit = new CancellationTokenSource(PubSubExchange.Limit);
            while (received.Count < 2)
            {
                subscriber.Receive(message, limit.Token);
                var text = message.FrameString(0);
                if (text.StartsWith("warmup", StringComparison.Ordinal))
                {
                    if (seen.Add(text))
                        warmedUpBoth.Signal();
                    continue;
                }
                received.Add(text);
            }
        }, TaskCreationOptions.LongRunning);

        var limitAt = DateTime.UtcNow + PubSubExchange.Limit;
        while (!warmedUpBoth.Wait(10))
        {
            Assert.True(DateTime.UtcNow < limitAt, "the subscriber did not hear from both publishers");
            Assert.False(subscriberThread.IsFaulted, subscriberThread.Exception?.ToString());
            tcp.Send("warmup-tcp"u8);
            inproc.Send("warmup-inproc"u8);
        }
        tcp.Send("from-tcp"u8);
        inproc.Send("from-inproc"u8);
        await subscriberThread.WaitAsync(PubSubExchange.Limit);

        Assert.Equal(["from-inproc", "from-tcp"], received.Order());
    }

    [Fact]
    public async Task BitcoindNotifications_RoundTripWithARealBlock()
    {
        // A real 1.5 MB block as rawblock, and its hash as bitcoind frames hashblock: double SHA-256 of the
        // 80-byte header, byte-reversed into display order (the order of the hash in the test data's README).
        var block = await File.ReadAllBytesAsync(TestPaths.TestDataFile("blocks", "testnet3-block928816.raw"));
        var hash = SHA256.HashData(SHA256.HashData(block.AsSpan(0, 80)));
        Array.Reverse(hash);
        Assert.Equal("00000000000001c4b87edf974ddc601d88dda332265b9849a944a5ff0141a378", Convert.ToHexStringLower(hash));

        using var publisher = new ZmqPublisher(_context);
        var endpoint = publisher.Bind("tcp://127.0.0.1:*");
        var received = await PubSubExchange.RunAsync(_context, publisher, [endpoint],
            s =>
            {
                s.Subscribe(BitcoindZmq.HashBlock);
                s.Subscribe(BitcoindZmq.RawBlock);
            },
            p =>
            {
                BitcoindZmq.Publish(p, BitcoindZmq.HashBlock, hash, 0);
                BitcoindZmq.Publish(p, BitcoindZmq.RawBlock, block, 0);
                BitcoindZmq.Publish(p, BitcoindZmq.HashBlock, hash, 0x01020304);
            });

        Assert.Equal(3, received.Count);
        // The wire shape, frame by frame, as bitcoind sends it.
        Assert.Equal("hashblock"u8.ToArray(), received[0][0]);
        Assert.Equal(hash, received[0][1]);
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, received[0][2]);
        Assert.Equal("rawblock"u8.ToArray(), received[1][0]);
        Assert.Equal(block, received[1][1]);
        Assert.Equal(new byte[] { 4, 3, 2, 1 }, received[2][2]);

        // And the parser reads the same messages back.
        var message = Rebuild(received[2]);
        Assert.True(BitcoindZmq.TryParse(message, out var notification));
        Assert.True(notification.IsTopic(BitcoindZmq.HashBlock));
        Assert.False(notification.IsTopic(BitcoindZmq.HashTx));
        Assert.Equal(hash, notification.Body.ToArray());
        Assert.Equal(0x01020304u, notification.Sequence);
    }

    [Fact]
    public void BitcoindParse_RejectsOtherShapes()
    {
        Assert.False(BitcoindZmq.TryParse(Rebuild(["hashblock"u8.ToArray(), new byte[32]]), out _));
        Assert.False(BitcoindZmq.TryParse(Rebuild(["hashblock"u8.ToArray(), new byte[32], new byte[3]]), out _));
        Assert.False(BitcoindZmq.TryParse(Rebuild(["a"u8.ToArray(), new byte[32], new byte[4], new byte[4]]), out _));
        Assert.True(BitcoindZmq.TryParse(Rebuild(["a"u8.ToArray(), new byte[32], new byte[4]]), out _));
    }

    [Fact]
    public void ReceivingIntoAReusedMessage_ReplacesItsFrames()
    {
        var message = new ZmqMultipartMessage(initialCapacity: 1);
        message.AddFrame("first-and-long"u8);
        message.AddFrame("x"u8);
        message.Clear();
        message.AddFrame("second"u8);
        Assert.Equal(1, message.FrameCount);
        Assert.Equal("second", message.FrameString(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => message.FrameMemory(1));
    }

    private static ZmqMultipartMessage Rebuild(byte[][] frames)
    {
        var message = new ZmqMultipartMessage();
        foreach (var frame in frames)
            message.AddFrame(frame);
        return message;
    }
}
