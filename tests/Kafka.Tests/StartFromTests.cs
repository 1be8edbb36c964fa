using Confluent.Kafka;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.Kafka.Tests;

/// <summary>Where consumers start: newest message, a point in time, or positions chosen by the service.</summary>
public class StartFromTests(EmbeddedKafkaFixture kafka) : IClassFixture<EmbeddedKafkaFixture>
{
    [Fact]
    public async Task Newest_starts_at_the_latest_existing_message_then_follows_new_ones()
    {
        var options = kafka.CreateOptions();
        var topic = kafka.CreateTopic("newest");
        using var producer = new PoolProducer<Null, StratumJob>(options, topic);
        for (ulong id = 0; id < 5; id++)
            await producer.ProduceAsync(null!, TestMessages.StratumJob(id));

        using var consumer = new PoolConsumer<Null, StratumJob>(options, topic, new ConsumerSettings { StartFrom = StartFrom.Newest });
        Assert.Equal(4UL, Drain.Exactly(consumer, 1).Single().Message.Value.JobId);
        Drain.Nothing(consumer, TimeSpan.FromMilliseconds(200));

        await producer.ProduceAsync(null!, TestMessages.StratumJob(5));
        await producer.ProduceAsync(null!, TestMessages.StratumJob(6));
        Assert.Equal([5UL, 6UL], Drain.Exactly(consumer, 2).Select(r => r.Message.Value.JobId));
    }

    [Fact]
    public async Task Newest_on_an_empty_topic_gets_the_first_message_produced_after_it_started()
    {
        var options = kafka.CreateOptions();
        var topic = kafka.CreateTopic("newest-empty", partitions: 2);
        using var consumer = new PoolConsumer<Null, StratumJob>(options, topic, new ConsumerSettings { StartFrom = StartFrom.Newest });
        Assert.Null(consumer.Consume(TimeSpan.FromMilliseconds(200)));
        Assert.Equal(2, consumer.Assignment.Count);

        using var producer = new PoolProducer<Null, StratumJob>(options, topic);
        await producer.ProduceAsync(null!, TestMessages.StratumJob(42));
        Assert.Equal(42UL, Drain.Exactly(consumer, 1).Single().Message.Value.JobId);
    }

    [Fact]
    public async Task Newest_in_a_group_starts_each_assigned_partition_at_its_last_message()
    {
        var options = kafka.CreateOptions();
        var topic = kafka.CreateTopic("newest-group", partitions: 3);
        using (var producer = new PoolProducer<Null, StratumJob>(options, topic))
            for (var i = 0; i < 9; i++)
                await producer.Inner.ProduceAsync(new TopicPartition(topic.Name, i % 3), new Message<Null, StratumJob> { Value = TestMessages.StratumJob((ulong)i) });

        using var consumer = new PoolConsumer<Null, StratumJob>(options, topic,
            new ConsumerSettings { GroupId = EmbeddedKafkaFixture.UniqueGroupId(), StartFrom = StartFrom.Newest });
        var received = Drain.Exactly(consumer, 3);
        Drain.Nothing(consumer, TimeSpan.FromMilliseconds(300));

        Assert.Equal([6UL, 7UL, 8UL], received.Select(r => r.Message.Value.JobId).Order());
        Assert.All(received, r => Assert.Equal(2, r.Offset.Value));
    }

    [Fact]
    public async Task Timestamp_starts_at_the_first_message_at_or_after_the_time_in_every_partition()
    {
        var options = kafka.CreateOptions();
        var topic = kafka.CreateTopic("timestamp", partitions: 3);
        var start = DateTimeOffset.UtcNow.AddHours(-2);
        const int count = 90;
        using (var producer = new PoolProducer<int, Share>(options, topic))
            for (var i = 0; i < count; i++)
                await producer.Inner.ProduceAsync(new TopicPartition(topic.Name, i % 3),
                    new Message<int, Share> { Key = i, Value = TestMessages.Share(i), Timestamp = new Timestamp(start.AddSeconds(i)) });

        // Between two messages' times: starts at the next one (46) in each partition.
        using (var fromMiddle = Consumer(start.AddSeconds(45.5)))
        {
            var received = Drain.Exactly(fromMiddle, count - 46);
            Drain.Nothing(fromMiddle, TimeSpan.FromMilliseconds(200));
            Assert.Equal(Enumerable.Range(46, count - 46), received.Select(r => r.Message.Key).Order());
        }

        // Exactly a message's time: that message is included.
        using (var exact = Consumer(start.AddSeconds(80)))
            Assert.Equal(Enumerable.Range(80, 10), Drain.Exactly(exact, 10).Select(r => r.Message.Key).Order());

        // Before everything: all of it.
        using (var all = Consumer(start.AddDays(-1)))
            Assert.Equal(count, Drain.Exactly(all, count).Select(r => r.Message.Key).Distinct().Count());

        // After everything: nothing old, only what comes next.
        using var future = Consumer(DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Null(future.Consume(TimeSpan.FromMilliseconds(300)));
        using (var producer = new PoolProducer<int, Share>(options, topic))
            await producer.ProduceAsync(1000, TestMessages.Share(1000));
        Assert.Equal(1000, Drain.Exactly(future, 1).Single().Message.Key);

        PoolConsumer<int, Share> Consumer(DateTimeOffset at) =>
            new(options, topic, new ConsumerSettings { StartFrom = StartFrom.Timestamp(at) });
    }

    [Fact]
    public async Task OnAssigned_sees_the_proposed_offsets_and_its_answer_decides_where_reading_starts()
    {
        var options = kafka.CreateOptions();
        var topic = kafka.CreateTopic("onassigned");
        using (var producer = new PoolProducer<Null, StratumJob>(options, topic))
            for (ulong id = 0; id < 10; id++)
                await producer.ProduceAsync(null!, TestMessages.StratumJob(id));

        IReadOnlyList<TopicPartitionOffset>? proposed = null;
        using var consumer = new PoolConsumer<Null, StratumJob>(options, topic, new ConsumerSettings
        {
            StartFrom = StartFrom.Newest,
            // As ShareLogger does with the positions it stored in MySQL.
            OnAssigned = offered =>
            {
                proposed = offered;
                return offered.Select(o => new TopicPartitionOffset(o.TopicPartition, 7));
            },
        });
        var received = Drain.Exactly(consumer, 3);
        Drain.Nothing(consumer, TimeSpan.FromMilliseconds(200));

        Assert.Equal([new TopicPartitionOffset(topic.Name, 0, 9)], proposed);
        Assert.Equal([7UL, 8UL, 9UL], received.Select(r => r.Message.Value.JobId));
    }
}
