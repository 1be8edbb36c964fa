using System.Globalization;

namespace PoolCluster.Stratum;

/// <summary>Share difficulty as stratum writes it, and its relation to a hash target.</summary>
public static class StratumDifficulty
{
    /// <summary>Accepted range for writing: wide enough for any pool (max 2^62) and any CPU miner on a test network.</summary>
    public const double MinWritable = 1e-20;
    public const double MaxWritable = 1e20;

    /// <summary>Upper bound on the text of a writable difficulty ("0." + 20 zeros + 17 digits).</summary>
    public const int MaxFormattedLength = 48;

    /// <summary>Difficulty 1's target, 0x00000000ffff0000...0 (0xffff * 2^208), as a double.</summary>
    public static double Difficulty1Target { get; } = 65535.0 * Math.ScaleB(1.0, 208);

    /// <summary>The difficulty whose target is <paramref name="target"/> (the 256-bit number as a double).</summary>
    public static double FromTarget(double target) => Difficulty1Target / target;

    /// <summary>
    /// Writes <paramref name="difficulty"/> in plain decimal with the fewest digits that read back as the same double:
    /// 1024, 0.001, 0.015625, never an exponent (cgminer and friends parse with strtod-like code that some builds
    /// choke on, and btcpool never sends one). Returns the bytes written.
    /// </summary>
    public static int Format(double difficulty, Span<byte> destination)
    {
        if (!double.IsFinite(difficulty) || difficulty < MinWritable || difficulty > MaxWritable)
            throw new ArgumentOutOfRangeException(nameof(difficulty), difficulty, $"difficulty must be in [{MinWritable}, {MaxWritable}]");

        // Whole numbers exactly (2^62 as 4611686018427387904, not 4611686018427388000).
        if (difficulty == Math.Floor(difficulty) && difficulty < 18446744073709551615.0)
        {
            ((ulong)difficulty).TryFormat(destination, out var integerLength, default, CultureInfo.InvariantCulture);
            return integerLength;
        }

        Span<byte> shortest = stackalloc byte[32];
        if (!difficulty.TryFormat(shortest, out var length, "R", CultureInfo.InvariantCulture))
            throw new InvalidOperationException("difficulty did not fit its format buffer");
        // .NET's shortest form is not always exact at powers of two (2^-25 comes out as 2.980232238769531E-08, which
        // reads back as the double below it); 17 significant digits always are.
        if (!double.TryParse(shortest[..length], NumberStyles.Float, CultureInfo.InvariantCulture, out var back) || back != difficulty)
            difficulty.TryFormat(shortest, out length, "E16", CultureInfo.InvariantCulture);
        shortest = shortest[..length];

        var e = shortest.IndexOf((byte)'E');
        if (e < 0)
        {
            shortest.CopyTo(destination);
            return length;
        }

        // d.dddE±x: collect the significant digits and move the decimal point by hand.
        Span<byte> digits = stackalloc byte[24];
        var digitCount = 0;
        var pointAt = -1;
        foreach (var c in shortest[..e])
        {
            if (c == (byte)'.') { pointAt = digitCount; continue; }
            digits[digitCount++] = c;
        }
        if (pointAt < 0) pointAt = digitCount;
        while (digitCount > 1 && digits[digitCount - 1] == (byte)'0')
            digitCount--; // padding of the 17-digit form; the position of the point is kept by pointAt
        var exponent = int.Parse(shortest[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        var point = pointAt + exponent; // digits before the decimal point in plain notation

        var written = 0;
        if (point <= 0)
        {
            destination[written++] = (byte)'0';
            destination[written++] = (byte)'.';
            for (var i = 0; i < -point; i++) destination[written++] = (byte)'0';
            for (var i = 0; i < digitCount; i++) destination[written++] = digits[i];
        }
        else if (point >= digitCount)
        {
            for (var i = 0; i < digitCount; i++) destination[written++] = digits[i];
            for (var i = digitCount; i < point; i++) destination[written++] = (byte)'0';
        }
        else
        {
            for (var i = 0; i < point; i++) destination[written++] = digits[i];
            destination[written++] = (byte)'.';
            for (var i = point; i < digitCount; i++) destination[written++] = digits[i];
        }
        return written;
    }

    public static string Format(double difficulty)
    {
        Span<byte> text = stackalloc byte[MaxFormattedLength];
        return System.Text.Encoding.ASCII.GetString(text[..Format(difficulty, text)]);
    }
}
