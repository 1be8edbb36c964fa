using System.Text.Json;
using PoolCluster.Bitcoin;
using PoolCluster.JobMaker;
using PoolCluster.Node;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.JobMaker.Tests;

/// <summary>
/// A job built from a real node's template must rebuild the block that node accepted: the testdata block's coinbase is
/// BIP34 height, 8 zero extranonce bytes, tag "/ref/", a P2WPKH payout and the witness commitment (see its README).
/// </summary>
public class StratumJobBuilderTests
{
    private static readonly Block Accepted = Block.ParseHex(File.ReadAllText(TestPaths.TestDataFile("node", "block-regtest-height111-accepted.hex")).Trim());

    private static RawGbt RealTemplate() => BlockTemplateParser.Parse(
        JsonDocument.Parse(File.ReadAllText(TestPaths.TestDataFile("node", "gbt-regtest-height111.json"))).RootElement, "ref", 0);

    private static JobMakerOptions RefOptions() => new()
    {
        Network = "regtest",
        // The payout of the accepted block, as an address: our address parser must give back the very same script.
        PayoutAddress = BitcoinAddress.FromScriptPubKey(Accepted.Coinbase.Outputs[0].ScriptPubKey.Span, Network.Regtest).Text,
        CoinbaseTag = "/ref/",
        Extranonce1Size = 4,
        Extranonce2Size = 4,
    };

    [Fact]
    public void Job_from_the_real_template_rebuilds_the_block_the_node_accepted_byte_for_byte()
    {
        var gbt = RealTemplate();
        var job = new StratumJobBuilder(RefOptions()).Build(gbt, jobId: 1, clean: true, nowMs: gbt.FetchedAtUnixMs);

        var coinbaseBytes = new StratumCoinbase(job.Coinbase1.ToByteArray(), job.Coinbase2.ToByteArray(), 8, hasWitnessCommitment: true)
            .ToTransaction(new byte[4], new byte[4]);
        var branch = job.MerkleBranch.Select(b => Hash256.FromInternalBytes(b.Span)).ToArray();
        var root = Merkle.ComputeRootFromCoinbase(coinbaseBytes.TxId, branch);
        Assert.Equal(Accepted.Header.MerkleRoot, root);

        var header = new BlockHeader(job.Version, Hash256.FromInternalBytes(job.PreviousBlockHash.Span), root,
            Accepted.Header.Time, job.Bits, Accepted.Header.Nonce);
        var transactions = gbt.Transactions.Select(t => Transaction.Parse(t.Data.Span)).ToList();
        var rebuilt = Block.Assemble(header, coinbaseBytes, transactions);
        Assert.Equal(Convert.ToHexStringLower(Accepted.Serialize()), Convert.ToHexStringLower(rebuilt.Serialize()));
    }

    [Fact]
    public void Job_keeps_the_templates_txid_order_and_witness_commitment()
    {
        var gbt = RealTemplate();
        var job = new StratumJobBuilder(RefOptions()).Build(gbt, 1, true, gbt.FetchedAtUnixMs);
        Assert.Equal(gbt.DefaultWitnessCommitment, job.WitnessCommitment);
        Assert.Equal(7u, job.TransactionCount);
        Assert.Equal(3, job.MerkleBranch.Count); // 8 leaves with the coinbase: 3 levels
        // The accepted block lists the template's transactions, same ids, same order.
        Assert.Equal(gbt.Transactions.Select(t => Hash256.FromInternalBytes(t.Txid.Span)), Accepted.Transactions.Skip(1).Select(t => t.TxId));
        Assert.Equal(111u, job.Height);
        Assert.False(job.EmptyBlock);
    }

    [Fact]
    public void Missing_default_witness_commitment_is_computed_from_the_wtxids()
    {
        var gbt = RealTemplate();
        var expected = gbt.DefaultWitnessCommitment;
        gbt.DefaultWitnessCommitment = Google.Protobuf.ByteString.Empty;
        var job = new StratumJobBuilder(RefOptions()).Build(gbt, 1, true, gbt.FetchedAtUnixMs);
        Assert.Equal(expected, job.WitnessCommitment);
    }

    [Fact]
    public void Time_moves_on_with_the_template_age_but_never_below_mintime()
    {
        var gbt = RealTemplate();
        var builder = new StratumJobBuilder(RefOptions());
        Assert.Equal(gbt.CurTime + 30, builder.Build(gbt, 1, false, gbt.FetchedAtUnixMs + 30_000).CurTime);
        Assert.Equal(gbt.CurTime, builder.Build(gbt, 1, false, gbt.FetchedAtUnixMs - 5_000).CurTime);
    }

    [Fact]
    public void Header_only_template_gives_an_empty_block_job_without_commitment()
    {
        var gbt = RealTemplate();
        gbt.Transactions.Clear();
        gbt.DefaultWitnessCommitment = Google.Protobuf.ByteString.Empty;
        gbt.HeaderOnly = true;
        var job = new StratumJobBuilder(RefOptions()).Build(gbt, 1, true, gbt.FetchedAtUnixMs);
        Assert.True(job.EmptyBlock);
        Assert.Empty(job.MerkleBranch);
        Assert.True(job.WitnessCommitment.IsEmpty);
    }

    [Theory]
    [InlineData("mainnet", false, "network")] // the real regtest payout address, configured on mainnet
    [InlineData("regtest", true, "checksum")] // the same address with its last character changed
    public void A_bad_payout_address_stops_the_service_with_a_message_naming_the_key(string network, bool corrupt, string mentions)
    {
        var address = RefOptions().PayoutAddress;
        if (corrupt)
            address = address[..^1] + (address[^1] == 'q' ? 'p' : 'q');
        var e = Assert.Throws<ArgumentException>(() => new StratumJobBuilder(new JobMakerOptions { Network = network, PayoutAddress = address }));
        Assert.Contains("JobMaker:PayoutAddress", e.Message);
        Assert.Contains(mentions, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void An_empty_payout_address_is_refused() =>
        Assert.Throws<ArgumentException>(() => new StratumJobBuilder(new JobMakerOptions { Network = "regtest", PayoutAddress = "" }));

    [Fact]
    public void An_oversized_tag_is_a_clear_error()
    {
        var options = RefOptions();
        options.CoinbaseTag = new string('x', 95);
        var e = Assert.Throws<InvalidOperationException>(() => new StratumJobBuilder(options).Build(RealTemplate(), 1, true, 0));
        Assert.Contains("scriptSig", e.Message);
    }
}
