using System.Buffers.Binary;

namespace PoolCluster.Bitcoin;

/// <summary>The 80-byte block header: all integers little-endian, both hashes in internal byte order.</summary>
public readonly record struct BlockHeader(
    uint Version,
    Hash256 PreviousBlockHash,
    Hash256 MerkleRoot,
    uint Time,
    uint Bits,
    uint Nonce)
{
    /// <summary>Serialized size.</summary>
    public const int Size = 80;

    /// <summary>Reads the first 80 bytes of <paramref name="data"/>.</summary>
    public static BlockHeader Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < Size)
            throw new FormatException($"truncated block header: needs 80 bytes, got {data.Length}");
        return new BlockHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(data),
            Hash256.FromInternalBytes(data.Slice(4, 32)),
            Hash256.FromInternalBytes(data.Slice(36, 32)),
            BinaryPrimitives.ReadUInt32LittleEndian(data[68..]),
            BinaryPrimitives.ReadUInt32LittleEndian(data[72..]),
            BinaryPrimitives.ReadUInt32LittleEndian(data[76..]));
    }

    /// <summary>Writes the 80 bytes.</summary>
    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < Size)
            throw new ArgumentException($"a block header needs 80 bytes, destination has {destination.Length}", nameof(destination));
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Version);
        PreviousBlockHash.WriteInternalBytes(destination.Slice(4, 32));
        MerkleRoot.WriteInternalBytes(destination.Slice(36, 32));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[68..], Time);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[72..], Bits);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[76..], Nonce);
    }

    public byte[] Serialize()
    {
        var bytes = new byte[Size];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>The block hash: double SHA-256 of the 80 bytes (internal order; <c>ToString()</c> shows display order).</summary>
    public Hash256 GetHash()
    {
        Span<byte> bytes = stackalloc byte[Size];
        WriteTo(bytes);
        return Hashes.DoubleSha256(bytes);
    }

    /// <summary>The target the header's <see cref="Bits"/> encode.</summary>
    public Target Target => Target.FromCompact(Bits);

    /// <summary>Proof of work: the header's hash is at or below the target of its own bits.</summary>
    public bool HasValidProofOfWork() =>
        Target.TryFromCompact(Bits, out var target, out _) && GetHash().MeetsTarget(target);
}
