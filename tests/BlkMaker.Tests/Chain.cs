using System.Diagnostics;
using Confluent.Kafka;
using Google.Protobuf;
using PoolCluster.Bitcoin;
using PoolCluster.DevNode;
using PoolCluster.JobMaker;
using PoolCluster.Kafka;
using PoolCluster.Node;
using PoolCluster.Topics;

namespace PoolCluster.BlkMaker.Tests;

/// <summary>A DevNode (real regtest node with bitcoind's RPC) started in this process on a free port.</summary>
public sealed class TestNode : IAsyncDisposable
{
    public const string User = "pool";
    public const string Password = "blk-secret";

    /// <summary>A regtest P2WPKH address the pool's coinbases pay (program 0x22 * 20).</summary>
    public static readonly string PayoutAddress = Bech32.EncodeSegwitAddress("bcrt", 0, Enumerable.Repeat((byte)0x22, 20).ToArray());

    private readonly string dataDir;

    private TestNode(DevNodeServer server, string dataDir, string name)
    {
        Server = server;
        this.dataDir = dataDir;
        Endpoint = new NodeEndpoint { Name = name, RpcUrl = server.RpcUrl, RpcUser = User, RpcPassword = Password, TimeoutMs = 30_000 };
        Client = new BitcoindRpcClient(Endpoint);
    }

    public DevNodeServer Server { get; }

    public NodeEndpoint Endpoint { get; }

    public BitcoindRpcClient Client { get; }

    public static async Task<TestNode> StartAsync(string name = "devnode")
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "blkmaker-tests", Guid.NewGuid().ToString("N"));
        var server = await DevNodeServer.StartAsync(new DevNodeOptions
        {
            DataDir = dataDir,
            Rpc = new RpcOptions { Port = 0, User = User, Password = Password },
            Zmq = new ZmqOptions(),
            Mempool = new MempoolOptions { TxPerSecond = 0, Seed = 4242 },
            PersistChain = false,
        });
        return new TestNode(server, dataDir, name);
    }

    /// <summary>The node's current template as GbtMaker publishes it.</summary>
    public async Task<RawGbt> TemplateAsync()
    {
        var template = await Client.GetBlockTemplateAsync();
        return BlockTemplateParser.Parse(template, Endpoint.Name, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    public async Task<int> ConfirmationsAsync(string displayHash) =>
        await Client.GetBlockHeaderAsync(displayHash) is { } header ? header.GetProperty("confirmations").GetInt32() : 0;

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>What SServer and JobMaker would do: jobs from templates, and miners' shares that solve them.</summary>
public static class Mining
{
    private static long nextJobId = 7_000_000_000;

    public static readonly JobMakerOptions JobOptions = new()
    {
        Network = "regtest",
        PayoutAddress = TestNode.PayoutAddress,
        CoinbaseTag = "/blkmaker-test/",
        Extranonce1Size = 4,
        Extranonce2Size = 8,
    };

    public static StratumJob Job(RawGbt gbt) =>
        new StratumJobBuilder(JobOptions).Build(gbt, (ulong)Interlocked.Increment(ref nextJobId), clean: true, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    /// <summary>
    /// Mines the job as a miner would (extranonce1 from the "session", extranonce2 and nonces rolled) until a share
    /// meets the network target, and returns the SolvedShare SServer would publish. <paramref name="valid"/> false gives
    /// a share that does NOT meet it (a broken SServer), to see the node refuse it.
    /// </summary>
    public static SolvedShare Solve(StratumJob job, uint session, string user = "alice", string worker = "rig1", bool valid = true, uint? extranonce2 = null)
    {
        var checker = new ShareChecker(job.Coinbase1.Span, job.Coinbase2.Span, (int)(job.Extranonce1Size + job.Extranonce2Size),
            job.MerkleBranch.Select(b => Hash256.FromInternalBytes(b.Span)).ToArray(), job.Version,
            Hash256.FromInternalBytes(job.PreviousBlockHash.Span), job.Bits);
        var extranonce1 = BitConverter.GetBytes(session);
        var en2 = new byte[job.Extranonce2Size];
        BitConverter.GetBytes(extranonce2 ?? (uint)Random.Shared.Next()).CopyTo(en2, 0);
        var anything = Target.Max;
        for (uint nonce = 0; ; nonce++)
        {
            var result = checker.Check(extranonce1, en2, job.CurTime, nonce, in anything);
            if (result.IsBlock != valid)
                continue;
            var header = checker.BuildHeader(extranonce1, en2, job.CurTime, nonce);
            Debug.Assert(header.GetHash() == result.BlockHash);
            return new SolvedShare
            {
                JobId = job.JobId,
                GbtHash = job.GbtHash,
                Height = job.Height,
                Header = ByteString.CopyFrom(header.Serialize()),
                Coinbase = ByteString.CopyFrom(checker.BuildCoinbase(extranonce1, en2)),
                BlockHash = ByteString.CopyFrom(result.BlockHash.ToInternalBytes()),
                UserId = 1001,
                WorkerId = 424242,
                UserName = user,
                WorkerName = worker,
                ServerId = 3,
                TimestampUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                NetworkDifficulty = Difficulty.FromCompact(job.Bits),
                ShareDifficulty = 1,
            };
        }
    }

    public static string DisplayHash(SolvedShare share) => Hash256.FromInternalBytes(share.BlockHash.Span).ToDisplayHex();
}

/// <summary>The pool's producers, as GbtMaker, JobMaker and SServer configure them.</summary>
public sealed class PoolTopics(KafkaOptions kafka) : IDisposable
{
    private readonly PoolProducer<string, RawGbt> templates = new(kafka, TopicManifest.RawGbt, ProducerMode.Durable);
    private readonly PoolProducer<string, StratumJob> jobs = new(kafka, TopicManifest.StratumJob, ProducerMode.Durable);
    private readonly PoolProducer<Null, SolvedShare> solved = new(kafka, TopicManifest.SolvedShare, ProducerMode.Durable);

    public KafkaOptions Kafka { get; } = kafka;

    public void Publish(RawGbt gbt) => templates.ProduceAsync(gbt.NodeName, gbt).GetAwaiter().GetResult();

    public void Publish(StratumJob job) => jobs.ProduceAsync("", job).GetAwaiter().GetResult();

    /// <summary>Publishes a solved share; returns the Stopwatch timestamp of the broker's acknowledgement (taken on librdkafka's delivery thread).</summary>
    public long Publish(SolvedShare share)
    {
        var acknowledged = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        solved.Produce(null!, share, report =>
        {
            if (report.Error.IsError)
                acknowledged.TrySetException(new InvalidOperationException($"solved share not delivered: {report.Error.Reason}"));
            else
                acknowledged.TrySetResult(Stopwatch.GetTimestamp());
        });
        return acknowledged.Task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        templates.Dispose();
        jobs.Dispose();
        solved.Dispose();
    }
}
