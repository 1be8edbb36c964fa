using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;
using PoolCluster.Bitcoin;
using PoolCluster.BlkMaker.Blocks;
using PoolCluster.BlkMaker.Recording;
using PoolCluster.BlkMaker.Submission;
using PoolCluster.BlkMaker.Templates;
using PoolCluster.Kafka;
using PoolCluster.Node;
using PoolCluster.Storage;
using PoolCluster.Topics;
using StackExchange.Redis;

namespace PoolCluster.BlkMaker;

/// <summary>
/// Turns solved shares into blocks on every node. Threads: two readers keep the templates (RawGbt) and jobs
/// (StratumJob) of the last minutes, read back from <see cref="BlkMakerOptions.HistoryMinutes"/> ago at start; the
/// caller of <see cref="Run"/> consumes SolvedShare from the group's committed offset. A solved share whose template is
/// known is built and sent to every node right there, on the consumer thread, without a thread hop; confirming
/// (getblockheader), retrying and recording (MySQL found_blocks, Redis newblock) continue on the thread pool, several
/// blocks at once. Offsets are committed in order, each only after its block was submitted and recorded: a crash at any
/// moment means the unfinished solved shares are processed again (submitting again is answered "duplicate", recording
/// is idempotent), never skipped.
/// </summary>
public sealed class BlkMakerEngine : IDisposable
{
    private readonly BlkMakerOptions options;
    private readonly KafkaOptions kafka;
    private readonly ILoggerFactory loggerFactory;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly TemplateStore store;
    private readonly NodeSubmitter[] nodes;
    private readonly FoundBlockRecorder recorder;
    private readonly TaskCompletionSource templatesRead = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource jobsRead = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Queue<BlockWork> pending = new();
    private readonly CancellationTokenSource workStop = new();

    public BlkMakerEngine(BlkMakerOptions options, KafkaOptions kafka, string mysqlConnectionString, IConnectionMultiplexer? redis,
        RedisOptions? redisOptions, ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        if (options.Nodes.Count == 0)
            throw new ArgumentException("BlkMaker:Nodes is empty: blocks need a node to go to", nameof(options));
        this.options = options;
        this.kafka = kafka;
        this.loggerFactory = loggerFactory;
        this.time = time ?? TimeProvider.System;
        logger = loggerFactory.CreateLogger("PoolCluster.BlkMaker");
        store = new TemplateStore(options);
        nodes = options.Nodes.Select(n => new NodeSubmitter(n, TimeSpan.FromMilliseconds(options.SubmitTimeoutMs))).ToArray();
        recorder = new FoundBlockRecorder(mysqlConnectionString, redis, redisOptions, options.CoinName, options.NewBlockListKey);
    }

    public BlkMakerStatus Status { get; } = new();

    /// <summary>Raised (on a pool thread) when a block's request has been written to every node, or failed to be.</summary>
    public event Action<BlockSentTiming>? BlockSent;

    internal TemplateStore Templates => store;

    /// <summary>Runs until <paramref name="stoppingToken"/> is cancelled; blocks the calling thread.</summary>
    public void Run(CancellationToken stoppingToken)
    {
        var readers = new[]
        {
            StartReader<RawGbt>(TopicManifest.RawGbt, "templates", (gbt, ms) => store.AddTemplate(gbt, ms), templatesRead, stoppingToken),
            StartReader<StratumJob>(TopicManifest.StratumJob, "jobs", (job, ms) => store.AddJob(job, ms), jobsRead, stoppingToken),
        };
        _ = Task.WhenAll(templatesRead.Task, jobsRead.Task).ContinueWith(_ =>
        {
            Status.HistoryCaughtUp();
            logger.LogInformation("history read back: {Templates} templates, {Jobs} jobs of the last {Minutes} minutes",
                store.TemplateCount, store.JobCount, options.HistoryMinutes);
        }, TaskScheduler.Default);
        var keepAlive = Task.Run(() => KeepNodesWarmAsync(stoppingToken), CancellationToken.None);

        // The solved-share consumer polls the broker often: on the embedded broker an idle fetch returns only after it.
        var solvedKafka = kafka.Clone();
        solvedKafka.FetchWaitMaxMs = options.SolvedShareFetchWaitMs;
        using var consumer = new PoolConsumer<Ignore, SolvedShare>(solvedKafka, TopicManifest.SolvedShare, new ConsumerSettings
        {
            GroupId = options.ConsumerGroup,
            StartFrom = StartFrom.Committed,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }, loggerFactory.CreateLogger("PoolCluster.BlkMaker.SolvedShareConsumer"));
        logger.LogInformation("BlkMaker: group {Group}, nodes {Nodes}", options.ConsumerGroup, string.Join(", ", nodes.Select(n => n.Name)));
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                CommitFinished(consumer);
                ConsumeResult<Ignore, SolvedShare>? result;
                try
                {
                    result = consumer.Consume(TimeSpan.FromMilliseconds(20));
                }
                catch (ConsumeException e)
                {
                    logger.LogCritical("a solved share at {Position} cannot be decoded ({Reason}): it cannot be submitted; it stays in Kafka for inspection",
                        e.ConsumerRecord?.TopicPartitionOffset, e.Error.Reason);
                    continue;
                }
                if (result?.Message?.Value is { } share)
                    Process(result, share);
            }
        }
        finally
        {
            // Let blocks in flight finish (they are quick unless a node or MySQL is down), then commit what finished.
            var drain = Stopwatch.StartNew();
            while (pending.Any(w => !w.Task.IsCompleted) && drain.Elapsed < TimeSpan.FromSeconds(10))
            {
                Thread.Sleep(10);
                CommitFinished(consumer);
            }
            workStop.Cancel();
            CommitFinished(consumer);
            if (pending.Count > 0)
                logger.LogWarning("stopping with {Count} solved shares not finished: they are processed again at the next start", pending.Count);
            try
            {
                Task.WaitAll(readers.Append(keepAlive).ToArray(), TimeSpan.FromSeconds(10));
            }
            catch (AggregateException e) when (e.InnerExceptions.All(inner => inner is OperationCanceledException))
            {
            }
        }
    }

    public void Dispose()
    {
        workStop.Cancel();
        foreach (var node in nodes)
            node.Dispose();
        workStop.Dispose();
    }

    // ------------------------------------------------------------------ solved shares

    private void Process(ConsumeResult<Ignore, SolvedShare> result, SolvedShare share)
    {
        var work = new BlockWork(result, share, result.Message.Timestamp.UnixTimestampMs, Stopwatch.GetTimestamp());
        Status.Consumed();
        pending.Enqueue(work);
        var gbtHash = !share.GbtHash.IsEmpty ? share.GbtHash.ToByteArray() : store.FindJob(share.JobId)?.GbtHash.ToByteArray();
        var template = gbtHash != null ? store.FindTemplate(gbtHash) : null;
        if (template == null && !SolvedBlock.IsCoinbaseOnly(share))
        {
            work.Task = Task.Run(() => BuildLaterAsync(work, gbtHash));
            return;
        }
        SolvedBlock block;
        try
        {
            block = SolvedBlock.Build(share, template?.Parts());
        }
        catch (FormatException e)
        {
            work.Task = Task.Run(() => RecordUnbuildableAsync(work, e.Message));
            return;
        }
        var sends = Send(block, work);
        work.Task = Task.Run(() => SettleAsync(work, block, sends));
    }

    private async Task BuildLaterAsync(BlockWork work, byte[]? gbtHash)
    {
        var share = work.Share;
        var shareHash = DisplayHash(share);
        logger.LogWarning("the template of solved share {Hash} (height {Height}, job {Job}) is not known yet: waiting for it", shareHash, share.Height, share.JobId);
        // The history must be read first: the template is most likely in it.
        await Task.WhenAny(Task.WhenAll(templatesRead.Task, jobsRead.Task), Task.Delay(TimeSpan.FromMinutes(2), workStop.Token)).ConfigureAwait(false);
        var wait = TimeSpan.FromSeconds(options.TemplateWaitSeconds);
        if (gbtHash == null)
        {
            var deadline = Stopwatch.StartNew();
            while (gbtHash == null && deadline.Elapsed < wait)
            {
                var changed = store.Changed;
                gbtHash = store.FindJob(share.JobId)?.GbtHash.ToByteArray();
                if (gbtHash == null)
                    await Task.WhenAny(changed, Task.Delay(wait - deadline.Elapsed, workStop.Token)).ConfigureAwait(false);
            }
            if (gbtHash == null)
            {
                await RecordUnbuildableAsync(work, $"the solved share names no template and its job {share.JobId} never arrived (waited {wait.TotalSeconds:0} s)")
                    .ConfigureAwait(false);
                return;
            }
        }
        var template = await store.WaitForTemplateAsync(gbtHash, wait, workStop.Token).ConfigureAwait(false)
            ?? await Task.Factory.StartNew(() => SearchHistory(gbtHash, share.TimestampUnixMs), workStop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default)
                .ConfigureAwait(false);
        if (template == null)
        {
            await RecordUnbuildableAsync(work,
                $"its template {Convert.ToHexStringLower(gbtHash)} never arrived (waited {wait.TotalSeconds:0} s and searched the RawGbt topic around the share's time)")
                .ConfigureAwait(false);
            return;
        }
        SolvedBlock block;
        try
        {
            block = SolvedBlock.Build(share, template.Parts());
        }
        catch (FormatException e)
        {
            await RecordUnbuildableAsync(work, e.Message).ConfigureAwait(false);
            return;
        }
        logger.LogInformation("template of solved share {Hash} found after waiting", shareHash);
        await SettleAsync(work, block, Send(block, work)).ConfigureAwait(false);
    }

    /// <summary>Starts submitblock on every node at once; the tasks never throw (failures are outcomes).</summary>
    private Task<SubmitOutcome>[] Send(SolvedBlock block, BlockWork work)
    {
        work.SubmittedAt = time.GetUtcNow().UtcDateTime;
        var builtTicks = Stopwatch.GetTimestamp();
        var writing = new long[nodes.Length];
        var written = new long[nodes.Length];
        var reported = new int[nodes.Length];
        var remaining = nodes.Length;
        var hash = block.Hash.ToDisplayHex();

        // Each node reports once: when its request was written (ticks), or that it never was (0).
        void Report(int node, long ticks)
        {
            if (Interlocked.Exchange(ref reported[node], 1) != 0)
                return;
            written[node] = ticks;
            if (Interlocked.Decrement(ref remaining) != 0)
                return;
            var timing = new BlockSentTiming(hash, (int)work.Share.Height, work.KafkaTimestampMs, work.ConsumedTicks, builtTicks, writing, written);
            logger.LogInformation("block {Hash} height {Height} ({Size} bytes, {Txs} transactions) written to {Sent} of {Nodes} nodes {Ms:F2} ms after it was consumed",
                hash, work.Share.Height, block.Size, block.TransactionCount, written.Count(t => t != 0), nodes.Length,
                (written.Max() - work.ConsumedTicks) * 1000.0 / Stopwatch.Frequency);
            BlockSent?.Invoke(timing);
        }

        async Task<SubmitOutcome> SendOne(int node)
        {
            try
            {
                return await nodes[node].SubmitAsync(block.SubmitRequest, ticks => writing[node] = ticks, ticks => Report(node, ticks), workStop.Token)
                    .ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return new SubmitOutcome(SubmitVerdict.Unavailable, "stopping");
            }
            finally
            {
                Report(node, 0);
            }
        }

        // A submit writes megabytes into its connection before its first await: started one after the other, the last
        // node would wait for the others' writes (about a millisecond each). The others start on the thread pool first,
        // the last one here, so every node's request goes out at once.
        var tasks = new Task<SubmitOutcome>[nodes.Length];
        for (var i = 0; i < nodes.Length - 1; i++)
        {
            var node = i;
            tasks[node] = Task.Run(() => SendOne(node));
        }
        tasks[^1] = SendOne(nodes.Length - 1);
        Status.Sent();
        return tasks;
    }

    /// <summary>
    /// Waits for the nodes' answers, confirms with getblockheader, retries nodes that could not be reached, then records
    /// the block. Per bitcoind: null = accepted; "duplicate" = it already has it (success); "inconclusive" = stored but
    /// not (yet) on its best chain (its header is known: a side-chain block unless it becomes the tip).
    /// </summary>
    private async Task SettleAsync(BlockWork work, SolvedBlock block, Task<SubmitOutcome>[] sends)
    {
        var hash = block.Hash.ToDisplayHex();
        var states = nodes.Select(_ => new NodeState()).ToArray();
        var outcomes = await Task.WhenAll(sends).ConfigureAwait(false);
        for (var i = 0; i < nodes.Length; i++)
            states[i].Outcome = outcomes[i];
        foreach (var problem in block.Problems)
            logger.LogCritical("block {Hash}: {Problem} (submitted anyway; the nodes said: {Outcomes})", hash, problem, string.Join(", ", outcomes));

        // The fast path's block must be byte for byte Block.Assemble's; if not, the reference block goes out too.
        var difference = block.Problems.Count == 0 ? block.VerifyWithReferenceAssembly() : null;
        if (difference is { } diff)
        {
            logger.LogCritical("block {Hash}: {Difference}; submitting Block.Assemble's block as well", hash, diff.Difference);
            if (diff.ReferenceHex != null)
            {
                var request = Encoding.ASCII.GetBytes($"{{\"jsonrpc\":\"1.0\",\"id\":\"blkmaker\",\"method\":\"submitblock\",\"params\":[\"{diff.ReferenceHex}\"]}}");
                var reference = await Task.WhenAll(nodes.Select(n => n.SubmitAsync([request], null, null, workStop.Token))).ConfigureAwait(false);
                for (var i = 0; i < nodes.Length; i++)
                {
                    states[i].Notes.Add($"reference block: {reference[i]}");
                    if (reference[i].NodeHasIt)
                        states[i].Outcome = reference[i];
                }
            }
        }

        var started = Stopwatch.StartNew();
        var firstConfirmed = TimeSpan.Zero;
        var delay = options.RetryMinMs;
        while (true)
        {
            for (var i = 0; i < nodes.Length; i++)
            {
                var state = states[i];
                if (state.HeaderKnown || !state.Outcome.NodeHasIt)
                    continue;
                try
                {
                    var header = await nodes[i].Rpc.GetBlockHeaderAsync(hash, workStop.Token).ConfigureAwait(false);
                    if (header is { } found)
                    {
                        state.HeaderKnown = true;
                        state.Confirmations = found.TryGetProperty("confirmations", out var c) && c.TryGetInt32(out var n) ? n : 0;
                        if (firstConfirmed == TimeSpan.Zero)
                            firstConfirmed = started.Elapsed;
                    }
                    else
                    {
                        state.Notes.Add($"answered {state.Outcome} but getblockheader does not know the block");
                        state.Outcome = new SubmitOutcome(SubmitVerdict.Unavailable, "the node does not have the block after all");
                    }
                }
                catch (Exception e) when (e is NodeUnavailableException or NodeRpcException)
                {
                    state.ConfirmError = e.Message;
                }
            }
            var unresolved = Enumerable.Range(0, nodes.Length).Where(i => !states[i].HeaderKnown && states[i].Outcome.Verdict != SubmitVerdict.Rejected).ToList();
            if (unresolved.Count == 0
                || (firstConfirmed != TimeSpan.Zero && started.Elapsed - firstConfirmed >= TimeSpan.FromSeconds(options.UnreachableNodeGraceSeconds))
                || started.Elapsed >= TimeSpan.FromSeconds(options.SubmitRetrySeconds)
                || workStop.IsCancellationRequested)
                break;
            if (firstConfirmed == TimeSpan.Zero && states.All(s => s.Outcome.Verdict is SubmitVerdict.Unavailable) && delay >= options.RetryMaxMs)
                logger.LogError("block {Hash}: no node reachable for {Seconds:F0} s ({Errors}); retrying until {Limit} s",
                    hash, started.Elapsed.TotalSeconds, string.Join("; ", states.Select((s, i) => $"{nodes[i].Name}: {s.Outcome.Detail}")), options.SubmitRetrySeconds);
            try
            {
                await Task.Delay(delay, workStop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            delay = Math.Min(delay * 2, options.RetryMaxMs);
            var retries = unresolved.Where(i => states[i].Outcome.Verdict == SubmitVerdict.Unavailable)
                .Select(async i =>
                {
                    states[i].Attempts++;
                    states[i].Outcome = await nodes[i].SubmitAsync(block.SubmitRequest, null, null, workStop.Token).ConfigureAwait(false);
                }).ToList();
            try
            {
                await Task.WhenAll(retries).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        if (workStop.IsCancellationRequested && !states.Any(s => s.HeaderKnown))
            return; // stopping: not recorded, not committed; it is processed again at the next start

        var status = states.Any(s => s.HeaderKnown && s.Confirmations >= 1) ? BlockSubmitStatus.Accepted
            : states.Any(s => s.HeaderKnown) ? BlockSubmitStatus.SideChain
            : states.Any(s => s.Outcome.Verdict == SubmitVerdict.Rejected) ? BlockSubmitStatus.Rejected
            : BlockSubmitStatus.Failed;
        var summary = string.Join("; ", states.Select((s, i) => $"{nodes[i].Name}: {s.Describe()}").Concat(block.Problems));
        var level = status is BlockSubmitStatus.Accepted ? LogLevel.Information : status is BlockSubmitStatus.SideChain ? LogLevel.Warning : LogLevel.Critical;
        logger.Log(level, "block {Hash} height {Height} by {User}.{Worker}: {Status} ({Summary})", hash, work.Share.Height, work.Share.UserName,
            work.Share.WorkerName, FoundBlockRecord.StatusText(status), summary);
        var record = Record(work.Share, block.Header, hash, block.Rewards, (int)Math.Min(int.MaxValue, block.Size), status, summary, work.SubmittedAt,
            status is BlockSubmitStatus.Accepted or BlockSubmitStatus.SideChain ? null : block.Hex());
        await RecordAsync(work, record).ConfigureAwait(false);
    }

    /// <summary>A solved share that cannot become a block: recorded as failed, loudly, with what it had.</summary>
    private async Task RecordUnbuildableAsync(BlockWork work, string reason)
    {
        var share = work.Share;
        BlockHeader? header = share.Header.Length == BlockHeader.Size ? BlockHeader.Parse(share.Header.Span) : null;
        long rewards = 0;
        var size = share.Header.Length + share.Coinbase.Length;
        try
        {
            rewards = Transaction.Parse(share.Coinbase.Span).TotalOutputValue;
        }
        catch (FormatException)
        {
        }
        var hash = header?.GetHash().ToDisplayHex() ?? DisplayHash(share);
        logger.LogCritical("BLOCK LOST: solved share {Hash} (height {Height}, job {Job}, by {User}.{Worker}) cannot be built: {Reason}. " +
                           "Header {HeaderHex}, coinbase {CoinbaseHex}; the solved share stays in Kafka at {Position}",
            hash, share.Height, share.JobId, share.UserName, share.WorkerName, reason, Convert.ToHexStringLower(share.Header.Span),
            Convert.ToHexStringLower(share.Coinbase.Span), work.Result.TopicPartitionOffset);
        var record = Record(share, header, hash, rewards, size, BlockSubmitStatus.Failed, "not built: " + reason, null, null);
        await RecordAsync(work, record).ConfigureAwait(false);
    }

    private static FoundBlockRecord Record(SolvedShare share, BlockHeader? header, string hash, long rewards, int size, BlockSubmitStatus status,
        string summary, DateTime? submittedAt, string? blockHex) =>
        new(share.UserId, share.WorkerId, $"{share.UserName}.{share.WorkerName}", share.JobId, (int)share.Height, hash, rewards, size,
            header?.PreviousBlockHash.ToDisplayHex() ?? "", header?.Bits ?? 0, unchecked((int)(header?.Version ?? 0)),
            DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(0, share.TimestampUnixMs)).UtcDateTime, status, summary, submittedAt, blockHex,
            share.UserName, share.WorkerName);

    /// <summary>
    /// MySQL, then (for a block a node took) the newblock event; each retried until it works or BlkMaker stops. Marks
    /// the work done (its offset may be committed) only when both are.
    /// </summary>
    private async Task RecordAsync(BlockWork work, FoundBlockRecord record)
    {
        if (!await RetryAsync($"record block {record.Hash} in found_blocks", () => recorder.RecordInMySql(record)).ConfigureAwait(false))
            return;
        var announced = false;
        if (record.IsFound && !await RetryAsync($"push block {record.Hash} to Redis {options.NewBlockListKey}",
                () => announced = recorder.AnnounceInRedis(record)).ConfigureAwait(false))
            return;
        Status.Record(record, announced);
        work.Done = true;
        logger.LogInformation("block {Hash} recorded ({Status}){Announced}", record.Hash, FoundBlockRecord.StatusText(record.Status),
            announced ? ", newblock pushed" : "");
    }

    private async Task<bool> RetryAsync(string what, Action action)
    {
        var delay = options.RetryMinMs;
        var failing = Stopwatch.StartNew();
        var failures = 0;
        while (!workStop.IsCancellationRequested)
        {
            try
            {
                action();
                if (failures > 0)
                    logger.LogInformation("{What}: worked after {Failures} failures ({Seconds:F1} s)", what, failures, failing.Elapsed.TotalSeconds);
                return true;
            }
            catch (Exception e) when (e is MySqlException or RedisException or TimeoutException or IOException or InvalidOperationException)
            {
                failures++;
                logger.Log(failures == 1 ? LogLevel.Warning : LogLevel.Error, "cannot {What} ({Reason}); retrying (the solved share is not committed until it works)",
                    what, e.GetBaseException().Message);
            }
            try
            {
                await Task.Delay(delay, workStop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            delay = Math.Min(delay * 2, options.RetryMaxMs);
        }
        return false;
    }

    /// <summary>Commits, in order, the offsets of solved shares whose blocks are finished.</summary>
    private void CommitFinished(PoolConsumer<Ignore, SolvedShare> consumer)
    {
        ConsumeResult<Ignore, SolvedShare>? last = null;
        while (pending.TryPeek(out var head) && head.Task is { IsCompleted: true } done)
        {
            if (done.IsFaulted)
                throw new InvalidOperationException($"processing the solved share at {head.Result.TopicPartitionOffset} failed", done.Exception!.GetBaseException());
            if (!head.Done)
                break; // stopping before it was recorded: this one and everything after it are processed again at the next start
            last = head.Result;
            pending.Dequeue();
            Status.Finished();
        }
        if (last == null)
            return;
        try
        {
            consumer.Commit(last);
            Status.Committed(last.Offset.Value + 1);
        }
        catch (KafkaException e)
        {
            // The block is recorded; without the commit it is only processed (and found a duplicate) again after a restart.
            logger.LogWarning("committing solved-share offset {Offset} failed: {Reason}", last.Offset.Value, e.Error.Reason);
        }
    }

    // ------------------------------------------------------------------ templates and jobs

    private Task StartReader<TMessage>(string topic, string what, Func<TMessage, long, PreparedTemplate?> add, TaskCompletionSource caughtUp,
        CancellationToken stoppingToken) where TMessage : class, IMessage<TMessage>, new() =>
        Task.Factory.StartNew(() =>
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    ReadTopic(topic, what, add, caughtUp, stoppingToken);
                }
                catch (Exception e) when (e is KafkaException or InvalidOperationException)
                {
                    logger.LogError("reading {What} from {Topic} failed ({Reason}); again in 5 s", what, topic, e.Message);
                    stoppingToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(5));
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void ReadTopic<TMessage>(string topic, string what, Func<TMessage, long, PreparedTemplate?> add, TaskCompletionSource caughtUp,
        CancellationToken stoppingToken) where TMessage : class, IMessage<TMessage>, new()
    {
        var from = time.GetUtcNow() - TimeSpan.FromMinutes(options.HistoryMinutes);
        using var consumer = new PoolConsumer<Ignore, TMessage>(kafka, topic, new ConsumerSettings { StartFrom = StartFrom.Timestamp(from) },
            loggerFactory.CreateLogger($"PoolCluster.BlkMaker.{what}"));
        Dictionary<int, long>? targets = null;
        var read = new Dictionary<int, long>();
        long idleSince = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            ConsumeResult<Ignore, TMessage>? result;
            try
            {
                result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            }
            catch (ConsumeException e)
            {
                logger.LogError("a message of {Topic} at {Position} cannot be decoded: {Reason}", topic, e.ConsumerRecord?.TopicPartitionOffset, e.Error.Reason);
                continue;
            }
            targets ??= consumer.Assignment.ToDictionary(p => p.Partition.Value,
                p => consumer.Inner.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
            var now = Environment.TickCount64;
            if (result?.Message?.Value is { } message)
            {
                idleSince = 0;
                read[result.Partition.Value] = result.Offset.Value;
                try
                {
                    add(message, result.Message.Timestamp.UnixTimestampMs)?.Parts();
                }
                catch (FormatException e)
                {
                    logger.LogError("{What}: a template at {Position} has a transaction that does not parse: {Reason}", what, result.TopicPartitionOffset, e.Message);
                }
            }
            else if (idleSince == 0)
                idleSince = now;
            // Read back when every partition reached the end it had at the start, or nothing came for a second.
            if (!caughtUp.Task.IsCompleted &&
                (targets.All(t => read.TryGetValue(t.Key, out var offset) && offset + 1 >= t.Value) || (idleSince != 0 && now - idleSince >= 1_000)))
                caughtUp.TrySetResult();
        }
    }

    /// <summary>
    /// Looks for a template in the RawGbt topic around <paramref name="aroundMs"/> (a solved share older than the
    /// history read at start): from HistoryMinutes before it to a minute after it, or to the topic's current end.
    /// </summary>
    private PreparedTemplate? SearchHistory(byte[] gbtHash, long aroundMs)
    {
        var from = DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(0, aroundMs)) - TimeSpan.FromMinutes(options.HistoryMinutes);
        logger.LogWarning("searching {Topic} from {From:O} for template {Gbt}", TopicManifest.RawGbt, from, Convert.ToHexStringLower(gbtHash));
        try
        {
            using var consumer = new PoolConsumer<Ignore, RawGbt>(kafka, TopicManifest.RawGbt, new ConsumerSettings { StartFrom = StartFrom.Timestamp(from) },
                loggerFactory.CreateLogger("PoolCluster.BlkMaker.HistorySearch"));
            Dictionary<int, long>? ends = null;
            var done = new HashSet<int>();
            var search = Stopwatch.StartNew();
            while (search.Elapsed < TimeSpan.FromMinutes(2) && !workStop.IsCancellationRequested)
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
                ends ??= consumer.Assignment.ToDictionary(p => p.Partition.Value, p => consumer.Inner.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
                if (result?.Message?.Value is { } gbt)
                {
                    if (gbt.GbtHash.Span.SequenceEqual(gbtHash))
                    {
                        store.AddTemplate(gbt, Math.Max(result.Message.Timestamp.UnixTimestampMs, time.GetUtcNow().ToUnixTimeMilliseconds()));
                        return store.FindTemplate(gbtHash);
                    }
                    if (result.Message.Timestamp.UnixTimestampMs > aroundMs + 60_000 || result.Offset.Value + 1 >= ends.GetValueOrDefault(result.Partition.Value))
                        done.Add(result.Partition.Value);
                }
                else if (ends.All(e => e.Value <= 0) || search.Elapsed > TimeSpan.FromSeconds(5) && result == null && done.Count == 0 && ends.Count > 0)
                    done.UnionWith(ends.Keys);
                if (ends.Count > 0 && ends.Keys.All(done.Contains))
                    break;
            }
        }
        catch (Exception e) when (e is KafkaException or InvalidOperationException)
        {
            logger.LogError("searching the RawGbt history failed: {Reason}", e.Message);
        }
        return null;
    }

    // ------------------------------------------------------------------ nodes

    private async Task KeepNodesWarmAsync(CancellationToken stoppingToken)
    {
        var reachable = new bool?[nodes.Length];
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PingAllAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(options.NodeKeepAliveSeconds), stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        Task PingAllAsync() => Task.WhenAll(nodes.Select(async (node, i) =>
            {
                var outcome = await node.PingAsync(stoppingToken).ConfigureAwait(false);
                var up = outcome == null;
                if (reachable[i] != up)
                    logger.Log(up ? LogLevel.Information : LogLevel.Warning, "node {Node} {State}{Reason}", node.Name, up ? "reachable" : "NOT reachable",
                        up ? "" : $": {outcome}");
                reachable[i] = up;
            }));
    }

    private static string DisplayHash(SolvedShare share) =>
        share.BlockHash.Length == 32 ? Hash256.FromInternalBytes(share.BlockHash.Span).ToDisplayHex() : Convert.ToHexStringLower(share.BlockHash.Span);

    /// <summary>One solved share from consumption to commit.</summary>
    private sealed class BlockWork(ConsumeResult<Ignore, SolvedShare> result, SolvedShare share, long kafkaTimestampMs, long consumedTicks)
    {
        public ConsumeResult<Ignore, SolvedShare> Result { get; } = result;
        public SolvedShare Share { get; } = share;
        public long KafkaTimestampMs { get; } = kafkaTimestampMs;
        public long ConsumedTicks { get; } = consumedTicks;
        public DateTime? SubmittedAt { get; set; }
        public Task Task { get; set; } = Task.CompletedTask;
        /// <summary>Submitted (or given up on) and recorded: its offset may be committed.</summary>
        public bool Done { get; set; }
    }

    private sealed class NodeState
    {
        public SubmitOutcome Outcome { get; set; }
        public bool HeaderKnown { get; set; }
        public int Confirmations { get; set; }
        public int Attempts { get; set; } = 1;
        public string? ConfirmError { get; set; }
        public List<string> Notes { get; } = [];

        public string Describe()
        {
            var text = Outcome.ToString();
            if (HeaderKnown)
                text += Confirmations >= 1 ? ", main chain" : ", side chain";
            else if (ConfirmError != null)
                text += $", getblockheader failed: {ConfirmError}";
            if (Attempts > 1)
                text += $", {Attempts} attempts";
            if (Notes.Count > 0)
                text += ", " + string.Join(", ", Notes);
            return text;
        }
    }
}
