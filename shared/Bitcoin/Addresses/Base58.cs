namespace PoolCluster.Bitcoin;

/// <summary>Base58 and Base58Check (payload + first 4 bytes of its double SHA-256) as legacy addresses use them.</summary>
public static class Base58
{
    private const string Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    public static string Encode(ReadOnlySpan<byte> data)
    {
        var zeros = 0;
        while (zeros < data.Length && data[zeros] == 0) zeros++;
        // log(256)/log(58) ≈ 1.366 digits per byte.
        var digits = new byte[(data.Length - zeros) * 138 / 100 + 1];
        var length = 0;
        for (var i = zeros; i < data.Length; i++)
        {
            int carry = data[i];
            for (var j = 0; j < length; j++)
            {
                carry += digits[j] << 8;
                digits[j] = (byte)(carry % 58);
                carry /= 58;
            }
            while (carry > 0)
            {
                digits[length++] = (byte)(carry % 58);
                carry /= 58;
            }
        }
        var result = new char[zeros + length];
        for (var i = 0; i < zeros; i++) result[i] = '1';
        for (var i = 0; i < length; i++) result[zeros + i] = Alphabet[digits[length - 1 - i]];
        return new string(result);
    }

    public static bool TryDecode(string text, out byte[] data, out string? error)
    {
        data = [];
        if (string.IsNullOrEmpty(text))
        {
            error = "empty base58 string";
            return false;
        }
        var zeros = 0;
        while (zeros < text.Length && text[zeros] == '1') zeros++;
        var bytes = new byte[text.Length * 733 / 1000 + 1];
        var length = 0;
        for (var i = zeros; i < text.Length; i++)
        {
            var digit = Alphabet.IndexOf(text[i]);
            if (digit < 0)
            {
                error = $"invalid base58 character '{text[i]}' at position {i}";
                return false;
            }
            var carry = digit;
            for (var j = 0; j < length; j++)
            {
                carry += bytes[j] * 58;
                bytes[j] = (byte)carry;
                carry >>= 8;
            }
            while (carry > 0)
            {
                bytes[length++] = (byte)carry;
                carry >>= 8;
            }
        }
        data = new byte[zeros + length];
        for (var i = 0; i < length; i++) data[zeros + i] = bytes[length - 1 - i];
        error = null;
        return true;
    }

    /// <summary>payload || first 4 bytes of double-SHA-256(payload), base58-encoded.</summary>
    public static string EncodeCheck(ReadOnlySpan<byte> payload)
    {
        Span<byte> checksum = stackalloc byte[32];
        Hashes.DoubleSha256(payload, checksum);
        return Encode([.. payload, .. checksum[..4]]);
    }

    /// <summary>Decodes and verifies the 4-byte checksum; <paramref name="payload"/> excludes it.</summary>
    public static bool TryDecodeCheck(string text, out byte[] payload, out string? error)
    {
        payload = [];
        if (!TryDecode(text, out var data, out error)) return false;
        if (data.Length < 4)
        {
            error = $"base58check data is {data.Length} bytes, shorter than its 4-byte checksum";
            return false;
        }
        Span<byte> checksum = stackalloc byte[32];
        Hashes.DoubleSha256(data.AsSpan(0, data.Length - 4), checksum);
        if (!checksum[..4].SequenceEqual(data.AsSpan(data.Length - 4)))
        {
            error = "base58check checksum mismatch (mistyped or corrupted address)";
            return false;
        }
        payload = data[..^4];
        return true;
    }
}
