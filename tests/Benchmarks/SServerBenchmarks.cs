using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using PoolCluster.Bitcoin;
using PoolCluster.SServer;
using PoolCluster.Topics;

namespace PoolCluster.Benchmarks.SServer;

/// <summary>
/// SServer's work for one mining.submit line, without the socket: JSON parse, param checks, job lookup, duplicate
/// check, the share hash (ShareChecker), vardiff bookkeeping, the Share message and the reply. The job is the recorded
/// cpuminer session's (mainnet block 482683, 4-level merkle branch); the difficulty lets every hash count, so every
/// submit is accepted. Kafka is off here (the end-to-end figure with Kafka and sockets is in docs/sserver.md).
///   dotnet run -c Release --project tests/Benchmarks -- --filter '*SServer*'
/// </summary>
[MemoryDiagnoser]
public class SServerBenchmarks
{
    private const int Lines = 4096;
    private StratumServer _server = null!;
    private StratumSession _session = null!;
    private byte[][] _submits = null!;
    private ArrayBufferWriter<byte> _output = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var options = new StratumOptions { Port = -1, ServerId = 1, Extranonce2Size = 4, StatsIntervalSeconds = 0 };
        options.Limits.MaxTrackedSharesPerConnection = 1000; // cleared long before a line comes round again
        options.Ban.MaxInvalidSharesPerMinute = 0;
        var users = new UserResolver(new OpenUserDirectory(), new UsersOptions { Source = UserSource.None }, NullLogger.Instance);
        _server = new StratumServer(options, new VardiffSettings { InitialDifficulty = 1e-12, MinDifficulty = 1e-12, MaxDifficulty = 1e-12 },
            users, kafka: null, NullLoggerFactory.Instance);
        _server.StartAsync().GetAwaiter().GetResult();
        var job = RecordedJob();
        _server.Jobs.Accept(job);

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var connection = new StreamMinerConnection(_server, socket, new IPEndPoint(IPAddress.Loopback, 1), 0x01000001, tls: false, admittedAs: null);
        _session = connection.Session;
        _output = new ArrayBufferWriter<byte>(4096);
        var now = Stopwatch.GetTimestamp();
        _session.HandleLine("{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"bench\"]}"u8, _output, now);
        _session.HandleLine("{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"bench.w1\",\"x\"]}"u8, _output, now);
        var wire = _server.Jobs.Latest!.WireId;
        _submits = Enumerable.Range(0, Lines).Select(i => Encoding.ASCII.GetBytes(
            $"{{\"params\":[\"bench.w1\",\"{wire}\",\"{i:x8}\",\"{job.CurTime:x8}\",\"{i * 7919:x8}\"],\"id\":{i + 3},\"method\":\"mining.submit\"}}")).ToArray();
    }

    [Benchmark(Description = "mining.submit line -> accepted share (no socket, no Kafka)")]
    public int AcceptedShare()
    {
        _output.ResetWrittenCount();
        _session.HandleLine(_submits[_next++ & (Lines - 1)], _output, Stopwatch.GetTimestamp());
        return _output.WrittenCount;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_server.Counters.SharesRejected != 0)
            throw new InvalidOperationException($"{_server.Counters.SharesRejected} shares were rejected: the benchmark measured the wrong path");
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private static StratumJob RecordedJob()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "PoolCluster.sln")))
            dir = dir.Parent;
        var file = Path.Combine(dir!.FullName, "..", "shared", "testdata", "stratum", "cpuminer-mainnet-block482683.jsonl");
        var notify = File.ReadLines(file).Select(l => JsonDocument.Parse(l).RootElement)
            .Last(r => r.GetProperty("msg").TryGetProperty("method", out var m) && m.GetString() == "mining.notify").GetProperty("msg").GetProperty("params");
        var job = new StratumJob
        {
            JobId = 1,
            Height = 482683,
            PreviousBlockHash = ByteString.CopyFrom(StratumEncoding.ParsePreviousBlockHash(notify[1].GetString()).ToInternalBytes()),
            Coinbase1 = ByteString.CopyFrom(Convert.FromHexString(notify[2].GetString()!)),
            Coinbase2 = ByteString.CopyFrom(Convert.FromHexString(notify[3].GetString()!)),
            Version = Convert.ToUInt32(notify[5].GetString(), 16),
            Bits = Convert.ToUInt32(notify[6].GetString(), 16),
            CurTime = Convert.ToUInt32(notify[7].GetString(), 16),
            MinTime = 0,
            Clean = true,
            Extranonce1Size = 4,
            Extranonce2Size = 4,
        };
        foreach (var branch in notify[4].EnumerateArray())
            job.MerkleBranch.Add(ByteString.CopyFrom(Convert.FromHexString(branch.GetString()!)));
        return job;
    }
}
