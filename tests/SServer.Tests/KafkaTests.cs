using System.Diagnostics;
using Confluent.Kafka;
using Google.Protobuf;
using PoolCluster.Bitcoin;
using PoolCluster.Kafka;
using PoolCluster.Stratum;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.SServer.Tests;

[CollectionDefinition("Kafka")]
public class KafkaCollection : ICollectionFixture<EmbeddedKafkaFixture>;

/// <summary>SServer against an embedded Kafka cluster (real protocol): jobs in, Share/SolvedShare/WorkerEvent out.</summary>
[Collection("Kafka")]
public class KafkaTests(EmbeddedKafkaFixture kafka)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    internal static void ProduceJob(KafkaOptions options, StratumJob job)
    {
        using var producer = new PoolProducer<string, StratumJob>(options, TopicManifest.StratumJob, ProducerMode.Durable);
        producer.ProduceAsync("", job).GetAwaiter().GetResult();
    }

    private static PoolConsumer<TKey, TMessage> Reader<TKey, TMessage>(KafkaOptions options, string topic)
        where TMessage : class, IMessage<TMessage>, new() =>
        new(options, topic, new ConsumerSettings { StartFrom = StartFrom.Timestamp(DateTimeOffset.UtcNow.AddMinutes(-5)) });

    private static List<TMessage> Read<TKey, TMessage>(PoolConsumer<TKey, TMessage> consumer, int count, Func<TMessage, bool>? where = null)
        where TMessage : class, IMessage<TMessage>, new()
    {
        var found = new List<TMessage>();
        var deadline = DateTime.UtcNow + Wait;
        while (found.Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {found.Count} of {count} {typeof(TMessage).Name} arrived");
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result?.Message?.Value is { } message && (where == null || where(message)))
                found.Add(message);
        }
        return found;
    }

    [Fact]
    public async Task Jobs_are_read_from_the_newest_message_not_history()
    {
        var options = kafka.CreateManifestTopics();
        var old = TestJobs.Mainnet();
        var older = TestJobs.Mainnet(clean: false);
        var newest = TestJobs.Mainnet(clean: false);
        foreach (var job in new[] { old, older, newest })
            ProduceJob(options, job);

        await using var server = await TestServer.StartAsync(kafka: options);
        await TestServer.WaitUntilAsync(() => server.Server.Jobs.Latest != null, "the job from Kafka", Wait);
        Assert.Equal(newest.JobId, server.Server.Jobs.Latest!.Job.JobId);
        Assert.Equal(1, server.Server.Counters.JobsReceived);

        // And every new one after that.
        await using var client = await server.ConnectAsync();
        await client.LoginAsync();
        await client.NotificationAsync("mining.notify");
        var next = TestJobs.Mainnet(clean: true, heightOffset: 1);
        ProduceJob(options, next);
        var notify = await client.NotificationAsync("mining.notify", Wait);
        Assert.True(notify.GetProperty("params")[8].GetBoolean());
        Assert.Equal(next.JobId, server.Server.Jobs.Latest!.Job.JobId);
    }

    [Fact]
    public async Task Every_submit_becomes_a_share_message_and_the_connection_worker_events()
    {
        var options = kafka.CreateManifestTopics();
        var job = TestJobs.Mainnet();
        ProduceJob(options, job);
        await using var server = await TestServer.StartAsync(o => o.ServerId = 9, kafka: options);
        await TestServer.WaitUntilAsync(() => server.Server.Jobs.Latest != null, "the job from Kafka", Wait);
        using var shares = Reader<int, Share>(options, TopicManifest.Share);
        using var events = Reader<int, WorkerEvent>(options, TopicManifest.WorkerEvent);

        uint extranonce1;
        string wire;
        (string Extranonce2, string NTime, string Nonce, ShareCheckResult Result) share;
        await using (var client = await server.ConnectAsync())
        {
            await client.SubscribeAsync("bfgminer/5.5.0");
            StratumTestClient.AssertNoError(await client.AuthorizeAsync("erin.farm1", "d=0.000000001"));
            extranonce1 = server.Server.Sessions.Single().SessionId;
            wire = (await client.NotificationAsync("mining.notify")).GetProperty("params")[0].GetString()!;
            share = TestJobs.Mine(job, extranonce1, 1e-9, r => r.IsValid, extranonce2: 0x0102030405060708);
            Assert.True((await client.SubmitAsync(wire, share.Extranonce2, share.NTime, share.Nonce)).GetProperty("result").GetBoolean());
            StratumTestClient.AssertError(await client.SubmitAsync(wire, share.Extranonce2, share.NTime, share.Nonce), 22);
            StratumTestClient.AssertError(await client.SubmitAsync("beef", share.Extranonce2, share.NTime, share.Nonce), 21);
        }

        var userId = OpenUserDirectory.IdOf("erin");
        var received = Read(shares, 3);
        Assert.Equal([ShareStatus.Accepted, ShareStatus.Duplicate, ShareStatus.JobNotFound], received.Select(s => s.Status));
        var accepted = received[0];
        Assert.Equal(userId, accepted.UserId);
        Assert.Equal(StratumWorkerName.ComputeWorkerId("farm1"), accepted.WorkerId);
        Assert.Equal("erin", accepted.UserName);
        Assert.Equal("farm1", accepted.WorkerName);
        Assert.Equal("127.0.0.1", accepted.Ip);
        Assert.Equal(9u, accepted.ServerId);
        Assert.Equal(extranonce1, (uint)accepted.SessionId);
        Assert.Equal(9u, extranonce1 >> 24);
        Assert.Equal(job.JobId, accepted.JobId);
        Assert.Equal(1e-9, accepted.ShareDifficulty);
        Assert.Equal(Difficulty.FromCompact(job.Bits), accepted.NetworkDifficulty);
        Assert.Equal(job.Height, accepted.Height);
        Assert.Equal(Convert.ToUInt32(share.Nonce, 16), accepted.Nonce);
        Assert.Equal(job.CurTime, accepted.Ntime);
        Assert.Equal(0u, accepted.VersionBits);
        Assert.Equal(extranonce1.ToString("x8"), Convert.ToHexStringLower(accepted.Extranonce1.Span));
        Assert.Equal("05060708", Convert.ToHexStringLower(accepted.Extranonce2.Span)); // the job's extranonce2 is 4 bytes
        Assert.Equal(share.Result.BlockHash, Hash256.FromInternalBytes(accepted.BlockHash.Span));
        Assert.InRange(accepted.TimestampUnixMs, DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.Equal(0u, received[2].JobId); // the job was not found: nothing to name
        Assert.All(received, s => Assert.Equal(userId, s.UserId));

        var lifecycle = Read(events, 3);
        Assert.Equal([WorkerEventKind.Connected, WorkerEventKind.Authorized, WorkerEventKind.Disconnected], lifecycle.Select(e => e.Kind));
        Assert.All(lifecycle, e =>
        {
            Assert.Equal((ulong)extranonce1, e.SessionId);
            Assert.Equal("127.0.0.1", e.Ip);
            Assert.Equal(9u, e.ServerId);
        });
        Assert.Equal(0, lifecycle[0].UserId); // not known yet at connect
        Assert.Equal("bfgminer/5.5.0", lifecycle[1].Agent);
        Assert.Equal(userId, lifecycle[1].UserId);
        Assert.Equal("farm1", lifecycle[1].WorkerName);
        Assert.Equal(1e-9, lifecycle[1].Difficulty);
        Assert.Equal(userId, lifecycle[2].UserId);
    }

    [Fact]
    public async Task A_solved_share_is_on_kafka_before_the_miner_gets_its_answer()
    {
        var options = kafka.CreateManifestTopics();
        var job = TestJobs.Regtest();
        ProduceJob(options, job);
        await using var server = await TestServer.StartAsync(kafka: options);
        await TestServer.WaitUntilAsync(() => server.Server.Jobs.Latest != null, "the job from Kafka", Wait);
        using var solvedReader = Reader<Ignore, SolvedShare>(options, TopicManifest.SolvedShare);
        using var shares = Reader<int, Share>(options, TopicManifest.Share);

        await using var client = await server.ConnectAsync();
        var extranonce1 = await client.LoginAsync("frank.s9", "d=0.000000001");
        var wire = (await client.NotificationAsync("mining.notify")).GetProperty("params")[0].GetString()!;
        var block = TestJobs.Mine(job, extranonce1, 1e-9, r => r.IsBlock);

        var answer = await client.SubmitAsync(wire, block.Extranonce2, block.NTime, block.Nonce);
        // The moment the miner has its answer, the broker already holds the block (high watermark, not a consume).
        var marks = solvedReader.Inner.QueryWatermarkOffsets(new TopicPartition(options.TopicName(TopicManifest.SolvedShare), 0), TimeSpan.FromSeconds(10));
        Assert.True(answer.GetProperty("result").GetBoolean());
        Assert.Equal(1, marks.High.Value);

        var solved = Read(solvedReader, 1).Single();
        var header = BlockHeader.Parse(solved.Header.Span);
        Assert.Equal(block.Result.BlockHash, header.GetHash());
        Assert.True(header.HasValidProofOfWork());
        Assert.Equal(block.Result.BlockHash, Hash256.FromInternalBytes(solved.BlockHash.Span));
        var coinbaseTxId = Hashes.DoubleSha256(solved.Coinbase.Span);
        Assert.Equal(header.MerkleRoot, Merkle.ComputeRootFromCoinbase(coinbaseTxId, job.MerkleBranch.Select(b => Hash256.FromInternalBytes(b.Span)).ToArray()));
        Assert.Equal(job.JobId, solved.JobId);
        Assert.Equal(job.Height, solved.Height);
        Assert.Equal(job.GbtHash, solved.GbtHash);
        Assert.Equal("frank", solved.UserName);
        Assert.Equal("s9", solved.WorkerName);
        Assert.Equal(OpenUserDirectory.IdOf("frank"), solved.UserId);
        Assert.Equal(1e-9, solved.ShareDifficulty);
        Assert.Equal(7u, solved.ServerId);

        Assert.Equal(ShareStatus.Solved, Read(shares, 1).Single().Status);
        Assert.Equal(1, server.Server.Counters.BlocksSolved);
    }

    [Fact]
    public async Task Miners_are_answered_while_kafka_is_away_and_what_cannot_be_held_is_counted_and_logged()
    {
        using var cluster = EmbeddedKafkaProcess.Start(topicPrefix: "outage.");
        var options = new KafkaOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            ClientId = "sserver-outage-test",
            TopicPrefix = "outage.",
            MessageTimeoutMs = 3000,
            Librdkafka = new() { ["queue.buffering.max.messages"] = "5", ["reconnect.backoff.max.ms"] = "200" },
        };
        await using var server = await TestServer.StartAsync(o => o.OutputQueueCapacity = 5, kafka: options);
        var job = TestJobs.Mainnet();
        server.Feed(job);
        await using var client = await server.ConnectAsync();
        var extranonce1 = await client.LoginAsync("gina.rig", "d=0.000000001");
        var wire = (await client.NotificationAsync("mining.notify")).GetProperty("params")[0].GetString()!;

        cluster.Stop();
        var slowest = TimeSpan.Zero;
        var nonce = 0u;
        for (var i = 0; i < 40; i++)
        {
            var share = TestJobs.Mine(job, extranonce1, 1e-9, r => r.IsValid, startNonce: nonce);
            nonce = Convert.ToUInt32(share.Nonce, 16) + 1;
            var timer = Stopwatch.StartNew();
            var answer = await client.SubmitAsync(wire, share.Extranonce2, share.NTime, share.Nonce);
            slowest = timer.Elapsed > slowest ? timer.Elapsed : slowest;
            Assert.True(answer.GetProperty("result").GetBoolean());
        }
        Assert.True(slowest < TimeSpan.FromMilliseconds(500), $"a miner waited {slowest.TotalMilliseconds} ms for its answer");
        Assert.Equal(40, server.Server.Counters.SharesAccepted);
        await TestServer.WaitUntilAsync(() => server.Server.Counters.OutputsDropped > 0, "shares counted as dropped");
        await TestServer.WaitUntilAsync(() => server.Logs.Contains("dropped a Share for Kafka"), "the drop in the log");
        // Held, not dropped: at least the output queue's capacity (5) of the 40 shares is kept for Kafka.
        Assert.InRange(server.Server.Counters.OutputsDropped, 1, 40 - 5);
    }
}
