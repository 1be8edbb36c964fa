using System.Text.Json;

namespace PoolCluster.Bitcoin.Tests;

/// <summary>
/// A real regtest node's getblocktemplate at height 111 and the block built from it that the node accepted: the
/// library must agree with the node on every derived value, and rebuild the accepted block byte for byte.
/// </summary>
public class RegtestNodeTests
{
    private static readonly JsonElement Template = RealData.Template();
    private static readonly Block Accepted = Block.Parse(RealData.AcceptedRegtestBlock());

    private static Transaction[] TemplateTransactions() =>
        Template.GetProperty("transactions").EnumerateArray().Select(t => Transaction.ParseHex(t.GetProperty("data").GetString()!)).ToArray();

    private static byte[] DefaultWitnessCommitment => Hex.Decode(Template.GetProperty("default_witness_commitment").GetString()!);

    [Fact]
    public void Template_transactions_parse_to_the_nodes_txids_and_wtxids_and_reserialize_identically()
    {
        foreach (var entry in Template.GetProperty("transactions").EnumerateArray())
        {
            var data = entry.GetProperty("data").GetString()!;
            var transaction = Transaction.ParseHex(data);
            Assert.Equal(entry.GetProperty("txid").GetString(), transaction.TxId.ToDisplayHex());
            Assert.Equal(entry.GetProperty("hash").GetString(), transaction.WTxId.ToDisplayHex());
            Assert.Equal(data, transaction.ToHex());
            Assert.Equal(entry.GetProperty("weight").GetInt32(), transaction.Weight);
            Assert.True(transaction.HasWitness);
        }
    }

    [Fact]
    public void Witness_commitment_computed_from_the_template_equals_the_nodes_default_witness_commitment()
    {
        var wtxids = Template.GetProperty("transactions").EnumerateArray()
            .Select(t => Hash256.FromDisplayHex(t.GetProperty("hash").GetString()!)).ToArray();
        var commitment = WitnessCommitment.ComputeForTransactions(wtxids);
        Assert.Equal(DefaultWitnessCommitment, WitnessCommitment.BuildOutputScript(commitment));
    }

    [Fact]
    public void Accepted_block_carries_the_templates_commitment_and_its_transactions_in_order()
    {
        Assert.True(Accepted.TryGetWitnessCommitment(out var commitment));
        Assert.Equal(DefaultWitnessCommitment, WitnessCommitment.BuildOutputScript(commitment));
        Assert.True(Accepted.TryComputeWitnessCommitment(out var computed));
        Assert.Equal(commitment, computed);
        var templateTxids = Template.GetProperty("transactions").EnumerateArray().Select(t => t.GetProperty("txid").GetString()).ToArray();
        Assert.Equal(templateTxids, Accepted.Transactions.Skip(1).Select(t => t.TxId.ToDisplayHex()).ToArray());
        Assert.Equal(Accepted.Header.MerkleRoot, Accepted.ComputeMerkleRoot());
        Assert.Equal(RealData.AcceptedRegtestBlock(), Accepted.Serialize());
    }

    [Fact]
    public void Header_fields_come_from_the_template()
    {
        var header = Accepted.Header;
        Assert.Equal(Template.GetProperty("version").GetUInt32(), header.Version);
        Assert.Equal(Template.GetProperty("previousblockhash").GetString(), header.PreviousBlockHash.ToDisplayHex());
        Assert.Equal(Template.GetProperty("bits").GetString(), StratumEncoding.FormatUInt32(header.Bits));
        Assert.Equal(Template.GetProperty("curtime").GetUInt32(), header.Time);
        Assert.Equal(Target.FromHex(Template.GetProperty("target").GetString()!), header.Target);
        Assert.Equal(Network.Regtest.PowLimit, header.Target);
        Assert.True(header.HasValidProofOfWork());
    }

    [Fact]
    public void Coinbase_value_is_the_regtest_subsidy_plus_the_template_fees()
    {
        var fees = Template.GetProperty("transactions").EnumerateArray().Sum(t => t.GetProperty("fee").GetInt64());
        Assert.Equal(Template.GetProperty("coinbasevalue").GetInt64(), Subsidy.GetBlockSubsidy(111, Network.Regtest) + fees);
        Assert.Equal(Template.GetProperty("coinbasevalue").GetInt64(), Accepted.Coinbase.TotalOutputValue);
    }

    [Fact]
    public void Payout_script_round_trips_through_its_regtest_bech32_address()
    {
        var payoutScript = Accepted.Coinbase.Outputs[0].ScriptPubKey.ToArray();
        var address = BitcoinAddress.FromScriptPubKey(payoutScript, Network.Regtest);
        Assert.Equal(AddressType.PayToWitnessPubKeyHash, address.Type);
        Assert.StartsWith("bcrt1q", address.Text);
        Assert.Equal(payoutScript, BitcoinAddress.Parse(address.Text, Network.Regtest).ScriptPubKey.ToArray());
        Assert.Equal(payoutScript, BitcoinAddress.Parse(address.Text.ToUpperInvariant(), Network.Regtest).ScriptPubKey.ToArray());
        var wrongNetwork = Assert.Throws<AddressFormatException>(() => BitcoinAddress.Parse(address.Text, Network.Mainnet));
        Assert.Contains("wrong network", wrongNetwork.Message);
    }

    private static (StratumCoinbase Coinbase, Hash256[] TemplateTxids) BuildCoinbaseAsTheReadmeDescribes()
    {
        var address = BitcoinAddress.FromScriptPubKey(Accepted.Coinbase.Outputs[0].ScriptPubKey.Span, Network.Regtest).Text;
        var coinbase = new CoinbaseBuilder
        {
            Height = Template.GetProperty("height").GetInt32(),
            ExtranonceSize = 8,
            PoolTag = "/ref/"u8.ToArray(),
            Outputs = [new TxOut(Template.GetProperty("coinbasevalue").GetInt64(), BitcoinAddress.Parse(address, Network.Regtest).ScriptPubKey)],
            WitnessCommitmentScript = DefaultWitnessCommitment,
        }.Build();
        var txids = Template.GetProperty("transactions").EnumerateArray()
            .Select(t => Hash256.FromDisplayHex(t.GetProperty("txid").GetString()!)).ToArray();
        return (coinbase, txids);
    }

    [Fact]
    public void Building_the_block_from_the_template_reproduces_the_accepted_block_byte_for_byte()
    {
        var (coinbaseParts, txids) = BuildCoinbaseAsTheReadmeDescribes();
        var zeros = new byte[4];
        var coinbase = coinbaseParts.ToTransaction(zeros, zeros);
        Assert.Equal(Accepted.Coinbase.Serialize(), coinbase.Serialize());

        var root = Merkle.ComputeRoot([coinbase.TxId, .. txids]);
        var unsolved = new BlockHeader(Template.GetProperty("version").GetUInt32(),
            Hash256.FromDisplayHex(Template.GetProperty("previousblockhash").GetString()!), root,
            Template.GetProperty("curtime").GetUInt32(), StratumEncoding.ParseUInt32(Template.GetProperty("bits").GetString()!, "bits"), 0);
        // Mine it: the first nonce meeting the regtest target is the one the accepted block carries.
        var header = unsolved;
        while (!header.HasValidProofOfWork()) header = header with { Nonce = header.Nonce + 1 };
        Assert.Equal(Accepted.Header, header);

        // The block maker's path: the stratum coinbase is legacy-serialized; Assemble adds the witness reserved value.
        var legacyCoinbase = Transaction.Parse(coinbaseParts.Assemble(zeros, zeros));
        Assert.False(legacyCoinbase.HasWitness);
        var block = Block.Assemble(header, legacyCoinbase, TemplateTransactions());
        Assert.Equal(RealData.AcceptedRegtestBlock(), block.Serialize());
    }

    [Fact]
    public void Share_checker_on_the_regtest_job_finds_the_accepted_block()
    {
        var (coinbase, txids) = BuildCoinbaseAsTheReadmeDescribes();
        var checker = new ShareChecker(coinbase.Coinbase1, coinbase.Coinbase2, 8, Merkle.ComputeCoinbaseBranch(txids),
            Template.GetProperty("version").GetUInt32(), Accepted.Header.PreviousBlockHash, Accepted.Header.Bits);
        var zeros = new byte[4];
        var result = checker.Check(zeros, zeros, Accepted.Header.Time, Accepted.Header.Nonce, Target.FromDifficulty(1e-9));
        Assert.Equal(Accepted.GetHash(), result.BlockHash);
        Assert.True(result.IsValid);
        Assert.True(result.IsBlock);
        // Difficulty 1 is far above regtest's: a valid block that is a low-difficulty share is still reported as a block.
        var hardShare = checker.Check(zeros, zeros, Accepted.Header.Time, Accepted.Header.Nonce, Target.Difficulty1);
        Assert.Equal(ShareCheckStatus.LowDifficulty, hardShare.Status);
        Assert.True(hardShare.IsBlock);
    }

    [Fact]
    public void Assemble_refuses_blocks_the_node_would_reject()
    {
        var (coinbaseParts, _) = BuildCoinbaseAsTheReadmeDescribes();
        var zeros = new byte[4];
        var coinbase = coinbaseParts.ToTransaction(zeros, zeros);
        var transactions = TemplateTransactions();

        var wrongRoot = Assert.Throws<InvalidOperationException>(() =>
            Block.Assemble(Accepted.Header with { MerkleRoot = Hash256.Zero }, coinbase, transactions));
        Assert.Contains("merkle root", wrongRoot.Message);

        var reordered = transactions.Reverse().ToArray();
        Assert.Throws<InvalidOperationException>(() => Block.Assemble(Accepted.Header, coinbase, reordered));

        var withoutCommitment = new CoinbaseBuilder
        {
            Height = 111,
            Outputs = [new TxOut(1, Accepted.Coinbase.Outputs[0].ScriptPubKey)],
        }.Build().ToTransaction(zeros, zeros);
        var unexpectedWitness = Assert.Throws<InvalidOperationException>(() =>
            Block.Assemble(Accepted.Header, withoutCommitment, transactions));
        Assert.Contains("unexpected-witness", unexpectedWitness.Message);
    }
}
