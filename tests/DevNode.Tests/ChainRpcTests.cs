using System.Text.Json;
using PoolCluster.Bitcoin;
using PoolCluster.DevNode.Chain;
using PoolCluster.Node;
using PoolCluster.Zmq;

namespace PoolCluster.DevNode.Tests;

public sealed class ChainRpcTests
{
    [Fact]
    public async Task The_chain_starts_on_the_real_regtest_genesis_block()
    {
        await using var node = await TestNode.StartAsync();
        Assert.Equal(Regtest.GenesisHashHex, await node.Client.GetBestBlockHashAsync());
        Assert.Equal(0, await node.Client.GetBlockCountAsync());
        Assert.Equal(Regtest.GenesisHashHex, (await node.Client.CallAsync("getblockhash", [0])).GetString());

        var genesis = await node.Client.CallAsync("getblock", [Regtest.GenesisHashHex, 2]);
        Assert.Equal("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b", genesis.GetProperty("merkleroot").GetString());
        Assert.Equal(1296688602, genesis.GetProperty("time").GetInt64());
        Assert.Equal(2, genesis.GetProperty("nonce").GetInt64());
        Assert.Equal("207fffff", genesis.GetProperty("bits").GetString());
        Assert.Equal("0000000000000000000000000000000000000000000000000000000000000002", genesis.GetProperty("chainwork").GetString());
        Assert.False(genesis.TryGetProperty("previousblockhash", out _));
        var coinbase = genesis.GetProperty("tx")[0];
        Assert.Equal("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b", coinbase.GetProperty("txid").GetString());
        Assert.StartsWith("04ffff001d0104455468652054696d6573", coinbase.GetProperty("vin")[0].GetProperty("coinbase").GetString());
        var output = coinbase.GetProperty("vout")[0];
        Assert.Equal("50.00000000", output.GetProperty("value").GetRawText());
        Assert.Equal("pubkey", output.GetProperty("scriptPubKey").GetProperty("type").GetString());
        Assert.StartsWith("04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f OP_CHECKSIG",
            output.GetProperty("scriptPubKey").GetProperty("asm").GetString());
        Assert.Equal(Regtest.GenesisBlockHex, (await node.Client.CallAsync("getblock", [Regtest.GenesisHashHex, 0])).GetString());
    }

    [Fact]
    public async Task Generatetoaddress_mines_real_blocks_that_getblock_and_getblockheader_describe()
    {
        await using var node = await TestNode.StartAsync();
        node.Node.AddSyntheticTransactions(6);
        var hashes = (await node.Client.CallAsync("generatetoaddress", [3, TestNode.PayoutAddress])).EnumerateArray().Select(h => h.GetString()!).ToList();
        Assert.Equal(3, hashes.Count);
        Assert.Equal(3, await node.Client.GetBlockCountAsync());
        Assert.Equal(hashes[2], await node.Client.GetBestBlockHashAsync());

        for (var height = 1; height <= 3; height++)
        {
            var hash = hashes[height - 1];
            Assert.Equal(hash, (await node.Client.CallAsync("getblockhash", [height])).GetString());
            var raw = Block.ParseHex((await node.Client.CallAsync("getblock", [hash, 0])).GetString()!);
            Assert.Equal(hash, raw.GetHash().ToDisplayHex());
            Assert.True(raw.Header.HasValidProofOfWork());
            Assert.True(Bip34.TryDecodeHeight(raw.Coinbase.Inputs[0].ScriptSig.Span, out var coinbaseHeight));
            Assert.Equal(height, coinbaseHeight);
            Assert.Equal(TestNode.PayoutAddress, BitcoinAddress.FromScriptPubKey(raw.Coinbase.Outputs[0].ScriptPubKey.Span, Network.Regtest).Text);

            var header = await node.Client.GetBlockHeaderAsync(hash);
            Assert.Equal(height, header!.Value.GetProperty("height").GetInt32());
            Assert.Equal(4 - height, header.Value.GetProperty("confirmations").GetInt32());
            Assert.Equal(Hex.Encode(raw.Header.Serialize()), (await node.Client.CallAsync("getblockheader", [hash, false])).GetString());

            var verbose = await node.Client.CallAsync("getblock", [hash, 1]);
            Assert.Equal(raw.Transactions.Select(tx => tx.TxId.ToDisplayHex()), verbose.GetProperty("tx").EnumerateArray().Select(t => t.GetString()));
            Assert.Equal(raw.Weight, verbose.GetProperty("weight").GetInt32());
            Assert.Equal("20000000", verbose.GetProperty("versionHex").GetString());
            if (height < 3)
                Assert.Equal(hashes[height], verbose.GetProperty("nextblockhash").GetString());
        }
        // The first block took the mempool: 6 transactions, with their fees known at verbosity 2.
        var first = await node.Client.CallAsync("getblock", [hashes[0], 2]);
        Assert.Equal(7, first.GetProperty("nTx").GetInt32());
        var spend = first.GetProperty("tx")[1];
        Assert.Equal("witness_v0_keyhash", spend.GetProperty("vout")[0].GetProperty("scriptPubKey").GetProperty("type").GetString());
        Assert.Matches(@"^addr\(bcrt1q[0-9a-z]+\)#[0-9a-z]{8}$", spend.GetProperty("vout")[0].GetProperty("scriptPubKey").GetProperty("desc").GetString());
        Assert.True(spend.GetProperty("fee").GetDecimal() > 0);
        Assert.Equal(2, spend.GetProperty("vin")[0].GetProperty("txinwitness").GetArrayLength());

        var badAddress = await Assert.ThrowsAsync<NodeRpcException>(() => node.Client.CallAsync("generatetoaddress", [1, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"]));
        Assert.Equal(-5, badAddress.Code);
        Assert.Equal("Error: Invalid address", badAddress.RpcMessage);
    }

    [Fact]
    public async Task Blocks_publish_hashblock_rawblock_and_hashtx_on_zmq_like_bitcoind()
    {
        await using var node = await TestNode.StartAsync();
        using var context = new ZmqContext();
        using var subscriber = new ZmqSubscriber(context);
        subscriber.Connect(node.Server.ZmqHashBlock!);
        subscriber.Connect(node.Server.ZmqRawBlock!);
        subscriber.Connect(node.Server.ZmqHashTx!);
        subscriber.Subscribe("hashblock");
        subscriber.Subscribe("rawblock");
        subscriber.Subscribe("hashtx");
        var message = new ZmqMultipartMessage();

        // A subscription takes a moment to reach the publisher (ZMQ's slow joiner): mine until the first notice arrives.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        var seen = false;
        while (!seen && DateTime.UtcNow < deadline)
        {
            await node.Client.CallAsync("generatetoaddress", [1, TestNode.PayoutAddress]);
            while (subscriber.TryReceive(message, TimeSpan.FromMilliseconds(100)))
                seen |= BitcoindZmq.TryParse(message, out var n) && n.IsTopic("hashblock");
        }
        Assert.True(seen, "no hashblock notification within 10 s");
        while (subscriber.TryReceive(message, TimeSpan.FromMilliseconds(200)))
        {
        }

        node.Node.AddSyntheticTransactions(2);
        var hashes = (await node.Client.CallAsync("generatetoaddress", [2, TestNode.PayoutAddress])).EnumerateArray().Select(h => h.GetString()!).ToList();
        var hashBlocks = new List<(string Hash, uint Sequence)>();
        var rawBlocks = new List<(string Hash, uint Sequence)>();
        var txids = new List<string>();
        while (subscriber.TryReceive(message, TimeSpan.FromMilliseconds(500)))
        {
            Assert.True(BitcoindZmq.TryParse(message, out var notification));
            if (notification.IsTopic("hashblock"))
                hashBlocks.Add((Convert.ToHexStringLower(notification.Body), notification.Sequence));
            else if (notification.IsTopic("rawblock"))
                rawBlocks.Add((Block.Parse(notification.Body).GetHash().ToDisplayHex(), notification.Sequence));
            else if (notification.IsTopic("hashtx"))
                txids.Add(Convert.ToHexStringLower(notification.Body));
        }
        // The body is the hash in display order (as RPC shows it); each topic counts its own sequence by one.
        Assert.Equal(hashes, hashBlocks.Select(b => b.Hash));
        Assert.Equal(hashBlocks[0].Sequence + 1, hashBlocks[1].Sequence);
        Assert.Equal(hashes, rawBlocks.Select(b => b.Hash));
        Assert.Equal(rawBlocks[0].Sequence + 1, rawBlocks[1].Sequence);
        // hashtx: the two mempool arrivals, then every transaction of each connected block (coinbase included).
        var firstBlock = Block.ParseHex((await node.Client.CallAsync("getblock", [hashes[0], 0])).GetString()!);
        Assert.Equal(3, firstBlock.Transactions.Count);
        Assert.Equal(2 + 3 + 1, txids.Count);
        Assert.Equal(firstBlock.Transactions.Select(tx => tx.TxId.ToDisplayHex()), txids.Skip(2).Take(3));
    }

    [Fact]
    public async Task Info_methods_have_bitcoinds_fields()
    {
        await using var node = await TestNode.StartAsync();
        var info = await node.Client.CallAsync("getblockchaininfo");
        Assert.Equal("regtest", info.GetProperty("chain").GetString());
        Assert.Equal(0, info.GetProperty("blocks").GetInt32());
        Assert.True(info.GetProperty("initialblockdownload").GetBoolean(), "a regtest node with only the 2011 genesis block is in IBD");
        await node.Client.CallAsync("generatetoaddress", [1, TestNode.PayoutAddress]);
        info = await node.Client.CallAsync("getblockchaininfo");
        Assert.False(info.GetProperty("initialblockdownload").GetBoolean());
        Assert.Equal(1, info.GetProperty("headers").GetInt32());
        Assert.Equal("0000000000000000000000000000000000000000000000000000000000000004", info.GetProperty("chainwork").GetString());
        foreach (var key in new[] { "bestblockhash", "bits", "target", "difficulty", "time", "mediantime", "verificationprogress", "size_on_disk", "pruned", "warnings" })
            Assert.True(info.TryGetProperty(key, out _), key);

        var mining = await node.Client.CallAsync("getmininginfo");
        Assert.Equal(1, mining.GetProperty("blocks").GetInt32());
        Assert.Equal("regtest", mining.GetProperty("chain").GetString());
        Assert.Equal(2, mining.GetProperty("next").GetProperty("height").GetInt32());
        Assert.Equal(0, mining.GetProperty("pooledtx").GetInt32());

        var network = await node.Client.CallAsync("getnetworkinfo");
        Assert.Equal(0, network.GetProperty("connections").GetInt32());
        Assert.Equal("/DevNode:1.0.0/", network.GetProperty("subversion").GetString());

        node.Node.AddSyntheticTransactions(3);
        var mempool = await node.Client.CallAsync("getrawmempool", [true]);
        Assert.Equal(3, mempool.EnumerateObject().Count());
        var entry = mempool.EnumerateObject().First().Value;
        Assert.True(entry.GetProperty("fees").GetProperty("base").GetDecimal() > 0);
        Assert.True(entry.GetProperty("vsize").GetInt32() > 100);
        Assert.InRange((await node.Client.CallAsync("uptime")).GetInt64(), 0, 60);
    }

    [Fact]
    public async Task Validateaddress_accepts_regtest_addresses_and_explains_others()
    {
        await using var node = await TestNode.StartAsync();
        var valid = await node.Client.CallAsync("validateaddress", [TestNode.PayoutAddress]);
        Assert.True(valid.GetProperty("isvalid").GetBoolean());
        Assert.Equal("0014" + new string('1', 40), valid.GetProperty("scriptPubKey").GetString());
        Assert.True(valid.GetProperty("iswitness").GetBoolean());
        Assert.False(valid.GetProperty("isscript").GetBoolean());
        Assert.Equal(0, valid.GetProperty("witness_version").GetInt32());

        var legacy = await node.Client.CallAsync("validateaddress", ["mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"]);
        Assert.True(legacy.GetProperty("isvalid").GetBoolean());
        Assert.False(legacy.GetProperty("iswitness").GetBoolean());

        var mainnet = await node.Client.CallAsync("validateaddress", ["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"]);
        Assert.False(mainnet.GetProperty("isvalid").GetBoolean());
        Assert.Contains("network", mainnet.GetProperty("error").GetString());
        Assert.Equal(JsonValueKind.Array, mainnet.GetProperty("error_locations").ValueKind);
    }

    [Fact]
    public async Task The_default_foreign_payout_address_is_a_valid_regtest_address()
    {
        Assert.True(BitcoinAddress.TryParse(new DevNodeOptions().ForeignPayoutAddress, Network.Regtest, out _, out var error), error);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Foreign_blocks_arrive_on_a_timer()
    {
        await using var node = await TestNode.StartAsync(o => o.ForeignBlockIntervalSeconds = 0.2);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await node.Client.GetBlockCountAsync() < 3 && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.True(await node.Client.GetBlockCountAsync() >= 3);
        var tip = Block.ParseHex((await node.Client.CallAsync("getblock", [await node.Client.GetBestBlockHashAsync(), 0])).GetString()!);
        Assert.Equal(new DevNodeOptions().ForeignPayoutAddress, BitcoinAddress.FromScriptPubKey(tip.Coinbase.Outputs[0].ScriptPubKey.Span, Network.Regtest).Text);
    }

    [Fact]
    public async Task A_restart_on_the_same_data_directory_keeps_the_chain()
    {
        var dataDir = TestNode.NewDataDir();
        try
        {
            await RestartKeepsTheChain(dataDir);
        }
        finally
        {
            TestNode.DeleteDirectory(dataDir);
        }
    }

    private static async Task RestartKeepsTheChain(string dataDir)
    {
        void Persist(DevNodeOptions o)
        {
            o.PersistChain = true;
            o.TemplateRefreshSeconds = 0;
        }
        string tip;
        await using (var first = await TestNode.StartAsync(Persist, dataDir))
        {
            first.Node.AddSyntheticTransactions(5);
            await first.Client.CallAsync("generatetoaddress", [4, TestNode.PayoutAddress]);
            // A submitted block with transactions' fees, and a side branch block, are kept as well.
            var template = await first.TemplateAsync();
            first.Node.AddSyntheticTransactions(3);
            Assert.Null(await first.Client.SubmitBlockAsync(PoolBlockBuilder.Build(await first.TemplateAsync()).ToHex()));
            Assert.Equal("inconclusive", await first.Client.SubmitBlockAsync(PoolBlockBuilder.Build(template, time: template.GetProperty("curtime").GetUInt32() + 1).ToHex()));
            tip = await first.Client.GetBestBlockHashAsync();
        }
        await using var second = await TestNode.StartAsync(Persist, dataDir);
        Assert.Equal(5, await second.Client.GetBlockCountAsync());
        Assert.Equal(tip, await second.Client.GetBestBlockHashAsync());
        Assert.Equal(2, (await second.Client.CallAsync("getchaintips")).GetArrayLength());
    }
}
