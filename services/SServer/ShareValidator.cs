using PoolCluster.Bitcoin;
using PoolCluster.Stratum;
using PoolCluster.Topics;

namespace PoolCluster.SServer;

/// <summary>The verdict on one mining.submit.</summary>
public readonly struct ShareJudgement
{
    internal ShareJudgement(ShareStatus status, JobEntry? entry, double difficulty, in ShareCheckResult check)
    {
        Status = status;
        Entry = entry;
        Difficulty = difficulty;
        Check = check;
    }

    /// <summary>ACCEPTED, SOLVED, or the reject reason (its number is the stratum error code).</summary>
    public ShareStatus Status { get; }

    /// <summary>The job entry the submit named, when it was found.</summary>
    public JobEntry? Entry { get; }

    /// <summary>The difficulty the job was sent to this session with (0 when the job was not found).</summary>
    public double Difficulty { get; }

    /// <summary>The hash check (hash and rolled version), when the share got that far.</summary>
    public ShareCheckResult Check { get; }

    public bool IsAccepted => Status is ShareStatus.Accepted or ShareStatus.Solved;

    /// <summary>The stratum error for a rejected share (btcpool's codes are the ShareStatus numbers).</summary>
    public StratumErrorCode ErrorCode => (StratumErrorCode)(int)Status;

    internal static ShareJudgement Reject(ShareStatus status, JobEntry? entry = null, double difficulty = 0) =>
        new(status, entry, difficulty, default);
}

/// <summary>What makes two submits the same share: same job, same coinbase, same header fields.</summary>
public readonly record struct ShareKey(ulong JobId, ulong Extranonce2, uint NTime, uint Nonce, uint VersionBits);

/// <summary>
/// The shares one connection has submitted, for duplicate detection (the connection's extranonce1 is unique, so
/// per-connection sets cover extranonce1+extranonce2+ntime+nonce+version bits per job). Emptied when a clean job
/// makes everything older stale; bounded: when full, entries of jobs no longer live are dropped first.
/// Not thread-safe: used under the session's lock. Allocated at the first share only.
/// </summary>
public sealed class SubmittedShares
{
    private HashSet<ShareKey>? _keys;

    public int Count => _keys?.Count ?? 0;

    /// <summary>False when <paramref name="key"/> was submitted before.</summary>
    public bool TryAdd(in ShareKey key, int capacity, JobRepository jobs)
    {
        _keys ??= new HashSet<ShareKey>(16);
        if (_keys.Count >= capacity)
        {
            _keys.RemoveWhere(k => !jobs.IsLive(k.JobId));
            // Still full: the miner submits faster than any sane difficulty allows. Forgetting beats growing without
            // bound; the vardiff floor and the ban on invalid shares make this a corner case.
            if (_keys.Count >= capacity)
                _keys.Clear();
        }
        return _keys.Add(key);
    }

    public void Clear() => _keys?.Clear();
}

/// <summary>
/// Judges a mining.submit, cheapest checks first (btcpool's order): the job (known, sent to this session, not stale),
/// the extranonce2 size, ntime (not before the template's mintime, at most <see cref="StratumOptions.MaxNTimeAheadSeconds"/>
/// past the job's time), the version bits (only inside the negotiated BIP310 mask), duplicates, and finally the hash
/// against the difficulty the job was sent with and against the network target. Never throws for a bad share:
/// every outcome is a <see cref="ShareJudgement"/>. Allocation-free except the first share's duplicate set.
/// </summary>
public sealed class ShareValidator(JobRepository jobs, StratumOptions options)
{
    private readonly uint _maxNTimeAhead = (uint)options.MaxNTimeAheadSeconds;
    private readonly int _trackedShares = options.Limits.MaxTrackedSharesPerConnection;

    public JobRepository Jobs => jobs;

    /// <summary>Judges <paramref name="submit"/> for <paramref name="session"/>; the caller holds the session's lock.</summary>
    public ShareJudgement Judge(StratumSession session, in SubmitRequest submit)
    {
        if (!jobs.TryFind(submit.JobId, out var entry) || entry.Seq < session.FirstJobSeq)
            return ShareJudgement.Reject(ShareStatus.JobNotFound);
        var job = entry.Job;
        if (job.IsStale)
            return ShareJudgement.Reject(ShareStatus.JobNotFound, entry);
        if (submit.Extranonce2Size != job.Extranonce2Size)
            return ShareJudgement.Reject(ShareStatus.IllegalParams, entry);
        if (submit.NTime < job.MinTime)
            return ShareJudgement.Reject(ShareStatus.TimeTooOld, entry);
        if (submit.NTime > job.CurTime + (ulong)_maxNTimeAhead)
            return ShareJudgement.Reject(ShareStatus.TimeTooNew, entry);
        if (!VersionRolling.IsAllowed(submit.VersionBits, session.VersionMask))
            return ShareJudgement.Reject(ShareStatus.IllegalVersionMask, entry);
        if (session.Difficulty is not { } difficulty || !difficulty.TryGetForJob(entry.Seq, out var shareDifficulty, out var target))
            return ShareJudgement.Reject(ShareStatus.JobNotFound, entry);
        if (!session.Submitted.TryAdd(new ShareKey(job.JobId, submit.Extranonce2, submit.NTime, submit.Nonce, submit.VersionBits), _trackedShares, jobs))
            return ShareJudgement.Reject(ShareStatus.Duplicate, entry, shareDifficulty);

        Span<byte> extranonce2 = stackalloc byte[StratumRequestParams.MaxExtranonce2Size];
        submit.WriteExtranonce2(extranonce2);
        var check = job.Checker.Check(session.Extranonce1, extranonce2[..submit.Extranonce2Size], submit.NTime, submit.Nonce,
            target, submit.VersionBits, session.VersionMask);
        var status = check.Status switch
        {
            // A hash under the network target is a block even when the share target was set harder than the network's.
            _ when check.IsBlock && check.Status is ShareCheckStatus.Valid or ShareCheckStatus.LowDifficulty => ShareStatus.Solved,
            ShareCheckStatus.Valid => ShareStatus.Accepted,
            ShareCheckStatus.LowDifficulty => ShareStatus.LowDifficulty,
            ShareCheckStatus.VersionBitsOutsideMask => ShareStatus.IllegalVersionMask,
            _ => ShareStatus.IllegalParams,
        };
        return new ShareJudgement(status, entry, shareDifficulty, check);
    }
}
