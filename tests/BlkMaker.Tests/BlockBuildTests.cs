using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using PoolCluster.Bitcoin;
using PoolCluster.BlkMaker.Blocks;
using PoolCluster.BlkMaker.Submission;
using PoolCluster.BlkMaker.Templates;
using PoolCluster.Node;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.BlkMaker.Tests;

/// <summary>The fast block path against real blocks: it must produce exactly the bytes the network accepted.</summary>
public sealed class BlockBuildTests
{
    /// <summary>A RawGbt carrying <paramref name="block"/>'s transactions after the coinbase, as a node's template would.</summary>
    private static RawGbt TemplateOf(Block block)
    {
        var gbt = new RawGbt { GbtHash = ByteString.CopyFrom(new byte[32]), Height = 1, Bits = block.Header.Bits, Version = block.Header.Version };
        foreach (var tx in block.Transactions.Skip(1))
            gbt.Transactions.Add(new TemplateTransaction
            {
                Data = ByteString.CopyFrom(tx.Serialize()),
                Txid = ByteString.CopyFrom(tx.TxId.ToInternalBytes()),
                Wtxid = ByteString.CopyFrom(tx.WTxId.ToInternalBytes()),
            });
        return gbt;
    }

    /// <summary>What SServer publishes for a block: its header and its coinbase WITHOUT witness (the legacy serialization).</summary>
    private static SolvedShare ShareOf(Block block) => new()
    {
        Header = ByteString.CopyFrom(block.Header.Serialize()),
        Coinbase = ByteString.CopyFrom(block.Coinbase.Serialize(includeWitness: false)),
        BlockHash = ByteString.CopyFrom(block.GetHash().ToInternalBytes()),
    };

    public static TheoryData<string> RealBlocks => new()
    {
        "mainnet-block482683.raw",   // segwit: the coinbase witness must be restored
        "testnet3-block928816.raw",  // 889 transactions, 1.5 MB, segwit
        "mainnet-block300025.raw",   // pre-segwit, 461 transactions
        "mainnet-block1.raw",        // the coinbase alone
    };

    [Theory]
    [MemberData(nameof(RealBlocks))]
    public void The_fast_path_rebuilds_real_blocks_byte_for_byte_and_agrees_with_Block_Assemble(string file)
    {
        var raw = File.ReadAllBytes(TestPaths.TestDataFile("blocks", file));
        var block = Block.Parse(raw);
        var parts = block.Transactions.Count > 1 ? TemplateParts.Build(TemplateOf(block)) : null;

        var rebuilt = SolvedBlock.Build(ShareOf(block), parts);

        Assert.Empty(rebuilt.Problems);
        Assert.Equal(Convert.ToHexStringLower(raw), rebuilt.Hex());
        Assert.Equal(raw.Length, rebuilt.Size);
        Assert.Equal(block.GetHash(), rebuilt.Hash);
        Assert.Equal(block.Transactions.Count, rebuilt.TransactionCount);
        Assert.Null(rebuilt.VerifyWithReferenceAssembly());
        using var request = JsonDocument.Parse(rebuilt.SubmitRequestBytes());
        Assert.Equal("submitblock", request.RootElement.GetProperty("method").GetString());
        Assert.Equal(Convert.ToHexStringLower(raw), request.RootElement.GetProperty("params")[0].GetString());
    }

    [Fact]
    public void The_regtest_block_a_real_node_accepted_comes_out_of_its_template_exactly()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(TestPaths.TestDataFile("node", "gbt-regtest-height111.json")));
        var gbt = BlockTemplateParser.Parse(document.RootElement, "reference", 0);
        var acceptedHex = File.ReadAllText(TestPaths.TestDataFile("node", "block-regtest-height111-accepted.hex")).Trim();
        var accepted = Block.ParseHex(acceptedHex);

        var rebuilt = SolvedBlock.Build(ShareOf(accepted), TemplateParts.Build(gbt));

        Assert.Empty(rebuilt.Problems);
        Assert.Equal(acceptedHex, rebuilt.Hex());
        Assert.Null(rebuilt.VerifyWithReferenceAssembly());
    }

    [Fact]
    public void A_share_of_another_template_or_with_a_tampered_coinbase_is_reported_and_Block_Assemble_agrees()
    {
        var block = Block.Parse(File.ReadAllBytes(TestPaths.TestDataFile("blocks", "mainnet-block482683.raw")));
        var parts = TemplateParts.Build(TemplateOf(block));
        var otherParts = TemplateParts.Build(TemplateOf(Block.Parse(File.ReadAllBytes(TestPaths.TestDataFile("blocks", "testnet3-block928816.raw")))));

        var wrongTemplate = SolvedBlock.Build(ShareOf(block), otherParts);
        Assert.Contains(wrongTemplate.Problems, p => p.Contains("merkle root"));
        Assert.Contains(wrongTemplate.Problems, p => p.Contains("witness commitment"));
        Assert.Null(wrongTemplate.VerifyWithReferenceAssembly()); // Block.Assemble refuses it too: no disagreement

        var share = ShareOf(block);
        var coinbase = share.Coinbase.ToByteArray();
        coinbase[^1] ^= 1; // lock time
        share.Coinbase = ByteString.CopyFrom(coinbase);
        var tampered = SolvedBlock.Build(share, parts);
        Assert.Single(tampered.Problems);
        Assert.Contains("merkle root", tampered.Problems[0]);
    }

    [Fact]
    public void A_header_that_is_not_80_bytes_is_an_error_naming_it()
    {
        var error = Assert.Throws<FormatException>(() => SolvedBlock.Build(new SolvedShare { Header = ByteString.CopyFrom(new byte[79]) }, null));
        Assert.Contains("79 bytes, not 80", error.Message);
    }

    [Theory]
    [InlineData(HttpStatusCode.OK, """{"result":null,"error":null,"id":"blkmaker"}""", SubmitVerdict.Accepted, "")]
    [InlineData(HttpStatusCode.OK, """{"result":"duplicate","error":null,"id":"blkmaker"}""", SubmitVerdict.Duplicate, "")]
    [InlineData(HttpStatusCode.OK, """{"result":"duplicate-inconclusive","error":null}""", SubmitVerdict.Duplicate, "duplicate-inconclusive")]
    [InlineData(HttpStatusCode.OK, """{"result":"inconclusive","error":null}""", SubmitVerdict.Inconclusive, "")]
    [InlineData(HttpStatusCode.OK, """{"result":"duplicate-invalid","error":null}""", SubmitVerdict.Rejected, "duplicate-invalid")]
    [InlineData(HttpStatusCode.OK, """{"result":"high-hash","error":null}""", SubmitVerdict.Rejected, "high-hash")]
    [InlineData(HttpStatusCode.InternalServerError, """{"result":null,"error":{"code":-22,"message":"Block decode failed"}}""", SubmitVerdict.Rejected,
        "RPC error -22: Block decode failed")]
    [InlineData(HttpStatusCode.InternalServerError, """{"result":null,"error":{"code":-28,"message":"Loading block index..."}}""", SubmitVerdict.Unavailable,
        "RPC error -28: Loading block index...")]
    [InlineData(HttpStatusCode.Unauthorized, "", SubmitVerdict.Unavailable, "authentication refused (HTTP 401)")]
    [InlineData(HttpStatusCode.BadGateway, "<html>proxy error</html>", SubmitVerdict.Unavailable, "HTTP 502 with a body that is not JSON-RPC")]
    public void Submitblock_answers_are_read_as_bitcoind_means_them(HttpStatusCode status, string body, SubmitVerdict verdict, string detail) =>
        Assert.Equal(new SubmitOutcome(verdict, detail), NodeSubmitter.Interpret(status, Encoding.UTF8.GetBytes(body)));
}
