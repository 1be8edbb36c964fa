using PoolCluster.Bitcoin;
using PoolCluster.DevNode.Mempool;

namespace PoolCluster.DevNode.Chain;

/// <summary>A block template: the parent, the chosen mempool transactions and what the coinbase may claim.</summary>
public sealed class BlockTemplateData
{
    internal BlockTemplateData(ChainBlock parent, IReadOnlyList<MempoolEntry> transactions, IReadOnlyList<int[]> depends,
        long fees, uint transactionsUpdated, long builtAtUnixSeconds, uint bits)
    {
        Bits = bits;
        Parent = parent;
        Transactions = transactions;
        Depends = depends;
        Fees = fees;
        TransactionsUpdated = transactionsUpdated;
        BuiltAt = builtAtUnixSeconds;
        CoinbaseValue = Subsidy.GetBlockSubsidy(Height, Regtest.Network) + fees;
        var wtxids = new Hash256[transactions.Count];
        for (var i = 0; i < wtxids.Length; i++)
            wtxids[i] = transactions[i].Transaction.WTxId;
        WitnessCommitmentScript = WitnessCommitment.BuildOutputScript(WitnessCommitment.ComputeForTransactions(wtxids));
        SigOpsCost = transactions.Sum(tx => tx.SigOpsCost);
        Weight = transactions.Sum(tx => tx.Weight);
    }

    public ChainBlock Parent { get; }

    public int Height => Parent.Height + 1;

    public uint Version => Regtest.BlockVersion;

    public uint Bits { get; }

    /// <summary>Mempool transactions in block order (parents before children).</summary>
    public IReadOnlyList<MempoolEntry> Transactions { get; }

    /// <summary>For each transaction, the 1-based template indexes of the transactions it spends from.</summary>
    public IReadOnlyList<int[]> Depends { get; }

    public long Fees { get; }

    /// <summary>Subsidy + fees (getblocktemplate "coinbasevalue").</summary>
    public long CoinbaseValue { get; }

    /// <summary>The witness commitment output script for these transactions (getblocktemplate "default_witness_commitment").</summary>
    public byte[] WitnessCommitmentScript { get; }

    /// <summary>The mempool's update counter when this template was built (the longpollid's suffix).</summary>
    public uint TransactionsUpdated { get; }

    public long BuiltAt { get; }

    public int SigOpsCost { get; }

    public int Weight { get; }

    /// <summary>GetMinimumTime: median time past + 1, and at a retarget height no earlier than parent time - MAX_TIMEWARP.</summary>
    public long MinTime
    {
        get
        {
            var minTime = Parent.MedianTimePast + 1;
            if (Height % Regtest.DifficultyAdjustmentInterval == 0)
                minTime = Math.Max(minTime, Parent.Time - Regtest.MaxTimewarp);
            return minTime;
        }
    }

    /// <summary>UpdateTime: the clock, but never below <see cref="MinTime"/>.</summary>
    public long CurTime(long nowUnixSeconds) => Math.Max(MinTime, nowUnixSeconds);
}

/// <summary>
/// Picks mempool transactions for a block (bitcoind's BlockAssembler, simplified: arrival order instead of ancestor
/// fee rate, a transaction only after all its mempool parents, within weight and sigops limits less what the coinbase
/// needs) and assembles and mines blocks the way generatetoaddress does.
/// </summary>
public static class BlockAssembler
{
    public static BlockTemplateData CreateTemplate(ChainBlock parent, TransactionPool mempool, long nowUnixSeconds, uint bits)
    {
        var chosen = new List<MempoolEntry>();
        var depends = new List<int[]>();
        var position = new Dictionary<Hash256, int>();
        long weight = Regtest.CoinbaseReservedWeight, sigOps = Regtest.CoinbaseReservedSigOpsCost, fees = 0;
        foreach (var entry in mempool.Entries)
        {
            if (weight + entry.Weight > Regtest.MaxBlockWeight || sigOps + entry.SigOpsCost > Regtest.MaxBlockSigOpsCost)
                continue;
            var parents = new List<int>();
            var ready = true;
            foreach (var input in entry.Transaction.Inputs)
            {
                var spent = input.PreviousOutput.TxId;
                if (position.TryGetValue(spent, out var index))
                {
                    if (!parents.Contains(index + 1))
                        parents.Add(index + 1);
                }
                else if (mempool.Contains(spent))
                {
                    ready = false; // its parent is not in this block (yet)
                    break;
                }
            }
            if (!ready)
                continue;
            position[entry.TxId] = chosen.Count;
            chosen.Add(entry);
            depends.Add([.. parents]);
            weight += entry.Weight;
            sigOps += entry.SigOpsCost;
            fees += entry.Fee;
        }
        return new BlockTemplateData(parent, chosen, depends, fees, mempool.TransactionsUpdated, nowUnixSeconds, bits);
    }

    /// <summary>
    /// The block generatetoaddress mines from a template: coinbase (version 2) with scriptSig = BIP34 height, OP_0, paying
    /// subsidy + fees to <paramref name="payoutScript"/>, then the witness commitment output and the 32-zero coinbase
    /// witness; version 0x20000000, nonce 0 (see <see cref="TryGrind"/>).
    /// </summary>
    public static Block CreateBlock(BlockTemplateData template, ReadOnlyMemory<byte> payoutScript, long time, ReadOnlySpan<byte> extraScriptSig = default)
    {
        byte[] scriptSig = [.. Bip34.EncodeHeight(template.Height), Script.OP_0, .. extraScriptSig];
        var coinbase = new Transaction(
            2,
            [new TxIn(OutPoint.Null, scriptSig, uint.MaxValue, WitnessCommitment.DefaultCoinbaseWitness)],
            [new TxOut(template.CoinbaseValue, payoutScript), new TxOut(0, template.WitnessCommitmentScript)],
            0);
        var transactions = new List<Transaction>(template.Transactions.Count + 1) { coinbase };
        foreach (var entry in template.Transactions)
            transactions.Add(entry.Transaction);
        var txids = transactions.Select(tx => tx.TxId).ToArray();
        var header = new BlockHeader(template.Version, template.Parent.Hash, Merkle.ComputeRoot(txids), (uint)time, template.Bits, 0);
        return new Block(header, transactions);
    }

    /// <summary>
    /// Tries nonces from the header's until its hash meets its bits (GenerateBlock): at regtest's 0x207fffff half of
    /// all hashes do. False when <paramref name="maxTries"/> ran out.
    /// </summary>
    public static bool TryGrind(ref Block block, ref long maxTries)
    {
        var header = block.Header;
        var target = Target.FromCompact(header.Bits);
        Span<byte> bytes = stackalloc byte[BlockHeader.Size];
        header.WriteTo(bytes);
        var nonce = header.Nonce;
        while (maxTries > 0)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes[76..], nonce);
            if (Hashes.DoubleSha256(bytes).MeetsTarget(target))
            {
                block = new Block(header with { Nonce = nonce }, block.Transactions);
                return true;
            }
            maxTries--;
            if (nonce == uint.MaxValue)
                return false;
            nonce++;
        }
        return false;
    }
}
