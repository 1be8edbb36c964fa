using PoolCluster.Bitcoin;

namespace PoolCluster.DevNode.Mempool;

/// <summary>A transaction waiting for a block, with the fee DevNode knows for it (no UTXO set: the fee is declared, not computed).</summary>
public sealed class MempoolEntry
{
    internal MempoolEntry(Transaction transaction, long fee, int sigOpsCost, long timeUnixSeconds, int height, long sequence)
    {
        Transaction = transaction;
        Fee = fee;
        SigOpsCost = sigOpsCost;
        Time = timeUnixSeconds;
        Height = height;
        Sequence = sequence;
        Weight = transaction.Weight;
        Data = transaction.Serialize(includeWitness: true);
    }

    public Transaction Transaction { get; }

    public Hash256 TxId => Transaction.TxId;

    public long Fee { get; }

    /// <summary>Sigops cost as counted for block limits (legacy sigops x4, plus witness sigops: 1 per P2WPKH input).</summary>
    public int SigOpsCost { get; }

    public int Weight { get; }

    public int VirtualSize => (Weight + 3) / 4;

    /// <summary>Serialized with witness: getblocktemplate's "data".</summary>
    public byte[] Data { get; }

    /// <summary>When it entered the mempool (unix seconds) and the tip height then.</summary>
    public long Time { get; }

    public int Height { get; }

    /// <summary>Arrival order; parents arrive before their children.</summary>
    public long Sequence { get; }
}
