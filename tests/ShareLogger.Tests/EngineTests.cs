using Confluent.Kafka;
using PoolCluster.Kafka;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.ShareLogger.Tests;

[CollectionDefinition("Kafka")]
public sealed class KafkaCollection : ICollectionFixture<EmbeddedKafkaFixture>;

/// <summary>A ShareLogger engine in this process against the embedded Kafka and a real MariaDB.</summary>
[Collection("Kafka")]
public sealed class EngineTests(EmbeddedKafkaFixture kafka, MariaDbFixture mariaDb) : IClassFixture<MariaDbFixture>
{
    internal static ShareLoggerOptions TestOptions(string group, ShareWriteMethod method = ShareWriteMethod.LoadData) => new()
    {
        ConsumerGroup = group,
        WriteMethod = method,
        BatchRows = 2_000,
        FlushIntervalMs = 100,
        LagLogIntervalSeconds = 1,
        CommitToKafkaIntervalMs = 200,
        RetryMinMs = 50,
        RetryMaxMs = 500,
        RevokeFlushTimeoutSeconds = 2,
        ShutdownDrainSeconds = 10,
    };

    /// <summary>Runs an engine on its own thread until disposed.</summary>
    internal sealed class RunningEngine : IDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private readonly Thread thread;
        private Exception? failure;

        public RunningEngine(ShareLoggerOptions options, KafkaOptions kafka, string connectionString, MemoryLoggerFactory? logs = null)
        {
            Logs = logs ?? new MemoryLoggerFactory();
            Engine = new ShareLoggerEngine(options, kafka, connectionString, Logs);
            thread = new Thread(() =>
            {
                try
                {
                    Engine.Run(stop.Token);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }) { IsBackground = true, Name = "engine under test" };
            thread.Start();
        }

        public ShareLoggerEngine Engine { get; }

        public MemoryLoggerFactory Logs { get; }

        public ShareLoggerStatus Status => Engine.Status;

        public void Stop()
        {
            stop.Cancel();
            Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the engine did not stop within 30 s");
            if (failure != null)
                throw new InvalidOperationException($"the engine failed: {failure}\n{Logs.Tail()}", failure);
        }

        public void Dispose()
        {
            if (!stop.IsCancellationRequested)
                Stop();
            stop.Dispose();
        }
    }

    [Theory]
    [InlineData(ShareWriteMethod.LoadData)]
    [InlineData(ShareWriteMethod.Insert)]
    public async Task Shares_are_written_once_and_a_restart_continues_exactly_where_the_last_commit_ended(ShareWriteMethod method)
    {
        var options = kafka.CreateManifestTopics();
        var database = await mariaDb.CreateMigratedDatabaseAsync("engine");
        var connectionString = mariaDb.ConnectionStringFor(database);
        var group = EmbeddedKafkaFixture.UniqueGroupId("sharelogger");

        var produced = Shares.Produce(options, 6_000);
        using (var first = new RunningEngine(TestOptions(group, method), options, connectionString))
        {
            Eventually.True(() => first.Status.RowsWritten >= 6_000, TimeSpan.FromSeconds(30), () => $"{first.Status.RowsWritten} rows\n{first.Logs.Tail()}");
            Assert.Equal(method, first.Engine.Method);
            first.Stop();
            Assert.Equal(produced.DifficultySum, first.Status.DifficultyWritten);
        }
        TableContents.Read(connectionString, group).AssertExactly(produced);

        // Shares that arrive while it is down, then a new process-equivalent: it starts at the stored positions.
        Shares.Produce(options, 4_000, into: produced, seed: 2);
        using (var second = new RunningEngine(TestOptions(group, method), options, connectionString))
        {
            Eventually.True(() => TableContents.Count(connectionString) >= 10_000, TimeSpan.FromSeconds(30), () => second.Logs.Tail());
            // Nothing more may come: give it time to (wrongly) write something twice.
            Thread.Sleep(300);
            Assert.Equal(4_000, second.Status.RowsWritten);
            Assert.Equal(0, second.Status.RowsAlreadyPresent);
            Assert.Contains(second.Logs.Lines, l => l.Contains("assigned") && !l.Contains("beginning"));

            // Positions are mirrored to the Kafka group, so Kafka's own lag tools see this consumer.
            var expected = produced.CountPerPartition;
            Eventually.True(() => CommittedInKafka(options, group).Sum(c => c.Value) == expected.Values.Sum(), TimeSpan.FromSeconds(15),
                () => "Kafka commits: " + string.Join(", ", CommittedInKafka(options, group)));
            second.Stop();
        }
        TableContents.Read(connectionString, group).AssertExactly(produced);
    }

    [Fact]
    public async Task Shares_Kafka_deleted_before_they_were_logged_are_reported_and_the_rest_is_written_once()
    {
        var options = kafka.CreateManifestTopics();
        var database = await mariaDb.CreateMigratedDatabaseAsync("gap");
        var connectionString = mariaDb.ConnectionStringFor(database);
        var group = EmbeddedKafkaFixture.UniqueGroupId("sharelogger");
        Shares.Produce(options, 2_000);
        using (var first = new RunningEngine(TestOptions(group), options, connectionString))
            Eventually.True(() => first.Status.RowsWritten >= 2_000, TimeSpan.FromSeconds(30), () => first.Logs.Tail());

        // While ShareLogger is down, one user's shares overflow its partition: the embedded broker keeps at most
        // 100,000 messages (5 MB) a partition and deletes the oldest, as retention would.
        var partition = TopicPartitionOf(options, userId: 1);
        using (var producer = new PoolProducer<int, Share>(options, TopicManifest.Share))
        {
            var random = new Random(9);
            for (var i = 0; i < 120_000; i++)
            {
                var share = Shares.Make(i, random);
                share.UserId = 1;
                producer.Produce(1, share);
            }
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
        }
        var (low, high) = Watermarks(options, partition);
        var storedBefore = TableContents.Read(connectionString, group).StoredPositions[partition];
        Assert.True(low > storedBefore, $"the broker kept everything (low {low}, stored {storedBefore}): the test needs a bigger overflow");

        using var second = new RunningEngine(TestOptions(group), options, connectionString);
        Eventually.True(() => TableContents.Read(connectionString, group).StoredPositions[partition] == high, TimeSpan.FromSeconds(60), () => second.Logs.Tail());
        second.Stop();
        Assert.Equal(1, second.Status.GapsDetected);
        Assert.True(second.Logs.Contains($"offsets {storedBefore}..{low - 1} are no longer in Kafka"), second.Logs.Tail());
        var contents = TableContents.Read(connectionString, group);
        Assert.Equal(contents.Rows, contents.DistinctPositions);
        // The partition holds what it had before the gap and everything Kafka still had after it, each once.
        Assert.Equal(storedBefore + (high - low), contents.Partitions[partition].Rows);
    }

    private static int TopicPartitionOf(KafkaOptions options, int userId)
    {
        using var producer = new PoolProducer<int, Share>(options, TopicManifest.Share);
        return producer.ProduceAsync(userId, new Share { UserId = userId, TimestampUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() })
            .GetAwaiter().GetResult().Partition.Value;
    }

    private static (long Low, long High) Watermarks(KafkaOptions options, int partition)
    {
        using var consumer = new PoolConsumer<Ignore, Share>(options, TopicManifest.Share, new ConsumerSettings { StartFrom = StartFrom.Newest });
        var marks = consumer.Inner.QueryWatermarkOffsets(new TopicPartition(options.TopicName(TopicManifest.Share), partition), TimeSpan.FromSeconds(10));
        return (marks.Low.Value, marks.High.Value);
    }

    private static Dictionary<int, long> CommittedInKafka(KafkaOptions options, string group)
    {
        KafkaNative.EnsureInitialized();
        var topic = options.TopicName(TopicManifest.Share);
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = options.BootstrapServers, GroupId = group }).Build();
        var partitions = Enumerable.Range(0, 8).Select(p => new TopicPartition(topic, p)).ToList();
        return consumer.Committed(partitions, TimeSpan.FromSeconds(5))
            .Where(c => c.Offset.Value >= 0)
            .ToDictionary(c => c.Partition.Value, c => c.Offset.Value);
    }
}
