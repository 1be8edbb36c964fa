using Google.Protobuf;
using PoolCluster.Topics;

namespace PoolCluster.Kafka.Tests;

/// <summary>Fully populated messages of every topic type (every field set, so a lost field fails equality).</summary>
internal static class TestMessages
{
    public static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static RawGbt RawGbt(int transactions = 3, int transactionBytes = 250, int seed = 1)
    {
        var gbt = new RawGbt
        {
            GbtHash = ByteString.CopyFrom(Bytes(32, seed)),
            NodeName = "node-a",
            FetchedAtUnixMs = 1_700_000_000_123,
            Height = 820_000,
            PreviousBlockHash = ByteString.CopyFrom(Bytes(32, seed + 1)),
            Version = 0x20000000,
            Bits = 0x17053894,
            CurTime = 1_700_000_000,
            MinTime = 1_699_999_000,
            CoinbaseValue = 625_000_000 + 12_345_678,
            DefaultWitnessCommitment = ByteString.CopyFrom(Bytes(38, seed + 2)),
            LongpollId = "0000000000000000000aabbcc1234",
            SizeLimit = 4_000_000,
            WeightLimit = 4_000_000,
            SigopLimit = 80_000,
            HeaderOnly = false,
        };
        gbt.Rules.Add(["csv", "!segwit", "taproot"]);
        for (var i = 0; i < transactions; i++)
        {
            var tx = new TemplateTransaction
            {
                Data = ByteString.CopyFrom(Bytes(transactionBytes, seed * 1000 + i)),
                Txid = ByteString.CopyFrom(Bytes(32, seed * 2000 + i)),
                Wtxid = ByteString.CopyFrom(Bytes(32, seed * 3000 + i)),
                Fee = 1000 + i,
                Sigops = 4,
                Weight = transactionBytes * 4,
            };
            if (i > 0)
                tx.Depends.Add((uint)i);
            gbt.Transactions.Add(tx);
        }
        return gbt;
    }

    public static StratumJob StratumJob(ulong jobId = 7_000_000_001)
    {
        var job = new StratumJob
        {
            JobId = jobId,
            GbtHash = ByteString.CopyFrom(Bytes(32, 11)),
            Height = 820_000,
            PreviousBlockHash = ByteString.CopyFrom(Bytes(32, 12)),
            Coinbase1 = ByteString.CopyFrom(Bytes(60, 13)),
            Coinbase2 = ByteString.CopyFrom(Bytes(90, 14)),
            Version = 0x20000000,
            Bits = 0x17053894,
            CurTime = 1_700_000_000,
            MinTime = 1_699_999_000,
            CoinbaseValue = 637_345_678,
            WitnessCommitment = ByteString.CopyFrom(Bytes(38, 15)),
            Clean = true,
            EmptyBlock = false,
            CreatedAtUnixMs = 1_700_000_000_456,
            Extranonce1Size = 4,
            Extranonce2Size = 8,
            TransactionCount = 2_500,
            NodeName = "node-a",
        };
        for (var i = 0; i < 12; i++)
            job.MerkleBranch.Add(ByteString.CopyFrom(Bytes(32, 100 + i)));
        return job;
    }

    public static Share Share(int i) => new()
    {
        UserId = 1000 + i % 5,
        WorkerId = 0x1234_5678_9abc + i,
        UserName = $"user{i % 5}",
        WorkerName = $"rig-{i}",
        Ip = "203.0.113.7",
        ServerId = 3,
        SessionId = 0xdead_0000UL + (ulong)i,
        JobId = 7_000_000_001,
        ShareDifficulty = 65536,
        NetworkDifficulty = 6.2e13,
        Status = i % 3 == 0 ? ShareStatus.LowDifficulty : ShareStatus.Accepted,
        Height = 820_000,
        TimestampUnixMs = 1_700_000_000_000 + i,
        Nonce = 0x1234_0000u + (uint)i,
        Ntime = 1_700_000_000,
        VersionBits = 0x1fffe000,
        Extranonce1 = ByteString.CopyFrom(Bytes(4, 200 + i)),
        Extranonce2 = ByteString.CopyFrom(Bytes(8, 300 + i)),
        BlockHash = ByteString.CopyFrom(Bytes(32, 400 + i)),
    };

    public static SolvedShare SolvedShare() => new()
    {
        JobId = 7_000_000_001,
        GbtHash = ByteString.CopyFrom(Bytes(32, 21)),
        Height = 820_000,
        Header = ByteString.CopyFrom(Bytes(80, 22)),
        Coinbase = ByteString.CopyFrom(Bytes(180, 23)),
        BlockHash = ByteString.CopyFrom(Bytes(32, 24)),
        UserId = 1001,
        WorkerId = 99,
        UserName = "user1",
        WorkerName = "rig-9",
        ServerId = 3,
        TimestampUnixMs = 1_700_000_000_789,
        NetworkDifficulty = 6.2e13,
        ShareDifficulty = 65536,
    };

    public static WorkerEvent WorkerEvent(int i) => new()
    {
        Kind = WorkerEventKind.Authorized,
        UserId = 1000 + i,
        WorkerId = 77 + i,
        UserName = $"user{i}",
        WorkerName = $"rig-{i}",
        Agent = "cgminer/4.12.0",
        Ip = "198.51.100.9",
        ServerId = 3,
        SessionId = 42UL + (ulong)i,
        TimestampUnixMs = 1_700_000_000_999,
        Difficulty = 16384,
    };
}
