using System.Globalization;
using System.Collections.Concurrent;
using System.Data.Common;
using System.Net.Sockets;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;
using PoolCluster.Kafka;
using PoolCluster.ShareLogger.Rows;
using PoolCluster.ShareLogger.Writing;
using PoolCluster.Storage;
using PoolCluster.Topics;

namespace PoolCluster.ShareLogger;

/// <summary>
/// The share topic into MySQL, exactly once. Two threads: the consumer thread (the caller of <see cref="Run"/>)
/// reads shares and encodes them into batches; the writer thread commits each batch together with the Kafka
/// positions it reaches (<see cref="ShareBatchWriter"/>). Between them a bounded queue: when MySQL is down or slow and
/// the queue is full, the consumer pauses its partitions (it keeps polling, so it stays in the group) and resumes
/// when the writer catches up, so memory stays bounded and nothing is dropped.
/// <para>
/// Where reading starts is decided by MySQL alone: on every assignment (start, rebalance) the consumer seeks each
/// partition to its kafka_positions row (from the beginning when it has none). A crash at any moment leaves the
/// table and the positions consistent (one transaction), so the restarted consumer continues exactly after the last
/// committed share.
/// </para>
/// </summary>
public sealed class ShareLoggerEngine
{
    private readonly ShareLoggerOptions options;
    private readonly KafkaOptions kafka;
    private readonly string connectionString;
    private readonly ILoggerFactory loggerFactory;
    private readonly ILogger logger;
    private readonly string topic;
    private readonly Dictionary<int, PartitionState> partitions = [];
    private readonly ConcurrentQueue<RewindRequest> rewinds = new();
    private readonly ConcurrentBag<ShareBatch> pool = [];
    private Channel<ShareBatch> queue = null!;
    private ShareRowFormat format = null!;
    private ShareBatch current = null!;
    private PoolConsumer<Ignore, Share>? consumer;
    private CancellationToken stopping;
    private volatile Exception? writerFault;
    private volatile bool writerBusy;
    private bool paused;
    private bool assignmentChanged;
    private HashSet<int> pausedPartitions = [];
    private long nextKafkaCommitTick;
    private long nextLagLogTick;
    private readonly Dictionary<int, long> committedToKafka = [];
    private long lastLoggedRows;
    private long lastLagLogTick;

    public ShareLoggerEngine(ShareLoggerOptions options, KafkaOptions kafka, string connectionString, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        this.options = options;
        this.kafka = kafka;
        this.connectionString = connectionString;
        this.loggerFactory = loggerFactory;
        logger = loggerFactory.CreateLogger("PoolCluster.ShareLogger");
        topic = kafka.TopicName(TopicManifest.Share);
        MySqlDriverCompatibility.Apply();
    }

    public ShareLoggerStatus Status { get; } = new();

    /// <summary>The write method in use (LoadData may fall back to Insert when the server refuses it); set once running.</summary>
    public ShareWriteMethod? Method { get; private set; }

    /// <summary>Runs until <paramref name="stoppingToken"/> is cancelled; blocks the calling thread.</summary>
    public void Run(CancellationToken stoppingToken)
    {
        stopping = stoppingToken;
        using var writer = new ShareBatchWriter(connectionString, options.ConsumerGroup, topic, options.WriteMethod,
            options.InsertStatementRows, loggerFactory.CreateLogger("PoolCluster.ShareLogger.Writer"));
        if (!Retry("check the MySQL server's LOAD DATA support", writer.ResolveMethod, out var method))
            return;
        Method = method;
        format = ShareRowFormat.For(method);
        current = Rent();
        queue = Channel.CreateBounded<ShareBatch>(new BoundedChannelOptions(options.MaxPendingBatches)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        using var writerStop = new CancellationTokenSource();
        var writerThread = new Thread(() => WriterLoop(writer, writerStop.Token)) { Name = "sharelogger-writer", IsBackground = true };
        writerThread.Start();
        logger.LogInformation("ShareLogger: group {Group}, topic {Topic}, {Method}, batches of {BatchRows} rows, flush every {FlushMs} ms",
            options.ConsumerGroup, topic, Method, options.BatchRows, options.FlushIntervalMs);

        consumer = new PoolConsumer<Ignore, Share>(kafka, TopicManifest.Share, new ConsumerSettings
        {
            GroupId = options.ConsumerGroup,
            StartFrom = StartFrom.Committed,
            OnAssigned = OnAssigned,
            OnRevoked = OnRevoked,
        }, loggerFactory.CreateLogger("PoolCluster.ShareLogger.Consumer"));
        try
        {
            ConsumeLoop();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            Shutdown(writerThread, writerStop);
        }
        if (writerFault is { } fault)
            throw new InvalidOperationException($"the share writer failed: {fault.Message}", fault);
    }

    private void ConsumeLoop()
    {
        while (!stopping.IsCancellationRequested)
        {
            if (writerFault != null)
                return;
            ApplyRewinds();
            if (current.Rows >= options.BatchRows || (!current.IsEmpty && Environment.TickCount64 - current.OpenedAtTick >= options.FlushIntervalMs))
                TryHandOff(TimeSpan.Zero);
            var full = current.Rows >= options.BatchRows;
            UpdatePause(full);

            ConsumeResult<Ignore, Share>? result;
            try
            {
                result = consumer!.Consume(TimeSpan.FromMilliseconds(full ? 20 : 100));
            }
            catch (ConsumeException e)
            {
                Undecodable(e);
                continue;
            }
            if (result?.Message?.Value is { } share)
                Append(result.Partition.Value, result.Offset.Value, share);
            Status.SetBufferedRows(current.Rows);
            Periodic();
        }
    }

    private void Append(int partition, long offset, Share share)
    {
        if (!partitions.TryGetValue(partition, out var state) || !state.Owned)
        {
            logger.LogWarning("a share from partition {Partition} that this consumer does not own (offset {Offset}): ignored", partition, offset);
            return;
        }
        Status.Consumed();
        if (state.NextExpected is { } expected)
        {
            if (offset < expected)
                return; // delivered again (after a pause or seek): it is in a batch already
            if (offset > expected && !AcceptJump(partition, state, expected, offset))
                return;
        }
        var range = current.Open(partition, state.NextStart, state.Epoch);
        current.Add(range, share, offset);
        state.NextExpected = offset + 1;
        state.NextStart = offset + 1;
    }

    /// <summary>
    /// The partition jumped from <paramref name="expected"/> to <paramref name="offset"/>. Messages Kafka no longer
    /// has (deleted by retention before they were logged) are a loss upstream: counted, logged, skipped. Messages it
    /// still has are never skipped: the partition is read again from the first of them. False: drop this message.
    /// </summary>
    private bool AcceptJump(int partition, PartitionState state, long expected, long offset)
    {
        long low;
        try
        {
            low = consumer!.Inner.QueryWatermarkOffsets(new TopicPartition(topic, partition), TimeSpan.FromSeconds(10)).Low.Value;
        }
        catch (KafkaException e)
        {
            logger.LogWarning("partition {Partition} jumped from {Expected} to {Offset} and its low watermark is unknown ({Reason}): reading again from {Expected}",
                partition, expected, offset, e.Error.Reason, expected);
            Rewind(partition, state, expected);
            return false;
        }
        if (low > expected)
        {
            Status.Gap();
            logger.LogError("partition {Partition}: offsets {From}..{To} are no longer in Kafka (retention) and were never logged: {Count} shares lost upstream",
                partition, expected, low - 1, low - expected);
            // The lost range still belongs to the batch's range, so the stored position moves past it.
            ShareBatch.Skip(current.Open(partition, state.NextStart, state.Epoch), low - 1);
            state.NextStart = low;
            state.NextExpected = low;
            expected = low;
        }
        if (offset == expected)
            return true;
        logger.LogWarning("partition {Partition}: offset {Offset} arrived while {Expected} was due and is still in Kafka: reading again from {Expected}",
            partition, offset, expected, expected);
        Rewind(partition, state, expected);
        return false;
    }

    private void Undecodable(ConsumeException e)
    {
        var record = e.ConsumerRecord;
        if (record == null)
        {
            logger.LogError("Kafka consume failed: {Reason} ({Code})", e.Error.Reason, e.Error.Code);
            return;
        }
        var partition = record.Partition.Value;
        var offset = record.Offset.Value;
        if (!partitions.TryGetValue(partition, out var state) || !state.Owned)
            return;
        if (state.NextExpected is { } expected && (offset < expected || (offset > expected && !AcceptJump(partition, state, expected, offset))))
            return;
        Status.Undecodable();
        logger.LogError("partition {Partition} offset {Offset} is not a valid Share ({Reason}): skipped, it cannot be logged",
            partition, offset, e.Error.Reason);
        var range = current.Open(partition, state.NextStart, state.Epoch);
        ShareBatch.Skip(range, offset);
        state.NextExpected = offset + 1;
        state.NextStart = offset + 1;
    }

    /// <summary>Hands the batch being filled to the writer, waiting up to <paramref name="wait"/> for room; false when there was none.</summary>
    private bool TryHandOff(TimeSpan wait)
    {
        if (current.IsEmpty)
            return true;
        var batch = current;
        var queued = queue.Writer.TryWrite(batch);
        if (!queued && wait > TimeSpan.Zero)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(wait);
            try
            {
                queued = queue.Writer.WaitToWriteAsync(timeout.Token).AsTask().GetAwaiter().GetResult() && queue.Writer.TryWrite(batch);
                while (!queued && !timeout.IsCancellationRequested && queue.Writer.WaitToWriteAsync(timeout.Token).AsTask().GetAwaiter().GetResult())
                    queued = queue.Writer.TryWrite(batch);
            }
            catch (OperationCanceledException)
            {
            }
            catch (ChannelClosedException)
            {
            }
        }
        if (!queued)
            return false;
        // Counted once queued; the writer may already have taken it, so the count can dip below zero for a moment.
        Status.BatchQueued();
        current = Rent();
        Status.SetBufferedRows(0);
        return true;
    }

    /// <summary>
    /// Throws away the batch being filled (it could not be handed over in time during a rebalance or shutdown).
    /// Safe: nothing of it is in MySQL, so whoever reads its partitions next starts before it. Partitions this consumer
    /// still owns are read again from where the batch began.
    /// </summary>
    private void DropCurrent(string why)
    {
        if (current.IsEmpty)
            return;
        logger.LogWarning("{Rows} shares read but not yet handed to MySQL are dropped ({Why}); they will be read again from Kafka", current.Rows, why);
        foreach (var range in current.Ranges)
        {
            if (partitions.TryGetValue(range.Partition, out var state) && state.Owned && state.Epoch == range.Epoch)
                rewinds.Enqueue(new RewindRequest(range.Partition, range.Start ?? Offset.Beginning.Value, range.Epoch));
        }
        Return(current);
        current = Rent();
        Status.SetBufferedRows(0);
    }

    private void UpdatePause(bool full)
    {
        if (assignmentChanged)
        {
            // librdkafka keeps a partition's pause flag across revocation and re-assignment: set every newly assigned
            // partition to the state wanted now, or a partition paused before a rebalance would never be read again.
            assignmentChanged = false;
            var assignment = consumer!.Assignment;
            if (assignment.Count > 0)
            {
                if (full)
                {
                    consumer.Inner.Pause(assignment);
                    pausedPartitions = assignment.Select(p => p.Partition.Value).ToHashSet();
                }
                else
                {
                    consumer.Inner.Resume(assignment);
                    pausedPartitions = [];
                }
            }
        }
        if (full)
        {
            var assignment = consumer!.Assignment;
            var notPaused = assignment.Where(p => !pausedPartitions.Contains(p.Partition.Value)).ToList();
            if (notPaused.Count > 0)
            {
                consumer.Inner.Pause(notPaused);
                pausedPartitions.UnionWith(notPaused.Select(p => p.Partition.Value));
            }
            if (!paused)
            {
                paused = true;
                Status.Paused(true);
                logger.LogWarning("MySQL is behind ({Pending} batches pending{Failing}): consumption paused", Status.PendingBatches,
                    Status.MySqlFailingSince is { } since ? $", writes failing since {since:O}" : "");
            }
        }
        else if (paused)
        {
            paused = false;
            Status.Paused(false);
            var assignment = consumer!.Assignment;
            if (assignment.Count > 0)
                consumer.Inner.Resume(assignment);
            pausedPartitions = [];
            logger.LogInformation("MySQL caught up: consumption resumed");
        }
    }

    private void ApplyRewinds()
    {
        while (rewinds.TryDequeue(out var rewind))
        {
            if (!partitions.TryGetValue(rewind.Partition, out var state) || !state.Owned || state.Epoch != rewind.Epoch)
                continue;
            Rewind(rewind.Partition, state, rewind.Offset);
        }
    }

    /// <summary>Seeks a partition back to <paramref name="offset"/> (negative: its beginning); its next rows go into a new range.</summary>
    private void Rewind(int partition, PartitionState state, long offset)
    {
        var target = offset >= 0 ? new Offset(offset) : Offset.Beginning;
        consumer!.Seek(new TopicPartitionOffset(topic, partition, target));
        state.Epoch++;
        state.NextStart = offset >= 0 ? offset : null;
        state.NextExpected = state.NextStart;
        logger.LogWarning("partition {Partition}: reading again from {Offset}", partition, target);
    }

    private IEnumerable<TopicPartitionOffset> OnAssigned(IReadOnlyList<TopicPartitionOffset> proposed)
    {
        if (!current.IsEmpty && !TryHandOff(TimeSpan.FromSeconds(options.RevokeFlushTimeoutSeconds)))
            DropCurrent("a new assignment arrived while MySQL was not taking batches");
        var assigned = proposed.Select(p => p.Partition.Value).ToList();
        if (!Retry("read kafka_positions", () => LoadPositions(assigned), out var stored))
            throw new OperationCanceledException(stopping);
        pausedPartitions = [];
        assignmentChanged = true;
        var result = new List<TopicPartitionOffset>(proposed.Count);
        foreach (var proposal in proposed)
        {
            var partition = proposal.Partition.Value;
            if (!partitions.TryGetValue(partition, out var state))
                partitions[partition] = state = new PartitionState();
            state.Owned = true;
            state.Epoch++;
            state.NextStart = stored.TryGetValue(partition, out var position) ? position : null;
            state.NextExpected = state.NextStart;
            if (state.NextStart is { } known)
                Status.Positions[partition] = known;
            result.Add(new TopicPartitionOffset(proposal.TopicPartition, state.NextStart is { } start ? new Offset(start) : Offset.Beginning));
        }
        logger.LogInformation("assigned {Topic} partitions {Partitions}", topic,
            string.Join(", ", result.Select(o => $"[{o.Partition.Value}]@{(o.Offset == Offset.Beginning ? "beginning" : o.Offset.Value.ToString())}")));
        return result;
    }

    private void OnRevoked(IReadOnlyList<TopicPartitionOffset> revoked)
    {
        foreach (var offset in revoked)
            if (partitions.TryGetValue(offset.Partition.Value, out var state))
                state.Owned = false;
        var wait = TimeSpan.FromSeconds(options.RevokeFlushTimeoutSeconds);
        if (!TryHandOff(stopping.IsCancellationRequested ? TimeSpan.Zero : wait))
            DropCurrent("partitions were revoked while MySQL was not taking batches");
        // Let the writer commit what was read from the revoked partitions, so their next owner need not read it again.
        var deadline = Environment.TickCount64 + (long)wait.TotalMilliseconds;
        while ((queue.Reader.Count > 0 || writerBusy) && Environment.TickCount64 < deadline && writerFault == null && !stopping.IsCancellationRequested)
            Thread.Sleep(5);
        logger.LogInformation("revoked {Topic} partitions {Partitions}", topic, string.Join(", ", revoked.Select(o => o.Partition.Value)));
    }

    private Dictionary<int, long> LoadPositions(IReadOnlyCollection<int> assigned)
    {
        using var connection = new MySqlConnection(connectionString);
        connection.Open();
        var all = KafkaPositionStore.LoadAsync(connection, options.ConsumerGroup, topic).GetAwaiter().GetResult();
        return all.Where(p => assigned.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value);
    }

    private void WriterLoop(ShareBatchWriter writer, CancellationToken stop)
    {
        try
        {
            while (queue.Reader.WaitToReadAsync(stop).AsTask().GetAwaiter().GetResult())
            {
                while (queue.Reader.TryRead(out var batch))
                {
                    writerBusy = true;
                    try
                    {
                        WriteWithRetry(writer, batch, stop);
                    }
                    finally
                    {
                        writerBusy = false;
                        Status.BatchDone();
                    }
                    Return(batch);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            logger.LogWarning("stopped with {Batches} batches not written to MySQL; they will be read again from Kafka at the next start",
                queue.Reader.Count + 1);
        }
        catch (Exception e)
        {
            writerFault = e;
            logger.LogCritical(e, "the share writer failed");
        }
    }

    private void WriteWithRetry(ShareBatchWriter writer, ShareBatch batch, CancellationToken stop)
    {
        var delay = options.RetryMinMs;
        long failingSinceTick = 0;
        long nextReportTick = 0;
        while (true)
        {
            try
            {
                var result = writer.Write(batch);
                Status.Written(result.RowsWritten, result.RowsAlreadyPresent, result.RowsTrimmed, result.DifficultyWritten,
                    batch.OldestShareMs, batch.NewestShareMs, result.Positions);
                if (failingSinceTick != 0)
                    logger.LogInformation("MySQL writes work again after {Seconds:F1} s", (Environment.TickCount64 - failingSinceTick) / 1000.0);
                if (result.RowsAlreadyPresent > 0)
                    logger.LogError("{Rows} shares were already in the table and were not written again: kafka_positions was behind the table (changed by hand?)",
                        result.RowsAlreadyPresent);
                if (result.RowsTrimmed > 0)
                    logger.LogInformation("{Rows} shares were already written by another writer of the group (after a rebalance) and were skipped", result.RowsTrimmed);
                foreach (var rewind in result.Rewinds)
                {
                    logger.LogWarning("partition {Partition}: the stored position {Offset} is behind this consumer; reading again from there",
                        rewind.Partition, rewind.Offset);
                    rewinds.Enqueue(rewind);
                }
                return;
            }
            catch (Exception e) when (e is DbException or IOException or SocketException or TimeoutException or InvalidOperationException)
            {
                var now = Environment.TickCount64;
                Status.WriteFailed(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                if (failingSinceTick == 0)
                {
                    failingSinceTick = now;
                    nextReportTick = now + 10_000;
                    logger.LogWarning("writing {Rows} shares to MySQL failed ({Reason}); retrying, consumption pauses once {Max} batches wait",
                        batch.Rows, e.GetBaseException().Message, options.MaxPendingBatches);
                }
                else if (now >= nextReportTick)
                {
                    nextReportTick = now + 10_000;
                    logger.LogError("MySQL writes have failed for {Seconds:F0} s ({Reason}); {Pending} batches wait, consumption {State}",
                        (now - failingSinceTick) / 1000.0, e.GetBaseException().Message, Status.PendingBatches, Status.IsPaused ? "paused" : "running");
                }
                if (stop.WaitHandle.WaitOne(delay))
                    throw new OperationCanceledException(stop);
                delay = Math.Min(delay * 2, options.RetryMaxMs);
            }
        }
    }

    private void Periodic()
    {
        var now = Environment.TickCount64;
        if (options.CommitToKafka && now >= nextKafkaCommitTick)
        {
            nextKafkaCommitTick = now + options.CommitToKafkaIntervalMs;
            CommitToKafka();
        }
        if (now >= nextLagLogTick)
        {
            if (nextLagLogTick != 0)
                LogLag(now);
            nextLagLogTick = now + options.LagLogIntervalSeconds * 1000L;
            lastLagLogTick = now;
            lastLoggedRows = Status.RowsWritten;
        }
    }

    private void CommitToKafka()
    {
        var offsets = new List<TopicPartitionOffset>();
        foreach (var (partition, state) in partitions)
        {
            if (!state.Owned || !Status.Positions.TryGetValue(partition, out var position))
                continue;
            if (committedToKafka.TryGetValue(partition, out var committed) && committed == position)
                continue;
            offsets.Add(new TopicPartitionOffset(topic, partition, position));
        }
        if (offsets.Count == 0)
            return;
        try
        {
            consumer!.Commit(offsets);
            foreach (var offset in offsets)
                committedToKafka[offset.Partition.Value] = offset.Offset.Value;
        }
        catch (KafkaException e)
        {
            // Only for Kafka's lag tools; MySQL holds the positions that count.
            logger.LogDebug("committing positions to Kafka failed: {Reason}", e.Error.Reason);
        }
    }

    private void LogLag(long now)
    {
        long lag = 0;
        var known = true;
        var detail = new List<string>();
        foreach (var (partition, state) in partitions.OrderBy(p => p.Key))
        {
            if (!state.Owned)
                continue;
            var marks = consumer!.Inner.GetWatermarkOffsets(new TopicPartition(topic, partition));
            var position = Status.Positions.TryGetValue(partition, out var p) ? p : state.NextStart ?? 0;
            if (marks.High.Value < 0)
                known = false;
            else
                lag += Math.Max(0, marks.High.Value - position);
            detail.Add($"[{partition}] {position}/{(marks.High.Value < 0 ? "?" : marks.High.Value.ToString(CultureInfo.InvariantCulture))}");
        }
        var rows = Status.RowsWritten;
        var rate = (rows - lastLoggedRows) * 1000.0 / Math.Max(1, now - lastLagLogTick);
        var behind = lag > 0 && Status.NewestWrittenShareMs > 0
            ? (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - Status.NewestWrittenShareMs) / 1000.0
            : 0;
        var level = paused || Status.MySqlFailingSince != null ? LogLevel.Warning : LogLevel.Information;
        logger.Log(level,
            "lag {Lag}{Unknown} shares ({Behind:F1} s behind), {Rate:F0} rows/s, {Pending} batches pending, {Buffered} rows buffered, consumption {State}, " +
            "{Written} rows written; positions/high watermarks {Partitions}",
            lag, known ? "" : "+", behind, rate, Status.PendingBatches, current.Rows, paused ? "PAUSED" : "running", rows, string.Join(" ", detail));
    }

    private void Shutdown(Thread writerThread, CancellationTokenSource writerStop)
    {
        var drain = TimeSpan.FromSeconds(options.ShutdownDrainSeconds);
        var deadline = DateTime.UtcNow + drain;
        if (writerFault == null && !current.IsEmpty && !TryHandOffAtShutdown(drain))
            logger.LogWarning("stopping with {Rows} shares not handed to MySQL; they will be read again at the next start", current.Rows);
        queue.Writer.TryComplete();
        var left = deadline - DateTime.UtcNow;
        if (!writerThread.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero))
        {
            writerStop.Cancel();
            writerThread.Join();
        }
        try
        {
            consumer?.Dispose();
        }
        catch (Exception e) when (e is KafkaException or OperationCanceledException or InvalidOperationException)
        {
            logger.LogWarning("closing the Kafka consumer: {Reason}", e.Message);
        }
        logger.LogInformation("ShareLogger stopped: {Rows} rows written, difficulty {Difficulty}", Status.RowsWritten, Status.DifficultyWritten);
    }

    private bool TryHandOffAtShutdown(TimeSpan wait)
    {
        var batch = current;
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            queue.Writer.WriteAsync(batch, timeout.Token).AsTask().GetAwaiter().GetResult();
            Status.BatchQueued();
            current = Rent();
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Runs <paramref name="action"/> until it works (true) or the service stops (false), logging failures.</summary>
    private bool Retry<T>(string what, Func<T> action, out T result)
    {
        var delay = options.RetryMinMs;
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                result = action();
                if (failures > 0)
                    logger.LogInformation("MySQL answers again: {What} worked after {Failures} failed attempts", what, failures);
                return true;
            }
            catch (Exception e) when (e is DbException or IOException or SocketException or TimeoutException or InvalidOperationException)
            {
                failures++;
                logger.Log(failures == 1 ? LogLevel.Warning : LogLevel.Error, "cannot {What} ({Reason}); retrying", what, e.GetBaseException().Message);
                if (stopping.WaitHandle.WaitOne(delay))
                    break;
                delay = Math.Min(delay * 2, options.RetryMaxMs);
            }
        }
        result = default!;
        return false;
    }

    private ShareBatch Rent() => pool.TryTake(out var batch) ? batch : new ShareBatch(format, options.BatchRows);

    private void Return(ShareBatch batch)
    {
        batch.Reset();
        if (batch.Format == format)
            pool.Add(batch);
    }

    private sealed class PartitionState
    {
        public bool Owned;
        public int Epoch;
        public long? NextStart;
        public long? NextExpected;
    }
}
