namespace PoolCluster.Bitcoin;

/// <summary>A block: header, then a CompactSize count and the transactions (each in witness form when it has witness).</summary>
public sealed class Block
{
    private readonly Transaction[] _transactions;

    public Block(BlockHeader header, IReadOnlyList<Transaction> transactions)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        if (transactions.Count == 0) throw new ArgumentException("a block has at least the coinbase", nameof(transactions));
        Header = header;
        _transactions = transactions.ToArray();
    }

    public BlockHeader Header { get; }

    public IReadOnlyList<Transaction> Transactions => _transactions;

    public Transaction Coinbase => _transactions[0];

    /// <summary>The block hash (internal order).</summary>
    public Hash256 GetHash() => Header.GetHash();

    /// <summary>True when any transaction carries witness data (the block then needs the coinbase commitment).</summary>
    public bool HasWitness => _transactions.Any(transaction => transaction.HasWitness);

    /// <summary>BIP141 weight of the whole block.</summary>
    public int Weight =>
        (BlockHeader.Size + CompactSize.GetSize((ulong)_transactions.Length)) * 4 + _transactions.Sum(transaction => transaction.Weight);

    // ---------------------------------------------------------------- reading / writing

    /// <summary>Parses a whole serialized block; trailing bytes are an error.</summary>
    public static Block Parse(ReadOnlySpan<byte> data)
    {
        var header = BlockHeader.Parse(data);
        var reader = new BitcoinReader(data[BlockHeader.Size..]);
        var count = reader.ReadCount("transaction count", 60);
        if (count == 0) throw new FormatException("block has no transactions (not even a coinbase)");
        var transactions = new Transaction[count];
        for (var i = 0; i < count; i++)
        {
            try
            {
                transactions[i] = Transaction.Read(ref reader);
            }
            catch (FormatException e)
            {
                throw new FormatException($"block transaction {i}: {e.Message}", e);
            }
        }
        reader.EnsureEnd("block");
        return new Block(header, transactions);
    }

    /// <summary>Parses a block from hex (as submitblock takes it).</summary>
    public static Block ParseHex(string hex) => Parse(Hex.Decode(hex, "block"));

    /// <summary>The serialized block (what submitblock takes, hex-encoded).</summary>
    public byte[] Serialize()
    {
        var writer = new BitcoinWriter(_transactions.Sum(transaction => transaction.GetSerializedSize()) + 100);
        Span<byte> header = stackalloc byte[BlockHeader.Size];
        Header.WriteTo(header);
        writer.WriteBytes(header);
        writer.WriteCompactSize((ulong)_transactions.Length);
        foreach (var transaction in _transactions)
            transaction.WriteTo(writer, includeWitness: true);
        return writer.ToArray();
    }

    public string ToHex() => Hex.Encode(Serialize());

    // ---------------------------------------------------------------- merkle / witness

    /// <summary>The merkle root over the transactions' txids.</summary>
    public Hash256 ComputeMerkleRoot() => Merkle.ComputeRoot(_transactions.Select(transaction => transaction.TxId).ToArray());

    /// <summary>The BIP141 witness root (coinbase wtxid taken as zero).</summary>
    public Hash256 ComputeWitnessRoot() =>
        Merkle.ComputeWitnessRoot(_transactions.Skip(1).Select(transaction => transaction.WTxId).ToArray());

    /// <summary>The commitment the coinbase carries, if it has a commitment output.</summary>
    public bool TryGetWitnessCommitment(out Hash256 commitment) => WitnessCommitment.TryFind(Coinbase, out commitment, out _);

    /// <summary>
    /// The commitment the transactions require: witness root combined with the coinbase's witness reserved value
    /// (its single 32-byte witness item); false when the coinbase carries no such reserved value.
    /// </summary>
    public bool TryComputeWitnessCommitment(out Hash256 commitment)
    {
        var witness = Coinbase.Inputs[0].Witness;
        if (witness.Count != 1 || witness[0].Length != 32)
        {
            commitment = default;
            return false;
        }
        commitment = WitnessCommitment.Compute(ComputeWitnessRoot(), witness[0].Span);
        return true;
    }

    // ---------------------------------------------------------------- assembly

    /// <summary>
    /// Builds the block a found share solves: <paramref name="coinbase"/> (e.g. rebuilt from stratum's legacy
    /// coinbase1 + extranonces + coinbase2) followed by the template's transactions in template order. When the coinbase
    /// has a witness commitment output and no witness, it gets the 32-zero witness reserved value. Checks, with errors
    /// that say what differs, that the header's merkle root matches the transactions and that the commitment matches
    /// their witness root, so a block with a byte-order or assembly bug is never submitted.
    /// </summary>
    public static Block Assemble(BlockHeader header, Transaction coinbase, IReadOnlyList<Transaction> templateTransactions)
    {
        ArgumentNullException.ThrowIfNull(coinbase);
        ArgumentNullException.ThrowIfNull(templateTransactions);
        if (!coinbase.IsCoinbase)
            throw new ArgumentException("the first transaction must be a coinbase (one input spending the null outpoint)", nameof(coinbase));
        for (var i = 0; i < templateTransactions.Count; i++)
            if (templateTransactions[i].IsCoinbase)
                throw new ArgumentException($"template transaction {i} is a coinbase", nameof(templateTransactions));

        var hasCommitment = WitnessCommitment.TryFind(coinbase, out var commitment, out _);
        if (!hasCommitment)
        {
            var witnessIndex = templateTransactions.ToList().FindIndex(transaction => transaction.HasWitness);
            if (witnessIndex >= 0)
                throw new InvalidOperationException(
                    $"template transaction {witnessIndex} has witness data but the coinbase has no witness commitment output: the block would be rejected (unexpected-witness)");
        }
        else if (!coinbase.HasWitness)
        {
            coinbase = coinbase.WithFirstInputWitness(WitnessCommitment.DefaultCoinbaseWitness);
        }

        var block = new Block(header, [coinbase, .. templateTransactions]);
        var merkleRoot = block.ComputeMerkleRoot();
        if (merkleRoot != header.MerkleRoot)
            throw new InvalidOperationException(
                $"header merkle root {header.MerkleRoot} (display order) does not match the transactions' {merkleRoot}");
        if (hasCommitment)
        {
            if (!block.TryComputeWitnessCommitment(out var expected))
                throw new InvalidOperationException("the coinbase witness must be a single 32-byte witness reserved value");
            if (expected != commitment)
                throw new InvalidOperationException(
                    $"coinbase witness commitment {commitment.ToInternalHex()} does not match the transactions' {expected.ToInternalHex()} (internal order)");
        }
        return block;
    }
}
