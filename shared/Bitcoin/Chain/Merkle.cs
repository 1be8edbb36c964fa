namespace PoolCluster.Bitcoin;

/// <summary>
/// Bitcoin's merkle trees (double SHA-256 of left || right, the last node of an odd level paired with itself), and
/// the coinbase branch stratum sends: the siblings on the path from the coinbase (index 0) to the root.
/// </summary>
public static class Merkle
{
    /// <summary>The root over <paramref name="leaves"/> (txids in block order, the coinbase first).</summary>
    public static Hash256 ComputeRoot(ReadOnlySpan<Hash256> leaves)
    {
        if (leaves.IsEmpty) throw new ArgumentException("a merkle tree needs at least one leaf", nameof(leaves));
        var level = leaves.ToArray();
        var count = level.Length;
        while (count > 1)
        {
            var next = 0;
            for (var i = 0; i < count; i += 2)
                level[next++] = Hashes.MerkleNode(level[i], i + 1 < count ? level[i + 1] : level[i]);
            count = next;
        }
        return level[0];
    }

    /// <summary>
    /// The merkle branch for the coinbase: given the txids of every transaction after the coinbase (block order), the
    /// sibling hashes from the bottom level up (internal byte order, as stratum's mining.notify carries them). Does not
    /// depend on the coinbase, so it is computed once per template.
    /// </summary>
    public static Hash256[] ComputeCoinbaseBranch(ReadOnlySpan<Hash256> txidsAfterCoinbase)
    {
        var branch = new List<Hash256>();
        // level[0] stands for the (unknown) coinbase-side node; only indexes >= 1 are ever read.
        var level = new Hash256[txidsAfterCoinbase.Length + 1];
        txidsAfterCoinbase.CopyTo(level.AsSpan(1));
        var count = level.Length;
        while (count > 1)
        {
            branch.Add(level[1]);
            var next = 1;
            for (var i = 2; i < count; i += 2)
                level[next++] = Hashes.MerkleNode(level[i], i + 1 < count ? level[i + 1] : level[i]);
            count = next;
        }
        return [.. branch];
    }

    /// <summary>The merkle root from the coinbase's txid and its branch (what a miner and the share check compute).</summary>
    public static Hash256 ComputeRootFromCoinbase(in Hash256 coinbaseTxId, ReadOnlySpan<Hash256> coinbaseBranch)
    {
        var node = coinbaseTxId;
        foreach (var sibling in coinbaseBranch)
            node = Hashes.MerkleNode(node, sibling);
        return node;
    }

    /// <summary>
    /// BIP141 witness root: the merkle root of the wtxids with the coinbase's taken as 32 zero bytes. Pass the wtxids
    /// of the transactions after the coinbase (getblocktemplate's "hash" fields).
    /// </summary>
    public static Hash256 ComputeWitnessRoot(ReadOnlySpan<Hash256> wtxidsAfterCoinbase)
    {
        var leaves = new Hash256[wtxidsAfterCoinbase.Length + 1];
        wtxidsAfterCoinbase.CopyTo(leaves.AsSpan(1));
        return ComputeRoot(leaves);
    }
}
