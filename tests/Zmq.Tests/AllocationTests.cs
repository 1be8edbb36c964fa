namespace PoolCluster.Zmq.Tests;

public sealed class AllocationTests
{
    [Fact]
    public void PublishingAndReceivingInSteadyState_AllocateNothing()
    {
        using var context = new ZmqContext();
        using var publisher = new ZmqPublisher(context);
        using var subscriber = new ZmqSubscriber(context);
        subscriber.Subscribe(BitcoindZmq.HashBlock);
        subscriber.Connect(publisher.Bind($"inproc://allocation-{Guid.NewGuid():N}"));
        var message = new ZmqMultipartMessage();
        var hash = new byte[32];
        using var cancel = new CancellationTokenSource();
        using (var limit = new CancellationTokenSource(PubSubExchange.Limit))
        {
            while (!subscriber.TryReceive(message, TimeSpan.FromMilliseconds(10), limit.Token))
                BitcoindZmq.Publish(publisher, BitcoindZmq.HashBlock, hash, 0);
        }

        RoundTrips(100); // buffers grow, the token's registration node is created
        var before = GC.GetAllocatedBytesForCurrentThread();
        var received = RoundTrips(1000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(1000, received);
        Assert.Equal(0, allocated);

        int RoundTrips(int count)
        {
            var ok = 0;
            for (var i = 0; i < count; i++)
            {
                hash[0] = (byte)i;
                BitcoindZmq.Publish(publisher, BitcoindZmq.HashBlock, hash, (uint)i);
                if (subscriber.TryReceive(message, TimeSpan.FromSeconds(5), cancel.Token)
                    && BitcoindZmq.TryParse(message, out var notification)
                    && notification.IsTopic(BitcoindZmq.HashBlock) && notification.Sequence == (uint)i && notification.Body[0] == (byte)i)
                    ok++;
            }
            return ok;
        }
    }
}
