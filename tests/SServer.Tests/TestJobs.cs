using System.Text.Json;
using Google.Protobuf;
using PoolCluster.Bitcoin;
using PoolCluster.JobMaker;
using PoolCluster.Node;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.SServer.Tests;

/// <summary>A recorded cpuminer session (../shared/testdata/stratum): what the miner sent, and the job it mined on.</summary>
internal sealed class RecordedSession
{
    public static readonly string[] Files = ["cpuminer-mainnet-block482683.jsonl", "cpuminer-mainnet-block300025.jsonl"];

    private RecordedSession(JsonElement meta, List<JsonElement> sent, JsonElement notify)
    {
        Meta = meta;
        Sent = sent;
        Notify = notify;
    }

    public JsonElement Meta { get; }

    /// <summary>Client to server, in order (subscribe, authorize, submits).</summary>
    public IReadOnlyList<JsonElement> Sent { get; }

    /// <summary>The one mining.notify the recording server sent.</summary>
    public JsonElement Notify { get; }

    public string Extranonce1Hex => Meta.GetProperty("extranonce1").GetString()!;
    public uint Extranonce1 => Convert.ToUInt32(Extranonce1Hex, 16);
    public int Extranonce2Size => Meta.GetProperty("extranonce2_size").GetInt32();
    public double Difficulty => Meta.GetProperty("difficulty").GetDouble();
    public uint Height => uint.Parse(Meta.GetProperty("block_file").GetString()!.Replace("block", "").Replace(".raw", ""));
    public string WireJobId => Notify.GetProperty("params")[0].GetString()!;
    public uint CurTime => Convert.ToUInt32(Notify.GetProperty("params")[7].GetString(), 16);
    public IEnumerable<JsonElement> Submits => Sent.Where(m => m.GetProperty("method").GetString() == "mining.submit");

    public static RecordedSession Load(string file)
    {
        JsonElement? meta = null, notify = null;
        var sent = new List<JsonElement>();
        foreach (var text in File.ReadLines(TestPaths.TestDataFile("stratum", file)))
        {
            if (text.Length == 0)
                continue;
            var record = JsonDocument.Parse(text).RootElement;
            var message = record.GetProperty("msg").Clone();
            switch (record.GetProperty("dir").GetString())
            {
                case "meta":
                    meta = message;
                    break;
                case "in":
                    sent.Add(message);
                    break;
                case "out" when message.TryGetProperty("method", out var m) && m.GetString() == "mining.notify":
                    notify = message;
                    break;
            }
        }
        return new RecordedSession(meta!.Value, sent, notify!.Value);
    }

    /// <summary>The recorded notify as the StratumJob JobMaker would have published (min_time 10 minutes before its time).</summary>
    public StratumJob ToJob(ulong jobId, bool clean = true)
    {
        var p = Notify.GetProperty("params");
        var job = new StratumJob
        {
            JobId = jobId,
            Height = Height,
            PreviousBlockHash = ByteString.CopyFrom(StratumEncoding.ParsePreviousBlockHash(p[1].GetString()).ToInternalBytes()),
            Coinbase1 = ByteString.CopyFrom(Convert.FromHexString(p[2].GetString()!)),
            Coinbase2 = ByteString.CopyFrom(Convert.FromHexString(p[3].GetString()!)),
            Version = Convert.ToUInt32(p[5].GetString(), 16),
            Bits = Convert.ToUInt32(p[6].GetString(), 16),
            CurTime = CurTime,
            MinTime = CurTime - 600,
            Clean = clean,
            CreatedAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Extranonce1Size = 4,
            Extranonce2Size = (uint)Extranonce2Size,
            GbtHash = ByteString.CopyFrom(new byte[32]),
            NodeName = "recorded",
        };
        foreach (var branch in p[4].EnumerateArray())
            job.MerkleBranch.Add(ByteString.CopyFrom(Convert.FromHexString(branch.GetString()!)));
        return job;
    }
}

internal static class TestJobs
{
    private static long s_lastId;

    /// <summary>Increasing job ids (SServer ignores a job not newer than the last), like JobMaker's.</summary>
    public static ulong NextJobId()
    {
        var candidate = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() << 23;
        long last, next;
        do
        {
            last = Interlocked.Read(ref s_lastId);
            next = Math.Max(candidate, last + 1);
        } while (Interlocked.CompareExchange(ref s_lastId, next, last) != last);
        return (ulong)next;
    }

    public static readonly RecordedSession Recorded = RecordedSession.Load(RecordedSession.Files[0]);

    /// <summary>A mainnet job (blocks are out of reach): the recorded session's, as a new job.</summary>
    public static StratumJob Mainnet(bool clean = true, uint heightOffset = 0)
    {
        var job = Recorded.ToJob(NextJobId(), clean);
        job.Height += heightOffset;
        if (heightOffset > 0)
        {
            // Another block on top: a different previous hash, as a new height has.
            var prev = job.PreviousBlockHash.ToByteArray();
            prev[0] ^= (byte)heightOffset;
            job.PreviousBlockHash = ByteString.CopyFrom(prev);
        }
        return job;
    }

    private static readonly Block AcceptedRegtestBlock =
        Block.ParseHex(File.ReadAllText(TestPaths.TestDataFile("node", "block-regtest-height111-accepted.hex")).Trim());

    /// <summary>A job from a real regtest node's template, built by JobMaker's builder (regtest: about every other hash is a block).</summary>
    public static StratumJob Regtest(int extranonce2Size = 8, bool clean = true)
    {
        var gbt = BlockTemplateParser.Parse(
            JsonDocument.Parse(File.ReadAllText(TestPaths.TestDataFile("node", "gbt-regtest-height111.json"))).RootElement, "regtest-node", 0);
        var builder = new StratumJobBuilder(new JobMakerOptions
        {
            Network = "regtest",
            PayoutAddress = BitcoinAddress.FromScriptPubKey(AcceptedRegtestBlock.Coinbase.Outputs[0].ScriptPubKey.Span, Network.Regtest).Text,
            CoinbaseTag = "/test/",
            Extranonce1Size = 4,
            Extranonce2Size = extranonce2Size,
        });
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        gbt.FetchedAtUnixMs = now;
        return builder.Build(gbt, NextJobId(), clean, now);
    }

    public static ShareChecker CheckerFor(StratumJob job) => new(job.Coinbase1.Span, job.Coinbase2.Span,
        (int)(job.Extranonce1Size + job.Extranonce2Size), job.MerkleBranch.Select(b => Hash256.FromInternalBytes(b.Span)).ToArray(),
        job.Version, Hash256.FromInternalBytes(job.PreviousBlockHash.Span), job.Bits);

    /// <summary>Searches nonces for a share the test wants (independently of the server), e.g. one meeting a difficulty.</summary>
    public static (string Extranonce2, string NTime, string Nonce, ShareCheckResult Result) Mine(StratumJob job, uint extranonce1,
        double difficulty, Func<ShareCheckResult, bool> wanted, ulong extranonce2 = 1, uint startNonce = 0, uint versionBits = 0, uint versionMask = 0)
    {
        var checker = CheckerFor(job);
        var en1 = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(en1, extranonce1);
        var en2 = new byte[job.Extranonce2Size];
        var value = extranonce2;
        for (var i = en2.Length - 1; i >= 0; i--, value >>= 8)
            en2[i] = (byte)value;
        var target = Target.FromDifficulty(difficulty);
        for (var nonce = startNonce; nonce < startNonce + 50_000_000; nonce++)
        {
            var result = checker.Check(en1, en2, job.CurTime, nonce, target, versionBits, versionMask);
            if (wanted(result))
                return (Convert.ToHexStringLower(en2), job.CurTime.ToString("x8"), nonce.ToString("x8"), result);
        }
        throw new InvalidOperationException("no share found");
    }
}
