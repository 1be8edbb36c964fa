using Confluent.Kafka;
using Google.Protobuf;

namespace PoolCluster.Kafka.Tests;

/// <summary>Polling helpers: read until a count or a deadline, never a fixed sleep.</summary>
internal static class Drain
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Consumes until <paramref name="count"/> messages arrived; fails the test with what did arrive on timeout.</summary>
    public static List<ConsumeResult<TKey, TMessage>> Exactly<TKey, TMessage>(PoolConsumer<TKey, TMessage> consumer, int count, TimeSpan? timeout = null)
        where TMessage : class, IMessage<TMessage>, new()
    {
        var results = new List<ConsumeResult<TKey, TMessage>>(count);
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (results.Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {results.Count} of {count} messages arrived from {consumer.Topic} in time");
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result != null)
                results.Add(result);
        }
        return results;
    }

    /// <summary>Asserts that nothing more arrives within <paramref name="quiet"/> (a bounded check that nothing is delivered twice).</summary>
    public static void Nothing<TKey, TMessage>(PoolConsumer<TKey, TMessage> consumer, TimeSpan quiet)
        where TMessage : class, IMessage<TMessage>, new()
    {
        var deadline = DateTime.UtcNow + quiet;
        while (DateTime.UtcNow < deadline)
        {
            var extra = consumer.Consume(TimeSpan.FromMilliseconds(50));
            Assert.True(extra == null, extra == null ? "" : $"unexpected message at {extra.TopicPartitionOffset}");
        }
    }

    /// <summary>Polls every consumer until <paramref name="done"/> holds (consumers of one group must all poll for a rebalance to finish).</summary>
    public static void PollUntil<TKey, TMessage>(IReadOnlyList<PoolConsumer<TKey, TMessage>> consumers, Func<bool> done, string what, TimeSpan? timeout = null)
        where TMessage : class, IMessage<TMessage>, new()
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            foreach (var consumer in consumers)
            {
                var unexpected = consumer.Consume(TimeSpan.FromMilliseconds(20));
                Assert.True(unexpected == null, unexpected == null ? "" : $"message before {what}: {unexpected.TopicPartitionOffset}");
            }
        }
    }
}
