using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PoolCluster.Bitcoin;

/// <summary>What a share check found.</summary>
public enum ShareCheckStatus : byte
{
    /// <summary>The header hash is at or below the share target.</summary>
    Valid,

    /// <summary>The header hash is above the share target (stratum error 23, low difficulty).</summary>
    LowDifficulty,

    /// <summary>extranonce1 + extranonce2 do not fill the job's extranonce placeholder exactly.</summary>
    ExtranonceSizeMismatch,

    /// <summary>version_bits sets bits outside the negotiated BIP310 mask.</summary>
    VersionBitsOutsideMask,
}

/// <summary>The outcome of one <see cref="ShareChecker.Check"/>: a struct, so checking allocates nothing.</summary>
public readonly struct ShareCheckResult
{
    internal ShareCheckResult(ShareCheckStatus status, Hash256 blockHash, uint version, bool isBlock)
    {
        Status = status;
        BlockHash = blockHash;
        Version = version;
        IsBlock = isBlock;
    }

    public ShareCheckStatus Status { get; }

    /// <summary>The header's double SHA-256 (internal order); zero when the input was rejected before hashing.</summary>
    public Hash256 BlockHash { get; }

    /// <summary>The header version hashed (the job's version with the BIP310 rolled bits applied).</summary>
    public uint Version { get; }

    /// <summary>
    /// The hash is at or below the network target: a block, to be submitted even if <see cref="Status"/> is
    /// <see cref="ShareCheckStatus.LowDifficulty"/> (a share target harder than the network's is a misconfiguration,
    /// not a reason to drop a block).
    /// </summary>
    public bool IsBlock { get; }

    public bool IsValid => Status == ShareCheckStatus.Valid;

    /// <summary>The difficulty this hash achieves (Difficulty1 / hash).</summary>
    public double HashDifficulty => Difficulty.OfHash(BlockHash);
}

/// <summary>
/// Checks stratum shares for one job. Construction does the per-job work once: the SHA-256 midstate of coinbase1's
/// complete 64-byte blocks, the padded coinbase tail after the extranonce, the merkle branch, and the constant parts
/// of both header blocks. <see cref="Check"/> then only compresses the blocks that depend on the share:
/// the coinbase from the extranonce's block on (+1 for its outer hash), 3 per merkle level, 3 for the header.
/// Immutable and thread-safe: one instance serves every session mining the job, concurrently.
/// </summary>
public sealed unsafe class ShareChecker
{
    private const int MidstateOffset = 0;
    private const int HeaderOffset = 32;           // two 64-byte blocks: the 80-byte header + padding
    private const int BranchOffset = HeaderOffset + 128;
    private const int MaxPatchBlocks = 4;          // the extranonce is at most 100 bytes (scriptSig limit): <= 3 blocks

    private readonly byte[] _coinbase1;
    private readonly byte[] _coinbase2;
    private readonly Hash256[] _merkleBranch;
    private readonly Target _networkTarget;

    // One array allocated on the pinned object heap: midstate | header blocks | branch | coinbase tail. Never moves,
    // so the hot path reads it through _data without pinning; it lives as long as this object holds the array.
    private readonly byte[] _pinned;
    private readonly byte* _data;
    private readonly int _tailOffset;
    private readonly int _tailBlocks;
    private readonly int _patchBlocks;
    private readonly int _extranonceOffsetInTail;

    /// <summary>Prepares a job from its binary parts (e.g. a StratumJob topic message).</summary>
    /// <param name="coinbase1">Coinbase bytes before the extranonce.</param>
    /// <param name="coinbase2">Coinbase bytes after the extranonce.</param>
    /// <param name="extranonceSize">extranonce1 size + extranonce2 size.</param>
    /// <param name="merkleBranch">Coinbase merkle branch, bottom up.</param>
    /// <param name="version">Header version of the job (before any BIP310 rolling).</param>
    /// <param name="previousBlockHash">The previous block's hash.</param>
    /// <param name="bits">The header's compact target.</param>
    public ShareChecker(ReadOnlySpan<byte> coinbase1, ReadOnlySpan<byte> coinbase2, int extranonceSize,
        ReadOnlySpan<Hash256> merkleBranch, uint version, Hash256 previousBlockHash, uint bits)
    {
        if (extranonceSize is < 1 or > CoinbaseBuilder.MaxScriptSigSize)
            throw new ArgumentOutOfRangeException(nameof(extranonceSize), extranonceSize, "the extranonce placeholder is 1..100 bytes");
        if (!Target.TryFromCompact(bits, out _networkTarget, out var bitsError))
            throw new ArgumentException(bitsError, nameof(bits));
        if (merkleBranch.Length > 32)
            throw new ArgumentException($"a merkle branch of {merkleBranch.Length} levels means more than 2^32 transactions", nameof(merkleBranch));

        _coinbase1 = coinbase1.ToArray();
        _coinbase2 = coinbase2.ToArray();
        _merkleBranch = merkleBranch.ToArray();
        ExtranonceSize = extranonceSize;
        Version = version;
        PreviousBlockHash = previousBlockHash;
        Bits = bits;

        // The coinbase as SHA-256 sees it: coinbase1 | extranonce | coinbase2 | 0x80 | zeros | 64-bit bit length.
        var messageLength = coinbase1.Length + extranonceSize + coinbase2.Length;
        var paddedLength = (messageLength + 9 + 63) / 64 * 64;
        var firstVariableBlock = coinbase1.Length / 64;
        _extranonceOffsetInTail = coinbase1.Length - firstVariableBlock * 64;
        _tailBlocks = paddedLength / 64 - firstVariableBlock;
        _patchBlocks = (_extranonceOffsetInTail + extranonceSize + 63) / 64;
        _tailOffset = BranchOffset + 32 * _merkleBranch.Length;

        _pinned = GC.AllocateArray<byte>(_tailOffset + _tailBlocks * 64, pinned: true);
        _data = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_pinned));

        // Midstate over coinbase1's complete blocks: they never change within the job.
        var midstate = (uint*)(_data + MidstateOffset);
        Sha256Core.Initialize(midstate);
        fixed (byte* c1 = _coinbase1)
            for (var block = 0; block < firstVariableBlock; block++)
                Sha256Engine.Compress(midstate, c1 + block * 64);

        // Tail: rest of coinbase1, zeroed placeholder, coinbase2, padding.
        var tail = new Span<byte>(_data + _tailOffset, _tailBlocks * 64);
        coinbase1[(firstVariableBlock * 64)..].CopyTo(tail);
        coinbase2.CopyTo(tail[(_extranonceOffsetInTail + extranonceSize)..]);
        tail[_extranonceOffsetInTail + extranonceSize + coinbase2.Length] = 0x80;
        BinaryPrimitives.WriteUInt64BigEndian(tail[^8..], (ulong)messageLength * 8);

        for (var i = 0; i < _merkleBranch.Length; i++)
            _merkleBranch[i].WriteInternalBytes(new Span<byte>(_data + BranchOffset + 32 * i, 32));

        // Header: version | prevhash | merkle root | ntime | bits | nonce, then the padding of an 80-byte message.
        var header = new Span<byte>(_data + HeaderOffset, 128);
        BinaryPrimitives.WriteUInt32LittleEndian(header, version);
        previousBlockHash.WriteInternalBytes(header[4..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[72..], bits);
        header[80] = 0x80;
        BinaryPrimitives.WriteUInt64BigEndian(header[120..], 80 * 8);
    }

    /// <summary>Prepares a job from mining.notify's fields, in their stratum encodings (see <see cref="StratumEncoding"/>).</summary>
    public static ShareChecker FromNotify(string previousBlockHashHex, string coinbase1Hex, string coinbase2Hex,
        IEnumerable<string> merkleBranchHex, string versionHex, string bitsHex, int extranonceSize) =>
        new(Hex.Decode(coinbase1Hex, "coinbase1"), Hex.Decode(coinbase2Hex, "coinbase2"), extranonceSize,
            StratumEncoding.ParseMerkleBranch(merkleBranchHex),
            StratumEncoding.ParseUInt32(versionHex, "version"),
            StratumEncoding.ParsePreviousBlockHash(previousBlockHashHex),
            StratumEncoding.ParseUInt32(bitsHex, "nbits"));

    public int ExtranonceSize { get; }

    public uint Version { get; }

    public Hash256 PreviousBlockHash { get; }

    public uint Bits { get; }

    /// <summary>The target a block must meet (from <see cref="Bits"/>).</summary>
    public Target NetworkTarget => _networkTarget;

    public IReadOnlyList<Hash256> MerkleBranch => _merkleBranch;

    public ReadOnlySpan<byte> Coinbase1 => _coinbase1;

    public ReadOnlySpan<byte> Coinbase2 => _coinbase2;

    /// <summary>SHA-256 block compressions one <see cref="Check"/> performs (the cost model in docs/bitcoin-performance.md).</summary>
    public int CompressionsPerCheck => _tailBlocks + 1 + 3 * _merkleBranch.Length + 3;

    /// <summary>
    /// Checks one mining.submit: builds coinbase1 + extranonce1 + extranonce2 + coinbase2, hashes it, applies the
    /// merkle branch, builds the 80-byte header with <paramref name="ntime"/>, <paramref name="nonce"/> and the rolled
    /// version, hashes it and compares it with <paramref name="shareTarget"/> and the network target. Allocation-free.
    /// </summary>
    /// <param name="extranonce1">The session's extranonce1.</param>
    /// <param name="extranonce2">The miner's extranonce2 (raw bytes of the submit's hex).</param>
    /// <param name="ntime">Submit's ntime as a number (its hex is big-endian).</param>
    /// <param name="nonce">Submit's nonce as a number (its hex is big-endian).</param>
    /// <param name="shareTarget">The session's share target (<see cref="Target.FromDifficulty"/>).</param>
    /// <param name="versionBits">BIP310 version_bits from the submit, 0 without version rolling.</param>
    /// <param name="versionMask">The negotiated BIP310 mask, 0 without version rolling.</param>
    [SkipLocalsInit]
    public ShareCheckResult Check(ReadOnlySpan<byte> extranonce1, ReadOnlySpan<byte> extranonce2, uint ntime, uint nonce,
        in Target shareTarget, uint versionBits = 0, uint versionMask = 0)
    {
        if (extranonce1.Length + extranonce2.Length != ExtranonceSize)
            return new ShareCheckResult(ShareCheckStatus.ExtranonceSizeMismatch, default, Version, false);
        if ((versionBits & ~versionMask) != 0)
            return new ShareCheckResult(ShareCheckStatus.VersionBitsOutsideMask, default, Version, false);
        var version = (Version & ~versionMask) | (versionBits & versionMask);

        var state = stackalloc uint[8];
        var patch = stackalloc byte[MaxPatchBlocks * 64];
        var node = stackalloc byte[64];
        var header = stackalloc byte[128];

        // Coinbase: midstate, then the blocks holding the extranonce (patched copies), then the constant tail blocks.
        Unsafe.CopyBlockUnaligned(state, _data + MidstateOffset, 32);
        var tail = _data + _tailOffset;
        Unsafe.CopyBlockUnaligned(patch, tail, (uint)(_patchBlocks * 64));
        extranonce1.CopyTo(new Span<byte>(patch + _extranonceOffsetInTail, extranonce1.Length));
        extranonce2.CopyTo(new Span<byte>(patch + _extranonceOffsetInTail + extranonce1.Length, extranonce2.Length));
        for (var block = 0; block < _patchBlocks; block++)
            Sha256Engine.Compress(state, patch + block * 64);
        for (var block = _patchBlocks; block < _tailBlocks; block++)
            Sha256Engine.Compress(state, tail + block * 64);
        Sha256Core.OuterHashInPlace(state, node);               // node[0..32] = coinbase txid

        // Merkle branch: node = dSHA256(node || sibling) per level.
        var sibling = _data + BranchOffset;
        for (var level = 0; level < _merkleBranch.Length; level++, sibling += 32)
        {
            Unsafe.CopyBlockUnaligned(node + 32, sibling, 32);
            Sha256Core.DoubleHash64InPlace(state, node);
        }

        // Header: copy the job's two blocks, fill the share's fields, hash.
        Unsafe.CopyBlockUnaligned(header, _data + HeaderOffset, 128);
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(header, 4), version);
        Unsafe.CopyBlockUnaligned(header + 36, node, 32);
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(header + 68, 4), ntime);
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(header + 76, 4), nonce);
        Sha256Core.Initialize(state);
        Sha256Engine.Compress(state, header);
        Sha256Engine.Compress(state, header + 64);
        Sha256Core.OuterHashInPlace(state, node);

        var hash = Hash256.FromInternalBytes(new ReadOnlySpan<byte>(node, 32));
        var status = hash.MeetsTarget(shareTarget) ? ShareCheckStatus.Valid : ShareCheckStatus.LowDifficulty;
        return new ShareCheckResult(status, hash, version, hash.MeetsTarget(_networkTarget));
    }

    /// <summary>The full coinbase (legacy serialization) for a share: coinbase1 + extranonce1 + extranonce2 + coinbase2.</summary>
    public byte[] BuildCoinbase(ReadOnlySpan<byte> extranonce1, ReadOnlySpan<byte> extranonce2)
    {
        if (extranonce1.Length + extranonce2.Length != ExtranonceSize)
            throw new ArgumentException(
                $"extranonce1 ({extranonce1.Length} bytes) + extranonce2 ({extranonce2.Length} bytes) must fill the {ExtranonceSize}-byte placeholder");
        return [.. _coinbase1, .. extranonce1, .. extranonce2, .. _coinbase2];
    }

    /// <summary>The header a share hashed (for block submission and the SolvedShare topic), built the straightforward way.</summary>
    public BlockHeader BuildHeader(ReadOnlySpan<byte> extranonce1, ReadOnlySpan<byte> extranonce2, uint ntime, uint nonce,
        uint versionBits = 0, uint versionMask = 0)
    {
        if ((versionBits & ~versionMask) != 0)
            throw new ArgumentException($"version bits 0x{versionBits:x8} are outside the mask 0x{versionMask:x8}", nameof(versionBits));
        var coinbaseTxId = Hashes.DoubleSha256(BuildCoinbase(extranonce1, extranonce2));
        var merkleRoot = Merkle.ComputeRootFromCoinbase(coinbaseTxId, _merkleBranch);
        var version = (Version & ~versionMask) | (versionBits & versionMask);
        return new BlockHeader(version, PreviousBlockHash, merkleRoot, ntime, Bits, nonce);
    }
}
