using PoolCluster.Bitcoin;
using PoolCluster.Topics;

namespace PoolCluster.BlkMaker.Templates;

/// <summary>
/// A template's transactions in the forms a block needs: parsed (for the reference assembly), their coinbase merkle
/// branch and witness root (to check a solved share's header and coinbase commitment in microseconds), and their
/// serialization as lowercase hex in UTF-8 (the bulk of a submitblock request, so sending a block costs one copy).
/// Computed once, off the submission path (when a job starts using the template), and dropped again when the template
/// is no longer among the hot ones.
/// </summary>
internal sealed class TemplateParts
{
    private TemplateParts(IReadOnlyList<Transaction> transactions, Hash256[] branch, Hash256 witnessRoot, bool hasWitness, byte[] hexUtf8, long size)
    {
        Transactions = transactions;
        CoinbaseBranch = branch;
        WitnessRoot = witnessRoot;
        HasWitnessTransactions = hasWitness;
        TransactionsHexUtf8 = hexUtf8;
        TransactionsSize = size;
    }

    public IReadOnlyList<Transaction> Transactions { get; }

    public Hash256[] CoinbaseBranch { get; }

    /// <summary>BIP141 witness root over the template's wtxids (coinbase as zero).</summary>
    public Hash256 WitnessRoot { get; }

    public bool HasWitnessTransactions { get; }

    /// <summary>The template transactions as serialized in a block (witness form), hex-encoded, as UTF-8 bytes.</summary>
    public byte[] TransactionsHexUtf8 { get; }

    /// <summary>Their serialized size in bytes.</summary>
    public long TransactionsSize { get; }

    public static TemplateParts Build(RawGbt gbt)
    {
        var transactions = new Transaction[gbt.Transactions.Count];
        long size = 0;
        for (var i = 0; i < transactions.Length; i++)
        {
            var data = gbt.Transactions[i].Data.Span;
            try
            {
                transactions[i] = Transaction.Parse(data);
            }
            catch (FormatException e)
            {
                throw new FormatException($"template {Convert.ToHexStringLower(gbt.GbtHash.Span)} transaction {i}: {e.Message}", e);
            }
            size += data.Length;
        }
        var hex = new byte[checked(size * 2)];
        var at = 0;
        foreach (var tx in gbt.Transactions)
            at += HexUtf8.Write(tx.Data.Span, hex.AsSpan(at));
        var branch = Merkle.ComputeCoinbaseBranch(transactions.Select(t => t.TxId).ToArray());
        var witnessRoot = Merkle.ComputeWitnessRoot(transactions.Select(t => t.WTxId).ToArray());
        return new TemplateParts(transactions, branch, witnessRoot, transactions.Any(t => t.HasWitness), hex, size);
    }
}

/// <summary>A template as BlkMaker keeps it: the RawGbt, and its <see cref="TemplateParts"/> while it is hot.</summary>
internal sealed class PreparedTemplate(RawGbt gbt, long arrivedAtMs)
{
    private readonly object gate = new();
    private TemplateParts? parts;

    public RawGbt Gbt { get; } = gbt;

    public string Key { get; } = TemplateStore.KeyOf(gbt.GbtHash.Span);

    /// <summary>Arrival, or the creation time of the latest job built from it (Unix ms, message time).</summary>
    public long LastUsedMs { get; set; } = arrivedAtMs;

    /// <summary>A job was built from it (so SServer may send shares for it).</summary>
    public bool Referenced { get; set; }

    public bool IsHot => Volatile.Read(ref parts) != null;

    /// <summary>The parts, computed now if the template is cold (a few milliseconds for a full block).</summary>
    public TemplateParts Parts()
    {
        var ready = Volatile.Read(ref parts);
        if (ready != null)
            return ready;
        lock (gate)
        {
            parts ??= TemplateParts.Build(Gbt);
            return parts;
        }
    }

    public void Cool()
    {
        lock (gate)
            parts = null;
    }
}

/// <summary>Hex encoding straight into UTF-8 bytes.</summary>
internal static class HexUtf8
{
    private static readonly ushort[] Pairs = BuildPairs();

    /// <summary>Writes 2 x <paramref name="bytes"/>.Length lowercase hex digits; returns how many.</summary>
    public static int Write(ReadOnlySpan<byte> bytes, Span<byte> destination)
    {
        if (destination.Length < bytes.Length * 2)
            throw new ArgumentException($"hex of {bytes.Length} bytes needs {bytes.Length * 2} bytes of room, not {destination.Length}", nameof(destination));
        var pairs = Pairs;
        for (var i = 0; i < bytes.Length; i++)
        {
            var pair = pairs[bytes[i]];
            destination[2 * i] = (byte)pair;
            destination[2 * i + 1] = (byte)(pair >> 8);
        }
        return bytes.Length * 2;
    }

    private static ushort[] BuildPairs()
    {
        const string digits = "0123456789abcdef";
        var pairs = new ushort[256];
        for (var b = 0; b < 256; b++)
            pairs[b] = (ushort)(digits[b >> 4] | (digits[b & 0xF] << 8));
        return pairs;
    }
}
