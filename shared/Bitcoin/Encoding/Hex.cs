namespace PoolCluster.Bitcoin;

/// <summary>Hex conversions with errors that say what was wrong and where (upper or lower case accepted).</summary>
public static class Hex
{
    /// <summary>Decodes an even-length hex string; throws <see cref="FormatException"/> naming the problem.</summary>
    public static byte[] Decode(string hex, string what = "hex")
    {
        ArgumentNullException.ThrowIfNull(hex);
        if (hex.Length % 2 != 0)
            throw new FormatException($"{what}: hex has an odd number of digits ({hex.Length})");
        var bytes = new byte[hex.Length / 2];
        if (!TryDecode(hex, bytes, out var error))
            throw new FormatException($"{what}: {error}");
        return bytes;
    }

    /// <summary>Decodes exactly <paramref name="destination"/>.Length bytes from <paramref name="hex"/>, without allocation.</summary>
    public static bool TryDecode(ReadOnlySpan<char> hex, Span<byte> destination, out string? error)
    {
        if (hex.Length != destination.Length * 2)
        {
            error = $"expected {destination.Length * 2} hex digits, got {hex.Length}";
            return false;
        }
        for (var i = 0; i < destination.Length; i++)
        {
            var high = Nibble(hex[2 * i]);
            var low = Nibble(hex[2 * i + 1]);
            if ((high | low) < 0)
            {
                var at = high < 0 ? 2 * i : 2 * i + 1;
                error = $"invalid hex character '{hex[at]}' at position {at}";
                return false;
            }
            destination[i] = (byte)((high << 4) | low);
        }
        error = null;
        return true;
    }

    /// <summary>Lowercase hex.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    private static int Nibble(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
