using Confluent.Kafka;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.Kafka.Tests;

/// <summary>Consumer groups on the embedded cluster: partitions split between members, commits survive restarts.</summary>
public class ConsumerGroupTests(EmbeddedKafkaFixture kafka) : IClassFixture<EmbeddedKafkaFixture>
{
    [Fact]
    public void Two_consumers_of_one_group_split_the_partitions_and_together_get_every_message_once()
    {
        var options = kafka.CreateOptions();
        var topic = kafka.CreateTopic("split", partitions: 4);
        var group = EmbeddedKafkaFixture.UniqueGroupId();
        var assignedCalls = new int[2];
        using var first = new PoolConsumer<int, Share>(options, topic, new ConsumerSettings
        {
            GroupId = group,
            OnAssigned = proposed => { Interlocked.Increment(ref assignedCalls[0]); return proposed; },
        });
        using var second = new PoolConsumer<int, Share>(options, topic, new ConsumerSettings
        {
            GroupId = group,
            OnAssigned = proposed => { Interlocked.Increment(ref assignedCalls[1]); return proposed; },
        });
        PoolConsumer<int, Share>[] both = [first, second];
        Drain.PollUntil(both, () => first.Assignment.Count > 0 && second.Assignment.Count > 0
            && first.Assignment.Count + second.Assignment.Count == 4, "both consumers to share the 4 partitions");

        var firstPartitions = first.Assignment.Select(p => p.Partition.Value).ToHashSet();
        var secondPartitions = second.Assignment.Select(p => p.Partition.Value).ToHashSet();
        Assert.Empty(firstPartitions.Intersect(secondPartitions));
        Assert.Equal([0, 1, 2, 3], firstPartitions.Union(secondPartitions).Order());
        Assert.True(assignedCalls[0] > 0 && assignedCalls[1] > 0, "OnAssigned was not called on both members");

        const int count = 200;
        using (var producer = new PoolProducer<int, Share>(options, topic))
        {
            for (var i = 0; i < count; i++)
                producer.Produce(i, TestMessages.Share(i));
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        var received = new List<(int Consumer, ConsumeResult<int, Share> Result)>();
        var deadline = DateTime.UtcNow + Drain.DefaultTimeout;
        while (received.Count < count && DateTime.UtcNow < deadline)
            for (var c = 0; c < 2; c++)
                if (both[c].Consume(TimeSpan.FromMilliseconds(20)) is { } result)
                    received.Add((c, result));

        Assert.Equal(count, received.Count);
        Assert.Equal(Enumerable.Range(0, count), received.Select(r => (int)(r.Result.Message.Value.SessionId - 0xdead_0000UL)).Order());
        Assert.All(received.Where(r => r.Consumer == 0), r => Assert.Contains(r.Result.Partition.Value, firstPartitions));
        Assert.All(received.Where(r => r.Consumer == 1), r => Assert.Contains(r.Result.Partition.Value, secondPartitions));
        Assert.Contains(received, r => r.Consumer == 0);
        Assert.Contains(received, r => r.Consumer == 1);
    }

    [Fact]
    public void A_restarted_consumer_resumes_after_the_last_commit_and_receives_nothing_twice()
    {
        var options = kafka.CreateOptions();
        var topic = kafka.CreateTopic("resume", partitions: 2);
        var group = EmbeddedKafkaFixture.UniqueGroupId();
        const int count = 40, firstShare = 15;
        using (var producer = new PoolProducer<int, Share>(options, topic))
        {
            for (var i = 0; i < count; i++)
                producer.Produce(i, TestMessages.Share(i));
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        var revoked = new List<TopicPartitionOffset>();
        List<ConsumeResult<int, Share>> before;
        using (var consumer = new PoolConsumer<int, Share>(options, topic, new ConsumerSettings { GroupId = group, OnRevoked = revoked.AddRange }))
        {
            before = Drain.Exactly(consumer, firstShare);
            foreach (var result in before)
                consumer.Commit(result);
            var committed = consumer.Committed(TimeSpan.FromSeconds(10));
            Assert.Equal((long)firstShare, committed.Sum(c => Math.Max(0L, c.Offset.Value)));
        }
        Assert.Equal(2, revoked.Count); // closing revoked both partitions

        using var restarted = new PoolConsumer<int, Share>(options, topic, new ConsumerSettings { GroupId = group });
        var after = Drain.Exactly(restarted, count - firstShare);
        Drain.Nothing(restarted, TimeSpan.FromMilliseconds(500));

        var beforeIds = before.Select(r => r.Message.Value.SessionId).ToHashSet();
        var afterIds = after.Select(r => r.Message.Value.SessionId).ToHashSet();
        Assert.Empty(beforeIds.Intersect(afterIds));
        Assert.Equal(count, beforeIds.Union(afterIds).Count());
        // Resumed exactly at each partition's commit: the first message read per partition follows the last committed one.
        foreach (var partition in after.GroupBy(r => r.Partition.Value))
        {
            var lastBefore = before.Where(r => r.Partition.Value == partition.Key).Select(r => r.Offset.Value).DefaultIfEmpty(-1).Max();
            Assert.Equal(lastBefore + 1, partition.Min(r => r.Offset.Value));
        }
    }

    [Fact]
    public void A_consumer_without_a_group_cannot_commit_nor_start_from_committed_offsets()
    {
        var options = kafka.CreateOptions();
        var topic = kafka.CreateTopic("nogroup");
        using var consumer = new PoolConsumer<int, Share>(options, topic, new ConsumerSettings { StartFrom = StartFrom.Newest });
        var error = Assert.Throws<InvalidOperationException>(() => consumer.Commit([new TopicPartitionOffset(topic.Name, 0, 1)]));
        Assert.Contains("no GroupId", error.Message);

        var badSettings = Assert.Throws<ArgumentException>(() => new PoolConsumer<int, Share>(options, topic, new ConsumerSettings()));
        Assert.Contains("StartFrom.Newest", badSettings.Message);
    }
}
