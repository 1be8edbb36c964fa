using System.Collections.Concurrent;
using PoolCluster.Bitcoin;
using PoolCluster.Topics;

namespace PoolCluster.StatsHttpd.Aggregation;

public enum ShareApplyResult
{
    Applied,

    /// <summary>Unusable: unspecified status, no user, worker id 0, difficulty not positive, no timestamp.</summary>
    Invalid,

    /// <summary>Timestamped further in the future than the allowed clock skew.</summary>
    FromTheFuture,
}

/// <summary>What a worker event means for Redis's event lists.</summary>
internal readonly record struct WorkerEventEffect(string? RedisEvent, ShareStats? Worker, string Peer)
{
    public static readonly WorkerEventEffect None = new(null, null, "");
}

/// <summary>
/// All share statistics of the pool: one <see cref="ShareStats"/> per worker, user and stratum server (host) plus the
/// pool's own, and the open stratum sessions from worker events. Shares are applied by one thread (the share consumer),
/// worker events by another; the HTTP API and the writers read concurrently. Entity maps are concurrent dictionaries,
/// each entity has its own lock.
/// </summary>
public sealed class StatsStore : IEvictionSink
{
    private readonly ConcurrentDictionary<int, ShareStats> users = new();
    private readonly ConcurrentDictionary<(int UserId, long WorkerId), ShareStats> workers = new();
    private readonly ConcurrentDictionary<uint, ShareStats> hosts = new();
    private readonly ConcurrentQueue<MinuteRecord> evictedMinutes = new();
    private readonly ConcurrentQueue<PeriodRecord> evictedPeriods = new();
    private readonly Lock sessionsGate = new();
    private readonly Dictionary<(uint ServerId, ulong SessionId), Session> sessions = new();
    private readonly Dictionary<(uint ServerId, ulong SessionId), long> closedSessions = new();
    private readonly Dictionary<uint, int> connectionsByServer = new();
    private readonly TimeProvider time;
    private readonly Network network;
    private readonly long maxFutureMs;
    private readonly RingSizes wideRings;
    private long sharesApplied;
    private long nextClockReadTick = long.MinValue;
    private long futureLimitMs;
    private long sharesInvalid;
    private long sharesFromTheFuture;
    private long evictionsDropped;
    private int pendingEvicted;

    public StatsStore(StatsStoreSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        this.time = time;
        network = settings.Network;
        maxFutureMs = (long)settings.MaxFutureSkew.TotalMilliseconds;
        TracksMinutes = settings.TrackMinutesForRedis;
        TracksPeriods = settings.TrackPeriodsForMySql;
        MaxPendingEvicted = settings.MaxPendingRecords;
        wideRings = RingSizes.Spanning(settings.ReplaySpan);
        Pool = new ShareStats(StatsEntityKind.Pool, 0, 0, 0, "", "", wideRings);
        CoverageStartSeconds = long.MinValue;
    }

    public ShareStats Pool { get; }

    public TimeProvider Time => time;

    /// <summary>
    /// The share time (unix s) from which every share is known to have been applied (the consumer's start point).
    /// Buckets that begin earlier may hold only part of their shares: writers never persist them.
    /// </summary>
    public long CoverageStartSeconds { get; set; }

    public long SharesApplied => Volatile.Read(ref sharesApplied);
    public long SharesInvalid => Interlocked.Read(ref sharesInvalid);
    public long SharesFromTheFuture => Interlocked.Read(ref sharesFromTheFuture);

    /// <summary>Buckets recycled before their sink persisted them and dropped because the backlog was full.</summary>
    public long EvictionsDropped => Interlocked.Read(ref evictionsDropped);

    public int MaxPendingEvicted { get; }

    public bool TracksMinutes { get; }
    public bool TracksPeriods { get; }

    public int UserCount => users.Count;
    public int WorkerCount => workers.Count;

    /// <summary>Called once for every worker the store creates (a first share or event since start or expiry).</summary>
    internal Action<ShareStats>? WorkerCreated { get; set; }

    internal IEnumerable<ShareStats> Users => users.Values;
    internal IEnumerable<ShareStats> Workers => workers.Values;
    internal IEnumerable<ShareStats> Hosts => hosts.Values;

    /// <summary>The pool, hosts, users and workers.</summary>
    internal IEnumerable<ShareStats> AllEntities()
    {
        yield return Pool;
        foreach (var host in hosts.Values)
            yield return host;
        foreach (var user in users.Values)
            yield return user;
        foreach (var worker in workers.Values)
            yield return worker;
    }

    public bool TryGetUser(int userId, out ShareStats user) => users.TryGetValue(userId, out user!);

    public bool TryGetWorker(int userId, long workerId, out ShareStats worker) => workers.TryGetValue((userId, workerId), out worker!);

    internal long NowSeconds => time.GetUtcNow().ToUnixTimeSeconds();

    public long FirstCoveredMinute => CeilDiv(CoverageStartSeconds, 60);
    public long FirstCoveredHour => CeilDiv(CoverageStartSeconds, 3600);
    public long FirstCoveredDay => CeilDiv(CoverageStartSeconds, 86400);

    /// <summary>
    /// Adds one share to its worker, user, host and the pool. Allocation-free once the entities exist. Called by one
    /// thread at a time (the share consumer).
    /// </summary>
    public ShareApplyResult Apply(Share share)
    {
        ArgumentNullException.ThrowIfNull(share);
        var outcome = RejectReasons.Classify(share.Status, out var reasonIndex);
        var timestampMs = share.TimestampUnixMs;
        var difficulty = share.ShareDifficulty;
        // worker_id 0 is btcpool's "the user itself" in mining_workers and /worker_status.
        if (outcome == ShareOutcome.Invalid || share.UserId <= 0 || share.WorkerId == 0 || timestampMs <= 0
            || !double.IsFinite(difficulty) || difficulty <= 0)
        {
            Interlocked.Increment(ref sharesInvalid);
            return ShareApplyResult.Invalid;
        }
        // The clock is read at most every 100 ms (a cheap tick count decides): the limit is minutes wide.
        var tick = Environment.TickCount64;
        if (tick >= nextClockReadTick)
        {
            futureLimitMs = time.GetUtcNow().ToUnixTimeMilliseconds() + maxFutureMs;
            nextClockReadTick = tick + 100;
        }
        if (timestampMs > futureLimitMs)
        {
            // A far-future bucket would claim its ring slot and make every real share of that slot "too old".
            Interlocked.Increment(ref sharesFromTheFuture);
            return ShareApplyResult.FromTheFuture;
        }

        var networkDifficulty = share.NetworkDifficulty;
        var goal = networkDifficulty > 0 && double.IsFinite(networkDifficulty) ? difficulty / networkDifficulty : 0;
        var score = outcome == ShareOutcome.Accepted ? Math.Min(1.0, goal) : 0;
        var second = TimeKeys.FloorDiv(timestampMs, 1000);
        var sample = new ShareSample
        {
            Outcome = outcome,
            ReasonIndex = reasonIndex,
            Difficulty = difficulty,
            Goal = outcome == ShareOutcome.Accepted ? goal : 0,
            Score = score,
            Earn = score * Subsidy.GetBlockSubsidy((int)Math.Min(share.Height, int.MaxValue), network),
            IsBlock = share.Status == ShareStatus.Solved,
            TimestampMs = timestampMs,
            Second = second,
            Minute = TimeKeys.FloorDiv(second, 60),
            Hour = TimeKeys.FloorDiv(second, 3600),
            Day = TimeKeys.FloorDiv(second, 86400),
            Ip = share.Ip,
        };

        // A removed entity (expired meanwhile) is replaced by a fresh one: look it up again.
        ShareStats worker;
        while (!TryAdd(worker = GetOrCreateWorker(share.UserId, share.WorkerId, share.UserName, share.WorkerName), sample))
        {
        }
        // The worker knows its user: no second lookup, unless that user expired meanwhile.
        var user = worker.Owner;
        if (user == null || !TryAdd(user, sample))
        {
            do
            {
                user = GetOrCreateUser(share.UserId, share.UserName);
            }
            while (!TryAdd(user, sample));
            worker.Owner = user;
        }
        TryAdd(GetOrCreateHost(share.ServerId), sample);
        TryAdd(Pool, sample);
        // One thread applies shares (the share consumer): a plain increment, published by Volatile.Read below.
        Volatile.Write(ref sharesApplied, sharesApplied + 1);
        return ShareApplyResult.Applied;
    }

    private bool TryAdd(ShareStats target, in ShareSample sample)
    {
        lock (target.Gate)
        {
            if (target.Removed)
                return false;
            target.AddLocked(sample, this);
            return true;
        }
    }

    private ShareStats GetOrCreateUser(int userId, string userName)
    {
        if (users.TryGetValue(userId, out var user))
        {
            if (!user.Removed)
                return user;
            users.TryRemove(new KeyValuePair<int, ShareStats>(userId, user));
        }
        var created = new ShareStats(StatsEntityKind.User, userId, 0, 0, userName.Length > 0 ? userName : userId.ToString(System.Globalization.CultureInfo.InvariantCulture), "");
        return users.GetOrAdd(userId, created);
    }

    private ShareStats GetOrCreateWorker(int userId, long workerId, string userName, string workerName)
    {
        var key = (userId, workerId);
        if (workers.TryGetValue(key, out var worker))
        {
            if (!worker.Removed)
                return worker;
            workers.TryRemove(new KeyValuePair<(int, long), ShareStats>(key, worker));
        }
        var user = GetOrCreateUser(userId, userName);
        var created = new ShareStats(StatsEntityKind.Worker, userId, workerId, 0, user.UserName,
            workerName.Length > 0 ? workerName : "__default__");
        var added = workers.GetOrAdd(key, created);
        if (ReferenceEquals(added, created))
        {
            user.Workers![workerId] = created;
            // The user may have expired between the lookup and the line above (it had no workers): register the
            // worker with its replacement.
            while (user.Removed)
            {
                user = GetOrCreateUser(userId, userName);
                user.Workers![workerId] = created;
            }
            created.Owner = user;
            WorkerCreated?.Invoke(created);
        }
        return added;
    }

    private ShareStats GetOrCreateHost(uint serverId)
    {
        if (hosts.TryGetValue(serverId, out var host))
            return host;
        return hosts.GetOrAdd(serverId, id => new ShareStats(StatsEntityKind.Host, 0, 0, id, "", "", wideRings));
    }

    /// <summary>
    /// Tracks stratum sessions (online/offline per worker, connections per server) and says what to push to Redis's
    /// event lists: "connected" for AUTHORIZED, "disconnected" for DISCONNECTED of a named worker.
    /// </summary>
    internal WorkerEventEffect ApplyWorkerEvent(WorkerEvent workerEvent)
    {
        ArgumentNullException.ThrowIfNull(workerEvent);
        var key = (workerEvent.ServerId, workerEvent.SessionId);
        var named = workerEvent.UserId > 0 && workerEvent.WorkerId != 0;
        var eventMs = workerEvent.TimestampUnixMs;
        ShareStats? worker = named
            ? GetOrCreateWorker(workerEvent.UserId, workerEvent.WorkerId, workerEvent.UserName, workerEvent.WorkerName)
            : null;
        if (worker != null)
        {
            lock (worker.Gate)
            {
                if (eventMs > worker.LastActivityMs)
                    worker.LastActivityMs = eventMs;
                if (workerEvent.Agent.Length > 0 && workerEvent.Kind is WorkerEventKind.Authorized or WorkerEventKind.Updated)
                    worker.MinerAgent = workerEvent.Agent;
            }
        }

        lock (sessionsGate)
        {
            switch (workerEvent.Kind)
            {
                case WorkerEventKind.Connected:
                    if (!closedSessions.ContainsKey(key) && !sessions.ContainsKey(key))
                        Open(key, workerEvent);
                    break;
                case WorkerEventKind.Authorized:
                case WorkerEventKind.Updated:
                    // UPDATED also heals a session whose CONNECTED/AUTHORIZED fell before the retained history.
                    if (closedSessions.ContainsKey(key))
                        break;
                    var session = sessions.TryGetValue(key, out var open) ? open : Open(key, workerEvent);
                    if (worker != null && !ReferenceEquals(session.Worker, worker))
                    {
                        SetOnline(session.Worker, -1);
                        session.Worker = worker;
                        SetOnline(worker, +1);
                    }
                    break;
                case WorkerEventKind.Disconnected:
                    if (sessions.Remove(key, out var closed))
                    {
                        SetOnline(closed.Worker, -1);
                        connectionsByServer[key.ServerId] = Math.Max(0, connectionsByServer.GetValueOrDefault(key.ServerId) - 1);
                    }
                    // Events of one session may arrive out of order (CONNECTED is keyed before the user is known):
                    // remember the close so a late CONNECTED does not reopen it.
                    closedSessions[key] = eventMs;
                    break;
            }
        }

        return workerEvent.Kind switch
        {
            WorkerEventKind.Authorized when worker != null => new WorkerEventEffect("connected", worker, workerEvent.Ip),
            WorkerEventKind.Disconnected when worker != null => new WorkerEventEffect("disconnected", worker, workerEvent.Ip),
            _ => WorkerEventEffect.None,
        };
    }

    private Session Open((uint ServerId, ulong SessionId) key, WorkerEvent workerEvent)
    {
        var session = new Session { OpenedMs = workerEvent.TimestampUnixMs };
        sessions[key] = session;
        connectionsByServer[key.ServerId] = connectionsByServer.GetValueOrDefault(key.ServerId) + 1;
        return session;
    }

    private void SetOnline(ShareStats? worker, int delta)
    {
        if (worker == null)
            return;
        lock (worker.Gate)
            worker.OnlineSessions = Math.Max(0, worker.OnlineSessions + delta);
    }

    /// <summary>Open stratum connections per stratum server, and in total.</summary>
    internal (int Total, Dictionary<uint, int> ByServer) Connections()
    {
        lock (sessionsGate)
            return (connectionsByServer.Values.Sum(), new Dictionary<uint, int>(connectionsByServer));
    }

    /// <summary>A user's open sessions (sum over its workers).</summary>
    internal int OnlineSessionsOf(ShareStats user)
    {
        var total = 0;
        foreach (var worker in user.Workers?.Values ?? [])
        {
            lock (worker.Gate)
                total += worker.OnlineSessions;
        }
        return total;
    }

    /// <summary>
    /// Drops workers and users idle (no share, no event) since <paramref name="idleSinceMs"/> with no open session and
    /// nothing left to persist, and forgets closed sessions older than <paramref name="closedBeforeMs"/>.
    /// </summary>
    internal (int Workers, int Users) Expire(long idleSinceMs, long closedBeforeMs)
    {
        var removedWorkers = 0;
        foreach (var (key, worker) in workers)
        {
            if (!TryMarkRemoved(worker, idleSinceMs))
                continue;
            workers.TryRemove(new KeyValuePair<(int, long), ShareStats>(key, worker));
            if (users.TryGetValue(key.UserId, out var owner))
                owner.Workers!.TryRemove(new KeyValuePair<long, ShareStats>(key.WorkerId, worker));
            removedWorkers++;
        }
        var removedUsers = 0;
        foreach (var (userId, user) in users)
        {
            if (!user.Workers!.IsEmpty || !TryMarkRemoved(user, idleSinceMs))
                continue;
            users.TryRemove(new KeyValuePair<int, ShareStats>(userId, user));
            removedUsers++;
        }
        lock (sessionsGate)
        {
            foreach (var (key, closedMs) in closedSessions)
                if (closedMs < closedBeforeMs)
                    closedSessions.Remove(key);
        }
        return (removedWorkers, removedUsers);
    }

    private static bool TryMarkRemoved(ShareStats entity, long idleSinceMs)
    {
        lock (entity.Gate)
        {
            if (entity.LastActivityMs >= idleSinceMs || entity.OnlineSessions > 0 || entity.HasDirtyBuckets)
                return false;
            entity.Removed = true;
            return true;
        }
    }

    void IEvictionSink.MinuteEvicted(in MinuteRecord record)
    {
        if (TryReservePending())
            evictedMinutes.Enqueue(record);
    }

    void IEvictionSink.PeriodEvicted(in PeriodRecord record)
    {
        if (TryReservePending())
            evictedPeriods.Enqueue(record);
    }

    private bool TryReservePending()
    {
        if (Interlocked.Increment(ref pendingEvicted) <= MaxPendingEvicted)
            return true;
        Interlocked.Decrement(ref pendingEvicted);
        Interlocked.Increment(ref evictionsDropped);
        return false;
    }

    internal void DrainEvictedMinutes(ICollection<MinuteRecord> into)
    {
        while (evictedMinutes.TryDequeue(out var record))
        {
            Interlocked.Decrement(ref pendingEvicted);
            into.Add(record);
        }
    }

    internal void DrainEvictedPeriods(ICollection<PeriodRecord> into)
    {
        while (evictedPeriods.TryDequeue(out var record))
        {
            Interlocked.Decrement(ref pendingEvicted);
            into.Add(record);
        }
    }

    private static long CeilDiv(long value, long divisor) =>
        value == long.MinValue ? long.MinValue : -TimeKeys.FloorDiv(-value, divisor);

    private sealed class Session
    {
        public long OpenedMs { get; init; }
        public ShareStats? Worker { get; set; }
    }
}

/// <summary>How a <see cref="StatsStore"/> behaves (from StatsHttpd's options).</summary>
public sealed class StatsStoreSettings
{
    /// <summary>Whose subsidy schedule prices "earn" (PPS for the subsidy).</summary>
    public Network Network { get; init; } = Network.Mainnet;

    /// <summary>Shares stamped further ahead of this clock are refused.</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Mark minute buckets for the Redis writer.</summary>
    public bool TrackMinutesForRedis { get; init; } = true;

    /// <summary>Mark hour/day buckets for the MySQL writer.</summary>
    public bool TrackPeriodsForMySql { get; init; } = true;

    /// <summary>
    /// How far back the share history is replayed at start: the pool's and servers' rings span it, because while
    /// replaying, partitions run ahead of each other.
    /// </summary>
    public TimeSpan ReplaySpan { get; init; } = TimeSpan.FromHours(25);

    /// <summary>Most buckets kept for a sink that is down after they left their ring.</summary>
    public int MaxPendingRecords { get; init; } = 1_000_000;
}
