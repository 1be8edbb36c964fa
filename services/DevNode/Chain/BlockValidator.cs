using System.Globalization;
using PoolCluster.Bitcoin;

namespace PoolCluster.DevNode.Chain;

/// <summary>Why a block was refused: bitcoind's reject reason (what submitblock returns) and its debug message.</summary>
/// <param name="Mutated">
/// bitcoind's BLOCK_MUTATED: the data may have been corrupted in transit (merkle, witness), so the block hash is not
/// marked invalid and the same hash may still arrive intact.
/// </param>
public sealed record BlockRejection(string Reason, string Detail, bool Mutated = false)
{
    public override string ToString() => $"{Reason} ({Detail})";
}

/// <summary>
/// The block checks bitcoind runs before it connects a block, in bitcoind's order and with its reject reasons
/// (src/validation.cpp: CheckBlockHeader, CheckBlock, CheckTransaction, ContextualCheckBlockHeader,
/// ContextualCheckBlock, CheckWitnessMalleation). Not checked, because DevNode keeps no UTXO set and runs no scripts:
/// that inputs exist and are unspent, scripts and signatures, BIP68 sequence locks, and fees of transactions it never
/// saw in its mempool (taken as zero).
/// </summary>
public static class BlockValidator
{
    /// <summary>CheckBlock: context-free checks (proof of work, merkle root, sizes, coinbase, transactions, sigops).</summary>
    public static BlockRejection? CheckBlock(Block block, bool checkProofOfWork = true)
    {
        if (checkProofOfWork && !HasProofOfWork(block.Header))
            return new("high-hash", "proof of work failed");

        var txids = new Hash256[block.Transactions.Count];
        for (var i = 0; i < txids.Length; i++)
            txids[i] = block.Transactions[i].TxId;
        var (root, mutated) = MerkleRootWithMutation(txids);
        if (root != block.Header.MerkleRoot)
            return new("bad-txnmrklroot", "hashMerkleRoot mismatch", Mutated: true);
        // CVE-2012-2459: a repeated pair of transactions leaves the root unchanged but makes the block invalid.
        if (mutated)
            return new("bad-txns-duplicate", "duplicate transaction", Mutated: true);

        var strippedSize = BlockHeader.Size + CompactSize.GetSize((ulong)block.Transactions.Count)
            + block.Transactions.Sum(tx => tx.GetSerializedSize(includeWitness: false));
        if (block.Transactions.Count * Regtest.WitnessScaleFactor > Regtest.MaxBlockWeight
            || (long)strippedSize * Regtest.WitnessScaleFactor > Regtest.MaxBlockWeight)
            return new("bad-blk-length", "size limits failed");

        if (!block.Transactions[0].IsCoinbase)
            return new("bad-cb-missing", "first tx is not coinbase");
        for (var i = 1; i < block.Transactions.Count; i++)
            if (block.Transactions[i].IsCoinbase)
                return new("bad-cb-multiple", "more than one coinbase");

        foreach (var tx in block.Transactions)
            if (CheckTransaction(tx) is { } reason)
                return new(reason, $"Transaction check failed (tx hash {tx.TxId})");

        var sigOps = 0L;
        foreach (var tx in block.Transactions)
            sigOps += LegacySigOpCount(tx);
        if (sigOps * Regtest.WitnessScaleFactor > Regtest.MaxBlockSigOpsCost)
            return new("bad-blk-sigops", "out-of-bounds SigOpCount");
        return null;
    }

    /// <summary>CheckProofOfWork: bits encode a positive target no easier than powLimit, and the hash meets it.</summary>
    public static bool HasProofOfWork(BlockHeader header) =>
        Target.TryFromCompact(header.Bits, out var target, out _) && !target.IsZero && target <= Regtest.Network.PowLimit
        && header.GetHash().MeetsTarget(target);

    /// <summary>CheckTransaction's context-free rules; null when the transaction passes.</summary>
    public static string? CheckTransaction(Transaction tx)
    {
        if (tx.Inputs.Count == 0)
            return "bad-txns-vin-empty";
        if (tx.Outputs.Count == 0)
            return "bad-txns-vout-empty";
        if ((long)tx.GetSerializedSize(includeWitness: false) * Regtest.WitnessScaleFactor > Regtest.MaxBlockWeight)
            return "bad-txns-oversize";
        long total = 0;
        foreach (var output in tx.Outputs)
        {
            if (output.Value < 0)
                return "bad-txns-vout-negative";
            if (output.Value > Regtest.MaxMoney)
                return "bad-txns-vout-toolarge";
            total += output.Value;
            if (total > Regtest.MaxMoney)
                return "bad-txns-txouttotal-toolarge";
        }
        var spent = new HashSet<OutPoint>();
        foreach (var input in tx.Inputs)
            if (!spent.Add(input.PreviousOutput))
                return "bad-txns-inputs-duplicate";
        if (tx.IsCoinbase)
        {
            var length = tx.Inputs[0].ScriptSig.Length;
            if (length is < CoinbaseBuilder.MinScriptSigSize or > CoinbaseBuilder.MaxScriptSigSize)
                return "bad-cb-length";
        }
        else
        {
            foreach (var input in tx.Inputs)
                if (input.PreviousOutput.IsNull)
                    return "bad-txns-prevout-null";
        }
        return null;
    }

    /// <summary>ContextualCheckBlockHeader: bits, timestamp against the parent's median time past and the clock, version.</summary>
    public static BlockRejection? ContextualCheckHeader(BlockHeader header, ChainBlock parent, long nowUnixSeconds, uint expectedBits, bool checkFutureTime = true)
    {
        var height = parent.Height + 1;
        if (header.Bits != expectedBits)
            return new("bad-diffbits", "incorrect proof of work");
        if (header.Time <= parent.MedianTimePast)
            return new("time-too-old", "block's timestamp is too early");
        if (checkFutureTime && header.Time > nowUnixSeconds + Regtest.MaxFutureBlockTime)
            return new("time-too-new", "block timestamp too far in the future");
        var version = unchecked((int)header.Version);
        if ((version < 2 && height >= Regtest.Bip34Height) || (version < 3 && height >= Regtest.Bip66Height)
            || (version < 4 && height >= Regtest.Bip65Height))
        {
            var hex = header.Version.ToString("x8", CultureInfo.InvariantCulture);
            return new($"bad-version(0x{hex})", $"rejected nVersion=0x{hex} block");
        }
        return null;
    }

    /// <summary>ContextualCheckBlock: finality (BIP113), BIP34 height, witness commitment (BIP141), weight.</summary>
    public static BlockRejection? ContextualCheckBlock(Block block, ChainBlock parent)
    {
        var height = parent.Height + 1;
        var lockTimeCutoff = parent.MedianTimePast;
        foreach (var tx in block.Transactions)
            if (!IsFinal(tx, height, lockTimeCutoff))
                return new("bad-txns-nonfinal", "non-final transaction");

        if (height >= Regtest.Bip34Height)
        {
            var expected = Bip34.EncodeHeight(height);
            if (!block.Coinbase.Inputs[0].ScriptSig.Span.StartsWith(expected))
                return new("bad-cb-height", "block height mismatch in coinbase");
        }

        if (CheckWitnessMalleation(block) is { } witness)
            return witness;

        if (block.Weight > Regtest.MaxBlockWeight)
            return new("bad-blk-weight", "weight limit failed");
        return null;
    }

    /// <summary>CheckWitnessMalleation (segwit is active from genesis on regtest).</summary>
    public static BlockRejection? CheckWitnessMalleation(Block block)
    {
        if (WitnessCommitment.TryFind(block.Coinbase, out var commitment, out _))
        {
            var witness = block.Coinbase.Inputs[0].Witness;
            if (witness.Count != 1 || witness[0].Length != 32)
                return new("bad-witness-nonce-size", "CheckWitnessMalleation : invalid witness reserved value size", Mutated: true);
            var expected = WitnessCommitment.Compute(block.ComputeWitnessRoot(), witness[0].Span);
            if (expected != commitment)
                return new("bad-witness-merkle-match", "CheckWitnessMalleation : witness merkle commitment mismatch", Mutated: true);
            return null;
        }
        foreach (var tx in block.Transactions)
            if (tx.HasWitness)
                return new("unexpected-witness", "CheckWitnessMalleation : unexpected witness data found", Mutated: true);
        return null;
    }

    /// <summary>ConnectBlock's coinbase rule: it may claim at most the subsidy plus the fees.</summary>
    public static BlockRejection? CheckCoinbaseAmount(Block block, int height, long fees)
    {
        var limit = Subsidy.GetBlockSubsidy(height, Regtest.Network) + fees;
        var actual = block.Coinbase.TotalOutputValue;
        return actual > limit
            ? new("bad-cb-amount", $"coinbase pays too much (actual={actual} vs limit={limit})")
            : null;
    }

    /// <summary>IsFinalTx: lock time 0, or below the height/time cutoff, or every input final (sequence 0xffffffff).</summary>
    public static bool IsFinal(Transaction tx, int height, long lockTimeCutoff)
    {
        if (tx.LockTime == 0)
            return true;
        const uint LockTimeThreshold = 500_000_000;
        if (tx.LockTime < (tx.LockTime < LockTimeThreshold ? height : lockTimeCutoff))
            return true;
        foreach (var input in tx.Inputs)
            if (input.Sequence != uint.MaxValue)
                return false;
        return true;
    }

    /// <summary>The merkle root, and whether some level had two equal adjacent nodes (bitcoind's "mutated").</summary>
    public static (Hash256 Root, bool Mutated) MerkleRootWithMutation(Hash256[] leaves)
    {
        var level = (Hash256[])leaves.Clone();
        var count = level.Length;
        var mutated = false;
        while (count > 1)
        {
            for (var i = 0; i + 1 < count; i += 2)
                mutated |= level[i] == level[i + 1];
            var next = 0;
            for (var i = 0; i < count; i += 2)
                level[next++] = Hashes.MerkleNode(level[i], i + 1 < count ? level[i + 1] : level[i]);
            count = next;
        }
        return (level[0], mutated);
    }

    /// <summary>GetLegacySigOpCount: CHECKSIG(VERIFY) count 1, CHECKMULTISIG(VERIFY) 20, in every scriptSig and scriptPubKey.</summary>
    public static int LegacySigOpCount(Transaction tx)
    {
        var count = 0;
        foreach (var input in tx.Inputs)
            count += ScriptSigOps(input.ScriptSig.Span);
        foreach (var output in tx.Outputs)
            count += ScriptSigOps(output.ScriptPubKey.Span);
        return count;
    }

    private static int ScriptSigOps(ReadOnlySpan<byte> script)
    {
        var count = 0;
        var i = 0;
        while (i < script.Length)
        {
            var op = script[i++];
            if (op <= 0x4e)
            {
                int length;
                if (op < 0x4c)
                    length = op;
                else if (op == 0x4c)
                {
                    if (i + 1 > script.Length) break;
                    length = script[i];
                    i += 1;
                }
                else if (op == 0x4d)
                {
                    if (i + 2 > script.Length) break;
                    length = script[i] | (script[i + 1] << 8);
                    i += 2;
                }
                else
                {
                    if (i + 4 > script.Length) break;
                    length = (int)Math.Min(int.MaxValue, (uint)(script[i] | (script[i + 1] << 8) | (script[i + 2] << 16) | (script[i + 3] << 24)));
                    i += 4;
                }
                // A push running past the end ends the script, as GetOp fails there.
                if (length > script.Length - i) break;
                i += length;
            }
            else if (op is 0xac or 0xad)
                count += 1;
            else if (op is 0xae or 0xaf)
                count += 20;
        }
        return count;
    }
}
