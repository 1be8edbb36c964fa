using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using PoolCluster.Bitcoin;
using PoolCluster.Stratum;

namespace PoolCluster.SServer;

/// <summary>
/// Vardiff for one connection, and the memory of which difficulty each job was sent with.
/// <para>
/// The difficulty itself is shared/Stratum's <see cref="VarDiffController"/> (one share per
/// <see cref="VardiffSettings.TargetShareSeconds"/>, bounded by min/max, password d=/md=, suggest_difficulty). As in
/// btcpool a new difficulty reaches the miner only with the next job (<c>mining.set_difficulty</c>, then
/// <c>mining.notify</c>): <see cref="TakeChangeForNextJob"/> says whether one is due, <see cref="JobSent"/> records it.
/// </para>
/// <para>
/// Work already done is never judged by a later difficulty: every job entry sent to this connection is judged at the
/// difficulty in force when it was sent (<see cref="TryGetForJob"/>). Only changes are stored, the last
/// <see cref="HistoryLength"/> of them, each with its target computed once.
/// </para>
/// Not thread-safe: used under the session's lock.
/// </summary>
public sealed class SessionDifficulty
{
    public const int HistoryLength = 4;

    /// <summary>How often shares re-judge the difficulty (each job re-judges too).</summary>
    public static readonly TimeSpan ShareJudgeInterval = TimeSpan.FromSeconds(1);

    private struct SentDifficulty
    {
        public long FromSeq;
        public double Difficulty;
        public Target Target;
    }

    [InlineArray(HistoryLength)]
    private struct History
    {
        private SentDifficulty _first;
    }

    private readonly VarDiffController _controller;
    private readonly DifficultyTargets _targets;
    private History _history;
    private int _count;
    private int _newest = -1;
    private TimeSpan? _lastJudged;

    /// <param name="targets">The server's shared targets (one per difficulty); null: this connection computes its own.</param>
    public SessionDifficulty(VarDiffOptions options, TimeSpan now, DifficultyTargets? targets = null)
    {
        _controller = new VarDiffController(options, now);
        _targets = targets ?? new DifficultyTargets();
    }

    /// <summary>The difficulty the next job will carry.</summary>
    public double Current => _controller.Difficulty;

    /// <summary>The difficulty last sent to the miner (0 before the first job).</summary>
    public double LastSent => _count == 0 ? 0 : _history[_newest].Difficulty;

    public double MinimumDifficulty => _controller.MinimumDifficulty;

    public VarDiffController Controller => _controller;

    /// <summary>
    /// Counts a share that proved work at its job's difficulty and re-judges the rate, at most once per
    /// <see cref="ShareJudgeInterval"/>: a new difficulty only goes out with the next job, which judges again anyway
    /// (<see cref="TakeChangeForNextJob"/>), so judging every share of a fast connection would only cost CPU.
    /// </summary>
    public void RecordShare(double jobDifficulty, TimeSpan now)
    {
        _controller.RecordShare(jobDifficulty, now);
        if (_lastJudged is { } last && now - last < ShareJudgeInterval)
            return;
        _lastJudged = now;
        _controller.TryRetarget(now, out _);
    }

    /// <summary>Re-judges (a silent miner gets easier work) and says whether the next job must carry a new difficulty.</summary>
    public bool TakeChangeForNextJob(TimeSpan now, out double difficulty)
    {
        _controller.TryRetarget(now, out difficulty);
        return difficulty != LastSent;
    }

    /// <summary>Records that job entry <paramref name="seq"/> went out at <see cref="Current"/>.</summary>
    public void JobSent(long seq)
    {
        var difficulty = _controller.Difficulty;
        if (_count > 0 && _history[_newest].Difficulty == difficulty)
            return;
        _newest = (_newest + 1) % HistoryLength;
        _history[_newest] = new SentDifficulty { FromSeq = seq, Difficulty = difficulty, Target = _targets.For(difficulty) };
        _count = Math.Min(_count + 1, HistoryLength);
    }

    /// <summary>The difficulty (and target) job entry <paramref name="seq"/> was sent with; false before any job.</summary>
    public bool TryGetForJob(long seq, out double difficulty, out Target target)
    {
        for (var i = 0; i < _count; i++)
        {
            ref var sent = ref _history[(_newest - i + HistoryLength) % HistoryLength];
            if (sent.FromSeq <= seq || i == _count - 1)
            {
                // Older than the remembered changes: the oldest one kept is the closest answer there is.
                difficulty = sent.Difficulty;
                target = sent.Target;
                return true;
            }
        }
        difficulty = 0;
        target = default;
        return false;
    }
}

/// <summary>
/// Share targets by difficulty, shared by a server's connections. Vardiff hands out powers of two, so a few dozen
/// difficulties serve every connection: their targets (BigInteger arithmetic, about a microsecond) are computed once,
/// not per connection per broadcast. Bounded, so arbitrary d= values cannot grow it forever. Thread-safe.
/// </summary>
public sealed class DifficultyTargets
{
    private const int MaxCached = 4096;
    private readonly ConcurrentDictionary<double, Target> _targets = new();

    public Target For(double difficulty)
    {
        if (_targets.TryGetValue(difficulty, out var target))
            return target;
        target = Target.FromDifficulty(difficulty);
        if (_targets.Count < MaxCached)
            _targets.TryAdd(difficulty, target);
        return target;
    }
}
