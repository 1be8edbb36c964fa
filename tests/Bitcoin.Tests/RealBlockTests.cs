namespace PoolCluster.Bitcoin.Tests;

/// <summary>Every real block in testdata/blocks: parse, re-serialize, merkle and witness roots, hash and proof of work.</summary>
public class RealBlockTests
{
    [Theory]
    [MemberData(nameof(RealData.BlockFiles), MemberType = typeof(RealData))]
    public void Block_reserializes_byte_for_byte(string file)
    {
        var bytes = RealData.ReadBlock(file);
        var block = RealData.Block(file);
        Assert.Equal(bytes, block.Serialize());
        Assert.Equal(RealData.Blocks.Single(b => b.File == file).Segwit, block.HasWitness);
        // Transactions one by one, in both serializations, too.
        foreach (var transaction in block.Transactions)
        {
            Assert.Equal(transaction.Serialize(), Transaction.Parse(transaction.Serialize()).Serialize());
            Assert.Equal(transaction.TxId, Hashes.DoubleSha256(transaction.Serialize(includeWitness: false)));
            Assert.Equal(transaction.GetSerializedSize(), transaction.Serialize().Length);
            Assert.Equal(transaction.GetSerializedSize(false), transaction.Serialize(false).Length);
        }
    }

    [Theory]
    [MemberData(nameof(RealData.BlockFiles), MemberType = typeof(RealData))]
    public void Header_hash_is_the_published_hash_and_meets_its_own_target(string file)
    {
        var expected = RealData.Blocks.Single(b => b.File == file);
        var block = RealData.Block(file);
        Assert.Equal(expected.Hash, block.GetHash().ToDisplayHex());
        Assert.True(block.GetHash().MeetsTarget(Target.FromCompact(block.Header.Bits)));
        Assert.True(block.Header.HasValidProofOfWork());
        Assert.Equal(RealData.ReadBlock(file)[..80], block.Header.Serialize());
    }

    [Theory]
    [MemberData(nameof(RealData.BlockFiles), MemberType = typeof(RealData))]
    public void Computed_merkle_root_equals_the_header_and_the_coinbase_branch_gives_it_too(string file)
    {
        var block = RealData.Block(file);
        Assert.Equal(block.Header.MerkleRoot, block.ComputeMerkleRoot());
        var txids = block.Transactions.Select(t => t.TxId).ToArray();
        var branch = Merkle.ComputeCoinbaseBranch(txids.AsSpan(1));
        Assert.Equal(block.Header.MerkleRoot, Merkle.ComputeRootFromCoinbase(txids[0], branch));
        Assert.Equal((int)Math.Ceiling(Math.Log2(txids.Length)), branch.Length);
    }

    [Theory]
    [MemberData(nameof(RealData.BlockFiles), MemberType = typeof(RealData))]
    public void Segwit_blocks_commit_to_their_computed_witness_root(string file)
    {
        var block = RealData.Block(file);
        var segwit = RealData.Blocks.Single(b => b.File == file).Segwit;
        Assert.Equal(segwit, block.TryGetWitnessCommitment(out var committed));
        if (!segwit) return;
        Assert.True(block.TryComputeWitnessCommitment(out var computed));
        Assert.Equal(committed, computed);
        Assert.Equal(WitnessCommitment.DefaultReservedValue.ToArray(), block.Coinbase.Inputs[0].Witness.Single().ToArray());
        Assert.Equal(committed, WitnessCommitment.ComputeForTransactions(block.Transactions.Skip(1).Select(t => t.WTxId).ToArray()));
        Assert.Contains(block.Transactions, t => t.HasWitness && t.WTxId != t.TxId);
    }

    [Theory]
    [MemberData(nameof(RealData.BlockFiles), MemberType = typeof(RealData))]
    public void Bip34_height_decodes_from_the_coinbase_of_version_2_blocks(string file)
    {
        var expected = RealData.Blocks.Single(b => b.File == file);
        var block = RealData.Block(file);
        Assert.True(block.Coinbase.IsCoinbase);
        var scriptSig = block.Coinbase.Inputs[0].ScriptSig.Span;
        if (block.Header.Version < 2)
        {
            Assert.Equal(1, expected.Height); // block 1 predates BIP34
            return;
        }
        Assert.True(Bip34.TryDecodeHeight(scriptSig, out var height));
        Assert.Equal(expected.Height, height);
        Assert.True(scriptSig.StartsWith(Bip34.EncodeHeight(expected.Height)));
    }

    [Fact]
    public void Block_1_coinbase_has_its_well_known_txid_and_a_50_btc_output()
    {
        var block = RealData.Block("mainnet-block1.raw");
        var coinbase = Assert.Single(block.Transactions);
        Assert.Equal("0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098", coinbase.TxId.ToDisplayHex());
        Assert.Equal(block.Header.MerkleRoot, coinbase.TxId);
        Assert.Equal(Subsidy.GetBlockSubsidy(1, Network.Mainnet), coinbase.TotalOutputValue);
        Assert.Equal("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f", block.Header.PreviousBlockHash.ToDisplayHex());
    }

    [Fact]
    public void Block_weight_of_the_segwit_block_is_below_the_limit_and_above_its_stripped_size()
    {
        var block = RealData.Block("testnet3-block928816.raw");
        Assert.InRange(block.Weight, RealData.ReadBlock("testnet3-block928816.raw").Length + 1, 4_000_000);
    }

    [Fact]
    public void Truncated_and_trailing_bytes_are_clear_errors()
    {
        var bytes = RealData.ReadBlock("mainnet-block482683.raw");
        var truncated = Assert.Throws<FormatException>(() => Block.Parse(bytes.AsSpan(0, bytes.Length - 10)));
        Assert.Contains("truncated", truncated.Message);
        Assert.Contains("block transaction 11", truncated.Message);
        var trailing = Assert.Throws<FormatException>(() => Block.Parse([.. bytes, 0x00]));
        Assert.Contains("1 unexpected bytes after the end", trailing.Message);
        Assert.Contains("80 bytes", Assert.Throws<FormatException>(() => Block.Parse(bytes.AsSpan(0, 40))).Message);
    }
}
