using System.Text;
using PoolCluster.Bitcoin;
using PoolCluster.BlkMaker.Templates;
using PoolCluster.Topics;

namespace PoolCluster.BlkMaker.Blocks;

/// <summary>
/// A block rebuilt from a SolvedShare: the share's 80-byte header, its coinbase (given the 32-zero witness reserved
/// value when it carries a witness commitment, as Block.Assemble does) and the template's transactions in template
/// order. <see cref="SubmitRequest"/> is the whole submitblock JSON-RPC request, ready to send to every node.
/// <para>
/// The fast path (<see cref="Build"/>) checks what Block.Assemble checks — the header's merkle root against the
/// coinbase and the template's merkle branch, the coinbase's witness commitment against the template's witness root —
/// from parts computed ahead (<see cref="TemplateParts"/>), in microseconds, and copies the pre-encoded transactions
/// once. <see cref="VerifyWithReferenceAssembly"/> then builds the same block with Block.Assemble and compares the bytes
/// (after sending: a difference is reported and the reference block submitted too).
/// </para>
/// </summary>
internal sealed class SolvedBlock
{
    private static readonly byte[] RequestHead = Encoding.ASCII.GetBytes("{\"jsonrpc\":\"1.0\",\"id\":\"blkmaker\",\"method\":\"submitblock\",\"params\":[\"");
    private static readonly byte[] RequestTail = Encoding.ASCII.GetBytes("\"]}");

    private SolvedBlock(SolvedShare share, BlockHeader header, Transaction coinbase, TemplateParts? parts, ReadOnlyMemory<byte>[] request, long size,
        List<string> problems)
    {
        Share = share;
        Header = header;
        Coinbase = coinbase;
        Template = parts;
        SubmitRequest = request;
        Size = size;
        Problems = problems;
        Hash = header.GetHash();
    }

    public SolvedShare Share { get; }

    public BlockHeader Header { get; }

    /// <summary>The hash of the header (internal order); <c>ToDisplayHex()</c> is what nodes and explorers show.</summary>
    public Hash256 Hash { get; }

    /// <summary>The coinbase as it goes into the block (with its witness reserved value where needed).</summary>
    public Transaction Coinbase { get; }

    /// <summary>The template's parts; null for a block of the coinbase alone.</summary>
    public TemplateParts? Template { get; }

    /// <summary>
    /// {"jsonrpc":"1.0","id":"blkmaker","method":"submitblock","params":["&lt;block hex&gt;"]} as UTF-8, in pieces sent one
    /// after the other (the middle one is the template's shared hex).
    /// </summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> SubmitRequest { get; }

    /// <summary>The whole request in one array.</summary>
    public byte[] SubmitRequestBytes()
    {
        var bytes = new byte[SubmitRequest.Sum(p => p.Length)];
        var at = 0;
        foreach (var piece in SubmitRequest)
        {
            piece.Span.CopyTo(bytes.AsSpan(at));
            at += piece.Length;
        }
        return bytes;
    }

    /// <summary>Serialized size in bytes (witness included).</summary>
    public long Size { get; }

    /// <summary>What the checks found wrong (empty for a consistent block). The block is submitted anyway: the node decides.</summary>
    public IReadOnlyList<string> Problems { get; }

    public int TransactionCount => 1 + (Template?.Transactions.Count ?? 0);

    /// <summary>Satoshis the coinbase pays (btcpool's rewards).</summary>
    public long Rewards => Coinbase.TotalOutputValue;

    /// <summary>The block's hex (from the request, without re-encoding).</summary>
    public string Hex()
    {
        var request = SubmitRequestBytes();
        return Encoding.ASCII.GetString(request, RequestHead.Length, request.Length - RequestHead.Length - RequestTail.Length);
    }

    /// <summary>True when the header's merkle root is the coinbase's txid: a block of the coinbase alone, which needs no template.</summary>
    public static bool IsCoinbaseOnly(SolvedShare share)
    {
        try
        {
            return BlockHeader.Parse(share.Header.Span).MerkleRoot == Transaction.Parse(share.Coinbase.Span).TxId;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// Builds the block; <paramref name="template"/> is null only for a coinbase-only block. Throws FormatException when
    /// the share's header or coinbase cannot even be parsed (nothing could be submitted).
    /// </summary>
    public static SolvedBlock Build(SolvedShare share, TemplateParts? template)
    {
        if (share.Header.Length != BlockHeader.Size)
            throw new FormatException($"the solved share's header is {share.Header.Length} bytes, not {BlockHeader.Size}");
        var header = BlockHeader.Parse(share.Header.Span);
        var coinbase = Transaction.Parse(share.Coinbase.Span);
        var problems = new List<string>();
        if (!coinbase.IsCoinbase)
            problems.Add("the coinbase does not spend the null outpoint");

        var hasCommitment = WitnessCommitment.TryFind(coinbase, out var commitment, out _);
        if (hasCommitment && !coinbase.HasWitness)
            coinbase = coinbase.WithFirstInputWitness(WitnessCommitment.DefaultCoinbaseWitness);

        var branch = template?.CoinbaseBranch ?? [];
        var merkleRoot = Merkle.ComputeRootFromCoinbase(coinbase.TxId, branch);
        if (merkleRoot != header.MerkleRoot)
            problems.Add($"header merkle root {header.MerkleRoot} does not match the coinbase and template ({merkleRoot})");
        if (hasCommitment)
        {
            var witness = coinbase.Inputs[0].Witness;
            if (witness.Count != 1 || witness[0].Length != 32)
                problems.Add("the coinbase witness is not a single 32-byte reserved value");
            else
            {
                var expected = WitnessCommitment.Compute(template?.WitnessRoot ?? Merkle.ComputeWitnessRoot([]), witness[0].Span);
                if (expected != commitment)
                    problems.Add($"coinbase witness commitment {commitment.ToInternalHex()} does not match the transactions' {expected.ToInternalHex()}");
            }
        }
        else if (template?.HasWitnessTransactions == true)
            problems.Add("template transactions carry witness data but the coinbase has no witness commitment");

        var count = 1 + (template?.Transactions.Count ?? 0);
        var coinbaseBytes = coinbase.Serialize(includeWitness: true);
        Span<byte> countBytes = stackalloc byte[9];
        var countLength = CompactSize.Write(countBytes, (ulong)count);
        var size = BlockHeader.Size + countLength + coinbaseBytes.Length + (template?.TransactionsSize ?? 0);

        // The request in three pieces, so the template's (large, shared) hex is sent without being copied per block.
        var head = new byte[RequestHead.Length + (BlockHeader.Size + countLength + coinbaseBytes.Length) * 2];
        var at = 0;
        RequestHead.CopyTo(head, at);
        at += RequestHead.Length;
        at += HexUtf8.Write(share.Header.Span, head.AsSpan(at));
        at += HexUtf8.Write(countBytes[..countLength], head.AsSpan(at));
        HexUtf8.Write(coinbaseBytes, head.AsSpan(at));
        ReadOnlyMemory<byte>[] request = template == null
            ? [head, RequestTail]
            : [head, template.TransactionsHexUtf8, RequestTail];
        return new SolvedBlock(share, header, coinbase, template, request, size, problems);
    }

    /// <summary>
    /// Builds the block with the shared reference code (Block.Assemble, Block.Serialize) and compares it with what
    /// <see cref="Build"/> made. Returns null when they are the same; otherwise the reason and, when Block.Assemble
    /// could build one, the reference block's hex.
    /// </summary>
    public (string Difference, string? ReferenceHex)? VerifyWithReferenceAssembly()
    {
        Block reference;
        try
        {
            reference = Block.Assemble(Header, Transaction.Parse(Share.Coinbase.Span), Template?.Transactions ?? []);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
        {
            return Problems.Count > 0 ? null : ($"Block.Assemble refuses the block the fast path found consistent: {e.Message}", null);
        }
        var referenceHex = reference.ToHex();
        if (referenceHex == Hex())
            return null;
        return ($"the fast path's block differs from Block.Assemble's ({Size} vs {referenceHex.Length / 2} bytes)", referenceHex);
    }
}
