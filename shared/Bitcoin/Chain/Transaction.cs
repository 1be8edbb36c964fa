namespace PoolCluster.Bitcoin;

/// <summary>A reference to an output of an earlier transaction.</summary>
public readonly record struct OutPoint(Hash256 TxId, uint Index)
{
    /// <summary>The coinbase's "no previous output": zero txid, index 0xffffffff.</summary>
    public static OutPoint Null => new(Hash256.Zero, uint.MaxValue);

    public bool IsNull => TxId.IsZero && Index == uint.MaxValue;
}

/// <summary>A transaction input. Immutable; byte arrays handed in are not copied, so do not change them afterwards.</summary>
public sealed class TxIn
{
    public TxIn(OutPoint previousOutput, ReadOnlyMemory<byte> scriptSig, uint sequence, IReadOnlyList<ReadOnlyMemory<byte>>? witness = null)
    {
        PreviousOutput = previousOutput;
        ScriptSig = scriptSig;
        Sequence = sequence;
        Witness = witness is null || witness.Count == 0 ? [] : witness.ToArray();
    }

    public OutPoint PreviousOutput { get; }

    public ReadOnlyMemory<byte> ScriptSig { get; }

    public uint Sequence { get; }

    /// <summary>The witness stack (empty for non-witness inputs).</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Witness { get; }
}

/// <summary>A transaction output: an amount in satoshis locked by a script.</summary>
public sealed class TxOut
{
    public TxOut(long value, ReadOnlyMemory<byte> scriptPubKey)
    {
        if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "an output value cannot be negative");
        Value = value;
        ScriptPubKey = scriptPubKey;
    }

    /// <summary>Satoshis.</summary>
    public long Value { get; }

    public ReadOnlyMemory<byte> ScriptPubKey { get; }
}

/// <summary>
/// A Bitcoin transaction, read and written in both serializations: legacy (what the txid hashes, and what stratum's
/// coinbase1/coinbase2 are) and BIP144 witness (marker 0x00, flag 0x01, witness stacks before the lock time; what the
/// wtxid hashes and what blocks carry). Immutable; txid and wtxid are computed once at construction.
/// </summary>
public sealed class Transaction
{
    private readonly TxIn[] _inputs;
    private readonly TxOut[] _outputs;

    public Transaction(int version, IReadOnlyList<TxIn> inputs, IReadOnlyList<TxOut> outputs, uint lockTime)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        if (inputs.Count == 0) throw new ArgumentException("a transaction needs at least one input", nameof(inputs));
        Version = version;
        _inputs = inputs.ToArray();
        _outputs = outputs.ToArray();
        LockTime = lockTime;
        HasWitness = _inputs.Any(input => input.Witness.Count > 0);
        TxId = Hashes.DoubleSha256(Serialize(includeWitness: false));
        WTxId = HasWitness ? Hashes.DoubleSha256(Serialize(includeWitness: true)) : TxId;
    }

    public int Version { get; }

    public IReadOnlyList<TxIn> Inputs => _inputs;

    public IReadOnlyList<TxOut> Outputs => _outputs;

    public uint LockTime { get; }

    /// <summary>True when any input has a non-empty witness stack: the transaction then serializes in BIP144 form.</summary>
    public bool HasWitness { get; }

    /// <summary>Double SHA-256 of the legacy serialization.</summary>
    public Hash256 TxId { get; }

    /// <summary>Double SHA-256 of the witness serialization (equals <see cref="TxId"/> without witness).</summary>
    public Hash256 WTxId { get; }

    /// <summary>One input spending the null outpoint.</summary>
    public bool IsCoinbase => _inputs.Length == 1 && _inputs[0].PreviousOutput.IsNull;

    /// <summary>Sum of output values in satoshis.</summary>
    public long TotalOutputValue => _outputs.Sum(output => output.Value);

    /// <summary>BIP141 weight: legacy size * 3 + full size.</summary>
    public int Weight => GetSerializedSize(false) * 3 + GetSerializedSize(true);

    // ---------------------------------------------------------------- reading

    /// <summary>Parses exactly one transaction occupying all of <paramref name="data"/> (either serialization).</summary>
    public static Transaction Parse(ReadOnlySpan<byte> data)
    {
        var reader = new BitcoinReader(data);
        var transaction = Read(ref reader);
        reader.EnsureEnd("transaction");
        return transaction;
    }

    /// <summary>Parses a transaction from hex (as getblocktemplate's "data" or getrawtransaction).</summary>
    public static Transaction ParseHex(string hex) => Parse(Hex.Decode(hex, "transaction"));

    /// <summary>Reads one transaction (either serialization, detected by the BIP144 marker) from the reader.</summary>
    public static Transaction Read(ref BitcoinReader reader)
    {
        var start = reader.Position;
        var version = reader.ReadInt32("transaction version");
        var inputCount = reader.ReadCount("input count", 41);
        var witness = false;
        if (inputCount == 0)
        {
            // BIP144: a zero input count is the marker; the flag byte follows.
            var flag = reader.ReadByte("witness flag");
            if (flag != 1)
                throw new FormatException($"transaction at offset {start}: {(flag == 0 ? "no inputs" : $"unknown optional data flag 0x{flag:x2}")}");
            witness = true;
            inputCount = reader.ReadCount("input count", 41);
            if (inputCount == 0)
                throw new FormatException($"transaction at offset {start}: witness serialization with no inputs");
        }

        var prevOuts = new OutPoint[inputCount];
        var scriptSigs = new byte[inputCount][];
        var sequences = new uint[inputCount];
        for (var i = 0; i < inputCount; i++)
        {
            var txid = reader.ReadHash256("input previous txid");
            var index = reader.ReadUInt32("input previous index");
            prevOuts[i] = new OutPoint(txid, index);
            scriptSigs[i] = reader.ReadVarBytes("input scriptSig").ToArray();
            sequences[i] = reader.ReadUInt32("input sequence");
        }

        var outputCount = reader.ReadCount("output count", 9);
        var outputs = new TxOut[outputCount];
        for (var i = 0; i < outputCount; i++)
        {
            var value = reader.ReadInt64("output value");
            if (value < 0)
                throw new FormatException($"transaction at offset {start}: output {i} has a negative value {value}");
            outputs[i] = new TxOut(value, reader.ReadVarBytes("output scriptPubKey").ToArray());
        }

        var witnesses = new ReadOnlyMemory<byte>[inputCount][];
        if (witness)
        {
            var any = false;
            for (var i = 0; i < inputCount; i++)
            {
                var items = reader.ReadCount("witness item count", 1);
                witnesses[i] = new ReadOnlyMemory<byte>[items];
                for (var j = 0; j < items; j++)
                    witnesses[i][j] = reader.ReadVarBytes("witness item").ToArray();
                any |= items > 0;
            }
            if (!any)
                throw new FormatException($"transaction at offset {start}: superfluous witness record (witness flag set, all stacks empty)");
        }

        var lockTime = reader.ReadUInt32("lock time");
        var inputs = new TxIn[inputCount];
        for (var i = 0; i < inputCount; i++)
            inputs[i] = new TxIn(prevOuts[i], scriptSigs[i], sequences[i], witness ? witnesses[i] : null);
        return new Transaction(version, inputs, outputs, lockTime);
    }

    // ---------------------------------------------------------------- writing

    /// <summary>
    /// Serializes; with <paramref name="includeWitness"/> the BIP144 form is written only when the transaction
    /// <see cref="HasWitness"/> (a witness-less transaction has one serialization).
    /// </summary>
    public void WriteTo(BitcoinWriter writer, bool includeWitness = true)
    {
        var withWitness = includeWitness && HasWitness;
        writer.WriteInt32(Version);
        if (withWitness)
        {
            writer.WriteByte(0x00);
            writer.WriteByte(0x01);
        }
        writer.WriteCompactSize((ulong)_inputs.Length);
        foreach (var input in _inputs)
        {
            writer.WriteHash256(input.PreviousOutput.TxId);
            writer.WriteUInt32(input.PreviousOutput.Index);
            writer.WriteVarBytes(input.ScriptSig.Span);
            writer.WriteUInt32(input.Sequence);
        }
        writer.WriteCompactSize((ulong)_outputs.Length);
        foreach (var output in _outputs)
        {
            writer.WriteInt64(output.Value);
            writer.WriteVarBytes(output.ScriptPubKey.Span);
        }
        if (withWitness)
        {
            foreach (var input in _inputs)
            {
                writer.WriteCompactSize((ulong)input.Witness.Count);
                foreach (var item in input.Witness)
                    writer.WriteVarBytes(item.Span);
            }
        }
        writer.WriteUInt32(LockTime);
    }

    /// <summary>The serialized bytes (witness form when <paramref name="includeWitness"/> and the transaction has witness).</summary>
    public byte[] Serialize(bool includeWitness = true)
    {
        var writer = new BitcoinWriter(GetSerializedSize(includeWitness));
        WriteTo(writer, includeWitness);
        return writer.ToArray();
    }

    /// <summary>Hex of <see cref="Serialize"/>.</summary>
    public string ToHex(bool includeWitness = true) => Hex.Encode(Serialize(includeWitness));

    /// <summary>Serialized size in bytes.</summary>
    public int GetSerializedSize(bool includeWitness = true)
    {
        var withWitness = includeWitness && HasWitness;
        var size = 4 + CompactSize.GetSize((ulong)_inputs.Length) + CompactSize.GetSize((ulong)_outputs.Length) + 4;
        foreach (var input in _inputs)
            size += 36 + CompactSize.GetSize((ulong)input.ScriptSig.Length) + input.ScriptSig.Length + 4;
        foreach (var output in _outputs)
            size += 8 + CompactSize.GetSize((ulong)output.ScriptPubKey.Length) + output.ScriptPubKey.Length;
        if (withWitness)
        {
            size += 2;
            foreach (var input in _inputs)
            {
                size += CompactSize.GetSize((ulong)input.Witness.Count);
                foreach (var item in input.Witness)
                    size += CompactSize.GetSize((ulong)item.Length) + item.Length;
            }
        }
        return size;
    }

    /// <summary>
    /// A copy whose first input's witness is <paramref name="witness"/>: how a block maker gives a stratum coinbase
    /// (legacy serialization) its BIP141 witness reserved value before serializing the block.
    /// </summary>
    public Transaction WithFirstInputWitness(IReadOnlyList<ReadOnlyMemory<byte>> witness)
    {
        var inputs = _inputs.ToArray();
        var first = inputs[0];
        inputs[0] = new TxIn(first.PreviousOutput, first.ScriptSig, first.Sequence, witness);
        return new Transaction(Version, inputs, _outputs, LockTime);
    }
}
