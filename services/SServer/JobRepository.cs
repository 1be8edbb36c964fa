using System.Globalization;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using PoolCluster.Bitcoin;
using PoolCluster.Kafka;
using PoolCluster.Stratum;
using PoolCluster.Topics;

namespace PoolCluster.SServer;

/// <summary>
/// One StratumJob made ready for miners: its share checker (per-job precomputed hashing) and the numbers shares are
/// judged against. Shared by every session; immutable except for the stale mark.
/// </summary>
public sealed class MiningJob
{
    private volatile bool _stale;

    internal MiningJob(StratumJob message, ReadOnlyMemory<byte> coinbase1, ShareChecker checker, int extranonce2Size, long arrivedAt)
    {
        Message = message;
        Coinbase1 = coinbase1;
        Checker = checker;
        Extranonce2Size = extranonce2Size;
        ArrivedAt = arrivedAt;
        NetworkDifficulty = checker.NetworkTarget.ToDifficulty();
        MerkleBranch = message.MerkleBranch.Select(b => b.Memory).ToArray();
    }

    public StratumJob Message { get; }

    /// <summary>Coinbase bytes before extranonce1 as miners get them: the job's, plus zero padding when the job
    /// reserves more extranonce2 bytes than <see cref="StratumOptions.Extranonce2Size"/> (btcpool does the same).</summary>
    public ReadOnlyMemory<byte> Coinbase1 { get; }

    public ShareChecker Checker { get; }
    public ulong JobId => Message.JobId;
    public uint Height => Message.Height;
    public uint MinTime => Message.MinTime;
    public uint CurTime => Message.CurTime;
    /// <summary>The extranonce2 bytes miners roll for this job.</summary>
    public int Extranonce2Size { get; }
    public bool IsEmptyBlock => Message.EmptyBlock;
    public double NetworkDifficulty { get; }
    internal IReadOnlyList<ReadOnlyMemory<byte>> MerkleBranch { get; }
    internal long ArrivedAt { get; }

    /// <summary>A newer clean job exists: shares for this one are "job not found (=stale)" (21).</summary>
    public bool IsStale => _stale;

    internal void MarkStale() => _stale = true;
}

/// <summary>
/// One sending of a job to the miners, under a short wire id (4 hex digits) that stands for the 64-bit job id. A job
/// sent again (the notify interval) gets a new entry and wire id, so every entry has one difficulty per session:
/// the one set just before it was sent.
/// </summary>
public sealed class JobEntry
{
    internal JobEntry(ushort wireKey, long seq, MiningJob job, long createdAt)
    {
        WireKey = wireKey;
        WireId = wireKey.ToString("x4", CultureInfo.InvariantCulture);
        Seq = seq;
        Job = job;
        CreatedAt = createdAt;
        Notify = MiningNotify.Create(WireId, job.Message.PreviousBlockHash.Span, job.Coinbase1.Span,
            job.Message.Coinbase2.Span, job.MerkleBranch, job.Message.Version, job.Message.Bits, job.CurTime, cleanJobs: false);
    }

    public ushort WireKey { get; }

    /// <summary>The job id miners see in mining.notify and send back in mining.submit.</summary>
    public string WireId { get; }

    /// <summary>Increases with every entry: orders entries, and keys each session's difficulty history.</summary>
    public long Seq { get; }

    public MiningJob Job { get; }
    public MiningNotify Notify { get; }
    internal long CreatedAt { get; }
}

/// <summary>
/// The jobs miners may work on. Reads StratumJob from Kafka (from the newest message, never history) on its own
/// thread, prepares each one once (<see cref="MiningJob"/>), and decides when it goes out (btcpool's rules): a clean
/// job (new height) marks every older job stale and is broadcast at once; a full job after an empty-block job goes out
/// at once; otherwise the newest job goes out when the notify interval has passed since the last broadcast, so miners
/// get fresh work (and any new difficulty) at least that often. Sessions look entries up lock-free by wire id.
/// </summary>
public sealed class JobRepository : IDisposable
{
    private sealed record Snapshot(Dictionary<ushort, JobEntry> ByWireKey, JobEntry? Latest);

    private readonly StratumOptions _options;
    private readonly KafkaOptions? _kafka;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly SServerCounters _counters;
    private readonly object _gate = new();
    private volatile Snapshot _snapshot = new([], null);
    private Thread? _thread;
    private CancellationTokenSource? _stopping;
    private MiningJob? _pending;
    private MiningJob? _newestJob;
    private long _lastBroadcastAt;
    private long _seq;
    private ushort _nextWireKey = (ushort)Random.Shared.Next(ushort.MaxValue + 1);

    public JobRepository(StratumOptions options, KafkaOptions? kafka, TimeProvider time, SServerCounters counters,
        ILogger logger, ILoggerFactory? loggerFactory = null)
    {
        _options = options;
        _kafka = kafka;
        _time = time;
        _counters = counters;
        _logger = logger;
        _loggerFactory = loggerFactory;
    }

    /// <summary>Called (on the job thread) with every entry to send: the entry and whether miners must drop older work.</summary>
    public Action<JobEntry, bool>? Broadcast { get; set; }

    /// <summary>The entry last broadcast: what a newly authorized miner gets first.</summary>
    public JobEntry? Latest => _snapshot.Latest;

    /// <summary>The newest job received (broadcast or waiting for the notify interval).</summary>
    public MiningJob? NewestJob
    {
        get
        {
            lock (_gate)
                return _newestJob;
        }
    }

    /// <summary>Finds the entry a submit's job id names (the 4 hex digits of a notify's job id).</summary>
    public bool TryFind(ReadOnlySpan<byte> wireId, out JobEntry entry)
    {
        entry = null!;
        if (wireId.Length != 4)
            return false;
        uint key = 0;
        foreach (var c in wireId)
        {
            var nibble = c switch
            {
                >= (byte)'0' and <= (byte)'9' => c - '0',
                >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
                _ => -1,
            };
            if (nibble < 0)
                return false;
            key = (key << 4) | (uint)nibble;
        }
        return _snapshot.ByWireKey.TryGetValue((ushort)key, out entry!);
    }

    /// <summary>Whether shares for job <paramref name="jobId"/> can still be accepted (an entry names it and it is not stale).</summary>
    public bool IsLive(ulong jobId)
    {
        foreach (var entry in _snapshot.ByWireKey.Values)
            if (entry.Job.JobId == jobId && !entry.Job.IsStale)
                return true;
        return false;
    }

    /// <summary>Starts the job thread: the Kafka consumer (without Kafka options, tests feed <see cref="Accept"/>) and the ticks.</summary>
    public void Start()
    {
        if (_thread != null)
            return;
        _stopping = new CancellationTokenSource();
        _thread = new Thread(() => Run(_stopping.Token)) { IsBackground = true, Name = "sserver-jobs" };
        _thread.Start();
    }

    private void Run(CancellationToken stopping)
    {
        PoolConsumer<Ignore, StratumJob>? consumer = null;
        try
        {
            if (_kafka != null)
                consumer = new PoolConsumer<Ignore, StratumJob>(_kafka, TopicManifest.StratumJob,
                    new ConsumerSettings { GroupId = null, StartFrom = StartFrom.Newest },
                    _loggerFactory?.CreateLogger("PoolCluster.SServer.JobConsumer"));
            while (!stopping.IsCancellationRequested)
            {
                ConsumeResult<Ignore, StratumJob>? result = null;
                try
                {
                    if (consumer != null)
                        result = consumer.Consume(TimeSpan.FromMilliseconds(100));
                    else
                        stopping.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(100));
                }
                catch (ConsumeException e)
                {
                    _logger.LogError("unreadable StratumJob at {Offset}: {Reason}", e.ConsumerRecord?.TopicPartitionOffset, e.Error.Reason);
                }
                catch (Exception e) when (e is KafkaException or InvalidOperationException)
                {
                    // Topic not there yet, cluster away: keep trying; miners keep working on the jobs they have.
                    _logger.LogWarning("reading jobs from Kafka failed, retrying: {Reason}", e.Message);
                    stopping.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
                }
                if (result?.Message?.Value is { } job)
                    Accept(job);
                Tick();
            }
        }
        catch (Exception e) when (!stopping.IsCancellationRequested)
        {
            _logger.LogCritical(e, "the job thread failed: no new jobs will reach miners");
        }
        finally
        {
            consumer?.Dispose();
        }
    }

    /// <summary>Takes a job in (from Kafka, or a test) and broadcasts it if it must go out now. Returns the job or null when dropped.</summary>
    public MiningJob? Accept(StratumJob message)
    {
        var now = _time.GetTimestamp();
        var job = Prepare(message, now);
        if (job == null)
            return null;
        _counters.JobReceived();
        JobEntry? entry = null;
        var clean = false;
        lock (_gate)
        {
            var previous = _newestJob;
            if (previous != null && job.JobId <= previous.JobId)
            {
                _logger.LogDebug("job {JobId} is not newer than {Newest}: ignored", job.JobId, previous.JobId);
                return null;
            }
            _newestJob = job;
            clean = previous == null || message.Clean || job.Height > previous.Height;
            var latest = _snapshot.Latest;
            if (clean)
            {
                foreach (var old in _snapshot.ByWireKey.Values)
                    old.Job.MarkStale();
                entry = AddEntry(job, now);
                _pending = null;
            }
            else if (latest != null && latest.Job.IsEmptyBlock && !job.IsEmptyBlock)
            {
                entry = AddEntry(job, now);
                _pending = null;
            }
            else
            {
                _pending = job;
            }
        }
        _logger.LogInformation("job {JobId} height {Height} clean={Clean} empty={Empty}: {What}", job.JobId, job.Height,
            clean, job.IsEmptyBlock, entry != null ? $"sent as {entry.WireId}" : "sent with the next notify");
        if (entry != null)
            SendOut(entry, clean, now);
        return job;
    }

    /// <summary>Housekeeping, called often by the job thread: the notify interval and expiry of old entries.</summary>
    public void Tick()
    {
        var now = _time.GetTimestamp();
        JobEntry? entry = null;
        lock (_gate)
        {
            var interval = _options.NotifyIntervalSeconds * _time.TimestampFrequency;
            var job = _pending ?? _snapshot.Latest?.Job;
            if (job != null && !job.IsStale && now - _lastBroadcastAt >= interval)
            {
                entry = AddEntry(job, now);
                _pending = null;
            }
            Expire(now);
        }
        if (entry != null)
            SendOut(entry, clean: false, now);
    }

    private void SendOut(JobEntry entry, bool clean, long now)
    {
        _lastBroadcastAt = now;
        _counters.Broadcast();
        Broadcast?.Invoke(entry, clean);
    }

    private JobEntry AddEntry(MiningJob job, long now)
    {
        var current = _snapshot;
        var key = _nextWireKey++;
        var entry = new JobEntry(key, ++_seq, job, now);
        var byKey = new Dictionary<ushort, JobEntry>(current.ByWireKey) { [key] = entry };
        _snapshot = new Snapshot(byKey, entry);
        _lastBroadcastAt = now;
        return entry;
    }

    private void Expire(long now)
    {
        var current = _snapshot;
        var lifetime = _options.JobLifetimeSeconds * _time.TimestampFrequency;
        List<ushort>? expired = null;
        foreach (var (key, entry) in current.ByWireKey)
            if (now - entry.CreatedAt > lifetime && entry != current.Latest)
                (expired ??= []).Add(key);
        if (expired == null)
            return;
        var byKey = new Dictionary<ushort, JobEntry>(current.ByWireKey);
        foreach (var key in expired)
            byKey.Remove(key);
        _snapshot = current with { ByWireKey = byKey };
    }

    private MiningJob? Prepare(StratumJob message, long now)
    {
        var extranonce1Size = message.Extranonce1Size == 0 ? StratumSession.Extranonce1Size : (int)message.Extranonce1Size;
        var jobExtranonce2Size = message.Extranonce2Size == 0 ? _options.Extranonce2Size : (int)message.Extranonce2Size;
        // Miners roll the configured size; a bigger placeholder is filled with zeros at the end of coinbase1, so the
        // size miners see stays the same whatever JobMaker reserves. A smaller one is what it is.
        var extranonce2Size = Math.Min(_options.Extranonce2Size, jobExtranonce2Size);
        string? problem = null;
        if (extranonce1Size != StratumSession.Extranonce1Size)
            problem = $"extranonce1_size {extranonce1Size}: SServer hands out {StratumSession.Extranonce1Size}-byte extranonce1 (JobMaker:Extranonce1Size must be 4)";
        else if (jobExtranonce2Size < 1)
            problem = $"extranonce2_size {jobExtranonce2Size} leaves miners nothing to roll";
        else if (message.PreviousBlockHash.Length != 32)
            problem = $"previous_block_hash is {message.PreviousBlockHash.Length} bytes, not 32";
        else if (message.MerkleBranch.Any(b => b.Length != 32))
            problem = "a merkle_branch entry is not 32 bytes";
        else if (message.CreatedAtUnixMs > 0)
        {
            var ageSeconds = (_time.GetUtcNow().ToUnixTimeMilliseconds() - message.CreatedAtUnixMs) / 1000.0;
            if (ageSeconds > _options.MaxJobDelaySeconds)
                problem = $"made {ageSeconds:0} s ago, more than Stratum:MaxJobDelaySeconds ({_options.MaxJobDelaySeconds})";
        }
        if (problem != null)
        {
            _logger.LogWarning("job {JobId} height {Height} ignored: {Problem}", message.JobId, message.Height, problem);
            return null;
        }
        try
        {
            var branch = message.MerkleBranch.Select(b => Hash256.FromInternalBytes(b.Span)).ToArray();
            var coinbase1 = message.Coinbase1.Memory;
            if (jobExtranonce2Size > extranonce2Size)
                coinbase1 = (byte[])[.. message.Coinbase1.Span, .. new byte[jobExtranonce2Size - extranonce2Size]];
            var checker = new ShareChecker(coinbase1.Span, message.Coinbase2.Span, extranonce1Size + extranonce2Size,
                branch, message.Version, Hash256.FromInternalBytes(message.PreviousBlockHash.Span), message.Bits);
            return new MiningJob(message, coinbase1, checker, extranonce2Size, now);
        }
        catch (ArgumentException e)
        {
            _logger.LogWarning("job {JobId} height {Height} ignored: {Problem}", message.JobId, message.Height, e.Message);
            return null;
        }
    }

    /// <summary>Test hook: the wire id the next entry gets (to replay a recorded session's job id).</summary>
    internal void SetNextWireKey(ushort key)
    {
        lock (_gate)
            _nextWireKey = key;
    }

    public void Dispose()
    {
        _stopping?.Cancel();
        _thread?.Join(TimeSpan.FromSeconds(10));
        _stopping?.Dispose();
    }
}
