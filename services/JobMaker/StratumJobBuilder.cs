using System.Text;
using Google.Protobuf;
using PoolCluster.Bitcoin;
using PoolCluster.Topics;

namespace PoolCluster.JobMaker;

/// <summary>
/// Turns a template into a stratum job: the coinbase (BIP34 height, extranonce placeholder, pool tag, payout, witness
/// commitment) split around the extranonce, and the merkle branch from the coinbase to the root.
/// </summary>
public sealed class StratumJobBuilder
{
    /// <summary>bitcoind reserves this much block weight for the coinbase (-blockmaxweight default 3,996,000 of 4,000,000).</summary>
    public const int CoinbaseWeightReserve = 4_000;

    private readonly JobMakerOptions _options;
    private readonly ReadOnlyMemory<byte> _payoutScript;
    private readonly byte[] _tag;

    public StratumJobBuilder(JobMakerOptions options)
    {
        _options = options;
        var network = Network.FromName(options.Network);
        if (!BitcoinAddress.TryParse(options.PayoutAddress, network, out var address, out var error))
            throw new ArgumentException($"JobMaker:PayoutAddress '{options.PayoutAddress}' is not a {network.Name} address: {error}");
        _payoutScript = address!.ScriptPubKey;
        _tag = Encoding.ASCII.GetBytes(options.CoinbaseTag);
    }

    public ReadOnlyMemory<byte> PayoutScript => _payoutScript;

    public StratumJob Build(RawGbt gbt, ulong jobId, bool clean, long nowMs)
    {
        var txids = new Hash256[gbt.Transactions.Count];
        var witnessTxs = false;
        for (var i = 0; i < txids.Length; i++)
        {
            var tx = gbt.Transactions[i];
            txids[i] = Hash256.FromInternalBytes(tx.Txid.Span);
            witnessTxs |= !tx.Wtxid.Span.SequenceEqual(tx.Txid.Span);
        }

        var commitment = gbt.DefaultWitnessCommitment.Memory;
        if (commitment.IsEmpty && witnessTxs)
        {
            // A node that did not send default_witness_commitment: compute it, or the block would be invalid.
            var wtxids = gbt.Transactions.Select(t => Hash256.FromInternalBytes(t.Wtxid.Span)).ToArray();
            commitment = WitnessCommitment.BuildOutputScript(WitnessCommitment.ComputeForTransactions(wtxids));
        }

        var coinbase = new CoinbaseBuilder
        {
            Height = checked((int)gbt.Height),
            Outputs = [new TxOut(gbt.CoinbaseValue, _payoutScript)],
            ExtranonceSize = _options.Extranonce1Size + _options.Extranonce2Size,
            PoolTag = _tag,
            WitnessCommitmentScript = commitment,
        }.Build();

        // Legacy bytes count 4 weight units each; the coinbase witness (1 item of 32 bytes + marker/flag) adds ~36.
        var coinbaseWeight = (coinbase.Coinbase1.Length + coinbase.ExtranonceSize + coinbase.Coinbase2.Length) * 4 + (commitment.IsEmpty ? 0 : 36);
        if (coinbaseWeight > CoinbaseWeightReserve)
            throw new InvalidOperationException(
                $"coinbase weight {coinbaseWeight} exceeds the {CoinbaseWeightReserve} the node reserves for it: shorten JobMaker:CoinbaseTag");

        var job = new StratumJob
        {
            JobId = jobId,
            GbtHash = gbt.GbtHash,
            Height = gbt.Height,
            PreviousBlockHash = gbt.PreviousBlockHash,
            Coinbase1 = ByteString.CopyFrom(coinbase.Coinbase1),
            Coinbase2 = ByteString.CopyFrom(coinbase.Coinbase2),
            Version = gbt.Version,
            Bits = gbt.Bits,
            // The template's time moved on by how long ago it was fetched, never below the node's mintime.
            CurTime = (uint)Math.Max(gbt.MinTime, gbt.CurTime + Math.Max(0, (nowMs - gbt.FetchedAtUnixMs) / 1000)),
            MinTime = gbt.MinTime,
            CoinbaseValue = gbt.CoinbaseValue,
            WitnessCommitment = ByteString.CopyFrom(commitment.Span),
            Clean = clean,
            // Only a header-only template makes an empty-block job; a template that happens to have no transactions is
            // the node's full answer.
            EmptyBlock = gbt.HeaderOnly,
            CreatedAtUnixMs = nowMs,
            Extranonce1Size = (uint)_options.Extranonce1Size,
            Extranonce2Size = (uint)_options.Extranonce2Size,
            TransactionCount = (uint)gbt.Transactions.Count,
            NodeName = gbt.NodeName,
        };
        foreach (var step in Merkle.ComputeCoinbaseBranch(txids))
            job.MerkleBranch.Add(ByteString.CopyFrom(step.ToInternalBytes()));
        return job;
    }
}
