namespace PoolCluster.Bitcoin;

/// <summary>SHA-256 and Bitcoin's double SHA-256 over spans, without allocation.</summary>
public static unsafe class Hashes
{
    /// <summary>SHA-256(SHA-256(data)) as a <see cref="Hash256"/> (internal byte order, as txids and block hashes are stored).</summary>
    public static Hash256 DoubleSha256(ReadOnlySpan<byte> data)
    {
        var digest = stackalloc byte[32];
        Sha256Core.DoubleHash(data, digest);
        return Hash256.FromInternalBytes(new ReadOnlySpan<byte>(digest, 32));
    }

    /// <summary>SHA-256(SHA-256(data)) written to the first 32 bytes of <paramref name="destination"/>.</summary>
    public static void DoubleSha256(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        if (destination.Length < 32)
            throw new ArgumentException($"destination needs 32 bytes, has {destination.Length}", nameof(destination));
        fixed (byte* d = destination)
            Sha256Core.DoubleHash(data, d);
    }

    /// <summary>Plain SHA-256 of <paramref name="data"/> written to the first 32 bytes of <paramref name="destination"/>.</summary>
    public static void Sha256(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        if (destination.Length < 32)
            throw new ArgumentException($"destination needs 32 bytes, has {destination.Length}", nameof(destination));
        fixed (byte* d = destination)
            Sha256Core.Hash(data, d);
    }

    /// <summary>Double SHA-256 of the 64 bytes <paramref name="left"/> || <paramref name="right"/>: one merkle tree node.</summary>
    public static Hash256 MerkleNode(in Hash256 left, in Hash256 right)
    {
        var node = stackalloc byte[64];
        var state = stackalloc uint[8];
        left.WriteInternalBytes(new Span<byte>(node, 32));
        right.WriteInternalBytes(new Span<byte>(node + 32, 32));
        Sha256Core.DoubleHash64InPlace(state, node);
        return Hash256.FromInternalBytes(new ReadOnlySpan<byte>(node, 32));
    }
}
