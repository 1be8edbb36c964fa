namespace PoolCluster.Bitcoin;

/// <summary>
/// BIP141's coinbase witness commitment: an output whose script is OP_RETURN, push 36, 0xaa21a9ed, then
/// double-SHA-256(witness root || witness reserved value); the coinbase's input witness is the reserved value (by
/// convention 32 zero bytes).
/// </summary>
public static class WitnessCommitment
{
    /// <summary>OP_RETURN, push 36 bytes, the commitment header 0xaa21a9ed.</summary>
    public static ReadOnlySpan<byte> ScriptPrefix => [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];

    /// <summary>Bytes in a commitment output script: the 6-byte prefix and the 32-byte commitment.</summary>
    public const int ScriptSize = 38;

    /// <summary>The conventional witness reserved value: 32 zero bytes.</summary>
    public static ReadOnlyMemory<byte> DefaultReservedValue { get; } = new byte[32];

    /// <summary>The coinbase input witness that carries <see cref="DefaultReservedValue"/>: a stack of one 32-byte item.</summary>
    public static IReadOnlyList<ReadOnlyMemory<byte>> DefaultCoinbaseWitness { get; } = [DefaultReservedValue];

    /// <summary>double-SHA-256(witnessRoot || reservedValue).</summary>
    public static Hash256 Compute(in Hash256 witnessRoot, ReadOnlySpan<byte> reservedValue)
    {
        if (reservedValue.Length != 32)
            throw new ArgumentException($"the witness reserved value is 32 bytes, got {reservedValue.Length}", nameof(reservedValue));
        Span<byte> message = stackalloc byte[64];
        witnessRoot.WriteInternalBytes(message);
        reservedValue.CopyTo(message[32..]);
        return Hashes.DoubleSha256(message);
    }

    /// <summary>The commitment for a template: witness root of the given wtxids (after the coinbase), 32-zero reserved value.</summary>
    public static Hash256 ComputeForTransactions(ReadOnlySpan<Hash256> wtxidsAfterCoinbase) =>
        Compute(Merkle.ComputeWitnessRoot(wtxidsAfterCoinbase), DefaultReservedValue.Span);

    /// <summary>The 38-byte output script 6a24aa21a9ed + commitment (getblocktemplate's default_witness_commitment).</summary>
    public static byte[] BuildOutputScript(in Hash256 commitment)
    {
        var script = new byte[ScriptSize];
        ScriptPrefix.CopyTo(script);
        commitment.WriteInternalBytes(script.AsSpan(6));
        return script;
    }

    /// <summary>
    /// True when <paramref name="script"/> is a commitment output (Core's rule: at least 38 bytes starting with the
    /// prefix; bytes after the 38th are allowed and ignored).
    /// </summary>
    public static bool TryParseOutputScript(ReadOnlySpan<byte> script, out Hash256 commitment)
    {
        if (script.Length >= ScriptSize && script.StartsWith(ScriptPrefix))
        {
            commitment = Hash256.FromInternalBytes(script.Slice(6, 32));
            return true;
        }
        commitment = default;
        return false;
    }

    /// <summary>The commitment in a coinbase: the last output that matches (as Core picks it), or false when none does.</summary>
    public static bool TryFind(Transaction coinbase, out Hash256 commitment, out int outputIndex)
    {
        for (var i = coinbase.Outputs.Count - 1; i >= 0; i--)
        {
            if (TryParseOutputScript(coinbase.Outputs[i].ScriptPubKey.Span, out commitment))
            {
                outputIndex = i;
                return true;
            }
        }
        commitment = default;
        outputIndex = -1;
        return false;
    }
}
