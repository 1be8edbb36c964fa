using Microsoft.Extensions.Logging;
using PoolCluster.Bitcoin;
using PoolCluster.DevNode.Chain;
using PoolCluster.DevNode.Mempool;
using PoolCluster.DevNode.Notifications;

namespace PoolCluster.DevNode;

/// <summary>
/// The node itself: chain, mempool, notifications and mining behind one lock (bitcoind's cs_main). Thread-safe.
/// RPC methods, the mempool feeder and the foreign miner all go through it.
/// </summary>
public sealed class RegtestNode : IDisposable
{
    private readonly Lock _lock = new();
    private readonly ChainState _chain;
    private readonly TransactionPool _mempool = new();
    private readonly ZmqNotifier _notifier;
    private readonly BlockStore? _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DevNodeOptions _options;
    private readonly SyntheticTransactionFactory _factory;
    private TaskCompletionSource _tipChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private BlockTemplateData? _template;
    private long _templateBuiltAtMs;

    public RegtestNode(DevNodeOptions options, ZmqNotifier notifier, BlockStore? store, TimeProvider time, ILogger logger)
    {
        _options = options;
        _notifier = notifier;
        _store = store;
        _time = time;
        _logger = logger;
        var seed = options.Mempool.Seed != 0 ? options.Mempool.Seed : Random.Shared.Next();
        _factory = new SyntheticTransactionFactory(options.Mempool, new Random(seed));
        _chain = string.IsNullOrWhiteSpace(options.SeedTip.Hash)
            ? new ChainState(options.ParsedBlockBits)
            : new ChainState(ParseSeedHash(options.SeedTip.Hash), options.SeedTip.Height, checked((uint)options.SeedTip.Time), options.ParsedBlockBits);
        StartedAt = Now;
        if (store is not null)
            Replay(store);
    }

    /// <summary>The bits every new block must carry (DevNodeOptions.BlockBits).</summary>
    public uint BlockBits => _chain.BlockBits;

    /// <summary>Unix time this node started (uptime).</summary>
    public long StartedAt { get; }

    public long Now => _time.GetUtcNow().ToUnixTimeSeconds();

    public DevNodeOptions Options => _options;

    /// <summary>Runs <paramref name="reader"/> under the node lock: for RPC methods that read chain and mempool.</summary>
    public T Read<T>(Func<ChainState, TransactionPool, T> reader)
    {
        lock (_lock)
            return reader(_chain, _mempool);
    }

    public ChainBlock Tip
    {
        get
        {
            lock (_lock)
                return _chain.Tip;
        }
    }

    /// <summary>The last template built (getmininginfo's currentblockweight/currentblocktx), if any.</summary>
    public BlockTemplateData? LastTemplate
    {
        get
        {
            lock (_lock)
                return _template;
        }
    }

    /// <summary>submitblock: null when the block was connected, otherwise bitcoind's BIP22 result string.</summary>
    public string? SubmitBlock(Block block, byte[] raw)
    {
        lock (_lock)
        {
            var outcome = _chain.Submit(block, raw, Now, FeeOf);
            Apply(outcome, source: "submitblock");
            return outcome.Result;
        }
    }

    /// <summary>
    /// getblocktemplate mode "proposal" (BIP23, bitcoind's TestBlockValidity without proof of work): null when the
    /// block would be valid on the current tip.
    /// </summary>
    public string? ProposeBlock(Block block)
    {
        lock (_lock)
        {
            if (_chain.Lookup(block.GetHash()) is { } known)
                return known.Invalid ? "duplicate-invalid" : "duplicate";
            if (block.Header.PreviousBlockHash != _chain.Tip.Hash)
                return "inconclusive-not-best-prevblk";
            var rejection = BlockValidator.CheckBlock(block, checkProofOfWork: false)
                ?? BlockValidator.ContextualCheckHeader(block.Header, _chain.Tip, Now, _chain.BlockBits)
                ?? BlockValidator.ContextualCheckBlock(block, _chain.Tip);
            if (rejection is null)
            {
                long fees = 0;
                foreach (var tx in block.Transactions.Skip(1))
                    fees += FeeOf(tx) ?? 0;
                rejection = BlockValidator.CheckCoinbaseAmount(block, _chain.Tip.Height + 1, fees);
            }
            return rejection?.Reason;
        }
    }

    /// <summary>
    /// generatetoaddress: mines <paramref name="count"/> blocks on the tip with the mempool's transactions, paying
    /// <paramref name="payoutScript"/>. Stops early when <paramref name="maxTries"/> nonces are used up, like bitcoind.
    /// </summary>
    public List<Hash256> Generate(int count, ReadOnlyMemory<byte> payoutScript, long maxTries, string source = "generatetoaddress",
        CancellationToken cancellationToken = default)
    {
        var hashes = new List<Hash256>(count);
        while (hashes.Count < count && !cancellationToken.IsCancellationRequested)
        {
            lock (_lock)
            {
                var template = BlockAssembler.CreateTemplate(_chain.Tip, _mempool, Now, _chain.BlockBits);
                var block = BlockAssembler.CreateBlock(template, payoutScript, template.CurTime(Now));
                if (!BlockAssembler.TryGrind(ref block, ref maxTries))
                    break;
                var raw = block.Serialize();
                var outcome = _chain.Submit(block, raw, Now, FeeOf);
                if (outcome.Result is not null)
                    throw new InvalidOperationException($"ProcessNewBlock, block not accepted: {outcome.Result} {outcome.Detail}");
                Apply(outcome, source);
                hashes.Add(block.GetHash());
            }
        }
        return hashes;
    }

    /// <summary>
    /// The current template: rebuilt when the tip changed, or when the mempool changed and the last one is older
    /// than TemplateRefreshSeconds (bitcoind's 5 s); its curtime is taken now.
    /// </summary>
    public (BlockTemplateData Template, long CurTime) GetTemplate()
    {
        lock (_lock)
        {
            var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
            if (_template is null || _template.Parent != _chain.Tip
                || (_mempool.TransactionsUpdated != _template.TransactionsUpdated
                    && nowMs - _templateBuiltAtMs > _options.TemplateRefreshSeconds * 1000))
            {
                _template = BlockAssembler.CreateTemplate(_chain.Tip, _mempool, Now, _chain.BlockBits);
                _templateBuiltAtMs = nowMs;
            }
            return (_template, _template.CurTime(Now));
        }
    }

    /// <summary>The mempool counter of the last template (what a non-string longpollid watches, as in bitcoind).</summary>
    public uint LastTemplateTransactionsUpdated
    {
        get
        {
            lock (_lock)
                return _template?.TransactionsUpdated ?? 0;
        }
    }

    /// <summary>
    /// BIP22 long poll as bitcoind does it: returns at once if the tip is no longer <paramref name="watchedTip"/>;
    /// otherwise when the tip changes, or — after LongPollMempoolSeconds (bitcoind: 60), then every 10 s — once the
    /// mempool counter differs from <paramref name="watchedTransactionsUpdated"/>.
    /// </summary>
    public async Task WaitForLongPollAsync(Hash256 watchedTip, uint watchedTransactionsUpdated, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromSeconds(_options.LongPollMempoolSeconds);
        var recheck = TimeSpan.FromSeconds(Math.Min(10, _options.LongPollMempoolSeconds));
        while (true)
        {
            Task tipChanged;
            lock (_lock)
            {
                if (_chain.Tip.Hash != watchedTip)
                    return;
                tipChanged = _tipChanged.Task;
            }
            using var timerCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var timer = Task.Delay(delay, _time, timerCancellation.Token);
            var first = await Task.WhenAny(tipChanged, timer).ConfigureAwait(false);
            await timerCancellation.CancelAsync().ConfigureAwait(false); // no timer left behind when the tip won
            cancellationToken.ThrowIfCancellationRequested();
            if (first == tipChanged)
            {
                if (tipChanged.IsCanceled)
                    throw new OperationCanceledException("the node is shutting down");
                continue;
            }
            lock (_lock)
            {
                if (_mempool.TransactionsUpdated != watchedTransactionsUpdated)
                    return;
            }
            delay = recheck;
        }
    }

    /// <summary>Completes when the tip next changes.</summary>
    public Task TipChanged
    {
        get
        {
            lock (_lock)
                return _tipChanged.Task;
        }
    }

    /// <summary>
    /// Puts a transaction into the mempool with a declared fee (DevNode cannot compute fees without a UTXO set).
    /// False when it is already there or spends an outpoint a mempool transaction spends.
    /// </summary>
    public bool AddTransaction(Transaction transaction, long fee, int? sigOpsCost = null)
    {
        if (transaction.IsCoinbase)
            throw new ArgumentException("a coinbase cannot enter the mempool", nameof(transaction));
        if (BlockValidator.CheckTransaction(transaction) is { } reason)
            throw new ArgumentException($"transaction {transaction.TxId} is invalid: {reason}", nameof(transaction));
        lock (_lock)
            return AddLocked(transaction, fee, sigOpsCost ?? EstimateSigOpsCost(transaction));
    }

    /// <summary>Adds <paramref name="count"/> synthetic transactions (the mempool feeder); returns how many entered.</summary>
    public int AddSyntheticTransactions(int count)
    {
        var added = 0;
        lock (_lock)
        {
            for (var i = 0; i < count && _mempool.Count < _options.Mempool.MaxTransactions; i++)
            {
                var (transaction, fee, sigOps) = _factory.Create(_mempool);
                if (AddLocked(transaction, fee, sigOps))
                    added++;
            }
        }
        return added;
    }

    private bool AddLocked(Transaction transaction, long fee, int sigOpsCost)
    {
        if (!_mempool.TryAdd(transaction, fee, sigOpsCost, Now, _chain.Height, out _))
            return false;
        _notifier.Transaction(transaction.TxId.ToInternalBytes());
        return true;
    }

    /// <summary>Sigops cost without knowing the spent outputs: legacy sigops x4, plus one per P2WPKH-shaped witness.</summary>
    public static int EstimateSigOpsCost(Transaction transaction)
    {
        var cost = BlockValidator.LegacySigOpCount(transaction) * Regtest.WitnessScaleFactor;
        foreach (var input in transaction.Inputs)
            if (input.Witness.Count == 2 && input.Witness[1].Length == 33)
                cost += 1;
        return cost;
    }

    private long? FeeOf(Transaction transaction) => _mempool.KnownFee(transaction.TxId);

    /// <summary>After a submit: persistence, mempool update, notifications, long-poll wake-up.</summary>
    private void Apply(SubmitOutcome outcome, string source)
    {
        if (outcome.Block is { Invalid: false, Raw: { } raw } stored)
            _store?.Append(raw, stored.FeeTotal);
        if (!outcome.TipChanged)
        {
            if (outcome.Result is not null)
                _logger.LogInformation("{Source}: block not connected: {Result} {Detail}", source, outcome.Result, outcome.Detail);
            return;
        }

        // Transactions of blocks taken off the chain go back to the mempool (bitcoind's MaybeUpdateMempoolForReorg).
        foreach (var gone in outcome.Disconnected)
            foreach (var tx in gone.Block!.Transactions.Skip(1))
                _mempool.TryAdd(tx, _mempool.KnownFee(tx.TxId) ?? 0, EstimateSigOpsCost(tx), Now, _chain.Height, out _);
        foreach (var block in outcome.Connected)
        {
            _mempool.RemoveForBlock(block.Block!);
            // bitcoind's BlockConnected notifies hashtx for every transaction of the block, the coinbase included.
            if (_notifier.HasTransactionSubscribers)
                foreach (var tx in block.Block!.Transactions)
                    _notifier.Transaction(tx.TxId.ToInternalBytes());
        }
        var tip = _chain.Tip;
        _notifier.BlockConnected(tip.Hash.ToInternalBytes(), tip.Raw!);
        if (outcome.Disconnected.Count > 0)
            _logger.LogWarning("{Source}: reorganization: {Disconnected} block(s) disconnected, {Connected} connected, new tip {Height} {Hash}",
                source, outcome.Disconnected.Count, outcome.Connected.Count, tip.Height, tip.Hash);
        else
            _logger.LogInformation("{Source}: new tip {Height} {Hash} ({Transactions} tx)", source, tip.Height, tip.Hash, tip.TransactionCount);

        var signal = _tipChanged;
        _tipChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        signal.TrySetResult();
    }

    private void Replay(BlockStore store)
    {
        var records = store.ReadAll();
        var connected = 0;
        foreach (var (raw, fees) in records)
        {
            Block block;
            try
            {
                block = Block.Parse(raw);
            }
            catch (FormatException e)
            {
                _logger.LogWarning("{Path}: skipping a stored block that does not parse: {Error}", store.Path, e.Message);
                continue;
            }
            var outcome = _chain.Submit(block, raw, Now, FeeOf, declaredFees: fees);
            if (outcome.Result is null)
                connected++;
            else if (outcome.Result != "inconclusive")
                _logger.LogWarning("{Path}: stored block {Hash} not accepted on replay: {Result} {Detail}", store.Path, block.GetHash(), outcome.Result, outcome.Detail);
        }
        if (records.Count > 0)
            _logger.LogInformation("{Path}: replayed {Count} stored block(s); tip {Height} {Hash}", store.Path, records.Count, _chain.Height, _chain.Tip.Hash);
    }

    private static Hash256 ParseSeedHash(string hash) =>
        Hash256.TryFromDisplayHex(hash, out var parsed, out var error)
            ? parsed
            : throw new InvalidOperationException($"SeedTip:Hash is not a 64-hex-digit block hash: {error}");

    public void Dispose()
    {
        lock (_lock)
            _tipChanged.TrySetCanceled();
    }
}
