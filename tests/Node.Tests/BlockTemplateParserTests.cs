using System.Text.Json;
using PoolCluster.Node;
using PoolCluster.Testing;

namespace PoolCluster.Node.Tests;

/// <summary>The parser against a real node's getblocktemplate and the block that node accepted from it.</summary>
public class BlockTemplateParserTests
{
    private static JsonElement RealTemplate() =>
        JsonDocument.Parse(File.ReadAllText(TestPaths.TestDataFile("node", "gbt-regtest-height111.json"))).RootElement;

    private static byte[] AcceptedBlock() =>
        Convert.FromHexString(File.ReadAllText(TestPaths.TestDataFile("node", "block-regtest-height111-accepted.hex")).Trim());

    [Fact]
    public void Real_template_fields_arrive_in_internal_order_matching_the_accepted_block()
    {
        var gbt = BlockTemplateParser.Parse(RealTemplate(), "regtest-ref", 1234);
        var block = AcceptedBlock();

        Assert.Equal("regtest-ref", gbt.NodeName);
        Assert.Equal(111u, gbt.Height);
        Assert.Equal(7, gbt.Transactions.Count);
        Assert.Equal(5000020020, gbt.CoinbaseValue);
        Assert.Equal(0x207fffffu, gbt.Bits);
        // The accepted block's header carries the template's fields in serialized (internal, little-endian) order.
        Assert.Equal(block.AsSpan(4, 32).ToArray(), gbt.PreviousBlockHash.ToByteArray());
        Assert.Equal(BitConverter.ToUInt32(block, 0), gbt.Version);
        Assert.Equal(BitConverter.ToUInt32(block, 72), gbt.Bits);
        Assert.Equal("6a24aa21a9ed94fca9c31d10c52d35b608eebb15689565cd05b2a0c8757b5f5112b14b20aa94",
            Convert.ToHexStringLower(gbt.DefaultWitnessCommitment.Span));
        // Each template transaction's raw bytes appear in the accepted block, in template order.
        var blockHex = Convert.ToHexStringLower(block);
        var last = -1;
        foreach (var tx in gbt.Transactions)
        {
            var at = blockHex.IndexOf(Convert.ToHexStringLower(tx.Data.Span), StringComparison.Ordinal);
            Assert.True(at > last, "template transactions appear in the block in template order");
            last = at;
        }
    }

    [Fact]
    public void Hashes_flip_between_display_and_internal_order()
    {
        var template = RealTemplate();
        var gbt = BlockTemplateParser.Parse(template, "n", 0);
        var first = template.GetProperty("transactions")[0];
        Assert.Equal(first.GetProperty("txid").GetString(), BlockTemplateParser.InternalToDisplayHex(gbt.Transactions[0].Txid.Span));
        Assert.Equal(first.GetProperty("hash").GetString(), BlockTemplateParser.InternalToDisplayHex(gbt.Transactions[0].Wtxid.Span));
        Assert.Equal(template.GetProperty("previousblockhash").GetString(), BlockTemplateParser.InternalToDisplayHex(gbt.PreviousBlockHash.Span));
    }

    [Fact]
    public void Identity_ignores_the_clock_but_not_the_work()
    {
        var json = File.ReadAllText(TestPaths.TestDataFile("node", "gbt-regtest-height111.json"));
        var original = BlockTemplateParser.Parse(JsonDocument.Parse(json).RootElement, "n", 0);
        var laterClock = BlockTemplateParser.Parse(JsonDocument.Parse(json.Replace("\"curtime\": 1795299348", "\"curtime\": 1795299999")).RootElement, "n", 0);
        var moreFees = BlockTemplateParser.Parse(JsonDocument.Parse(json.Replace("5000020020", "5000020021")).RootElement, "n", 0);

        Assert.NotEqual(original.CurTime, laterClock.CurTime);
        Assert.Equal(original.GbtHash, laterClock.GbtHash);
        Assert.NotEqual(original.GbtHash, moreFees.GbtHash);
        Assert.Equal(32, original.GbtHash.Length);
    }

    [Fact]
    public void A_template_missing_a_field_is_a_clear_error_naming_the_node()
    {
        var json = File.ReadAllText(TestPaths.TestDataFile("node", "gbt-regtest-height111.json")).Replace("\"height\"", "\"heigth\"");
        var e = Assert.Throws<FormatException>(() => BlockTemplateParser.Parse(JsonDocument.Parse(json).RootElement, "node-a", 0));
        Assert.Contains("node-a", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("zz000000000000000000000000000000000000000000000000000000000000zz")]
    public void A_malformed_hash_is_rejected(string hex) =>
        Assert.ThrowsAny<FormatException>(() => BlockTemplateParser.DisplayHexToInternal(hex));
}
