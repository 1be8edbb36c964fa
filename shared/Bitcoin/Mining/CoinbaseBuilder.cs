namespace PoolCluster.Bitcoin;

/// <summary>
/// Builds a pool coinbase. Its scriptSig is: BIP34 height (<see cref="Bip34.EncodeHeight"/>), then the extranonce
/// placeholder (<see cref="ExtranonceSize"/> raw bytes: extranonce1 then extranonce2 at mining time), then the pool tag
/// (raw bytes). Outputs: <see cref="Outputs"/> in order, then the witness commitment output when one is given. The
/// result is split around the placeholder into stratum's coinbase1/coinbase2 (legacy serialization, which is what the
/// txid and therefore the merkle root hash).
/// </summary>
public sealed class CoinbaseBuilder
{
    /// <summary>Consensus bounds on a coinbase scriptSig (Core's bad-cb-length).</summary>
    public const int MinScriptSigSize = 2, MaxScriptSigSize = 100;

    /// <summary>Height of the block being mined (encoded per BIP34).</summary>
    public required int Height { get; init; }

    /// <summary>Payout outputs, written in this order before the witness commitment output.</summary>
    public required IReadOnlyList<TxOut> Outputs { get; init; }

    /// <summary>Bytes reserved for extranonce1 + extranonce2 (stratum: the server's extranonce1 size plus the miner's extranonce2 size).</summary>
    public int ExtranonceSize { get; init; } = 8;

    /// <summary>Arbitrary bytes after the extranonce (e.g. "/pool/" in ASCII), written raw, not as a push.</summary>
    public ReadOnlyMemory<byte> PoolTag { get; init; }

    /// <summary>
    /// The witness commitment output script (getblocktemplate's default_witness_commitment, 6a24aa21a9ed + 32 bytes), or
    /// empty for a block without witness transactions.
    /// </summary>
    public ReadOnlyMemory<byte> WitnessCommitmentScript { get; init; }

    public int TransactionVersion { get; init; } = 1;

    public uint Sequence { get; init; } = uint.MaxValue;

    public uint LockTime { get; init; }

    /// <summary>Builds coinbase1/coinbase2; throws naming the problem when the inputs cannot make a valid coinbase.</summary>
    public StratumCoinbase Build()
    {
        if (ExtranonceSize < 1)
            throw new InvalidOperationException($"extranonce size must be at least 1 byte, got {ExtranonceSize}");
        ArgumentNullException.ThrowIfNull(Outputs);
        var hasCommitment = !WitnessCommitmentScript.IsEmpty;
        if (hasCommitment && !WitnessCommitment.TryParseOutputScript(WitnessCommitmentScript.Span, out _))
            throw new InvalidOperationException(
                $"witness commitment script {Hex.Encode(WitnessCommitmentScript.Span)} is not 6a24aa21a9ed followed by 32 bytes");
        if (Outputs.Count == 0 && !hasCommitment)
            throw new InvalidOperationException("a coinbase needs at least one output");

        var heightPush = Bip34.EncodeHeight(Height);
        var scriptSigSize = heightPush.Length + ExtranonceSize + PoolTag.Length;
        if (scriptSigSize is < MinScriptSigSize or > MaxScriptSigSize)
            throw new InvalidOperationException(
                $"coinbase scriptSig would be {scriptSigSize} bytes (height {heightPush.Length} + extranonce {ExtranonceSize} + tag {PoolTag.Length}); consensus allows {MinScriptSigSize}..{MaxScriptSigSize}");

        var part1 = new BitcoinWriter(64);
        part1.WriteInt32(TransactionVersion);
        part1.WriteCompactSize(1);
        part1.WriteHash256(Hash256.Zero);
        part1.WriteUInt32(uint.MaxValue);
        part1.WriteCompactSize((ulong)scriptSigSize);
        part1.WriteBytes(heightPush);

        var part2 = new BitcoinWriter(128);
        part2.WriteBytes(PoolTag.Span);
        part2.WriteUInt32(Sequence);
        part2.WriteCompactSize((ulong)(Outputs.Count + (hasCommitment ? 1 : 0)));
        foreach (var output in Outputs)
        {
            part2.WriteInt64(output.Value);
            part2.WriteVarBytes(output.ScriptPubKey.Span);
        }
        if (hasCommitment)
        {
            part2.WriteInt64(0);
            part2.WriteVarBytes(WitnessCommitmentScript.Span);
        }
        part2.WriteUInt32(LockTime);

        return new StratumCoinbase(part1.ToArray(), part2.ToArray(), ExtranonceSize, hasCommitment);
    }
}

/// <summary>
/// A coinbase split around its extranonce: coinbase1 || extranonce1 || extranonce2 || coinbase2 is the coinbase's
/// legacy serialization (what mining.notify sends and what the txid hashes).
/// </summary>
public sealed class StratumCoinbase
{
    public StratumCoinbase(byte[] coinbase1, byte[] coinbase2, int extranonceSize, bool hasWitnessCommitment)
    {
        Coinbase1 = coinbase1 ?? throw new ArgumentNullException(nameof(coinbase1));
        Coinbase2 = coinbase2 ?? throw new ArgumentNullException(nameof(coinbase2));
        ExtranonceSize = extranonceSize;
        HasWitnessCommitment = hasWitnessCommitment;
    }

    /// <summary>Bytes before the extranonce.</summary>
    public byte[] Coinbase1 { get; }

    /// <summary>Bytes after the extranonce.</summary>
    public byte[] Coinbase2 { get; }

    /// <summary>extranonce1 + extranonce2 bytes.</summary>
    public int ExtranonceSize { get; }

    /// <summary>True when the coinbase has a witness commitment output (its block then carries the coinbase witness).</summary>
    public bool HasWitnessCommitment { get; }

    /// <summary>coinbase1 || extranonce1 || extranonce2 || coinbase2 (legacy serialization).</summary>
    public byte[] Assemble(ReadOnlySpan<byte> extranonce1, ReadOnlySpan<byte> extranonce2)
    {
        if (extranonce1.Length + extranonce2.Length != ExtranonceSize)
            throw new ArgumentException(
                $"extranonce1 ({extranonce1.Length} bytes) + extranonce2 ({extranonce2.Length} bytes) must fill the {ExtranonceSize}-byte placeholder");
        return [.. Coinbase1, .. extranonce1, .. extranonce2, .. Coinbase2];
    }

    /// <summary>
    /// The coinbase transaction as it goes into a block: with the 32-zero witness reserved value as its input witness
    /// when it has a witness commitment.
    /// </summary>
    public Transaction ToTransaction(ReadOnlySpan<byte> extranonce1, ReadOnlySpan<byte> extranonce2)
    {
        var transaction = Transaction.Parse(Assemble(extranonce1, extranonce2));
        return HasWitnessCommitment ? transaction.WithFirstInputWitness(WitnessCommitment.DefaultCoinbaseWitness) : transaction;
    }
}
