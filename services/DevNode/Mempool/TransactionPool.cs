using PoolCluster.Bitcoin;

namespace PoolCluster.DevNode.Mempool;

/// <summary>
/// The mempool: transactions in arrival order, who spends which outpoint, and bitcoind's nTransactionsUpdated counter
/// that getblocktemplate's longpollid carries. Not thread-safe: the node's chain lock guards it.
/// </summary>
public sealed class TransactionPool
{
    private readonly Dictionary<Hash256, MempoolEntry> _byTxId = [];
    private readonly SortedDictionary<long, MempoolEntry> _bySequence = [];
    private readonly Dictionary<OutPoint, Hash256> _spentBy = [];
    // Fees of transactions that were in the mempool, so a block carrying them can be checked against its coinbase
    // (bad-cb-amount) after they left it. Bounded: the oldest are forgotten first.
    private readonly Dictionary<Hash256, long> _knownFees = [];
    private readonly Queue<Hash256> _knownFeesOrder = new();
    private readonly int _knownFeesCapacity;
    private long _nextSequence;

    public TransactionPool(int knownFeesCapacity = 1_000_000)
    {
        _knownFeesCapacity = knownFeesCapacity;
    }

    /// <summary>bitcoind's GetTransactionsUpdated: bumped on every addition and removal.</summary>
    public uint TransactionsUpdated { get; private set; }

    public int Count => _byTxId.Count;

    /// <summary>Entries in arrival order.</summary>
    public IEnumerable<MempoolEntry> Entries => _bySequence.Values;

    public bool Contains(in Hash256 txid) => _byTxId.ContainsKey(txid);

    public MempoolEntry? Get(in Hash256 txid) => _byTxId.GetValueOrDefault(txid);

    /// <summary>True when an outpoint is already spent by a mempool transaction.</summary>
    public bool IsSpent(in OutPoint outPoint) => _spentBy.ContainsKey(outPoint);

    /// <summary>The fee of a transaction that is or was in the mempool, if still remembered.</summary>
    public long? KnownFee(in Hash256 txid) => _knownFees.TryGetValue(txid, out var fee) ? fee : null;

    /// <summary>Adds a transaction; false (and nothing changes) when it is already there or conflicts with one that is.</summary>
    public bool TryAdd(Transaction transaction, long fee, int sigOpsCost, long nowUnixSeconds, int tipHeight, out MempoolEntry? entry)
    {
        entry = null;
        if (_byTxId.ContainsKey(transaction.TxId))
            return false;
        foreach (var input in transaction.Inputs)
            if (_spentBy.ContainsKey(input.PreviousOutput))
                return false;
        entry = new MempoolEntry(transaction, fee, sigOpsCost, nowUnixSeconds, tipHeight, _nextSequence++);
        _byTxId.Add(entry.TxId, entry);
        _bySequence.Add(entry.Sequence, entry);
        foreach (var input in transaction.Inputs)
            _spentBy[input.PreviousOutput] = entry.TxId;
        RememberFee(entry.TxId, fee);
        TransactionsUpdated++;
        return true;
    }

    /// <summary>
    /// A block was connected (bitcoind's removeForBlock): its transactions leave the mempool, and so do mempool
    /// transactions that spend the same outpoints (conflicts) with everything that descends from them.
    /// </summary>
    public void RemoveForBlock(Block block)
    {
        var changed = false;
        foreach (var tx in block.Transactions)
        {
            if (tx.IsCoinbase)
                continue;
            if (_byTxId.TryGetValue(tx.TxId, out var entry))
            {
                RemoveOne(entry);
                changed = true;
            }
            foreach (var input in tx.Inputs)
                if (_spentBy.TryGetValue(input.PreviousOutput, out var conflict) && conflict != tx.TxId)
                    changed |= RemoveWithDescendants(conflict);
        }
        if (changed)
            TransactionsUpdated++;
    }

    private bool RemoveWithDescendants(Hash256 txid)
    {
        if (!_byTxId.TryGetValue(txid, out var entry))
            return false;
        RemoveOne(entry);
        for (uint i = 0; i < entry.Transaction.Outputs.Count; i++)
            if (_spentBy.TryGetValue(new OutPoint(txid, i), out var child))
                RemoveWithDescendants(child);
        return true;
    }

    private void RemoveOne(MempoolEntry entry)
    {
        _byTxId.Remove(entry.TxId);
        _bySequence.Remove(entry.Sequence);
        foreach (var input in entry.Transaction.Inputs)
            if (_spentBy.TryGetValue(input.PreviousOutput, out var spender) && spender == entry.TxId)
                _spentBy.Remove(input.PreviousOutput);
    }

    private void RememberFee(Hash256 txid, long fee)
    {
        if (_knownFees.TryAdd(txid, fee))
        {
            _knownFeesOrder.Enqueue(txid);
            while (_knownFeesOrder.Count > _knownFeesCapacity)
                _knownFees.Remove(_knownFeesOrder.Dequeue());
        }
    }
}
