using PoolCluster.DevNode.Rpc;

namespace PoolCluster.DevNode.Tests;

public sealed class ScriptDescriberTests
{
    [Fact]
    public void Descriptor_checksum_matches_the_bip380_test_vector()
    {
        Assert.Equal("raw(deadbeef)#89f8spxm", ScriptDescriber.AddDescriptorChecksum("raw(deadbeef)"));
        Assert.NotEqual("raw(deadbeff)#89f8spxm", ScriptDescriber.AddDescriptorChecksum("raw(deadbeff)"));
    }

    [Theory]
    [InlineData("0014" + "1111111111111111111111111111111111111111", "0 1111111111111111111111111111111111111111", "witness_v0_keyhash")]
    [InlineData("76a914" + "2222222222222222222222222222222222222222" + "88ac", "OP_DUP OP_HASH160 2222222222222222222222222222222222222222 OP_EQUALVERIFY OP_CHECKSIG", "pubkeyhash")]
    [InlineData("a914" + "3333333333333333333333333333333333333333" + "87", "OP_HASH160 3333333333333333333333333333333333333333 OP_EQUAL", "scripthash")]
    [InlineData("6a24aa21a9ed" + "4444444444444444444444444444444444444444444444444444444444444444", "OP_RETURN aa21a9ed4444444444444444444444444444444444444444444444444444444444444444", "nulldata")]
    [InlineData("5120" + "5555555555555555555555555555555555555555555555555555555555555555", "1 5555555555555555555555555555555555555555555555555555555555555555", "witness_v1_taproot")]
    [InlineData("016f00", "111 0", "nonstandard")]
    [InlineData("4c", "[error]", "nonstandard")]
    public void Scripts_are_described_like_bitcoind(string hex, string asm, string type)
    {
        var script = Convert.FromHexString(hex);
        Assert.Equal(asm, ScriptDescriber.ToAsm(script));
        Assert.Equal(type, ScriptDescriber.Classify(script));
    }
}
