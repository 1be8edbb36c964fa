namespace PoolCluster.Bitcoin.Tests;

public class Hash256Tests
{
    // Bitcoin's genesis block: hash as shown (display order) and its header bytes.
    private const string GenesisDisplay = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";

    private const string GenesisHeader =
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";

    [Fact]
    public void Genesis_header_hashes_to_the_well_known_display_hash()
    {
        var header = BlockHeader.Parse(Hex.Decode(GenesisHeader));
        var hash = header.GetHash();
        Assert.Equal(GenesisDisplay, hash.ToDisplayHex());
        Assert.Equal(GenesisDisplay, hash.ToString());
        Assert.Equal(Hash256.FromDisplayHex(GenesisDisplay), hash);
        // Internal order is the exact reverse, and is what the header bytes of the next block carry.
        Assert.Equal(Hex.Decode(GenesisDisplay).Reverse().ToArray(), hash.ToInternalBytes());
        Assert.Equal(Convert.ToHexStringLower(Hex.Decode(GenesisDisplay).Reverse().ToArray()), hash.ToInternalHex());
        Assert.Equal(hash, Hash256.FromInternalHex(hash.ToInternalHex()));
        Assert.Equal(hash, Hash256.FromDisplayBytes(hash.ToDisplayBytes()));
        Assert.True(header.HasValidProofOfWork());
    }

    [Fact]
    public void Display_and_internal_hex_of_the_same_string_are_different_hashes()
    {
        Assert.NotEqual(Hash256.FromDisplayHex(GenesisDisplay), Hash256.FromInternalHex(GenesisDisplay));
    }

    [Theory]
    [InlineData("00", "64 hex digits, got 2")]
    [InlineData("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26g", "invalid hex character 'g' at position 63")]
    public void Bad_hex_is_a_clear_error(string hex, string expected)
    {
        Assert.Contains(expected, Assert.Throws<FormatException>(() => Hash256.FromDisplayHex(hex)).Message);
        Assert.False(Hash256.TryFromInternalHex(hex, out _, out var error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Wrong_byte_count_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => Hash256.FromInternalBytes(new byte[31]));
        Assert.Throws<ArgumentException>(() => Hash256.FromDisplayBytes(new byte[33]));
    }

    [Fact]
    public void Meets_target_compares_as_a_little_endian_number()
    {
        var target = Target.FromCompact(0x1d00ffff);
        // Only the most significant (last internal) bytes decide here.
        // The target 0xffff << 208 is bytes 26 and 27 = 0xff in little-endian order.
        var below = new byte[32]; below[27] = 0xff; below[26] = 0xfe;             // 0x...fffe << 208 < target
        var equal = new byte[32]; equal[27] = 0xff; equal[26] = 0xff;
        var above = new byte[32]; above[27] = 0xff; above[26] = 0xff; above[0] = 1; // one more than the target
        Assert.True(Hash256.FromInternalBytes(below).MeetsTarget(target));
        Assert.True(Hash256.FromInternalBytes(equal).MeetsTarget(target));
        Assert.False(Hash256.FromInternalBytes(above).MeetsTarget(target));
        // The same bytes in the first positions are a tiny number.
        var small = new byte[32]; small[0] = 0xff; small[1] = 0xff; small[2] = 0xff;
        Assert.True(Hash256.FromInternalBytes(small).MeetsTarget(target));
    }
}
