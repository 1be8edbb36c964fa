using System.Numerics;
using PoolCluster.Bitcoin;

namespace PoolCluster.DevNode.Chain;

/// <summary>
/// One block this node knows (bitcoind's CBlockIndex plus the block data): on the active chain or a side branch.
/// A seeded start block (see <see cref="SeedTipOptions"/>) has a header stand-in and no data.
/// </summary>
public sealed class ChainBlock
{
    private static readonly IReadOnlyList<long?> NoFees = [];

    internal ChainBlock(Hash256 hash, BlockHeader header, ChainBlock? previous, int height, Block? block, byte[]? raw, long sequence)
    {
        Hash = hash;
        Header = header;
        Previous = previous;
        Height = height;
        Block = block;
        Raw = raw;
        Sequence = sequence;
        // A seeded start block stands for a chain of 'height' earlier blocks at the same bits.
        ChainWork = (previous?.ChainWork ?? Regtest.BlockProof(header.Bits) * height) + Regtest.BlockProof(header.Bits);
        MedianTimePast = ComputeMedianTimePast(this);
        if (block is not null)
        {
            Weight = block.Weight;
            Size = raw?.Length ?? block.Serialize().Length;
            StrippedSize = BlockHeader.Size + CompactSize.GetSize((ulong)block.Transactions.Count)
                + block.Transactions.Sum(tx => tx.GetSerializedSize(includeWitness: false));
        }
    }

    public Hash256 Hash { get; }

    public BlockHeader Header { get; }

    public ChainBlock? Previous { get; }

    public int Height { get; }

    /// <summary>The block (null for a seeded start block whose data this node never had).</summary>
    public Block? Block { get; }

    /// <summary>The serialized block as received (with witness).</summary>
    public byte[]? Raw { get; }

    /// <summary>Arrival order: among equal-work branches the first seen wins, as in bitcoind.</summary>
    public long Sequence { get; }

    /// <summary>Total expected hashes of the chain up to and including this block (bitcoind's nChainWork).</summary>
    public BigInteger ChainWork { get; }

    /// <summary>Median of this block's and its 10 predecessors' timestamps (GetMedianTimePast).</summary>
    public long MedianTimePast { get; }

    public int Weight { get; }

    public int Size { get; }

    public int StrippedSize { get; }

    /// <summary>Fee of each transaction (index 0 = coinbase, null = unknown) as known when the block was connected.</summary>
    public IReadOnlyList<long?> Fees { get; internal set; } = NoFees;

    /// <summary>
    /// The fees the coinbase may claim besides the subsidy: the sum of the known fees (unknown ones count as zero), or
    /// what was recorded when the block was first accepted (replay from disk).
    /// </summary>
    public long FeeTotal { get; internal set; }

    /// <summary>Failed validation when connected (bitcoind BLOCK_FAILED_VALID); resubmitting it gives "duplicate-invalid".</summary>
    public bool Invalid { get; internal set; }

    public int TransactionCount => Block?.Transactions.Count ?? 0;

    public long Time => Header.Time;

    private static long ComputeMedianTimePast(ChainBlock block)
    {
        Span<long> times = stackalloc long[11];
        var count = 0;
        for (var b = block; b is not null && count < 11; b = b.Previous)
            times[count++] = b.Header.Time;
        var used = times[..count];
        used.Sort();
        return used[count / 2];
    }
}
