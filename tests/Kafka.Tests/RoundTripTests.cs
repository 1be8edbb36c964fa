using Confluent.Kafka;
using Google.Protobuf;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.Kafka.Tests;

/// <summary>Every topic's message type through a real produce and fetch on the embedded cluster, on the manifest's own topics.</summary>
public class RoundTripTests(EmbeddedKafkaFixture kafka) : IClassFixture<EmbeddedKafkaFixture>
{
    [Fact]
    public async Task RawGbt_keyed_by_node_name_round_trips()
    {
        var options = kafka.CreateManifestTopics();
        var sent = TestMessages.RawGbt();
        var received = await RoundTrip<string, RawGbt>(options, TopicManifest.RawGbt, sent.NodeName, sent, ProducerMode.Throughput);
        Assert.Equal("node-a", received.Message.Key);
    }

    [Fact]
    public async Task StratumJob_unkeyed_round_trips()
    {
        var options = kafka.CreateManifestTopics();
        await RoundTrip<Null, StratumJob>(options, TopicManifest.StratumJob, null!, TestMessages.StratumJob(), ProducerMode.Throughput);
    }

    [Fact]
    public async Task Share_keyed_by_user_id_round_trips_and_a_users_shares_stay_in_one_partition_in_order()
    {
        var options = kafka.CreateManifestTopics();
        var topic = TopicManifest.Load()[TopicManifest.Share];
        using var producer = new PoolProducer<int, Share>(options, TopicManifest.Share);
        using var consumer = new PoolConsumer<int, Share>(options, TopicManifest.Share,
            new ConsumerSettings { StartFrom = StartFrom.Timestamp(DateTimeOffset.UtcNow.AddMinutes(-1)) });
        var sent = Enumerable.Range(0, 60).Select(TestMessages.Share).ToList();
        var delivered = 0;
        foreach (var share in sent)
            producer.Produce(share.UserId, share, report => Assert.False(report.Error.IsError, report.Error.Reason));
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, producer.DeliveryFailures);

        var received = Drain.Exactly(consumer, sent.Count);
        delivered = received.Count;

        Assert.Equal(sent.Count, delivered);
        Assert.Equal(sent.OrderBy(s => s.SessionId), received.Select(r => r.Message.Value).OrderBy(s => s.SessionId));
        Assert.All(received, r => Assert.Equal(r.Message.Value.UserId, r.Message.Key));
        foreach (var user in received.GroupBy(r => r.Message.Key))
        {
            Assert.Single(user.Select(r => r.Partition.Value).Distinct());
            Assert.Equal(user.Select(r => r.Message.Value.SessionId).OrderBy(s => s), user.Select(r => r.Message.Value.SessionId));
        }
        Assert.True(received.Select(r => r.Partition.Value).Distinct().Count() > 1, $"5 users over {topic.Partitions} partitions all landed in one");
    }

    [Fact]
    public async Task SolvedShare_produced_durably_round_trips()
    {
        var options = kafka.CreateManifestTopics();
        var received = await RoundTrip<Null, SolvedShare>(options, TopicManifest.SolvedShare, null!, TestMessages.SolvedShare(), ProducerMode.Durable);
        Assert.Equal(TopicManifest.SolvedShare, received.Topic[options.TopicPrefix.Length..]);
    }

    [Fact]
    public async Task WorkerEvent_keyed_by_user_id_round_trips()
    {
        var options = kafka.CreateManifestTopics();
        var sent = TestMessages.WorkerEvent(5);
        var received = await RoundTrip<int, WorkerEvent>(options, TopicManifest.WorkerEvent, sent.UserId, sent, ProducerMode.Throughput);
        Assert.Equal(1005, received.Message.Key);
    }

    private static async Task<ConsumeResult<TKey, TMessage>> RoundTrip<TKey, TMessage>(
        KafkaOptions options, string manifestTopic, TKey key, TMessage sent, ProducerMode mode)
        where TMessage : class, IMessage<TMessage>, new()
    {
        using var producer = new PoolProducer<TKey, TMessage>(options, manifestTopic, mode);
        var delivery = await producer.ProduceAsync(key, sent);
        Assert.Equal(PersistenceStatus.Persisted, delivery.Status);
        Assert.Equal(options.TopicName(manifestTopic), delivery.Topic);

        using var consumer = new PoolConsumer<TKey, TMessage>(options, manifestTopic, new ConsumerSettings { StartFrom = StartFrom.Newest });
        var received = Drain.Exactly(consumer, 1).Single();

        Assert.Equal(sent, received.Message.Value);
        Assert.NotSame(sent, received.Message.Value);
        Assert.Equal(delivery.TopicPartitionOffset, received.TopicPartitionOffset);
        return received;
    }
}
