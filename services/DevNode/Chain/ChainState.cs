using PoolCluster.Bitcoin;

namespace PoolCluster.DevNode.Chain;

/// <summary>What submitting a block did.</summary>
/// <param name="Result">
/// submitblock's answer: null when the block was connected (it or a branch ending in it became the active chain),
/// "duplicate", "duplicate-invalid", "inconclusive" (stored on a side branch with no more work than the tip, as bitcoind
/// answers then), or a reject reason such as "high-hash".
/// </param>
/// <param name="Block">The stored block, when it was stored.</param>
/// <param name="Disconnected">Blocks taken off the active chain (a reorganization), tip first.</param>
/// <param name="Connected">Blocks added to the active chain, lowest first.</param>
public sealed record SubmitOutcome(
    string? Result,
    string? Detail,
    ChainBlock? Block,
    IReadOnlyList<ChainBlock> Disconnected,
    IReadOnlyList<ChainBlock> Connected)
{
    public static SubmitOutcome Rejected(string result, string? detail = null) => new(result, detail, null, [], []);

    public bool TipChanged => Connected.Count > 0;
}

/// <summary>
/// The block tree and the active chain, with bitcoind's block acceptance: checks in ProcessNewBlock's order, side
/// branches stored, the branch with the most work active (first seen wins a tie), reorganizations. Not thread-safe:
/// the node's lock guards it.
/// </summary>
public sealed class ChainState
{
    private readonly Dictionary<Hash256, ChainBlock> _index = [];
    private readonly List<ChainBlock> _active = [];
    private readonly int _baseHeight;
    private long _nextSequence;

    /// <summary>The bits every block after genesis must carry (DevNodeOptions.BlockBits).</summary>
    public uint BlockBits { get; }

    /// <summary>A chain starting at the real regtest genesis block.</summary>
    public ChainState(uint blockBits = Regtest.PowLimitBits)
    {
        BlockBits = blockBits;
        var genesis = Regtest.Genesis;
        var entry = new ChainBlock(genesis.GetHash(), genesis.Header, null, 0, genesis, genesis.Serialize(), _nextSequence++)
        {
            Fees = [null],
        };
        _index.Add(entry.Hash, entry);
        _active.Add(entry);
        _baseHeight = 0;
        BestHeaderHeight = 0;
    }

    /// <summary>A chain starting on a block this node does not have: only its hash, height and time are known.</summary>
    public ChainState(Hash256 seedHash, int seedHeight, uint seedTime, uint blockBits = Regtest.PowLimitBits)
    {
        BlockBits = blockBits;
        var header = new BlockHeader(Regtest.BlockVersion, Hash256.Zero, Hash256.Zero, seedTime, Regtest.PowLimitBits, 0);
        var entry = new ChainBlock(seedHash, header, null, seedHeight, null, null, _nextSequence++);
        _index.Add(seedHash, entry);
        _active.Add(entry);
        _baseHeight = seedHeight;
        BestHeaderHeight = seedHeight;
    }

    public ChainBlock Tip => _active[^1];

    /// <summary>The first block of the active chain (genesis, or the seeded start block).</summary>
    public ChainBlock Base => _active[0];

    public int Height => Tip.Height;

    /// <summary>Height of the highest block known on any branch (getblockchaininfo "headers").</summary>
    public int BestHeaderHeight { get; private set; }

    public int BlockCount => _index.Count;

    public ChainBlock? Lookup(in Hash256 hash) => _index.GetValueOrDefault(hash);

    /// <summary>The active chain's block at <paramref name="height"/>, or null outside it.</summary>
    public ChainBlock? AtHeight(int height)
    {
        var offset = height - _baseHeight;
        return offset >= 0 && offset < _active.Count ? _active[offset] : null;
    }

    public bool IsActive(ChainBlock block) => ReferenceEquals(AtHeight(block.Height), block);

    /// <summary>The active chain's next block after <paramref name="block"/> (null at the tip or off the active chain).</summary>
    public ChainBlock? NextOnActiveChain(ChainBlock block) => IsActive(block) ? AtHeight(block.Height + 1) : null;

    /// <summary>Every known block with no known child (getchaintips).</summary>
    public IEnumerable<ChainBlock> Leaves()
    {
        var parents = new HashSet<Hash256>();
        foreach (var block in _index.Values)
            if (block.Previous is not null)
                parents.Add(block.Previous.Hash);
        return _index.Values.Where(block => !parents.Contains(block.Hash));
    }

    /// <summary>
    /// Validates and stores a block, then activates the branch with the most work (bitcoind's ProcessNewBlock and
    /// ActivateBestChain). <paramref name="feeOf"/> gives the fee of a non-coinbase transaction, null when unknown
    /// (counted as zero). On replay from disk the clock check is skipped and <paramref name="declaredFees"/> is used.
    /// </summary>
    public SubmitOutcome Submit(Block block, byte[] raw, long nowUnixSeconds, Func<Transaction, long?> feeOf, long? declaredFees = null)
    {
        var hash = block.GetHash();
        var parent = Lookup(block.Header.PreviousBlockHash);

        // UpdateUncommittedBlockStructures: a coinbase with a commitment but no witness gets the 32-zero reserved value.
        if (parent is not null && !block.Coinbase.HasWitness && WitnessCommitment.TryFind(block.Coinbase, out _, out _))
        {
            block = new Block(block.Header, [block.Coinbase.WithFirstInputWitness(WitnessCommitment.DefaultCoinbaseWitness), .. block.Transactions.Skip(1)]);
            raw = block.Serialize();
        }

        if (BlockValidator.CheckBlock(block) is { } malformed)
            return SubmitOutcome.Rejected(malformed.Reason, malformed.Detail);

        if (_index.TryGetValue(hash, out var known))
            return SubmitOutcome.Rejected(known.Invalid ? "duplicate-invalid" : "duplicate");

        if (parent is null)
            return SubmitOutcome.Rejected("prev-blk-not-found", $"previous block {block.Header.PreviousBlockHash} is unknown");
        if (parent.Invalid)
            return SubmitOutcome.Rejected("bad-prevblk", "previous block is invalid");

        if (BlockValidator.ContextualCheckHeader(block.Header, parent, nowUnixSeconds, BlockBits, checkFutureTime: declaredFees is null) is { } badHeader)
            return SubmitOutcome.Rejected(badHeader.Reason, badHeader.Detail);

        var entry = new ChainBlock(hash, block.Header, parent, parent.Height + 1, block, raw, _nextSequence++);
        if (BlockValidator.ContextualCheckBlock(block, parent) is { } badBlock)
        {
            if (!badBlock.Mutated)
            {
                // Remembered as invalid, so the same block again is "duplicate-invalid" (bitcoind BLOCK_FAILED_VALID).
                entry.Invalid = true;
                _index.Add(hash, entry);
            }
            return SubmitOutcome.Rejected(badBlock.Reason, badBlock.Detail);
        }

        var fees = new long?[block.Transactions.Count];
        for (var i = 1; i < fees.Length; i++)
            fees[i] = feeOf(block.Transactions[i]);
        entry.Fees = fees;
        entry.FeeTotal = declaredFees ?? fees.Sum(fee => fee ?? 0);
        _index.Add(hash, entry);
        BestHeaderHeight = Math.Max(BestHeaderHeight, entry.Height);

        if (entry.ChainWork <= Tip.ChainWork)
            return new SubmitOutcome("inconclusive", "stored on a side branch with no more work than the active chain", entry, [], []);

        // The new branch has more work: connect it from the fork point, checking each block's coinbase (ConnectBlock).
        var branch = new List<ChainBlock>();
        for (var b = entry; !IsActive(b); b = b.Previous!)
            branch.Add(b);
        branch.Reverse();
        foreach (var candidate in branch)
        {
            if (BlockValidator.CheckCoinbaseAmount(candidate.Block!, candidate.Height, candidate.FeeTotal) is { } overpaid)
            {
                // The failed block and everything built on it are invalid (InvalidBlockFound).
                for (var i = branch.IndexOf(candidate); i < branch.Count; i++)
                    branch[i].Invalid = true;
                return candidate == entry
                    ? new SubmitOutcome(overpaid.Reason, overpaid.Detail, null, [], [])
                    : new SubmitOutcome("inconclusive", $"an earlier block of its branch failed: {overpaid}", null, [], []);
            }
        }

        var forkHeight = branch[0].Height - 1;
        var disconnected = new List<ChainBlock>();
        while (Tip.Height > forkHeight)
        {
            disconnected.Add(Tip);
            _active.RemoveAt(_active.Count - 1);
        }
        _active.AddRange(branch);
        return new SubmitOutcome(null, null, entry, disconnected, branch);
    }
}
