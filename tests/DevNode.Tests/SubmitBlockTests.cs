using System.Text.Json;
using PoolCluster.Bitcoin;
using PoolCluster.DevNode.Chain;
using PoolCluster.Node;
using PoolCluster.Testing;

namespace PoolCluster.DevNode.Tests;

public sealed class SubmitBlockTests
{
    private static string RealBlockHex() => File.ReadAllText(TestPaths.TestDataFile("node", "block-regtest-height111-accepted.hex")).Trim();

    private static JsonElement RealTemplate()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(TestPaths.TestDataFile("node", "gbt-regtest-height111.json")));
        return document.RootElement.Clone();
    }

    /// <summary>A block from parts, without Block.Assemble's consistency checks (for building invalid blocks).</summary>
    private static Block Raw(JsonElement template, Transaction coinbase, IReadOnlyList<Transaction> transactions)
    {
        var header = new BlockHeader(0x20000000, Hash256.FromDisplayHex(template.GetProperty("previousblockhash").GetString()!),
            Merkle.ComputeRoot([coinbase.TxId, .. transactions.Select(tx => tx.TxId)]), template.GetProperty("curtime").GetUInt32(), 0x207fffff, 0);
        return PoolBlockBuilder.WithProofOfWork(new Block(header, [coinbase, .. transactions]), valid: true);
    }

    private static List<Transaction> TemplateTransactions(JsonElement template) =>
        template.GetProperty("transactions").EnumerateArray().Select(tx => Transaction.ParseHex(tx.GetProperty("data").GetString()!)).ToList();

    [Fact]
    public async Task A_block_built_from_the_template_is_accepted_becomes_the_tip_and_empties_the_mempool()
    {
        await using var node = await TestNode.StartAsync();
        node.Node.AddSyntheticTransactions(12);
        var template = await node.TemplateAsync();
        var block = PoolBlockBuilder.Build(template);

        Assert.Null(await node.Client.SubmitBlockAsync(block.ToHex()));
        Assert.Equal(block.GetHash().ToDisplayHex(), await node.Client.GetBestBlockHashAsync());
        Assert.Equal(1, await node.Client.GetBlockCountAsync());
        Assert.Equal(0, (await node.Client.CallAsync("getrawmempool")).GetArrayLength());

        var header = await node.Client.GetBlockHeaderAsync(block.GetHash().ToDisplayHex());
        Assert.NotNull(header);
        Assert.Equal(13, header.Value.GetProperty("nTx").GetInt32());
        Assert.Equal(1, header.Value.GetProperty("confirmations").GetInt32());

        // The same block again.
        Assert.Equal("duplicate", await node.Client.SubmitBlockAsync(block.ToHex()));
        var next = await node.TemplateAsync();
        Assert.Equal(block.GetHash().ToDisplayHex(), next.GetProperty("previousblockhash").GetString());
    }

    [Fact]
    public async Task A_coinbase_with_a_commitment_but_no_witness_gets_the_reserved_value_like_bitcoind()
    {
        await using var node = await TestNode.StartAsync();
        node.Node.AddSyntheticTransactions(3);
        var template = await node.TemplateAsync();
        var block = PoolBlockBuilder.Build(template);
        // What a pool that forgot the coinbase witness sends: bitcoind's UpdateUncommittedBlockStructures adds it.
        var stripped = new Block(block.Header, [Transaction.Parse(block.Coinbase.Serialize(includeWitness: false)), .. block.Transactions.Skip(1)]);
        Assert.False(stripped.Coinbase.HasWitness);
        Assert.Null(await node.Client.SubmitBlockAsync(stripped.ToHex()));
    }

    [Fact]
    public async Task Wrong_merkle_root_is_bad_txnmrklroot()
    {
        await using var node = await TestNode.StartAsync();
        node.Node.AddSyntheticTransactions(3);
        var block = PoolBlockBuilder.Build(await node.TemplateAsync());
        var wrong = PoolBlockBuilder.WithHeader(block, h => h with { MerkleRoot = block.Transactions[1].TxId });
        Assert.Equal("bad-txnmrklroot", await node.Client.SubmitBlockAsync(wrong.ToHex()));
        Assert.Equal(0, await node.Client.GetBlockCountAsync());
    }

    [Fact]
    public async Task Wrong_height_in_the_coinbase_is_bad_cb_height()
    {
        await using var node = await TestNode.StartAsync();
        await node.Client.CallAsync("generatetoaddress", [20, TestNode.PayoutAddress]);
        var template = await node.TemplateAsync();
        Assert.Equal(21, template.GetProperty("height").GetInt32());
        Assert.Equal("bad-cb-height", await node.Client.SubmitBlockAsync(PoolBlockBuilder.Build(template, height: 22).ToHex()));
        Assert.Equal("bad-cb-height", await node.Client.SubmitBlockAsync(PoolBlockBuilder.Build(template, height: 20).ToHex()));
        Assert.Null(await node.Client.SubmitBlockAsync(PoolBlockBuilder.Build(template).ToHex()));
    }

    [Fact]
    public async Task An_overpaid_coinbase_is_bad_cb_amount_and_then_duplicate_invalid()
    {
        await using var node = await TestNode.StartAsync();
        node.Node.AddSyntheticTransactions(5);
        var template = await node.TemplateAsync();
        var value = template.GetProperty("coinbasevalue").GetInt64();
        var overpaid = PoolBlockBuilder.Build(template, payout: value + 1);
        Assert.Equal("bad-cb-amount", await node.Client.SubmitBlockAsync(overpaid.ToHex()));
        Assert.Equal("duplicate-invalid", await node.Client.SubmitBlockAsync(overpaid.ToHex()));
        // A block built on the invalid one is refused for its parent.
        var onInvalid = JsonDocument.Parse($$"""
            {"height":2,"previousblockhash":"{{overpaid.GetHash().ToDisplayHex()}}","coinbasevalue":5000000000,"version":536870912,
             "bits":"207fffff","curtime":{{template.GetProperty("curtime").GetUInt32() + 1}},"transactions":[],
             "default_witness_commitment":"{{Hex.Encode(WitnessCommitment.BuildOutputScript(WitnessCommitment.ComputeForTransactions([])))}}"}
            """).RootElement;
        Assert.Equal("bad-prevblk", await node.Client.SubmitBlockAsync(PoolBlockBuilder.Build(onInvalid).ToHex()));
        // Exactly the allowed amount is fine.
        Assert.Null(await node.Client.SubmitBlockAsync(PoolBlockBuilder.Build(template, payout: value).ToHex()));
    }

    [Fact]
    public async Task Insufficient_proof_of_work_is_high_hash()
    {
        await using var node = await TestNode.StartAsync();
        var block = PoolBlockBuilder.Build(await node.TemplateAsync());
        var weak = PoolBlockBuilder.WithProofOfWork(block, valid: false);
        Assert.False(weak.GetHash().MeetsTarget(Target.FromCompact(0x207fffff)));
        Assert.Equal("high-hash", await node.Client.SubmitBlockAsync(weak.ToHex()));
    }

    [Fact]
    public async Task Witness_commitment_errors_are_bitcoinds()
    {
        await using var node = await TestNode.StartAsync();
        node.Node.AddSyntheticTransactions(4);
        var template = await node.TemplateAsync();
        var transactions = TemplateTransactions(template);
        var payout = BitcoinAddress.Parse(TestNode.PayoutAddress, Network.Regtest).ScriptPubKey;
        var value = template.GetProperty("coinbasevalue").GetInt64();
        Transaction Coinbase(ReadOnlyMemory<byte> commitment) => new CoinbaseBuilder
        {
            Height = 1,
            Outputs = [new TxOut(value, payout)],
            WitnessCommitmentScript = commitment,
        }.Build().ToTransaction(new byte[4], new byte[4]);

        var wrongCommitment = WitnessCommitment.BuildOutputScript(WitnessCommitment.ComputeForTransactions([transactions[0].WTxId]));
        Assert.Equal("bad-witness-merkle-match", await node.Client.SubmitBlockAsync(Raw(template, Coinbase(wrongCommitment), transactions).ToHex()));

        Assert.Equal("unexpected-witness", await node.Client.SubmitBlockAsync(Raw(template, Coinbase(ReadOnlyMemory<byte>.Empty), transactions).ToHex()));

        var rightCommitment = Convert.FromHexString(template.GetProperty("default_witness_commitment").GetString()!);
        var longNonce = Coinbase(rightCommitment).WithFirstInputWitness([new byte[33]]);
        Assert.Equal("bad-witness-nonce-size", await node.Client.SubmitBlockAsync(Raw(template, longNonce, transactions).ToHex()));

        // Mutated blocks are not remembered: the good version of the block is still accepted.
        Assert.Null(await node.Client.SubmitBlockAsync(Raw(template, Coinbase(rightCommitment), transactions).ToHex()));
    }

    [Fact]
    public async Task Header_rules_bits_time_and_version_are_bitcoinds()
    {
        await using var node = await TestNode.StartAsync();
        var template = await node.TemplateAsync();
        var block = PoolBlockBuilder.Build(template);
        Assert.Equal("bad-diffbits", await node.Client.SubmitBlockAsync(PoolBlockBuilder.WithHeader(block, h => h with { Bits = 0x207ffffe }).ToHex()));
        Assert.Equal("time-too-old", await node.Client.SubmitBlockAsync(PoolBlockBuilder.WithHeader(block, h => h with { Time = 1296688602 }).ToHex()));
        var future = (uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 2 * 3600 + 60;
        Assert.Equal("time-too-new", await node.Client.SubmitBlockAsync(PoolBlockBuilder.WithHeader(block, h => h with { Time = future }).ToHex()));
        Assert.Equal("bad-version(0x00000003)", await node.Client.SubmitBlockAsync(PoolBlockBuilder.WithHeader(block, h => h with { Version = 3 }).ToHex()));
        Assert.Null(await node.Client.SubmitBlockAsync(block.ToHex()));
    }

    [Fact]
    public async Task A_harder_configured_block_difficulty_is_in_the_template_and_enforced()
    {
        // A local pool sets BlockBits so that not every share is a block; regtest's own bits are then refused.
        await using var node = await TestNode.StartAsync(o => o.BlockBits = "2000ffff");
        var template = await node.TemplateAsync();
        Assert.Equal("2000ffff", template.GetProperty("bits").GetString());
        var block = PoolBlockBuilder.Build(template);
        Assert.Equal(0x2000ffffu, block.Header.Bits);
        var easier = PoolBlockBuilder.WithProofOfWork(PoolBlockBuilder.WithHeader(block, h => h with { Bits = 0x207fffff }), valid: true);
        Assert.Equal("bad-diffbits", await node.Client.SubmitBlockAsync(easier.ToHex()));
        Assert.Null(await node.Client.SubmitBlockAsync(block.ToHex()));
    }

    [Fact]
    public async Task Malformed_transaction_lists_are_refused_with_bitcoinds_reasons()
    {
        await using var node = await TestNode.StartAsync();
        node.Node.AddSyntheticTransactions(2);
        var template = await node.TemplateAsync();
        var block = PoolBlockBuilder.Build(template);
        var transactions = block.Transactions;

        // CVE-2012-2459: repeating the last transaction keeps the merkle root of an odd list.
        Assert.Equal(3, transactions.Count);
        var repeated = PoolBlockBuilder.WithProofOfWork(new Block(block.Header, [.. transactions, transactions[^1]]), valid: true);
        Assert.Equal(block.Header.MerkleRoot, repeated.ComputeMerkleRoot());
        Assert.Equal("bad-txns-duplicate", await node.Client.SubmitBlockAsync(repeated.ToHex()));

        var noCoinbase = new Block(block.Header, [transactions[1], transactions[2]]);
        noCoinbase = PoolBlockBuilder.WithHeader(noCoinbase, h => h with { MerkleRoot = noCoinbase.ComputeMerkleRoot() });
        Assert.Equal("bad-cb-missing", await node.Client.SubmitBlockAsync(noCoinbase.ToHex()));

        var secondCoinbase = new Transaction(2, [new TxIn(OutPoint.Null, new byte[] { 0x51, 0x52 }, uint.MaxValue)], [new TxOut(0, new byte[] { 0x6a })], 0);
        var twoCoinbases = new Block(block.Header, [transactions[0], secondCoinbase]);
        twoCoinbases = PoolBlockBuilder.WithHeader(twoCoinbases, h => h with { MerkleRoot = twoCoinbases.ComputeMerkleRoot() });
        Assert.Equal("bad-cb-multiple", await node.Client.SubmitBlockAsync(twoCoinbases.ToHex()));

        Assert.Null(await node.Client.SubmitBlockAsync(block.ToHex()));
    }

    [Fact]
    public async Task Garbage_is_rpc_error_minus_22_block_decode_failed()
    {
        await using var node = await TestNode.StartAsync();
        foreach (var garbage in new[] { "zz", "00", "0100", RealBlockHex()[..400], RealBlockHex() + "00" })
        {
            var error = await Assert.ThrowsAsync<NodeRpcException>(() => node.Client.SubmitBlockAsync(garbage));
            Assert.Equal(-22, error.Code);
            Assert.Equal("Block decode failed", error.RpcMessage);
        }
        var noHex = await Assert.ThrowsAsync<NodeRpcException>(() => node.Client.CallAsync("submitblock"));
        Assert.Equal(-1, noHex.Code);
    }

    [Fact]
    public async Task The_real_regtest_block_is_refused_on_a_chain_without_its_parent()
    {
        await using var node = await TestNode.StartAsync();
        await node.Client.CallAsync("generatetoaddress", [110, TestNode.PayoutAddress]);
        Assert.Equal("prev-blk-not-found", await node.Client.SubmitBlockAsync(RealBlockHex()));
        Assert.Equal(110, await node.Client.GetBlockCountAsync());
    }

    [Fact]
    public async Task The_real_regtest_block_is_accepted_on_a_chain_seeded_with_its_parent_and_its_mempool()
    {
        var real = RealTemplate();
        var block = Block.ParseHex(RealBlockHex());
        void Seed(DevNodeOptions o)
        {
            o.SeedTip.Hash = real.GetProperty("previousblockhash").GetString();
            o.SeedTip.Height = 110;
            o.SeedTip.Time = real.GetProperty("mintime").GetInt64() - 600;
        }

        // Without its transactions in the mempool DevNode cannot know their fees: the coinbase's fees are unearned.
        await using (var bare = await TestNode.StartAsync(Seed))
            Assert.Equal("bad-cb-amount", await bare.Client.SubmitBlockAsync(RealBlockHex()));

        await using var node = await TestNode.StartAsync(Seed);
        foreach (var entry in real.GetProperty("transactions").EnumerateArray())
            Assert.True(node.Node.AddTransaction(Transaction.ParseHex(entry.GetProperty("data").GetString()!), entry.GetProperty("fee").GetInt64()));

        // DevNode's own template on that tip offers the same transactions, coinbase value and commitment.
        var ours = await node.TemplateAsync();
        Assert.Equal(real.GetProperty("coinbasevalue").GetInt64(), ours.GetProperty("coinbasevalue").GetInt64());
        Assert.Equal(real.GetProperty("default_witness_commitment").GetString(), ours.GetProperty("default_witness_commitment").GetString());
        Assert.Equal(real.GetProperty("height").GetInt32(), ours.GetProperty("height").GetInt32());
        Assert.Equal(
            real.GetProperty("transactions").EnumerateArray().Select(t => (t.GetProperty("txid").GetString(), t.GetProperty("depends").GetRawText().Replace("\n", "").Replace(" ", ""))),
            ours.GetProperty("transactions").EnumerateArray().Select(t => (t.GetProperty("txid").GetString(), t.GetProperty("depends").GetRawText())));

        Assert.Null(await node.Client.SubmitBlockAsync(RealBlockHex()));
        Assert.Equal(block.GetHash().ToDisplayHex(), await node.Client.GetBestBlockHashAsync());
        Assert.Equal(111, await node.Client.GetBlockCountAsync());
        Assert.Equal(0, (await node.Client.CallAsync("getrawmempool")).GetArrayLength());
        Assert.Equal("duplicate", await node.Client.SubmitBlockAsync(RealBlockHex()));
    }

    [Fact]
    public async Task A_competing_block_is_stored_as_a_side_branch_and_wins_when_its_branch_gets_longer()
    {
        await using var node = await TestNode.StartAsync();
        var template = await node.TemplateAsync();
        var first = PoolBlockBuilder.Build(template);
        var rival = PoolBlockBuilder.Build(template, time: template.GetProperty("curtime").GetUInt32() + 1);
        Assert.NotEqual(first.GetHash(), rival.GetHash());

        Assert.Null(await node.Client.SubmitBlockAsync(first.ToHex()));
        // bitcoind stores it but keeps the first-seen tip, and answers "inconclusive".
        Assert.Equal("inconclusive", await node.Client.SubmitBlockAsync(rival.ToHex()));
        Assert.Equal(first.GetHash().ToDisplayHex(), await node.Client.GetBestBlockHashAsync());
        var rivalHeader = await node.Client.GetBlockHeaderAsync(rival.GetHash().ToDisplayHex());
        Assert.Equal(-1, rivalHeader!.Value.GetProperty("confirmations").GetInt32());

        // A child of the rival makes its branch longer: reorganization.
        var childTemplate = JsonDocument.Parse($$"""
            {"height":2,"previousblockhash":"{{rival.GetHash().ToDisplayHex()}}","coinbasevalue":5000000000,"version":536870912,
             "bits":"207fffff","curtime":{{template.GetProperty("curtime").GetUInt32() + 2}},"transactions":[],
             "default_witness_commitment":"{{template.GetProperty("default_witness_commitment").GetString()}}"}
            """).RootElement;
        var child = PoolBlockBuilder.Build(childTemplate);
        Assert.Null(await node.Client.SubmitBlockAsync(child.ToHex()));
        Assert.Equal(child.GetHash().ToDisplayHex(), await node.Client.GetBestBlockHashAsync());
        Assert.Equal(2, await node.Client.GetBlockCountAsync());
        Assert.Equal(rival.GetHash().ToDisplayHex(), (await node.Client.CallAsync("getblockhash", [1])).GetString());
        var tips = await node.Client.CallAsync("getchaintips");
        Assert.Contains(tips.EnumerateArray(), tip => tip.GetProperty("hash").GetString() == first.GetHash().ToDisplayHex()
            && tip.GetProperty("status").GetString() == "valid-fork");
    }
}
