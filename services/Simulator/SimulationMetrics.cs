using System.Collections.Concurrent;
using System.Diagnostics;

namespace PoolCluster.Simulator;

/// <summary>What a submit was meant to be: a good share or one of the bad kinds.</summary>
internal enum ShareKind
{
    Good = 0,
    Stale = 1 + BadShareKind.Stale,
    Duplicate = 1 + BadShareKind.Duplicate,
    LowDifficulty = 1 + BadShareKind.LowDifficulty,
    Garbage = 1 + BadShareKind.Garbage,
}

/// <summary>Outcomes of one kind of submit.</summary>
internal sealed class KindCounters
{
    public long Sent;
    public long Accepted;
    public long Rejected;

    /// <summary>Sent but never answered: the connection closed first, or the run ended before the drain timeout.</summary>
    public long Unanswered;

    public readonly ConcurrentDictionary<int, long> RejectedByCode = new();

    public void Reject(int code)
    {
        Interlocked.Increment(ref Rejected);
        RejectedByCode.AddOrUpdate(code, 1, static (_, n) => n + 1);
    }
}

/// <summary>Per user: what was sent for it and what the server credited.</summary>
internal sealed class UserCounters(string name)
{
    public string Name { get; } = name;
    public int Miners;
    public long Submitted;
    public long Accepted;
    public long Rejected;
    private double _acceptedDifficulty;

    public double AcceptedDifficulty => Volatile.Read(ref _acceptedDifficulty);

    public void AddAccepted(double difficulty)
    {
        Interlocked.Increment(ref Accepted);
        double seen, sum;
        do
        {
            seen = Volatile.Read(ref _acceptedDifficulty);
            sum = seen + difficulty;
        } while (Interlocked.CompareExchange(ref _acceptedDifficulty, sum, seen) != seen);
    }
}

/// <summary>Distinct problems with a count each (connect refused, malformed server lines, ...), at most 100 kinds.</summary>
internal sealed class ErrorTally
{
    private const int MaxDistinct = 100;
    private const string Other = "(other errors, beyond 100 distinct messages)";
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public void Add(string what)
    {
        if (_counts.Count >= MaxDistinct && !_counts.ContainsKey(what))
            what = Other;
        _counts.AddOrUpdate(what, 1, static (_, n) => n + 1);
    }

    public long Total => _counts.Values.Sum();

    public IReadOnlyList<KeyValuePair<string, long>> Snapshot() =>
        _counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).ToList();
}

/// <summary>
/// When each job reached the miners. A job's broadcast spread is the time from the first miner receiving its notify to
/// the last; a miner's first notify after logging in is not part of a broadcast and is not counted. When the job id
/// encodes its creation time, the job's age at the first and the last miner too.
/// </summary>
internal sealed class NotifyTracker
{
    private const int MaxJobs = 10_000;
    private readonly ConcurrentDictionary<string, Arrival> _jobs = new(StringComparer.Ordinal);
    private readonly long _startTimestamp;
    private readonly double _startUnixMs;

    public NotifyTracker(long startTimestamp, double startUnixMs)
    {
        _startTimestamp = startTimestamp;
        _startUnixMs = startUnixMs;
    }

    internal sealed class Arrival(string jobId, bool clean, long? createdUnixMs)
    {
        public string JobId { get; } = jobId;
        public bool Clean { get; } = clean;
        public long? CreatedUnixMs { get; } = createdUnixMs;
        public long First = long.MaxValue;
        public long Last = long.MinValue;
        public int Miners;
    }

    public void Record(SharedJob job, bool clean, long timestamp)
    {
        if (!_jobs.TryGetValue(job.JobId, out var arrival))
        {
            if (_jobs.Count >= MaxJobs)
                return;
            arrival = _jobs.GetOrAdd(job.JobId, _ => new Arrival(job.JobId, clean, job.CreatedUnixMs));
        }
        lock (arrival)
        {
            if (timestamp < arrival.First) arrival.First = timestamp;
            if (timestamp > arrival.Last) arrival.Last = timestamp;
            arrival.Miners++;
        }
    }

    public double UnixMsAt(long timestamp) => _startUnixMs + (timestamp - _startTimestamp) * 1000.0 / Stopwatch.Frequency;

    public NotifySummary Summarize()
    {
        var clean = new LatencyHistogram();
        var all = new LatencyHistogram();
        var ageFirst = new LatencyHistogram();
        var ageLast = new LatencyHistogram();
        var recent = new List<JobArrivalSummary>();
        int jobs = 0, cleanJobs = 0;
        foreach (var arrival in _jobs.Values.OrderBy(a => a.First))
        {
            long first, last;
            int miners;
            lock (arrival)
            {
                first = arrival.First;
                last = arrival.Last;
                miners = arrival.Miners;
            }
            jobs++;
            if (arrival.Clean)
                cleanJobs++;
            var spreadTicks = last - first;
            if (miners >= 2)
            {
                all.RecordTicks(spreadTicks);
                if (arrival.Clean)
                    clean.RecordTicks(spreadTicks);
            }
            double? ageAtFirst = null, ageAtLast = null;
            if (arrival.CreatedUnixMs is { } created)
            {
                ageAtFirst = UnixMsAt(first) - created;
                ageAtLast = UnixMsAt(last) - created;
                ageFirst.RecordMicros((long)(ageAtFirst.Value * 1000));
                ageLast.RecordMicros((long)(ageAtLast.Value * 1000));
            }
            recent.Add(new JobArrivalSummary(arrival.JobId, arrival.Clean, miners, spreadTicks * 1000.0 / Stopwatch.Frequency, ageAtFirst, ageAtLast));
        }
        if (recent.Count > 50)
            recent = recent.GetRange(recent.Count - 50, 50);
        return new NotifySummary(jobs, cleanJobs, clean.Summarize(), all.Summarize(), ageFirst.Summarize(), ageLast.Summarize(), recent);
    }
}

internal sealed record JobArrivalSummary(string JobId, bool Clean, int Miners, double SpreadMs, double? AgeAtFirstMinerMs, double? AgeAtLastMinerMs);

internal sealed record NotifySummary(int Jobs, int CleanJobs, LatencySummary CleanSpread, LatencySummary AllSpread,
    LatencySummary AgeAtFirstMiner, LatencySummary AgeAtLastMiner, IReadOnlyList<JobArrivalSummary> Recent);

/// <summary>Every counter of a run: written by miners from any thread, read by the progress display and the report.</summary>
internal sealed class SimulationMetrics
{
    public SimulationMetrics(IReadOnlyList<string> users, long startTimestamp, double startUnixMs)
    {
        Users = users.Select(u => new UserCounters(u)).ToArray();
        Notify = new NotifyTracker(startTimestamp, startUnixMs);
        for (var i = 0; i < Kinds.Length; i++)
            Kinds[i] = new KindCounters();
    }

    // Connections.
    public long ConnectAttempts;
    public long ConnectFailures;
    public long Established;
    public long Open;
    public long PeakOpen;
    public long Logins;
    public long LoggedInNow;
    public long SubscribeFailures;
    public long AuthorizeFailures;
    public long ClosedByServer;
    public long StormDisconnects;
    public long ServerReconnectRequests;

    // Shares.
    public readonly KindCounters[] Kinds = new KindCounters[5];
    public readonly LatencyHistogram AnswerLatency = new();
    public long BadShareUnavailable;
    public long UnexpectedAnswers;

    // Hashing.
    public long RealShares;
    public long BlindShares;
    public long BlindLocallyValid;

    // Server messages.
    public long Notifies;
    public long CleanNotifies;
    public long DifficultyChanges;
    public long ExtranonceChanges;
    public long VersionMasks;
    public long OtherMethods;

    public UserCounters[] Users { get; }
    public NotifyTracker Notify { get; }
    public ErrorTally Errors { get; } = new();

    public KindCounters this[ShareKind kind] => Kinds[(int)kind];

    public void ConnectionOpened()
    {
        Interlocked.Increment(ref Established);
        var open = Interlocked.Increment(ref Open);
        long peak;
        while (open > (peak = Interlocked.Read(ref PeakOpen)) && Interlocked.CompareExchange(ref PeakOpen, open, peak) != peak)
        {
        }
    }

    public long Submitted => Kinds.Sum(k => Interlocked.Read(ref k.Sent));
    public long Accepted => Kinds.Sum(k => Interlocked.Read(ref k.Accepted));
    public long Rejected => Kinds.Sum(k => Interlocked.Read(ref k.Rejected));

    public Dictionary<int, long> RejectedByCode()
    {
        var total = new Dictionary<int, long>();
        foreach (var kind in Kinds)
            foreach (var (code, count) in kind.RejectedByCode)
                total[code] = total.GetValueOrDefault(code) + count;
        return total;
    }
}
