namespace PoolCluster.Bitcoin;

/// <summary>The two checksum constants: BIP173 bech32 (witness v0) and BIP350 bech32m (witness v1+).</summary>
public enum Bech32Encoding
{
    Bech32 = 1,
    Bech32m = 2,
}

/// <summary>BIP173 bech32 / BIP350 bech32m strings and segwit addresses, with BIP-worded reasons for every rejection.</summary>
public static class Bech32
{
    private const string Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    private const uint Bech32Constant = 1;
    private const uint Bech32mConstant = 0x2bc830a3;

    /// <summary>Longest valid string (BIP173).</summary>
    public const int MaxLength = 90;

    private static uint Polymod(ReadOnlySpan<byte> values)
    {
        ReadOnlySpan<uint> generator = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
        uint checksum = 1;
        foreach (var value in values)
        {
            var top = checksum >> 25;
            checksum = ((checksum & 0x1ffffff) << 5) ^ value;
            for (var i = 0; i < 5; i++)
                if (((top >> i) & 1) != 0) checksum ^= generator[i];
        }
        return checksum;
    }

    private static byte[] ChecksumInput(string hrp, ReadOnlySpan<byte> data, int extraZeros)
    {
        var values = new byte[hrp.Length * 2 + 1 + data.Length + extraZeros];
        for (var i = 0; i < hrp.Length; i++)
        {
            values[i] = (byte)(hrp[i] >> 5);
            values[hrp.Length + 1 + i] = (byte)(hrp[i] & 31);
        }
        data.CopyTo(values.AsSpan(hrp.Length * 2 + 1));
        return values;
    }

    /// <summary>Encodes 5-bit <paramref name="data"/> under a lowercase <paramref name="hrp"/>.</summary>
    public static string Encode(string hrp, ReadOnlySpan<byte> data, Bech32Encoding encoding)
    {
        ArgumentException.ThrowIfNullOrEmpty(hrp);
        var constant = encoding == Bech32Encoding.Bech32 ? Bech32Constant : Bech32mConstant;
        var polymod = Polymod(ChecksumInput(hrp, data, 6)) ^ constant;
        var text = new char[hrp.Length + 1 + data.Length + 6];
        hrp.CopyTo(text);
        text[hrp.Length] = '1';
        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] > 31) throw new ArgumentException($"data value {data[i]} at {i} is not 5-bit", nameof(data));
            text[hrp.Length + 1 + i] = Charset[data[i]];
        }
        for (var i = 0; i < 6; i++)
            text[hrp.Length + 1 + data.Length + i] = Charset[(int)((polymod >> (5 * (5 - i))) & 31)];
        return new string(text);
    }

    /// <summary>Decodes a bech32 or bech32m string (either case, not mixed) into its lowercase hrp and 5-bit data (checksum removed).</summary>
    public static bool TryDecode(string text, out string hrp, out byte[] data, out Bech32Encoding encoding, out string? error)
    {
        hrp = "";
        data = [];
        encoding = default;
        if (text is null)
        {
            error = "no string";
            return false;
        }
        if (text.Length > MaxLength)
        {
            error = $"overall max length exceeded ({text.Length} > {MaxLength} characters)";
            return false;
        }
        bool lower = false, upper = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is < (char)33 or > (char)126)
            {
                error = $"character out of range (0x{(int)c:x2}) at position {i}";
                return false;
            }
            lower |= c is >= 'a' and <= 'z';
            upper |= c is >= 'A' and <= 'Z';
        }
        if (lower && upper)
        {
            error = "mixed case";
            return false;
        }
        var separator = text.LastIndexOf('1');
        if (separator < 0)
        {
            error = "no separator character '1'";
            return false;
        }
        if (separator == 0)
        {
            error = "empty human-readable part";
            return false;
        }
        if (text.Length - separator - 1 < 6)
        {
            error = $"checksum too short ({text.Length - separator - 1} data characters, the checksum alone is 6)";
            return false;
        }
        var lowered = text.ToLowerInvariant();
        var values = new byte[text.Length - separator - 1];
        for (var i = 0; i < values.Length; i++)
        {
            var at = separator + 1 + i;
            var value = Charset.IndexOf(lowered[at]);
            if (value < 0)
            {
                error = $"invalid data character '{text[at]}' at position {at}{(i >= values.Length - 6 ? " (in the checksum)" : "")}";
                return false;
            }
            values[i] = (byte)value;
        }
        hrp = lowered[..separator];
        var polymod = Polymod(ChecksumInput(hrp, values, 0));
        if (polymod == Bech32Constant) encoding = Bech32Encoding.Bech32;
        else if (polymod == Bech32mConstant) encoding = Bech32Encoding.Bech32m;
        else
        {
            error = "invalid checksum (mistyped or corrupted)";
            return false;
        }
        data = values[..^6];
        error = null;
        return true;
    }

    /// <summary>Regroups bits (8-to-5 with padding for encoding; 5-to-8 strictly for decoding, per BIP173).</summary>
    public static bool TryConvertBits(ReadOnlySpan<byte> data, int fromBits, int toBits, bool pad, out byte[] result, out string? error)
    {
        var output = new List<byte>(data.Length * fromBits / toBits + 1);
        int accumulator = 0, bits = 0;
        var maxValue = (1 << toBits) - 1;
        foreach (var value in data)
        {
            if (value >> fromBits != 0)
            {
                result = [];
                error = $"value {value} does not fit in {fromBits} bits";
                return false;
            }
            accumulator = ((accumulator << fromBits) | value) & 0xfffff;
            bits += fromBits;
            while (bits >= toBits)
            {
                bits -= toBits;
                output.Add((byte)((accumulator >> bits) & maxValue));
            }
        }
        if (pad)
        {
            if (bits > 0) output.Add((byte)((accumulator << (toBits - bits)) & maxValue));
        }
        else if (bits >= fromBits)
        {
            result = [];
            error = $"zero padding of more than 4 bits ({bits} bits left over)";
            return false;
        }
        else if (((accumulator << (toBits - bits)) & maxValue) != 0)
        {
            result = [];
            error = "non-zero padding in 8-to-5 conversion";
            return false;
        }
        result = [.. output];
        error = null;
        return true;
    }

    /// <summary>A segwit address: bech32 for version 0, bech32m for versions 1..16 (BIP350).</summary>
    public static string EncodeSegwitAddress(string hrp, int witnessVersion, ReadOnlySpan<byte> program)
    {
        if (witnessVersion is < 0 or > 16)
            throw new ArgumentOutOfRangeException(nameof(witnessVersion), witnessVersion, "witness versions are 0..16");
        if (program.Length is < 2 or > 40)
            throw new ArgumentException($"a witness program is 2..40 bytes, got {program.Length}", nameof(program));
        if (witnessVersion == 0 && program.Length is not (20 or 32))
            throw new ArgumentException($"a version 0 witness program is 20 or 32 bytes, got {program.Length}", nameof(program));
        TryConvertBits(program, 8, 5, true, out var converted, out _);
        return Encode(hrp, [(byte)witnessVersion, .. converted], witnessVersion == 0 ? Bech32Encoding.Bech32 : Bech32Encoding.Bech32m);
    }

    /// <summary>
    /// Decodes any segwit address (any hrp, witness versions 0..16, BIP173/BIP350 rules: version 0 with bech32 and a
    /// 20- or 32-byte program, versions 1..16 with bech32m and 2..40 bytes). The hrp is returned for the caller to check.
    /// </summary>
    public static bool TryDecodeSegwitAddress(string address, out string hrp, out int witnessVersion, out byte[] program, out string? error)
    {
        witnessVersion = -1;
        program = [];
        if (!TryDecode(address, out hrp, out var data, out var encoding, out error)) return false;
        if (data.Length == 0)
        {
            error = "empty data section (no witness version)";
            return false;
        }
        if (data[0] > 16)
        {
            error = $"invalid witness version {data[0]} (0..16 allowed)";
            return false;
        }
        if (!TryConvertBits(data.AsSpan(1), 5, 8, false, out program, out error)) return false;
        if (program.Length is < 2 or > 40)
        {
            error = $"invalid program length ({program.Length} bytes; 2..40 allowed)";
            return false;
        }
        if (data[0] == 0 && program.Length is not (20 or 32))
        {
            error = $"invalid program length for witness version 0 ({program.Length} bytes; 20 or 32 per BIP141)";
            return false;
        }
        var expected = data[0] == 0 ? Bech32Encoding.Bech32 : Bech32Encoding.Bech32m;
        if (encoding != expected)
        {
            error = $"invalid checksum for witness version {data[0]} ({encoding} instead of {expected})";
            return false;
        }
        witnessVersion = data[0];
        return true;
    }
}
