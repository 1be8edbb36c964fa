using System.Diagnostics;

namespace PoolCluster.Zmq.Tests;

/// <summary>
/// Runs a subscriber on its own thread against a publisher driven from the test thread, and deals with ZMQ's slow
/// joiner (a SUB misses whatever is published before its subscription reaches the PUB): the publisher sends
/// "warmup" messages until the subscriber has seen one, and only then publishes what the test is about, followed by
/// an "end" marker. Messages on one connection keep their order, so everything after warm-up arrives.
/// </summary>
internal static class PubSubExchange
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    /// <summary>Every message the subscriber received after warm-up, the "end" marker excluded, as frame arrays.</summary>
    public static async Task<List<byte[][]>> RunAsync(
        ZmqContext context, ZmqPublisher publisher, IEnumerable<string> connectTo, Action<ZmqSubscriber> subscribe,
        Action<ZmqPublisher> publish)
    {
        var warmedUp = new ManualResetEventSlim();
        var endpoints = connectTo.ToArray();
        var received = new List<byte[][]>();
        var subscriberThread = Task.Factory.StartNew(() =>
        {
            using var subscriber = new ZmqSubscriber(context);
            subscriber.Subscribe("warmup");
            subscriber.Subscribe("end");
            subscribe(subscriber);
            foreach (var endpoint in endpoints)
                subscriber.Connect(endpoint);
            var message = new ZmqMultipartMessage();
            using var limit = new CancellationTokenSource(Limit);
            while (true)
            {
                subscriber.Receive(message, limit.Token);
                var topic = message.FrameString(0);
                if (topic == "warmup")
                {
                    warmedUp.Set();
                    continue;
                }
                if (topic == "end")
                    return;
                received.Add(Enumerable.Range(0, message.FrameCount).Select(i => message[i].ToArray()).ToArray());
            }
        }, TaskCreationOptions.LongRunning);

        WarmUp(publisher, warmedUp, subscriberThread);
        publish(publisher);
        publisher.SendMultipart("end"u8.ToArray());
        await subscriberThread.WaitAsync(Limit);
        return received;
    }

    private static void WarmUp(ZmqPublisher publisher, ManualResetEventSlim warmedUp, Task subscriberThread)
    {
        var started = Stopwatch.GetTimestamp();
        while (!warmedUp.Wait(10))
        {
            if (subscriberThread.IsFaulted)
                subscriberThread.GetAwaiter().GetResult();
            if (Stopwatch.GetElapsedTime(started) > Limit)
                throw new TimeoutException($"the subscriber saw no warm-up message within {Limit}");
            publisher.SendMultipart("warmup"u8.ToArray());
        }
    }
}
