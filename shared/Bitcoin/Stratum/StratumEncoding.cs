using System.Buffers.Binary;
using System.Globalization;

namespace PoolCluster.Bitcoin;

/// <summary>
/// Stratum v1's byte orders, pinned down once:
/// <list type="bullet">
/// <item>mining.notify prevhash: the header's 32 internal-order bytes with each 4-byte word byte-reversed (i.e. eight
/// little-endian 32-bit words written as big-endian hex), as cpuminer and every pool do;</item>
/// <item>coinb1, coinb2, extranonce1, extranonce2: raw bytes in order;</item>
/// <item>merkle branch entries: internal byte order;</item>
/// <item>version, nbits, ntime (notify and submit), nonce and version_bits (submit): the 32-bit value as 8 big-endian
/// hex digits; the header stores it little-endian.</item>
/// </list>
/// </summary>
public static class StratumEncoding
{
    /// <summary>The block hash from mining.notify's prevhash field.</summary>
    public static Hash256 ParsePreviousBlockHash(ReadOnlySpan<char> notifyHex)
    {
        if (!TryParsePreviousBlockHash(notifyHex, out var hash, out var error)) throw new FormatException(error);
        return hash;
    }

    public static bool TryParsePreviousBlockHash(ReadOnlySpan<char> notifyHex, out Hash256 hash, out string? error)
    {
        hash = default;
        Span<byte> bytes = stackalloc byte[32];
        if (notifyHex.Length != 64)
        {
            error = $"stratum prevhash is 64 hex digits, got {notifyHex.Length} characters";
            return false;
        }
        if (!Hex.TryDecode(notifyHex, bytes, out error)) return false;
        SwapWords(bytes);
        hash = Hash256.FromInternalBytes(bytes);
        return true;
    }

    /// <summary>mining.notify's prevhash field for a block hash.</summary>
    public static string FormatPreviousBlockHash(in Hash256 previousBlockHash)
    {
        Span<byte> bytes = stackalloc byte[32];
        previousBlockHash.WriteInternalBytes(bytes);
        SwapWords(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    private static void SwapWords(Span<byte> bytes)
    {
        for (var i = 0; i < 32; i += 4)
            BinaryPrimitives.WriteUInt32LittleEndian(bytes[i..], BinaryPrimitives.ReadUInt32BigEndian(bytes[i..]));
    }

    /// <summary>A version, nbits, ntime, nonce or version_bits field: exactly 8 hex digits, big-endian.</summary>
    public static uint ParseUInt32(ReadOnlySpan<char> hex, string field) =>
        TryParseUInt32(hex, out var value) ? value : throw new FormatException($"stratum {field} must be 8 hex digits, got '{hex}'");

    /// <summary>Allocation-free parse of an 8-hex-digit big-endian field (for mining.submit).</summary>
    public static bool TryParseUInt32(ReadOnlySpan<char> hex, out uint value)
    {
        value = 0;
        return hex.Length == 8 && uint.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>8 lowercase big-endian hex digits, as notify and submit carry 32-bit fields.</summary>
    public static string FormatUInt32(uint value) => value.ToString("x8", CultureInfo.InvariantCulture);

    /// <summary>mining.notify's merkle branch entries (internal byte order hex).</summary>
    public static string[] FormatMerkleBranch(IEnumerable<Hash256> branch) => branch.Select(hash => hash.ToInternalHex()).ToArray();

    /// <summary>Parses mining.notify's merkle branch entries.</summary>
    public static Hash256[] ParseMerkleBranch(IEnumerable<string> branchHex) =>
        branchHex.Select((hex, i) => Hash256.TryFromInternalHex(hex, out var hash, out var error)
            ? hash
            : throw new FormatException($"merkle branch entry {i}: {error}")).ToArray();
}
