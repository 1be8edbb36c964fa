namespace PoolCluster.Stratum.Tests;

public class WorkerNameTests
{
    [Theory]
    [InlineData("alice.rig1", "alice", "rig1")]
    [InlineData("carol", "carol", "__default__")]
    [InlineData("alice.", "alice", "__default__")]
    [InlineData("alice.rig.1", "alice", "rig.1")]
    [InlineData("alice.rig 1!@#", "alice", "rig1")]
    [InlineData("alice.!!!", "alice", "__default__")]
    [InlineData("alice.abcdefghijklmnopqrstuvwxyz", "alice", "abcdefghijklmnopqrst")]
    [InlineData("alice.s9-01_a:b|c^d/e", "alice", "s9-01_a:b|c^d/e")]
    [InlineData("  bob.rig1 \t", "bob", "rig1")]
    [InlineData("bob.rïg1", "bob", "rg1")]
    public void SplitsAndNormalizesLikeBtcpool(string login, string user, string worker)
    {
        Assert.True(StratumWorkerName.TryParse(login, out var name, out var error), error);
        Assert.Equal(user, name!.UserName);
        Assert.Equal(worker, name.WorkerName);
        Assert.Equal($"{user}.{worker}", name.FullName);
        Assert.Equal(StratumWorkerName.ComputeWorkerId(worker), name.WorkerId);
    }

    [Theory]
    [InlineData(null, "user name is empty")]
    [InlineData("", "user name is empty")]
    [InlineData("   ", "user name is empty")]
    [InlineData(".rig1", "user name is empty in \".rig1\"")]
    [InlineData("bob!.rig1", "contains '!'")]
    [InlineData("bo b.rig1", "contains ' '")]
    [InlineData("böb", "contains 'ö'")]
    public void InvalidUserNamesAreRefusedWithTheReason(string? login, string reason)
    {
        Assert.False(StratumWorkerName.TryParse(login, out var name, out var error));
        Assert.Null(name);
        Assert.Contains(reason, error);
    }

    [Fact]
    public void UserNameLengthIsCapped()
    {
        Assert.True(StratumWorkerName.TryParse(new string('u', 64) + ".w", out _, out _));
        Assert.False(StratumWorkerName.TryParse(new string('u', 65) + ".w", out _, out var error));
        Assert.Contains("longer than 64", error);
    }

    // Expected ids computed independently (Python hashlib, btcpool's recipe: first 16 hex digits of the reversed
    // double-SHA256 as a uint64, reinterpreted as int64).
    [Theory]
    [InlineData("__default__", 8113131267054106046L)]
    [InlineData("rig1", -911964159890136328L)]
    [InlineData("rig.1", -6879212153796024728L)]
    [InlineData("a", -2814111219937997144L)]
    public void WorkerIdIsBtcpoolsHash(string worker, long id)
    {
        Assert.Equal(id, StratumWorkerName.ComputeWorkerId(worker));
    }

    [Fact]
    public void FilterKeepsOnlyNameCharacters()
    {
        Assert.Equal("cgminer/4.10.0", StratumWorkerName.FilterName("cgminer/4.10.0"));
        Assert.Equal("AntminerS9", StratumWorkerName.FilterName("Antminer S9\n\"'<>"));
    }
}
