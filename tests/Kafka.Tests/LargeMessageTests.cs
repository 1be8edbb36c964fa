using Confluent.Kafka;
using Google.Protobuf;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.Kafka.Tests;

/// <summary>Templates are megabytes: the manifest's max_message_bytes sets every client limit.</summary>
public class LargeMessageTests(EmbeddedKafkaFixture kafka) : IClassFixture<EmbeddedKafkaFixture>
{
    [Fact]
    public async Task A_5_MB_template_passes_through_the_rawgbt_topic()
    {
        var options = kafka.CreateManifestTopics();
        // 2,500 transactions of 2 kB of random bytes: 5 MB that lz4 cannot shrink.
        var sent = TestMessages.RawGbt(transactions: 2_500, transactionBytes: 2_000, seed: 5);
        Assert.True(sent.CalculateSize() > 5_000_000, $"test template is only {sent.CalculateSize()} bytes");

        using var producer = new PoolProducer<string, RawGbt>(options, TopicManifest.RawGbt);
        using var consumer = new PoolConsumer<string, RawGbt>(options, TopicManifest.RawGbt,
            new ConsumerSettings { GroupId = null, StartFrom = StartFrom.Newest });
        Assert.Null(consumer.Consume(TimeSpan.FromMilliseconds(100))); // assigned at the (empty) end

        var delivery = await producer.ProduceAsync(sent.NodeName, sent);
        var received = Drain.Exactly(consumer, 1).Single();

        Assert.Equal(delivery.Offset, received.Offset);
        Assert.Equal(sent, received.Message.Value);
    }

    [Fact]
    public async Task A_message_over_the_topics_limit_is_refused_with_MsgSizeTooLarge()
    {
        var options = kafka.CreateOptions();
        var topic = kafka.CreateTopic("small", maxMessageBytes: 1_048_576);
        using var producer = new PoolProducer<string, RawGbt>(options, topic);
        var tooLarge = TestMessages.RawGbt(transactions: 1_000, transactionBytes: 2_000);

        var error = await Assert.ThrowsAsync<ProduceException<string, RawGbt>>(() => producer.ProduceAsync("node", tooLarge));

        Assert.Equal(ErrorCode.MsgSizeTooLarge, error.Error.Code);
        Assert.Equal(1, producer.DeliveryFailures);
    }
}
