using System.Text.Json;
using PoolCluster.Testing;

namespace PoolCluster.Bitcoin.Tests;

/// <summary>The real blocks, stratum sessions and node data in ../shared/testdata (see its README.md).</summary>
internal static class RealData
{
    /// <summary>Every block file with the hash and height its README states (display order).</summary>
    public static readonly (string File, string Hash, int Height, bool Segwit)[] Blocks =
    [
        ("mainnet-block1.raw", "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048", 1, false),
        ("mainnet-block300025.raw", "0000000000000000821c4e0acc40f88bedbce3b73ba2358b5ade58a9022cc78c", 300025, false),
        ("mainnet-block426884.raw", "00000000000000000431d0ead6e0bd9f90ff0d469e9b05d51e3d04971f472973", 426884, false),
        ("mainnet-block482683.raw", "000000000000000000c238240ef6dcb26c37e75e16514e6ffc0aef7eee73e747", 482683, true),
        ("testnet3-block928816.raw", "00000000000001c4b87edf974ddc601d88dda332265b9849a944a5ff0141a378", 928816, true),
    ];

    public static IEnumerable<object[]> BlockFiles => Blocks.Select(b => new object[] { b.File });

    public static byte[] ReadBlock(string file) => File.ReadAllBytes(TestPaths.TestDataFile("blocks", file));

    private static readonly Dictionary<string, Block> ParsedBlocks = new();

    /// <summary>Parsed once per test run (the big ones take a few milliseconds each).</summary>
    public static Block Block(string file)
    {
        lock (ParsedBlocks)
        {
            if (!ParsedBlocks.TryGetValue(file, out var block))
                ParsedBlocks[file] = block = Bitcoin.Block.Parse(ReadBlock(file));
            return block;
        }
    }

    public static readonly string[] StratumSessions =
    [
        "cpuminer-mainnet-block482683.jsonl",
        "cpuminer-mainnet-block300025.jsonl",
    ];

    public static IEnumerable<object[]> StratumSessionFiles => StratumSessions.Select(s => new object[] { s });

    public static StratumSession Session(string file) => StratumSession.Load(TestPaths.TestDataFile("stratum", file));

    public static JsonElement Template() =>
        JsonDocument.Parse(File.ReadAllText(TestPaths.TestDataFile("node", "gbt-regtest-height111.json"))).RootElement;

    public static byte[] AcceptedRegtestBlock() =>
        Hex.Decode(File.ReadAllText(TestPaths.TestDataFile("node", "block-regtest-height111-accepted.hex")).Trim());
}

/// <summary>One recorded cpuminer session: the meta line, the single mining.notify and every mining.submit.</summary>
internal sealed record StratumSession(
    string BlockFile,
    string BlockHash,
    string Extranonce1,
    int Extranonce2Size,
    double Difficulty,
    JsonElement NotifyParams,
    IReadOnlyList<StratumSubmit> Submits)
{
    public string PreviousBlockHash => NotifyParams[1].GetString()!;
    public string Coinbase1 => NotifyParams[2].GetString()!;
    public string Coinbase2 => NotifyParams[3].GetString()!;
    public string[] MerkleBranch => NotifyParams[4].EnumerateArray().Select(e => e.GetString()!).ToArray();
    public string Version => NotifyParams[5].GetString()!;
    public string Bits => NotifyParams[6].GetString()!;
    public string Time => NotifyParams[7].GetString()!;

    public static StratumSession Load(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        var meta = lines.Single(l => l.GetProperty("dir").GetString() == "meta").GetProperty("msg");
        var notifies = lines
            .Where(l => l.GetProperty("dir").GetString() == "out")
            .Select(l => l.GetProperty("msg"))
            .Where(m => m.TryGetProperty("method", out var method) && method.GetString() == "mining.notify")
            .ToArray();
        Assert.Single(notifies);
        var submits = lines
            .Where(l => l.GetProperty("dir").GetString() == "in")
            .Select(l => l.GetProperty("msg"))
            .Where(m => m.GetProperty("method").GetString() == "mining.submit")
            .Select(m => m.GetProperty("params"))
            .Select(p => new StratumSubmit(p[1].GetString()!, p[2].GetString()!, p[3].GetString()!, p[4].GetString()!))
            .ToArray();
        return new StratumSession(
            meta.GetProperty("block_file").GetString()!,
            meta.GetProperty("block_hash").GetString()!,
            meta.GetProperty("extranonce1").GetString()!,
            meta.GetProperty("extranonce2_size").GetInt32(),
            meta.GetProperty("difficulty").GetDouble(),
            notifies[0].GetProperty("params").Clone(),
            submits);
    }
}

/// <summary>mining.submit's params after the worker name, as the hex strings the miner sent.</summary>
internal sealed record StratumSubmit(string JobId, string Extranonce2, string Time, string Nonce);
