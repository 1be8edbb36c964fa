using PoolCluster.Bitcoin;

namespace PoolCluster.DevNode.Mempool;

/// <summary>
/// Makes well-formed segwit transactions like a wallet's: P2WPKH spends (witness = a DER-shaped signature with
/// SIGHASH_ALL and a compressed public key) paying one or two P2WPKH outputs, version 2, RBF sequence. The spent
/// outpoints are made up (DevNode has no UTXO set) except for children, which spend an output of a mempool
/// transaction so templates carry "depends". Nothing is signed: the signature bytes are random.
/// </summary>
public sealed class SyntheticTransactionFactory(MempoolOptions options, Random random)
{
    private const long Dust = 546;
    private const int RecentCapacity = 256;
    private readonly Queue<Hash256> _recent = new();

    /// <summary>A new transaction with its fee and sigops cost; children spend outputs of recent mempool transactions.</summary>
    public (Transaction Transaction, long Fee, int SigOpsCost) Create(TransactionPool pool)
    {
        var inputs = new List<(OutPoint OutPoint, long Value)>();
        if (random.NextDouble() < options.ChildProbability && TryPickParentOutput(pool, out var parentOutput, out var parentValue))
        {
            inputs.Add((parentOutput, parentValue));
        }
        else
        {
            var count = random.NextDouble() < 0.2 ? 2 : 1;
            for (var i = 0; i < count; i++)
                inputs.Add((new OutPoint(RandomHash(), (uint)random.Next(0, 4)), random.NextInt64(100_000, 500_000_000)));
        }
        var outputCount = random.NextDouble() < 0.25 ? 1 : 2;
        var inputValue = inputs.Sum(input => input.Value);

        // The fee depends on the size, which does not depend on the amounts (8 bytes each): size it with zeros first.
        var sized = Build(inputs, new long[outputCount]);
        var feeRate = random.Next(options.MinFeeRate, Math.Max(options.MinFeeRate, options.MaxFeeRate) + 1);
        var fee = (long)feeRate * ((sized.Weight + 3) / 4);
        var spendable = inputValue - fee;
        if (spendable < Dust * outputCount)
        {
            outputCount = 1;
            fee = Math.Min(fee, inputValue - Dust);
            spendable = inputValue - fee;
        }
        var values = new long[outputCount];
        if (outputCount == 1)
            values[0] = spendable;
        else
        {
            values[0] = Math.Max(Dust, (long)(spendable * (0.05 + random.NextDouble() * 0.9)));
            values[1] = spendable - values[0];
            if (values[1] < Dust)
            {
                values[0] = spendable - Dust;
                values[1] = Dust;
            }
        }
        var transaction = Build(inputs, values);
        _recent.Enqueue(transaction.TxId);
        if (_recent.Count > RecentCapacity)
            _recent.Dequeue();
        // Each P2WPKH input costs one sigop (witness sigops are not scaled); the outputs have none.
        return (transaction, fee, inputs.Count);
    }

    private bool TryPickParentOutput(TransactionPool pool, out OutPoint outPoint, out long value)
    {
        var candidates = _recent.ToArray();
        for (var attempt = 0; attempt < 8 && candidates.Length > 0; attempt++)
        {
            var txid = candidates[random.Next(candidates.Length)];
            if (pool.Get(txid) is not { } parent)
                continue;
            var index = random.Next(parent.Transaction.Outputs.Count);
            var candidate = new OutPoint(txid, (uint)index);
            var outputValue = parent.Transaction.Outputs[index].Value;
            if (!pool.IsSpent(candidate) && outputValue > 20 * Dust)
            {
                outPoint = candidate;
                value = outputValue;
                return true;
            }
        }
        outPoint = default;
        value = 0;
        return false;
    }

    private Transaction Build(List<(OutPoint OutPoint, long Value)> inputs, long[] values)
    {
        var txIns = new TxIn[inputs.Count];
        for (var i = 0; i < txIns.Length; i++)
            txIns[i] = new TxIn(inputs[i].OutPoint, ReadOnlyMemory<byte>.Empty, 0xfffffffd, [FakeSignature(), FakePublicKey()]);
        var txOuts = new TxOut[values.Length];
        for (var i = 0; i < txOuts.Length; i++)
            txOuts[i] = new TxOut(values[i], Script.WitnessProgram(0, RandomBytes(20)));
        return new Transaction(2, txIns, txOuts, 0);
    }

    /// <summary>DER: 30 len 02 rlen r 02 slen s, then SIGHASH_ALL; r gets a 0x00 pad half the time, as real ones do.</summary>
    private byte[] FakeSignature()
    {
        var r = RandomBytes(32);
        var s = RandomBytes(32);
        s[0] &= 0x7f; // low-S
        if (s[0] == 0) s[0] = 1;
        var padR = random.Next(2) == 0;
        if (padR) r[0] |= 0x80;
        else
        {
            r[0] &= 0x7f;
            if (r[0] == 0) r[0] = 1;
        }
        var rLength = padR ? 33 : 32;
        var signature = new List<byte>(73) { 0x30, (byte)(4 + rLength + 32), 0x02, (byte)rLength };
        if (padR) signature.Add(0x00);
        signature.AddRange(r);
        signature.Add(0x02);
        signature.Add(32);
        signature.AddRange(s);
        signature.Add(0x01);
        return [.. signature];
    }

    private byte[] FakePublicKey()
    {
        var key = RandomBytes(33);
        key[0] = (byte)(2 + random.Next(2));
        return key;
    }

    private Hash256 RandomHash() => Hash256.FromInternalBytes(RandomBytes(32));

    private byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
