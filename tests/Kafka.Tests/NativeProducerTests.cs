using System.Buffers.Binary;
using Confluent.Kafka;
using Google.Protobuf;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.Kafka.Tests;

/// <summary>
/// SServer's share producer on the embedded cluster: what it sends is what Confluent.Kafka's consumer reads, a key goes
/// to the partition PoolProducer picks for it, and every refusal is told: too large, queue full, delivery failed.
/// </summary>
public class NativeProducerTests(EmbeddedKafkaFixture kafka) : IClassFixture<EmbeddedKafkaFixture>
{
    [Fact]
    public void Shares_arrive_intact_in_the_partition_PoolProducer_picks_for_their_key()
    {
        var options = kafka.CreateManifestTopics();
        var sent = Enumerable.Range(0, 200).Select(i => { var s = TestMessages.Share(i); s.UserId = 1000 + i % 37; return s; }).ToList();
        using (var native = new NativeProducer(options, TopicManifest.Share))
        {
            Span<byte> key = stackalloc byte[4];
            foreach (var share in sent)
            {
                BinaryPrimitives.WriteInt32BigEndian(key, share.UserId);
                Assert.Equal(ProduceResult.Queued, native.Produce(key, share.ToByteArray()));
            }
            Assert.Equal(0, native.Flush(TimeSpan.FromSeconds(30)));
            Assert.Equal(sent.Count, native.Delivered);
            Assert.Equal(0, native.DeliveryFailures);
        }
        // The same keys through Confluent.Kafka.
        using (var pool = new PoolProducer<int, Share>(options, TopicManifest.Share))
        {
            foreach (var share in sent)
                pool.Produce(share.UserId, share);
            Assert.Equal(0, pool.Flush(TimeSpan.FromSeconds(30)));
        }

        using var consumer = new PoolConsumer<int, Share>(options, TopicManifest.Share,
            new ConsumerSettings { StartFrom = StartFrom.Timestamp(DateTimeOffset.UtcNow.AddMinutes(-1)) });
        var received = Drain.Exactly(consumer, 2 * sent.Count);
        Assert.All(received, r => Assert.Equal(r.Message.Value.UserId, r.Message.Key));
        foreach (var user in received.GroupBy(r => r.Message.Key))
            Assert.Single(user.Select(r => r.Partition.Value).Distinct());
        Assert.True(received.Select(r => r.Partition.Value).Distinct().Count() > 1, "37 users all landed in one partition");
        // Each share twice (once per producer), byte for byte the same message.
        Assert.All(received.GroupBy(r => r.Message.Value.SessionId), copies => Assert.Equal(2, copies.Count()));
        Assert.Equal(sent.OrderBy(s => s.SessionId), received.Select(r => r.Message.Value).DistinctBy(s => s.SessionId).OrderBy(s => s.SessionId));
    }

    [Fact]
    public void An_empty_message_is_an_empty_value_not_a_tombstone()
    {
        var options = kafka.CreateManifestTopics();
        using (var native = new NativeProducer(options, TopicManifest.WorkerEvent))
        {
            Assert.Equal(ProduceResult.Queued, native.Produce([0, 0, 0, 1], ReadOnlySpan<byte>.Empty));
            Assert.Equal(0, native.Flush(TimeSpan.FromSeconds(30)));
        }
        using var consumer = new PoolConsumer<int, WorkerEvent>(options, TopicManifest.WorkerEvent,
            new ConsumerSettings { StartFrom = StartFrom.Timestamp(DateTimeOffset.UtcNow.AddMinutes(-1)) });
        var received = Drain.Exactly(consumer, 1);
        Assert.Equal(1, received[0].Message.Key);
        Assert.Equal(new WorkerEvent(), received[0].Message.Value);
    }

    [Fact]
    public void A_message_over_the_topics_limit_is_refused_with_the_reason()
    {
        var options = kafka.CreateManifestTopics();
        using var native = new NativeProducer(options, TopicManifest.Share);
        var tooLarge = new byte[KafkaClientConfig.Producer(options, TopicManifest.Load()[TopicManifest.Share], ProducerMode.Throughput).MessageMaxBytes!.Value + 1];
        var e = Assert.Throws<KafkaException>(() => native.Produce([0, 0, 0, 1], tooLarge));
        Assert.Equal(ErrorCode.MsgSizeTooLarge, e.Error.Code);
        Assert.Contains(options.TopicName(TopicManifest.Share), e.Message);
    }

    [Fact]
    public void A_full_queue_is_reported_and_undeliverable_messages_are_counted_and_logged()
    {
        // Nothing listens there: messages wait in librdkafka's queue until their timeout.
        var options = new KafkaOptions
        {
            BootstrapServers = "127.0.0.1:1", ClientId = "native-test", MessageTimeoutMs = 1500,
            Librdkafka = { ["queue.buffering.max.messages"] = "5" },
        };
        using var logs = new MemoryLoggerFactory();
        using var native = new NativeProducer(options, TopicManifest.Share, logs.CreateLogger("test"));
        var results = Enumerable.Range(0, 6).Select(_ => native.Produce([0, 0, 0, 1], [1, 2, 3])).ToList();
        Assert.Equal(Enumerable.Repeat(ProduceResult.Queued, 5).Append(ProduceResult.QueueFull), results);
        Assert.True(native.QueueLength >= 5, $"queue length {native.QueueLength}");

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (native.DeliveryFailures < 5 && DateTime.UtcNow < deadline)
            native.Poll(100);
        Assert.Equal(5, native.DeliveryFailures);
        Assert.Equal(0, native.Delivered);
        Assert.True(logs.Contains($"Kafka delivery to {options.TopicName(TopicManifest.Share)} failed"), logs.Tail());
        // The queue has room again.
        Assert.Equal(ProduceResult.Queued, native.Produce([0, 0, 0, 1], [1, 2, 3]));
    }
}
