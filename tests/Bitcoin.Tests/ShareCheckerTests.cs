using System.Buffers.Binary;

namespace PoolCluster.Bitcoin.Tests;

public class ShareCheckerTests
{
    private static Hash256[] Branch(int levels, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, levels).Select(_ =>
        {
            var bytes = new byte[32];
            random.NextBytes(bytes);
            return Hash256.FromInternalBytes(bytes);
        }).ToArray();
    }

    private static Hash256 Reference(byte[] coinbase1, byte[] coinbase2, Hash256[] branch, uint version, Hash256 previous,
        uint bits, byte[] extranonce1, byte[] extranonce2, uint time, uint nonce)
    {
        var txid = Hashes.DoubleSha256([.. coinbase1, .. extranonce1, .. extranonce2, .. coinbase2]);
        return new BlockHeader(version, previous, Merkle.ComputeRootFromCoinbase(txid, branch), time, bits, nonce).GetHash();
    }

    [Fact]
    public void Every_placement_of_the_extranonce_across_sha256_block_boundaries_hashes_correctly()
    {
        // coinbase1 lengths around 64-byte multiples and extranonce sizes that straddle one or two block edges.
        var random = new Random(99);
        var previous = Hashes.DoubleSha256("previous"u8);
        foreach (var coinbase1Length in new[] { 0, 1, 41, 55, 56, 63, 64, 65, 100, 119, 127, 128, 129, 200 })
        foreach (var extranonceSize in new[] { 1, 4, 8, 9, 16, 63, 64, 65, 100 })
        foreach (var coinbase2Length in new[] { 0, 7, 46, 55, 56, 64, 150 })
        {
            var coinbase1 = new byte[coinbase1Length];
            var coinbase2 = new byte[coinbase2Length];
            random.NextBytes(coinbase1);
            random.NextBytes(coinbase2);
            var branch = Branch(coinbase1Length % 5, coinbase2Length);
            var checker = new ShareChecker(coinbase1, coinbase2, extranonceSize, branch, 0x20000000, previous, 0x1d00ffff);
            var extranonce1 = new byte[extranonceSize / 2];
            var extranonce2 = new byte[extranonceSize - extranonce1.Length];
            random.NextBytes(extranonce1);
            random.NextBytes(extranonce2);
            var result = checker.Check(extranonce1, extranonce2, 0x5f5e1000, 0xdeadbeef, Target.Max);
            Assert.Equal(Reference(coinbase1, coinbase2, branch, 0x20000000, previous, 0x1d00ffff, extranonce1, extranonce2, 0x5f5e1000, 0xdeadbeef),
                result.BlockHash);
            Assert.True(result.IsValid);
        }
    }

    [Fact]
    public void Version_rolling_replaces_the_masked_bits_as_bip310_defines()
    {
        var session = RealData.Session("cpuminer-mainnet-block482683.jsonl");
        var checker = ShareChecker.FromNotify(session.PreviousBlockHash, session.Coinbase1, session.Coinbase2,
            session.MerkleBranch, session.Version, session.Bits, 8);
        var extranonce1 = Hex.Decode(session.Extranonce1);
        var extranonce2 = new byte[4];
        const uint mask = 0x1fffe000;
        foreach (var versionBits in new uint[] { 0, 0x00002000, 0x1fffe000, 0x12340000 & mask })
        {
            var result = checker.Check(extranonce1, extranonce2, 0x59a70bb9, 7, Target.Max, versionBits, mask);
            var expectedVersion = (0x20000002u & ~mask) | versionBits;
            Assert.Equal(expectedVersion, result.Version);
            var header = checker.BuildHeader(extranonce1, extranonce2, 0x59a70bb9, 7, versionBits, mask);
            Assert.Equal(expectedVersion, header.Version);
            Assert.Equal(header.GetHash(), result.BlockHash);
        }
        var outside = checker.Check(extranonce1, extranonce2, 0x59a70bb9, 7, Target.Max, versionBits: 0x40000000, versionMask: mask);
        Assert.Equal(ShareCheckStatus.VersionBitsOutsideMask, outside.Status);
        Assert.False(outside.IsBlock);
        Assert.Throws<ArgumentException>(() => checker.BuildHeader(extranonce1, extranonce2, 1, 1, 0x40000000, mask));
    }

    [Fact]
    public void Wrong_extranonce_size_is_reported_not_hashed()
    {
        var checker = new ShareChecker(new byte[50], new byte[60], 8, Branch(3, 1), 1, Hash256.Zero, 0x207fffff);
        var result = checker.Check(new byte[4], new byte[3], 0, 0, Target.Max);
        Assert.Equal(ShareCheckStatus.ExtranonceSizeMismatch, result.Status);
        Assert.True(result.BlockHash.IsZero);
    }

    [Fact]
    public void Block_solutions_are_flagged_against_the_network_target()
    {
        // Regtest bits: about half of all nonces solve a block.
        var checker = new ShareChecker(new byte[50], new byte[60], 8, Branch(2, 5), 0x20000000, Hash256.Zero, 0x207fffff);
        var blocks = 0;
        for (uint nonce = 0; nonce < 200; nonce++)
        {
            var result = checker.Check(new byte[4], new byte[4], 1, nonce, Target.Max);
            Assert.Equal(result.BlockHash.MeetsTarget(Target.FromCompact(0x207fffff)), result.IsBlock);
            if (result.IsBlock) blocks++;
        }
        Assert.InRange(blocks, 60, 140);
        Assert.Equal(Target.FromCompact(0x207fffff), checker.NetworkTarget);
    }

    [Fact]
    public void A_check_allocates_nothing()
    {
        var session = RealData.Session("cpuminer-mainnet-block300025.jsonl");
        var checker = ShareChecker.FromNotify(session.PreviousBlockHash, session.Coinbase1, session.Coinbase2,
            session.MerkleBranch, session.Version, session.Bits, 8);
        var extranonce1 = Hex.Decode(session.Extranonce1);
        var extranonce2 = new byte[4];
        var target = Target.FromDifficulty(session.Difficulty);
        // The JIT's tier-up bookkeeping can allocate on the calling thread during the first rounds, so look for a round
        // of 2000 checks that allocates nothing at all: any per-check allocation would show in every round.
        var allocatedPerRound = new List<long>();
        for (var round = 0; round < 20; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var valid = 0;
            for (uint nonce = 0; nonce < 2000; nonce++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(extranonce2, nonce + (uint)round * 2000);
                if (checker.Check(extranonce1, extranonce2, 0x5376a8ee, nonce, target).IsValid) valid++;
            }
            allocatedPerRound.Add(GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.InRange(valid, 0, 2); // a share at difficulty 0.001 takes ~4.3 million hashes on average
            if (allocatedPerRound[^1] == 0) return;
        }
        Assert.Fail($"every round of 2000 checks allocated: {string.Join(", ", allocatedPerRound)} bytes");
    }

    [Fact]
    public void Compression_count_matches_the_cost_model()
    {
        // 46-byte coinbase1 + 8 + 99-byte coinbase2 = 153 bytes: 3 blocks, +1 outer, 4 levels * 3, header 3.
        var session = RealData.Session("cpuminer-mainnet-block482683.jsonl");
        var checker = ShareChecker.FromNotify(session.PreviousBlockHash, session.Coinbase1, session.Coinbase2,
            session.MerkleBranch, session.Version, session.Bits, 8);
        Assert.Equal(3 + 1 + 4 * 3 + 3, checker.CompressionsPerCheck);
    }

    [Fact]
    public void Bad_job_parameters_are_rejected_when_the_job_is_prepared()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShareChecker([], [], 0, [], 1, Hash256.Zero, 0x207fffff));
        Assert.Contains("negative", Assert.Throws<ArgumentException>(() => new ShareChecker([], [], 8, [], 1, Hash256.Zero, 0x04923456)).Message);
        Assert.Contains("8 hex digits", Assert.Throws<FormatException>(() =>
            ShareChecker.FromNotify(new string('0', 64), "00", "00", [], "2000000", "1d00ffff", 8)).Message);
        Assert.Contains("merkle branch entry 0", Assert.Throws<FormatException>(() =>
            ShareChecker.FromNotify(new string('0', 64), "00", "00", ["abcd"], "20000000", "1d00ffff", 8)).Message);
        Assert.Contains("prevhash", Assert.Throws<FormatException>(() =>
            ShareChecker.FromNotify("00", "00", "00", [], "20000000", "1d00ffff", 8)).Message);
    }

    [Theory]
    [InlineData("1212b080", 0x1212b080u)]
    [InlineData("FFFFFFFF", 0xffffffffu)]
    [InlineData("00000000", 0u)]
    public void Stratum_32_bit_fields_are_big_endian_hex(string hex, uint value)
    {
        Assert.True(StratumEncoding.TryParseUInt32(hex, out var parsed));
        Assert.Equal(value, parsed);
        Assert.Equal(hex.ToLowerInvariant(), StratumEncoding.FormatUInt32(value));
    }

    [Theory]
    [InlineData("1212b08")]
    [InlineData("1212b0800")]
    [InlineData("1212b08g")]
    [InlineData("+1212b08")]
    [InlineData("")]
    public void Malformed_stratum_32_bit_fields_are_rejected(string hex)
    {
        Assert.False(StratumEncoding.TryParseUInt32(hex, out _));
        Assert.Contains("8 hex digits", Assert.Throws<FormatException>(() => StratumEncoding.ParseUInt32(hex, "nonce")).Message);
    }
}
