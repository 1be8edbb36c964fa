using System.Numerics;

namespace PoolCluster.Bitcoin.Tests;

public class DifficultyTests
{
    private static readonly BigInteger Difficulty1 = new BigInteger(0xffff) << 208;

    [Fact]
    public void Genesis_bits_are_difficulty_1_and_the_miners_difficulty_1_target()
    {
        var target = Target.FromCompact(0x1d00ffff);
        Assert.Equal(Target.Difficulty1, target);
        Assert.Equal("00000000ffff0000000000000000000000000000000000000000000000000000", target.ToHex());
        Assert.Equal(1.0, target.ToDifficulty());
        Assert.Equal(1.0, Difficulty.FromCompact(0x1d00ffff));
        Assert.Equal(Target.Difficulty1, Target.FromDifficulty(1));
        Assert.Equal(0x1d00ffffu, Target.FromDifficulty(1).ToCompact());
    }

    [Theory]
    // Real headers' bits; difficulties as published (8,000,872,135.97 at block 300,000; 888,171,856,257.32 in Aug 2017).
    [InlineData("mainnet-block300025.raw", 0x1900896cu, 8000872135.968163)]
    [InlineData("mainnet-block482683.raw", 0x18013ce9u, 888171856257.3206)]
    public void Known_mainnet_bits_give_their_published_difficulty(string file, uint bits, double difficulty)
    {
        Assert.Equal(bits, RealData.Block(file).Header.Bits);
        Assert.Equal(difficulty, Difficulty.FromCompact(bits), difficulty * 1e-15);
        Assert.Equal(bits, Target.FromDifficulty(Difficulty.FromCompact(bits)).ToCompact());
    }

    [Theory]
    // Bitcoin Core's arith_uint256 SetCompact/GetCompact cases (src/test/arith_uint256_tests.cpp).
    [InlineData(0x01123456u, "12", 0x01120000u)]
    [InlineData(0x02123456u, "1234", 0x02123400u)]
    [InlineData(0x03123456u, "123456", 0x03123456u)]
    [InlineData(0x04123456u, "12345600", 0x04123456u)]
    [InlineData(0x05009234u, "92340000", 0x05009234u)]
    [InlineData(0x20123456u, "1234560000000000000000000000000000000000000000000000000000000000", 0x20123456u)]
    [InlineData(0x207fffffu, "7fffff0000000000000000000000000000000000000000000000000000000000", 0x207fffffu)]
    public void Compact_round_trips_as_bitcoin_core(uint bits, string valueHex, uint recompacted)
    {
        var target = Target.FromCompact(bits);
        Assert.Equal(BigInteger.Parse("0" + valueHex, System.Globalization.NumberStyles.HexNumber), target.ToBigInteger());
        Assert.Equal(recompacted, target.ToCompact());
    }

    [Theory]
    [InlineData(0x01fedcbau, "negative")]
    [InlineData(0x04923456u, "negative")]
    [InlineData(0xff123456u, "above 2^256")]
    [InlineData(0x23000001u, "above 2^256")]
    [InlineData(0x00000000u, "zero target")]
    [InlineData(0x01003456u, "zero target")]
    public void Invalid_compact_bits_are_errors_that_say_why(uint bits, string reason)
    {
        Assert.False(Target.TryFromCompact(bits, out _, out var error));
        Assert.Contains(reason, error);
        Assert.Contains(reason, Assert.Throws<FormatException>(() => Target.FromCompact(bits)).Message);
    }

    [Fact]
    public void Get_compact_moves_a_set_sign_bit_into_the_size_byte()
    {
        // 0x80 would read as negative in a 1-byte mantissa: Core shifts it and increments the size.
        var target = Target.FromBigInteger(0x80);
        Assert.Equal(0x02008000u, target.ToCompact());
        Assert.Equal(target, Target.FromCompact(0x02008000));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(2.0)]
    [InlineData(1024.0)]
    [InlineData(0.25)]
    public void Power_of_two_difficulties_give_exact_targets(double difficulty)
    {
        var expected = difficulty >= 1 ? Difficulty1 / (BigInteger)difficulty : Difficulty1 * (BigInteger)(1 / difficulty);
        Assert.Equal(expected, Target.FromDifficulty(difficulty).ToBigInteger());
        Assert.Equal(difficulty, Target.FromDifficulty(difficulty).ToDifficulty());
    }

    [Theory]
    [InlineData(0.001)]
    [InlineData(0.002)]
    [InlineData(0.0000001)]
    [InlineData(3.7)]
    [InlineData(65536.3)]
    [InlineData(1e12)]
    public void Fractional_difficulties_round_trip_within_double_precision(double difficulty)
    {
        var target = Target.FromDifficulty(difficulty);
        Assert.Equal(difficulty, target.ToDifficulty(), difficulty * 1e-14);
        // floor(difficulty1 / difficulty), computed exactly from the double's value.
        var (numerator, denominator) = ExactRatio(difficulty);
        Assert.Equal(Difficulty1 * denominator / numerator, target.ToBigInteger());
    }

    [Fact]
    public void Share_difficulty_0_001_target_is_a_thousand_times_difficulty_1()
    {
        var target = Target.FromDifficulty(0.001).ToBigInteger();
        var thousandTimes = Difficulty1 * 1000;
        // 0.001 is not exact in binary (it is slightly above 0.001), so the target is a hair below 1000 * difficulty 1.
        Assert.True(target <= thousandTimes);
        Assert.True((double)(thousandTimes - target) / (double)thousandTimes < 1e-15);
    }

    [Fact]
    public void Tiny_difficulties_cap_at_the_maximum_target_and_bad_ones_are_rejected()
    {
        Assert.Equal(Target.Max, Target.FromDifficulty(1e-80));
        Assert.Throws<ArgumentOutOfRangeException>(() => Target.FromDifficulty(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Target.FromDifficulty(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Target.FromDifficulty(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => Target.FromDifficulty(double.PositiveInfinity));
        Assert.Throws<ArgumentOutOfRangeException>(() => Target.FromDifficulty(1e80));
    }

    [Theory]
    [MemberData(nameof(RealData.BlockFiles), MemberType = typeof(RealData))]
    public void A_real_block_hash_has_at_least_its_network_difficulty(string file)
    {
        var header = RealData.Block(file).Header;
        var hashDifficulty = Difficulty.OfHash(header.GetHash());
        Assert.True(hashDifficulty >= Difficulty.FromCompact(header.Bits), $"{hashDifficulty} < {Difficulty.FromCompact(header.Bits)}");
    }

    [Fact]
    public void Hash_difficulty_is_difficulty_1_over_the_hash()
    {
        var difficulty1AsHash = new byte[32];
        Difficulty1.ToByteArray(isUnsigned: true).CopyTo(difficulty1AsHash, 0);
        Assert.Equal(1.0, Difficulty.OfHash(Hash256.FromInternalBytes(difficulty1AsHash)));
        var halfAsHash = new byte[32];
        (Difficulty1 / 2).ToByteArray(isUnsigned: true).CopyTo(halfAsHash, 0);
        Assert.Equal(2.0, Difficulty.OfHash(Hash256.FromInternalBytes(halfAsHash)));
        Assert.Equal(double.PositiveInfinity, Difficulty.OfHash(Hash256.Zero));
    }

    [Fact]
    public void Hashrate_is_difficulty_times_2_pow_32_per_second()
    {
        // 600 shares of difficulty 1000 in 10 minutes: 1000 * 2^32 hashes per second.
        Assert.Equal(1000 * 4294967296.0, Difficulty.HashrateFromDifficultySeconds(600 * 1000, 600));
        Assert.Equal(0.001 * 4294967296.0 / 2, Difficulty.HashrateFromDifficultySeconds(0.001, 2), 1e-6);
        Assert.Throws<ArgumentOutOfRangeException>(() => Difficulty.HashrateFromDifficultySeconds(1, 0));
    }

    [Fact]
    public void Target_hex_round_trips()
    {
        var target = Target.FromCompact(0x1900896c);
        Assert.Equal("0000000000000000896c00000000000000000000000000000000000000000000", target.ToHex());
        Assert.Equal(target, Target.FromHex(target.ToHex()));
        Assert.Throws<FormatException>(() => Target.FromHex("1234"));
    }

    private static (BigInteger Numerator, BigInteger Denominator) ExactRatio(double value)
    {
        var raw = BitConverter.DoubleToInt64Bits(value);
        var exponent = (int)((raw >> 52) & 0x7FF) - 1075;
        var mantissa = (raw & 0xFFFFFFFFFFFFFL) | (1L << 52);
        return exponent >= 0 ? (new BigInteger(mantissa) << exponent, 1) : (mantissa, BigInteger.One << -exponent);
    }
}
