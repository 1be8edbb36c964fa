using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace PoolCluster.Bitcoin;

/// <summary>
/// SHA-256 and double SHA-256 built from <see cref="Sha256Engine.Compress"/>, on raw pointers so the hot paths (merkle
/// nodes, headers, the share check) run without allocation or bounds checks. States are 8 words; digests are the
/// big-endian serialization of the final state (standard SHA-256 output = Bitcoin's internal byte order).
/// </summary>
internal static unsafe class Sha256Core
{
    /// <summary>Bytes in a SHA-256 block.</summary>
    public const int BlockSize = 64;

    /// <summary>
    /// The second block of a 64-byte message: 0x80, zeros, bit length 512. Every merkle node hashes 64 bytes, so its
    /// first SHA-256 always ends with this constant block.
    /// </summary>
    public static readonly byte* PaddingFor64ByteMessage = CreatePadding(64);

    /// <summary>
    /// The tail of the single block of a 32-byte message (bytes 32..63): 0x80, zeros, bit length 256. The outer hash of
    /// every double SHA-256 is one such block.
    /// </summary>
    public static readonly byte* PaddingFor32ByteMessage = CreatePadding(32) + 32;

    private static byte* CreatePadding(int messageLength)
    {
        // Process-lifetime constants; native memory so they can be handed to the compression without pinning.
        var block = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(BlockSize);
        var at = messageLength % BlockSize;
        block[at] = 0x80;
        BinaryPrimitives.WriteUInt64BigEndian(new Span<byte>(block + 56, 8), (ulong)messageLength * 8);
        return block;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Initialize(uint* state)
    {
        state[0] = 0x6a09e667; state[1] = 0xbb67ae85; state[2] = 0x3c6ef372; state[3] = 0xa54ff53a;
        state[4] = 0x510e527f; state[5] = 0x9b05688c; state[6] = 0x1f83d9ab; state[7] = 0x5be0cd19;
    }

    /// <summary>Writes the state as the 32-byte digest (each word big-endian).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteDigest(uint* state, byte* destination)
    {
        for (var i = 0; i < 8; i++)
            Unsafe.WriteUnaligned(destination + 4 * i, BinaryPrimitives.ReverseEndianness(state[i]));
    }

    /// <summary>
    /// Continues a hash whose first <paramref name="alreadyHashed"/> bytes (a multiple of 64) are in
    /// <paramref name="state"/>: compresses the full blocks of <paramref name="data"/>, then the padded tail.
    /// </summary>
    public static void Finish(uint* state, ReadOnlySpan<byte> data, long alreadyHashed)
    {
        fixed (byte* p = data)
        {
            var full = data.Length / BlockSize;
            for (var i = 0; i < full; i++)
                Sha256Engine.Compress(state, p + i * BlockSize);

            var tailLength = data.Length - full * BlockSize;
            var tail = stackalloc byte[2 * BlockSize];
            new Span<byte>(tail, 2 * BlockSize).Clear();
            new ReadOnlySpan<byte>(p + full * BlockSize, tailLength).CopyTo(new Span<byte>(tail, tailLength));
            tail[tailLength] = 0x80;
            var tailBlocks = tailLength + 9 <= BlockSize ? 1 : 2;
            var bitLength = (ulong)(alreadyHashed + data.Length) * 8;
            BinaryPrimitives.WriteUInt64BigEndian(new Span<byte>(tail + tailBlocks * BlockSize - 8, 8), bitLength);
            for (var i = 0; i < tailBlocks; i++)
                Sha256Engine.Compress(state, tail + i * BlockSize);
        }
    }

    /// <summary>SHA-256 of <paramref name="data"/> into 32 bytes at <paramref name="digest"/>.</summary>
    public static void Hash(ReadOnlySpan<byte> data, byte* digest)
    {
        var state = stackalloc uint[8];
        Initialize(state);
        Finish(state, data, 0);
        WriteDigest(state, digest);
    }

    /// <summary>SHA-256(SHA-256(data)) into 32 bytes at <paramref name="digest"/>.</summary>
    public static void DoubleHash(ReadOnlySpan<byte> data, byte* digest)
    {
        var state = stackalloc uint[8];
        var block = stackalloc byte[BlockSize];
        Initialize(state);
        Finish(state, data, 0);
        OuterHashInPlace(state, block);
        Unsafe.CopyBlockUnaligned(digest, block, 32);
    }

    /// <summary>
    /// The outer hash of a double SHA-256: takes the inner hash's final state, hashes its 32-byte digest (one block)
    /// using <paramref name="block"/> (64 bytes) as the message buffer, and leaves the result in block[0..32].
    /// <paramref name="state"/> is reused.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OuterHashInPlace(uint* state, byte* block)
    {
        WriteDigest(state, block);
        Unsafe.CopyBlockUnaligned(block + 32, PaddingFor32ByteMessage, 32);
        Initialize(state);
        Sha256Engine.Compress(state, block);
        WriteDigest(state, block);
    }

    /// <summary>
    /// Merkle node in place: <paramref name="node"/> holds left || right (64 bytes); afterwards node[0..32] is their
    /// double SHA-256. 3 compressions; node[32..64] is overwritten.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void DoubleHash64InPlace(uint* state, byte* node)
    {
        Initialize(state);
        Sha256Engine.Compress(state, node);
        Sha256Engine.Compress(state, PaddingFor64ByteMessage);
        OuterHashInPlace(state, node);
    }
}
