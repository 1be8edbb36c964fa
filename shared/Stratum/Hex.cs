namespace PoolCluster.Stratum;

/// <summary>Lower-case hex over UTF-8 bytes, the way stratum carries every binary field.</summary>
internal static class Hex
{
    private static ReadOnlySpan<byte> Digits => "0123456789abcdef"u8;

    /// <summary>Writes 2 hex digits per byte of <paramref name="source"/>; returns the count written.</summary>
    public static int Encode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var digits = Digits;
        for (var i = 0; i < source.Length; i++)
        {
            var b = source[i];
            destination[2 * i] = digits[b >> 4];
            destination[2 * i + 1] = digits[b & 0xF];
        }
        return source.Length * 2;
    }

    /// <summary>Writes <paramref name="value"/> as 8 hex digits, most significant first (stratum's uint32 form).</summary>
    public static void EncodeUInt32(uint value, Span<byte> destination)
    {
        var digits = Digits;
        for (var i = 7; i >= 0; i--)
        {
            destination[i] = digits[(int)(value & 0xF)];
            value >>= 4;
        }
    }

    public static int Nibble(byte c)
    {
        var d = c - '0';
        if ((uint)d <= 9) return d;
        var l = (c | 0x20) - 'a';
        if ((uint)l <= 5) return l + 10;
        return -1;
    }

    public static bool IsHex(ReadOnlySpan<byte> text)
    {
        foreach (var c in text)
            if (Nibble(c) < 0) return false;
        return true;
    }

    /// <summary>Parses 1..16 hex digits as a big-endian number (the miner's "0c717580" is 0x0c717580).</summary>
    public static bool TryParseUInt64(ReadOnlySpan<byte> text, out ulong value)
    {
        value = 0;
        if (text.Length is 0 or > 16) return false;
        foreach (var c in text)
        {
            var n = Nibble(c);
            if (n < 0) { value = 0; return false; }
            value = (value << 4) | (uint)n;
        }
        return true;
    }

    public static bool TryParseUInt32(ReadOnlySpan<byte> text, out uint value)
    {
        value = 0;
        if (text.Length > 8 || !TryParseUInt64(text, out var wide)) return false;
        value = (uint)wide;
        return true;
    }
}
