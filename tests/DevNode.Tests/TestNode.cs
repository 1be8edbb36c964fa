using System.Text.Json;
using PoolCluster.Bitcoin;
using PoolCluster.Node;

namespace PoolCluster.DevNode.Tests;

/// <summary>
/// A DevNode started in-process on a free port with a temporary data directory, and the pool's own RPC client
/// (PoolCluster.Node.BitcoindRpcClient) pointed at it. The mempool feeder is off unless a test turns it on, so
/// templates contain exactly what the test put in.
/// </summary>
public sealed class TestNode : IAsyncDisposable
{
    public const string User = "pool";
    public const string Password = "secret-pw";

    /// <summary>A regtest P2WPKH address the tests mine to (program 0x11 * 20).</summary>
    public static readonly string PayoutAddress = Bech32.EncodeSegwitAddress("bcrt", 0, Enumerable.Repeat((byte)0x11, 20).ToArray());

    private readonly bool _ownsDataDir;

    private TestNode(DevNodeServer server, string dataDir, bool ownsDataDir)
    {
        Server = server;
        DataDir = dataDir;
        _ownsDataDir = ownsDataDir;
        Client = new BitcoindRpcClient(new NodeEndpoint { Name = "devnode", RpcUrl = server.RpcUrl, RpcUser = User, RpcPassword = Password, TimeoutMs = 30_000 });
    }

    public DevNodeServer Server { get; }

    public RegtestNode Node => Server.Node;

    public BitcoindRpcClient Client { get; }

    public string DataDir { get; }

    public static string NewDataDir() => Path.Combine(Path.GetTempPath(), "devnode-tests", Guid.NewGuid().ToString("N"));

    public static DevNodeOptions DefaultOptions(string dataDir) => new()
    {
        DataDir = dataDir,
        Rpc = new RpcOptions { Port = 0, User = User, Password = Password },
        Zmq = new ZmqOptions { HashBlock = "tcp://127.0.0.1:*", RawBlock = "tcp://127.0.0.1:*", HashTx = "tcp://127.0.0.1:*" },
        Mempool = new MempoolOptions { TxPerSecond = 0, Seed = 12345 },
        PersistChain = false,
    };

    /// <summary>Starts a node; a given <paramref name="dataDir"/> is left in place at disposal (the caller deletes it).</summary>
    public static async Task<TestNode> StartAsync(Action<DevNodeOptions>? configure = null, string? dataDir = null)
    {
        var owns = dataDir is null;
        dataDir ??= NewDataDir();
        var options = DefaultOptions(dataDir);
        configure?.Invoke(options);
        var server = await DevNodeServer.StartAsync(options);
        return new TestNode(server, dataDir, owns);
    }

    public async Task<JsonElement> TemplateAsync() => await Client.GetBlockTemplateAsync();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        if (_ownsDataDir)
            DeleteDirectory(DataDir);
    }

    public static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// Builds a block from a getblocktemplate answer the way a pool does (shared/Bitcoin's CoinbaseBuilder and
/// Block.Assemble): coinbase with the BIP34 height, 8 extranonce bytes and a tag, one P2WPKH payout of
/// coinbasevalue, the template's witness commitment; then tries nonces at the template's target.
/// </summary>
public static class PoolBlockBuilder
{
    public static Block Build(JsonElement template, Func<CoinbaseBuilder, CoinbaseBuilder>? tweak = null, long? payout = null,
        int? height = null, uint? time = null, bool grind = true)
    {
        var transactions = template.GetProperty("transactions").EnumerateArray()
            .Select(tx => Transaction.ParseHex(tx.GetProperty("data").GetString()!))
            .ToList();
        var builder = new CoinbaseBuilder
        {
            Height = height ?? template.GetProperty("height").GetInt32(),
            Outputs = [new TxOut(payout ?? template.GetProperty("coinbasevalue").GetInt64(), BitcoinAddress.Parse(TestNode.PayoutAddress, Network.Regtest).ScriptPubKey)],
            PoolTag = "/devnode-test/"u8.ToArray(),
            WitnessCommitmentScript = template.TryGetProperty("default_witness_commitment", out var dwc)
                ? Convert.FromHexString(dwc.GetString()!)
                : ReadOnlyMemory<byte>.Empty,
        };
        if (tweak is not null)
            builder = tweak(builder);
        var coinbase = builder.Build().ToTransaction(new byte[4], [1, 2, 3, 4]);
        var merkleRoot = Merkle.ComputeRoot([coinbase.TxId, .. transactions.Select(tx => tx.TxId)]);
        var header = new BlockHeader(
            (uint)template.GetProperty("version").GetInt64(),
            Hash256.FromDisplayHex(template.GetProperty("previousblockhash").GetString()!),
            merkleRoot,
            time ?? template.GetProperty("curtime").GetUInt32(),
            Convert.ToUInt32(template.GetProperty("bits").GetString(), 16),
            0);
        var block = Block.Assemble(header, coinbase, transactions);
        return grind ? WithProofOfWork(block, valid: true) : block;
    }

    /// <summary>The block with the first nonce whose hash meets (or, with valid = false, misses) its target.</summary>
    public static Block WithProofOfWork(Block block, bool valid)
    {
        var target = Target.FromCompact(block.Header.Bits);
        for (uint nonce = 0; ; nonce++)
        {
            var header = block.Header with { Nonce = nonce };
            if (header.GetHash().MeetsTarget(target) == valid)
                return new Block(header, block.Transactions);
        }
    }

    /// <summary>The same transactions under a changed header, re-mined.</summary>
    public static Block WithHeader(Block block, Func<BlockHeader, BlockHeader> change) =>
        WithProofOfWork(new Block(change(block.Header), block.Transactions), valid: true);
}
