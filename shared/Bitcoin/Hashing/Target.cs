using System.Globalization;
using System.Numerics;

namespace PoolCluster.Bitcoin;

/// <summary>
/// A proof-of-work target: an unsigned 256-bit number a hash (read little-endian) must not exceed. Converts to and from
/// the header's compact <c>bits</c> (exactly as Bitcoin Core's arith_uint256 SetCompact/GetCompact) and to and from a
/// difficulty (difficulty 1 = <see cref="Difficulty1"/> = 0x00000000ffff0000...0, the convention miners and pools use;
/// difficulties may be fractional and below 1). Compare hashes with <see cref="Hash256.MeetsTarget"/>.
/// </summary>
public readonly struct Target : IEquatable<Target>, IComparable<Target>
{
    // Least significant limb first.
    internal readonly ulong Limb0, Limb1, Limb2, Limb3;

    internal Target(ulong limb0, ulong limb1, ulong limb2, ulong limb3)
    {
        Limb0 = limb0; Limb1 = limb1; Limb2 = limb2; Limb3 = limb3;
    }

    /// <summary>The target of difficulty 1: 0xffff * 2^208 (bits 0x1d00ffff, Bitcoin's genesis target).</summary>
    public static Target Difficulty1 => new(0, 0, 0, 0x00000000_FFFF0000UL);

    /// <summary>2^256 - 1: every hash meets it.</summary>
    public static Target Max => new(ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue);

    /// <summary>Difficulty 1's target as a double (exact: 0xffff * 2^208).</summary>
    internal static readonly double Difficulty1AsDouble = Math.ScaleB(0xffff, 208);

    public bool IsZero => (Limb0 | Limb1 | Limb2 | Limb3) == 0;

    // ---------------------------------------------------------------- compact bits

    /// <summary>The target encoded by a header's compact <c>bits</c>; throws for negative, overflowing or zero encodings.</summary>
    public static Target FromCompact(uint bits) =>
        TryFromCompact(bits, out var target, out var error) ? target : throw new FormatException(error);

    /// <summary>
    /// Decodes compact <c>bits</c> as Bitcoin Core does (size byte, 23-bit mantissa, sign bit 0x00800000); false with the
    /// reason for a negative, overflowing (more than 256 bits) or zero target, which no valid header carries.
    /// </summary>
    public static bool TryFromCompact(uint bits, out Target target, out string? error)
    {
        var size = (int)(bits >> 24);
        var word = bits & 0x007fffffu;
        target = default;
        if (word != 0 && (bits & 0x00800000u) != 0)
        {
            error = $"compact bits 0x{bits:x8} encode a negative target (sign bit 0x00800000 set)";
            return false;
        }
        if (word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32)))
        {
            error = $"compact bits 0x{bits:x8} encode a target above 2^256 (size byte {size})";
            return false;
        }
        if (size <= 3)
            target = new Target(word >> (8 * (3 - size)), 0, 0, 0);
        else
            target = new Target(word, 0, 0, 0).ShiftLeft(8 * (size - 3));
        if (target.IsZero)
        {
            error = $"compact bits 0x{bits:x8} encode a zero target";
            return false;
        }
        error = null;
        return true;
    }

    /// <summary>The compact <c>bits</c> encoding (Core's GetCompact: rounds down to a 23-bit mantissa).</summary>
    public uint ToCompact()
    {
        var size = (BitLength + 7) / 8;
        uint compact = size <= 3
            ? (uint)(Limb0 << (8 * (3 - size)))
            : (uint)ShiftRight(8 * (size - 3)).Limb0;
        if ((compact & 0x00800000u) != 0)
        {
            compact >>= 8;
            size++;
        }
        return compact | ((uint)size << 24);
    }

    // ---------------------------------------------------------------- difficulty

    /// <summary>
    /// The target for a (possibly fractional) share or network difficulty: floor(Difficulty1 / difficulty), computed
    /// exactly from the double's binary value, capped at <see cref="Max"/> for tiny difficulties.
    /// </summary>
    public static Target FromDifficulty(double difficulty)
    {
        if (!double.IsFinite(difficulty) || difficulty <= 0)
            throw new ArgumentOutOfRangeException(nameof(difficulty), difficulty, "difficulty must be a finite number above 0");

        // difficulty = mantissa * 2^exponent exactly.
        var raw = BitConverter.DoubleToInt64Bits(difficulty);
        var exponent = (int)((raw >> 52) & 0x7FF);
        var mantissa = raw & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent = 1; else mantissa |= 1L << 52;
        exponent -= 1075;

        var difficulty1 = new BigInteger(0xffff) << 208;
        var value = exponent >= 0
            ? (difficulty1 / mantissa) >> exponent
            : (difficulty1 << -exponent) / mantissa;
        if (value.IsZero)
            throw new ArgumentOutOfRangeException(nameof(difficulty), difficulty, "difficulty is so high its target is 0");
        return value > MaxAsBigInteger ? Max : FromBigInteger(value);
    }

    private static readonly BigInteger MaxAsBigInteger = (BigInteger.One << 256) - 1;

    /// <summary>Difficulty1 / this target (fractional; +infinity for a zero target).</summary>
    public double ToDifficulty() => Difficulty1AsDouble / ToDouble();

    /// <summary>This number as a double (rounded to 53 significant bits).</summary>
    public double ToDouble() =>
        Math.ScaleB(Limb3, 192) + Math.ScaleB(Limb2, 128) + Math.ScaleB(Limb1, 64) + Limb0;

    // ---------------------------------------------------------------- hex / BigInteger

    /// <summary>From 64 big-endian hex digits (the form of getblocktemplate's "target").</summary>
    public static Target FromHex(string bigEndianHex)
    {
        if (bigEndianHex is null || bigEndianHex.Length != 64)
            throw new FormatException($"a target is 64 big-endian hex digits, got {bigEndianHex?.Length ?? 0} characters");
        Span<byte> bytes = stackalloc byte[32];
        if (!Hex.TryDecode(bigEndianHex, bytes, out var error))
            throw new FormatException(error);
        return new Target(
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes));
    }

    /// <summary>64 lowercase big-endian hex digits.</summary>
    public string ToHex() => string.Create(CultureInfo.InvariantCulture, $"{Limb3:x16}{Limb2:x16}{Limb1:x16}{Limb0:x16}");

    public override string ToString() => ToHex();

    /// <summary>From a non-negative integer below 2^256.</summary>
    public static Target FromBigInteger(BigInteger value)
    {
        if (value.Sign < 0 || value > MaxAsBigInteger)
            throw new ArgumentOutOfRangeException(nameof(value), "a target is an unsigned 256-bit number");
        var mask = new BigInteger(ulong.MaxValue);
        return new Target((ulong)(value & mask), (ulong)((value >> 64) & mask), (ulong)((value >> 128) & mask), (ulong)(value >> 192));
    }

    public BigInteger ToBigInteger() =>
        (new BigInteger(Limb3) << 192) | (new BigInteger(Limb2) << 128) | (new BigInteger(Limb1) << 64) | new BigInteger(Limb0);

    // ---------------------------------------------------------------- arithmetic helpers

    internal int BitLength
    {
        get
        {
            if (Limb3 != 0) return 256 - BitOperations.LeadingZeroCount(Limb3);
            if (Limb2 != 0) return 192 - BitOperations.LeadingZeroCount(Limb2);
            if (Limb1 != 0) return 128 - BitOperations.LeadingZeroCount(Limb1);
            return 64 - BitOperations.LeadingZeroCount(Limb0);
        }
    }

    internal Target ShiftLeft(int shift)
    {
        if (shift >= 256) return default;
        Span<ulong> source = [Limb0, Limb1, Limb2, Limb3];
        Span<ulong> result = stackalloc ulong[4];
        result.Clear();
        int limbs = shift / 64, bitsShift = shift % 64;
        for (var i = 3; i >= limbs; i--)
        {
            var value = source[i - limbs] << bitsShift;
            if (bitsShift != 0 && i - limbs - 1 >= 0)
                value |= source[i - limbs - 1] >> (64 - bitsShift);
            result[i] = value;
        }
        return new Target(result[0], result[1], result[2], result[3]);
    }

    internal Target ShiftRight(int shift)
    {
        if (shift >= 256) return default;
        Span<ulong> source = [Limb0, Limb1, Limb2, Limb3];
        Span<ulong> result = stackalloc ulong[4];
        result.Clear();
        int limbs = shift / 64, bitsShift = shift % 64;
        for (var i = 0; i + limbs < 4; i++)
        {
            var value = source[i + limbs] >> bitsShift;
            if (bitsShift != 0 && i + limbs + 1 < 4)
                value |= source[i + limbs + 1] << (64 - bitsShift);
            result[i] = value;
        }
        return new Target(result[0], result[1], result[2], result[3]);
    }

    // ---------------------------------------------------------------- comparison

    public int CompareTo(Target other)
    {
        if (Limb3 != other.Limb3) return Limb3 < other.Limb3 ? -1 : 1;
        if (Limb2 != other.Limb2) return Limb2 < other.Limb2 ? -1 : 1;
        if (Limb1 != other.Limb1) return Limb1 < other.Limb1 ? -1 : 1;
        return Limb0.CompareTo(other.Limb0);
    }

    public bool Equals(Target other) =>
        Limb0 == other.Limb0 && Limb1 == other.Limb1 && Limb2 == other.Limb2 && Limb3 == other.Limb3;

    public override bool Equals(object? obj) => obj is Target other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Limb0, Limb1, Limb2, Limb3);

    public static bool operator ==(Target left, Target right) => left.Equals(right);
    public static bool operator !=(Target left, Target right) => !left.Equals(right);
    public static bool operator <(Target left, Target right) => left.CompareTo(right) < 0;
    public static bool operator >(Target left, Target right) => left.CompareTo(right) > 0;
    public static bool operator <=(Target left, Target right) => left.CompareTo(right) <= 0;
    public static bool operator >=(Target left, Target right) => left.CompareTo(right) >= 0;
}

/// <summary>Difficulty arithmetic as pools use it (difficulty 1 = target 0x00000000ffff0000...0).</summary>
public static class Difficulty
{
    /// <summary>Expected hashes per unit of difficulty: 2^32 (strictly 2^256/(Difficulty1+1) ≈ 2^32 * 1.0000153).</summary>
    public const double HashesPerDifficulty = 4294967296.0;

    /// <summary>The difficulty a compact <c>bits</c> value represents (1d00ffff -> 1).</summary>
    public static double FromCompact(uint bits) => Target.FromCompact(bits).ToDifficulty();

    /// <summary>The target of a (fractional) difficulty; see <see cref="Target.FromDifficulty"/>.</summary>
    public static Target ToTarget(double difficulty) => Target.FromDifficulty(difficulty);

    /// <summary>The share difficulty a hash achieves: Difficulty1 / hash (+infinity for an all-zero hash).</summary>
    public static double OfHash(in Hash256 hash) => Target.Difficulty1AsDouble / hash.AsNumber().ToDouble();

    /// <summary>
    /// Hashes per second from accepted work: the sum of the accepted shares' difficulties over a window of
    /// <paramref name="seconds"/>, times 2^32 hashes per difficulty.
    /// </summary>
    public static double HashrateFromDifficultySeconds(double difficultySum, double seconds)
    {
        if (!(seconds > 0))
            throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "the window must be longer than 0 seconds");
        return difficultySum * HashesPerDifficulty / seconds;
    }
}
