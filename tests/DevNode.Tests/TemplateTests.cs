using System.Diagnostics;
using System.Text.Json;
using PoolCluster.Bitcoin;
using PoolCluster.DevNode.Chain;
using PoolCluster.Node;
using PoolCluster.Testing;

namespace PoolCluster.DevNode.Tests;

public sealed class TemplateTests
{
    private static JsonElement RealTemplate()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(TestPaths.TestDataFile("node", "gbt-regtest-height111.json")));
        return document.RootElement.Clone();
    }

    [Fact]
    public async Task Template_has_every_key_of_the_real_nodes_template_with_the_same_json_types()
    {
        await using var node = await TestNode.StartAsync(o => o.Mempool.ChildProbability = 0.5);
        Assert.Equal(30, node.Node.AddSyntheticTransactions(30));

        var ours = await node.TemplateAsync();
        var real = RealTemplate();
        foreach (var property in real.EnumerateObject())
        {
            Assert.True(ours.TryGetProperty(property.Name, out var mine), $"getblocktemplate lacks '{property.Name}'");
            Assert.True(property.Value.ValueKind == mine.ValueKind,
                $"'{property.Name}' is {mine.ValueKind} here but {property.Value.ValueKind} in the real template");
        }
        var realTx = real.GetProperty("transactions")[0];
        foreach (var tx in ours.GetProperty("transactions").EnumerateArray())
        {
            Assert.Equal(realTx.EnumerateObject().Select(p => p.Name).Order(), tx.EnumerateObject().Select(p => p.Name).Order());
            foreach (var property in realTx.EnumerateObject())
                Assert.Equal(property.Value.ValueKind, tx.GetProperty(property.Name).ValueKind);
        }
    }

    [Fact]
    public async Task Template_values_are_those_of_a_regtest_node_on_genesis()
    {
        await using var node = await TestNode.StartAsync(o => o.Mempool.ChildProbability = 0.6);
        node.Node.AddSyntheticTransactions(40);
        var template = await node.TemplateAsync();

        Assert.Equal(0x20000000, template.GetProperty("version").GetInt64());
        Assert.Equal(["csv", "!segwit", "taproot"], template.GetProperty("rules").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(Regtest.GenesisHashHex, template.GetProperty("previousblockhash").GetString());
        Assert.Equal(1, template.GetProperty("height").GetInt32());
        Assert.Equal("207fffff", template.GetProperty("bits").GetString());
        Assert.Equal("7fffff0000000000000000000000000000000000000000000000000000000000", template.GetProperty("target").GetString());
        Assert.Equal(4_000_000, template.GetProperty("weightlimit").GetInt32());
        Assert.Equal(80_000, template.GetProperty("sigoplimit").GetInt32());
        Assert.Equal("00000000ffffffff", template.GetProperty("noncerange").GetString());
        // mintime is the median time past + 1: with only genesis, genesis time + 1.
        Assert.Equal(1296688603, template.GetProperty("mintime").GetInt64());
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.InRange(template.GetProperty("curtime").GetInt64(), now - 5, now + 5);
        Assert.StartsWith(Regtest.GenesisHashHex, template.GetProperty("longpollid").GetString());

        var transactions = template.GetProperty("transactions").EnumerateArray().ToList();
        Assert.Equal(40, transactions.Count);
        var fees = 0L;
        var txids = new List<string>();
        var wtxids = new List<Hash256>();
        var sawDepends = false;
        foreach (var entry in transactions)
        {
            var tx = Transaction.ParseHex(entry.GetProperty("data").GetString()!);
            Assert.True(tx.HasWitness);
            Assert.Equal(tx.TxId.ToDisplayHex(), entry.GetProperty("txid").GetString());
            Assert.Equal(tx.WTxId.ToDisplayHex(), entry.GetProperty("hash").GetString());
            Assert.Equal(tx.Weight, entry.GetProperty("weight").GetInt32());
            Assert.Equal(tx.Inputs.Count, entry.GetProperty("sigops").GetInt32());
            Assert.True(entry.GetProperty("fee").GetInt64() > 0);
            // Each dependency is an earlier transaction of the template that this one spends.
            foreach (var depends in entry.GetProperty("depends").EnumerateArray())
            {
                sawDepends = true;
                var index = depends.GetInt32();
                Assert.InRange(index, 1, txids.Count);
                Assert.Contains(tx.Inputs, input => input.PreviousOutput.TxId.ToDisplayHex() == txids[index - 1]);
            }
            fees += entry.GetProperty("fee").GetInt64();
            txids.Add(tx.TxId.ToDisplayHex());
            wtxids.Add(tx.WTxId);
        }
        Assert.True(sawDepends, "with ChildProbability 0.6 some of 40 transactions spend another's output");
        Assert.Equal(50 * Subsidy.Coin + fees, template.GetProperty("coinbasevalue").GetInt64());
        var commitment = WitnessCommitment.BuildOutputScript(WitnessCommitment.ComputeForTransactions([.. wtxids]));
        Assert.Equal(Hex.Encode(commitment), template.GetProperty("default_witness_commitment").GetString());

        // The pool's own parser takes it.
        var gbt = BlockTemplateParser.Parse(template, "devnode", 0);
        Assert.Equal(40, gbt.Transactions.Count);
        Assert.Equal(1u, gbt.Height);
    }

    [Fact]
    public async Task Template_without_the_segwit_rule_is_refused_like_bitcoind()
    {
        await using var node = await TestNode.StartAsync();
        var error = await Assert.ThrowsAsync<NodeRpcException>(() => node.Client.CallAsync("getblocktemplate", [new { rules = Array.Empty<string>() }]));
        Assert.Equal(-8, error.Code);
        Assert.Equal("getblocktemplate must be called with the segwit rule set (call with {\"rules\": [\"segwit\"]})", error.RpcMessage);

        var noArgument = await Assert.ThrowsAsync<NodeRpcException>(() => node.Client.CallAsync("getblocktemplate"));
        Assert.Equal(-1, noArgument.Code);
        var badMode = await Assert.ThrowsAsync<NodeRpcException>(() => node.Client.CallAsync("getblocktemplate", [new { mode = "bogus", rules = new[] { "segwit" } }]));
        Assert.Equal(-8, badMode.Code);
        Assert.Equal("Invalid mode", badMode.RpcMessage);
    }

    [Fact]
    public async Task Long_poll_waits_for_the_next_block_and_returns_its_template()
    {
        await using var node = await TestNode.StartAsync();
        var first = await node.TemplateAsync();
        var longPollId = first.GetProperty("longpollid").GetString()!;

        var poll = node.Client.GetBlockTemplateAsync(longPollId, TimeSpan.FromSeconds(30));
        await Task.Delay(300);
        Assert.False(poll.IsCompleted, "the long poll returned although nothing changed");

        var stopwatch = Stopwatch.StartNew();
        var hashes = await node.Client.CallAsync("generatetoaddress", [1, TestNode.PayoutAddress]);
        var next = await poll.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Equal(hashes[0].GetString(), next.GetProperty("previousblockhash").GetString());
        Assert.Equal(2, next.GetProperty("height").GetInt32());
        Assert.NotEqual(longPollId, next.GetProperty("longpollid").GetString());
    }

    [Fact]
    public async Task Long_poll_with_an_outdated_tip_returns_at_once()
    {
        await using var node = await TestNode.StartAsync();
        var first = await node.TemplateAsync();
        await node.Client.CallAsync("generatetoaddress", [1, TestNode.PayoutAddress]);
        var next = await node.Client.GetBlockTemplateAsync(first.GetProperty("longpollid").GetString(), TimeSpan.FromSeconds(5));
        Assert.Equal(2, next.GetProperty("height").GetInt32());
    }

    [Fact]
    public async Task Long_poll_returns_when_the_mempool_changed_and_the_wait_passed_but_not_before()
    {
        await using var node = await TestNode.StartAsync(o =>
        {
            o.LongPollMempoolSeconds = 0.3;
            o.TemplateRefreshSeconds = 0;
        });
        var first = await node.TemplateAsync();
        Assert.Equal(0, first.GetProperty("transactions").GetArrayLength());

        var poll = node.Client.GetBlockTemplateAsync(first.GetProperty("longpollid").GetString(), TimeSpan.FromSeconds(30));
        // Several mempool checks pass with nothing new: the poll keeps waiting.
        await Task.Delay(1000);
        Assert.False(poll.IsCompleted);

        node.Node.AddSyntheticTransactions(3);
        var next = await poll.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(first.GetProperty("previousblockhash").GetString(), next.GetProperty("previousblockhash").GetString());
        Assert.Equal(3, next.GetProperty("transactions").GetArrayLength());
    }

    [Fact]
    public async Task Template_keeps_its_transactions_for_the_refresh_interval_like_bitcoind()
    {
        await using var node = await TestNode.StartAsync(o => o.TemplateRefreshSeconds = 3600);
        node.Node.AddSyntheticTransactions(2);
        var first = await node.TemplateAsync();
        node.Node.AddSyntheticTransactions(2);
        var second = await node.TemplateAsync();
        Assert.Equal(2, second.GetProperty("transactions").GetArrayLength());
        Assert.Equal(first.GetProperty("longpollid").GetString(), second.GetProperty("longpollid").GetString());

        // A new tip always rebuilds it.
        await node.Client.CallAsync("generatetoaddress", [1, TestNode.PayoutAddress]);
        var third = await node.TemplateAsync();
        Assert.Equal(0, third.GetProperty("transactions").GetArrayLength());
    }

    [Fact]
    public async Task Proposal_mode_checks_a_block_without_proof_of_work()
    {
        await using var node = await TestNode.StartAsync();
        node.Node.AddSyntheticTransactions(4);
        var template = await node.TemplateAsync();
        var good = PoolBlockBuilder.Build(template, grind: false);
        var answer = await node.Client.CallAsync("getblocktemplate", [new { mode = "proposal", data = good.ToHex() }]);
        Assert.Equal(JsonValueKind.Null, answer.ValueKind);

        var overpaid = PoolBlockBuilder.Build(template, payout: template.GetProperty("coinbasevalue").GetInt64() + 1, grind: false);
        var rejected = await node.Client.CallAsync("getblocktemplate", [new { mode = "proposal", data = overpaid.ToHex() }]);
        Assert.Equal("bad-cb-amount", rejected.GetString());
        // A proposal stores nothing.
        Assert.Equal(0, await node.Client.GetBlockCountAsync());
    }

    [Fact]
    public async Task Mempool_feeder_fills_templates_at_the_configured_rate()
    {
        await using var node = await TestNode.StartAsync(o =>
        {
            o.Mempool.TxPerSecond = 100;
            o.TemplateRefreshSeconds = 0;
        });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        int count;
        do
        {
            await Task.Delay(100);
            count = (await node.Client.CallAsync("getrawmempool")).GetArrayLength();
        }
        while (count < 20 && DateTime.UtcNow < deadline);
        Assert.InRange(count, 20, 1000);
        Assert.True((await node.TemplateAsync()).GetProperty("transactions").GetArrayLength() > 0);
    }
}
