using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace PoolCluster.Bitcoin;

/// <summary>
/// A 256-bit hash (block hash, txid, wtxid, merkle node) held in Bitcoin's INTERNAL byte order: the bytes as SHA-256
/// produces them and as they are serialized in headers, transactions and stratum merkle branches. The DISPLAY order
/// (block explorers, RPC "hash"/"txid"/"previousblockhash") is the reverse. There is no constructor from an unlabeled
/// hex string or byte array: every conversion names the order it reads or writes, so the classic reversal bugs do not
/// compile. As a number (for proof of work) the internal bytes are little-endian.
/// </summary>
public readonly struct Hash256 : IEquatable<Hash256>
{
    /// <summary>Bytes in a hash.</summary>
    public const int Size = 32;

    // Internal bytes 0..7, 8..15, 16..23, 24..31, each read little-endian: also the limbs of the hash as a 256-bit
    // little-endian number, least significant first, which makes the proof-of-work compare four ulong compares.
    private readonly ulong _limb0, _limb1, _limb2, _limb3;

    private Hash256(ulong limb0, ulong limb1, ulong limb2, ulong limb3)
    {
        _limb0 = limb0; _limb1 = limb1; _limb2 = limb2; _limb3 = limb3;
    }

    /// <summary>All zero bytes (the coinbase's null prevout, the coinbase wtxid in the witness tree).</summary>
    public static Hash256 Zero => default;

    /// <summary>From 32 bytes in internal order (as serialized in blocks and headers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Hash256 FromInternalBytes(ReadOnlySpan<byte> internalBytes)
    {
        if (internalBytes.Length != Size)
            throw new ArgumentException($"a 256-bit hash is 32 bytes, got {internalBytes.Length}", nameof(internalBytes));
        return new Hash256(
            BinaryPrimitives.ReadUInt64LittleEndian(internalBytes),
            BinaryPrimitives.ReadUInt64LittleEndian(internalBytes[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(internalBytes[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(internalBytes[24..]));
    }

    /// <summary>From 32 bytes in display order (the reverse of internal order).</summary>
    public static Hash256 FromDisplayBytes(ReadOnlySpan<byte> displayBytes)
    {
        if (displayBytes.Length != Size)
            throw new ArgumentException($"a 256-bit hash is 32 bytes, got {displayBytes.Length}", nameof(displayBytes));
        return new Hash256(
            BinaryPrimitives.ReadUInt64BigEndian(displayBytes[24..]),
            BinaryPrimitives.ReadUInt64BigEndian(displayBytes[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(displayBytes[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(displayBytes));
    }

    /// <summary>From 64 hex digits in display order, as RPC and block explorers show block hashes and txids.</summary>
    public static Hash256 FromDisplayHex(string displayHex) =>
        TryFromDisplayHex(displayHex, out var hash, out var error) ? hash : throw new FormatException(error);

    /// <summary>Parses 64 hex digits in display order; false with a reason when it is not that.</summary>
    public static bool TryFromDisplayHex(ReadOnlySpan<char> displayHex, out Hash256 hash, out string? error)
    {
        Span<byte> bytes = stackalloc byte[Size];
        if (!TryDecode(displayHex, bytes, "display", out error))
        {
            hash = default;
            return false;
        }
        hash = FromDisplayBytes(bytes);
        return true;
    }

    /// <summary>From 64 hex digits in internal order (stratum merkle branches, raw serialized data).</summary>
    public static Hash256 FromInternalHex(string internalHex) =>
        TryFromInternalHex(internalHex, out var hash, out var error) ? hash : throw new FormatException(error);

    /// <summary>Parses 64 hex digits in internal order; false with a reason when it is not that.</summary>
    public static bool TryFromInternalHex(ReadOnlySpan<char> internalHex, out Hash256 hash, out string? error)
    {
        Span<byte> bytes = stackalloc byte[Size];
        if (!TryDecode(internalHex, bytes, "internal", out error))
        {
            hash = default;
            return false;
        }
        hash = FromInternalBytes(bytes);
        return true;
    }

    private static bool TryDecode(ReadOnlySpan<char> hex, Span<byte> bytes, string order, out string? error)
    {
        if (hex.Length != 2 * Size)
        {
            error = $"a 256-bit hash in {order} order is 64 hex digits, got {hex.Length} characters";
            return false;
        }
        return Hex.TryDecode(hex, bytes, out error);
    }

    /// <summary>Writes the 32 internal-order bytes (the serialized form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteInternalBytes(Span<byte> destination)
    {
        if (destination.Length < Size)
            throw new ArgumentException($"destination needs 32 bytes, has {destination.Length}", nameof(destination));
        BinaryPrimitives.WriteUInt64LittleEndian(destination, _limb0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], _limb1);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], _limb2);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], _limb3);
    }

    /// <summary>Writes the 32 display-order bytes.</summary>
    public void WriteDisplayBytes(Span<byte> destination)
    {
        if (destination.Length < Size)
            throw new ArgumentException($"destination needs 32 bytes, has {destination.Length}", nameof(destination));
        BinaryPrimitives.WriteUInt64BigEndian(destination, _limb3);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _limb2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _limb1);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _limb0);
    }

    /// <summary>A new array with the internal-order bytes.</summary>
    public byte[] ToInternalBytes()
    {
        var bytes = new byte[Size];
        WriteInternalBytes(bytes);
        return bytes;
    }

    /// <summary>A new array with the display-order bytes.</summary>
    public byte[] ToDisplayBytes()
    {
        var bytes = new byte[Size];
        WriteDisplayBytes(bytes);
        return bytes;
    }

    /// <summary>64 lowercase hex digits in display order (what RPC and explorers show).</summary>
    public string ToDisplayHex()
    {
        Span<byte> bytes = stackalloc byte[Size];
        WriteDisplayBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    /// <summary>64 lowercase hex digits in internal order (stratum merkle branches).</summary>
    public string ToInternalHex()
    {
        Span<byte> bytes = stackalloc byte[Size];
        WriteInternalBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    /// <summary>Display-order hex, the form people compare against explorers.</summary>
    public override string ToString() => ToDisplayHex();

    /// <summary>True when all 32 bytes are zero.</summary>
    public bool IsZero => (_limb0 | _limb1 | _limb2 | _limb3) == 0;

    /// <summary>
    /// Proof of work: this hash, read as a little-endian 256-bit number, is at or below <paramref name="target"/>.
    /// Four 64-bit compares from the most significant limb down; this is the hot-path test for shares and blocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MeetsTarget(in Target target)
    {
        if (_limb3 != target.Limb3) return _limb3 < target.Limb3;
        if (_limb2 != target.Limb2) return _limb2 < target.Limb2;
        if (_limb1 != target.Limb1) return _limb1 < target.Limb1;
        return _limb0 <= target.Limb0;
    }

    /// <summary>This hash as a 256-bit number (internal bytes little-endian), for difficulty arithmetic.</summary>
    internal Target AsNumber() => new(_limb0, _limb1, _limb2, _limb3);

    public bool Equals(Hash256 other) =>
        _limb0 == other._limb0 && _limb1 == other._limb1 && _limb2 == other._limb2 && _limb3 == other._limb3;

    public override bool Equals(object? obj) => obj is Hash256 other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_limb0, _limb1, _limb2, _limb3);

    public static bool operator ==(Hash256 left, Hash256 right) => left.Equals(right);

    public static bool operator !=(Hash256 left, Hash256 right) => !left.Equals(right);
}
