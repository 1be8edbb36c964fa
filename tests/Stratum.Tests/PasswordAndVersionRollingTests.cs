namespace PoolCluster.Stratum.Tests;

public class PasswordAndVersionRollingTests
{
    [Theory]
    [InlineData(null, null, null)]
    [InlineData("", null, null)]
    [InlineData("x", null, null)]
    [InlineData("d=1024", 1024.0, null)]
    [InlineData("x,d=0.01", 0.01, null)]
    [InlineData("md=512,d=1024", 1024.0, 512.0)]
    [InlineData(" d = 2048 , md = 0.5 ", 2048.0, 0.5)]
    [InlineData("D=64,MD=8", 64.0, 8.0)]
    [InlineData("d=abc,md=-4", null, null)]
    [InlineData("d=0,md=NaN", null, null)]
    [InlineData("d=1024=5", null, null)]
    [InlineData("d=,md=", null, null)]
    [InlineData("d=1e400", null, null)]
    [InlineData("password=d=5,x=7", null, null)]
    public void PasswordDifficultyOptions(string? password, double? start, double? minimum)
    {
        var options = StratumPasswordOptions.Parse(password);
        Assert.Equal(start, options.StartDifficulty);
        Assert.Equal(minimum, options.MinimumDifficulty);
    }

    [Fact]
    public void VersionMaskNegotiationIsTheIntersection()
    {
        // BIP310's example: miner offers 1fffe000, pool allows 18000000.
        Assert.Equal(0x18000000u, VersionRolling.Negotiate(0x18000000, 0x1fffe000));
        // No miner mask means "any bit".
        Assert.Equal(VersionRolling.Bip320Mask, VersionRolling.Negotiate(VersionRolling.Bip320Mask, null));
        Assert.True(VersionRolling.MeetsMinBitCount(0x18000000, 2));
        Assert.False(VersionRolling.MeetsMinBitCount(0x18000000, 3));
    }

    [Fact]
    public void SubmittedVersionBitsMustStayInsideTheMask()
    {
        Assert.True(VersionRolling.IsAllowed(0x1fffe000, VersionRolling.Bip320Mask));
        Assert.True(VersionRolling.IsAllowed(0, VersionRolling.Bip320Mask));
        Assert.False(VersionRolling.IsAllowed(0x20000000, VersionRolling.Bip320Mask));
        Assert.False(VersionRolling.IsAllowed(0x00001000, VersionRolling.Bip320Mask));
        Assert.Equal(0x20006000u, VersionRolling.Apply(0x20000000, 0x00006000, VersionRolling.Bip320Mask));
        Assert.Equal(0x3fffe002u, VersionRolling.Apply(0x20000002, 0xffffffff, VersionRolling.Bip320Mask));
    }
}
