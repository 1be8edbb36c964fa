namespace PoolCluster.Stratum;

/// <summary>Pool-wide variable difficulty settings; every connection gets its own <see cref="VarDiffController"/>.</summary>
public sealed class VarDiffOptions
{
    /// <summary>The difficulty a new connection starts at (btcpool's default_difficulty 0x4000).</summary>
    public double InitialDifficulty { get; init; } = 16384;

    /// <summary>The lowest difficulty ever set. Below 1 is allowed: CPU miners on test networks need it.</summary>
    public double MinDifficulty { get; init; } = 1.0 / 1024;

    /// <summary>The highest difficulty ever set (btcpool's max_difficulty 2^62).</summary>
    public double MaxDifficulty { get; init; } = 4611686018427387904.0;

    /// <summary>The share interval aimed at (btcpool's share_avg_seconds).</summary>
    public double TargetShareSeconds { get; init; } = 10;

    /// <summary>How far back share counts are remembered (btcpool's diff_adjust_period, shorter so miners settle in minutes).</summary>
    public double WindowSeconds { get; init; } = 300;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        static void Positive(double value, string name)
        {
            if (!double.IsFinite(value) || value <= 0)
                throw new ArgumentException($"{name} must be a positive number, got {value}", name);
        }
        Positive(MinDifficulty, nameof(MinDifficulty));
        Positive(MaxDifficulty, nameof(MaxDifficulty));
        Positive(InitialDifficulty, nameof(InitialDifficulty));
        Positive(TargetShareSeconds, nameof(TargetShareSeconds));
        Positive(WindowSeconds, nameof(WindowSeconds));
        if (MinDifficulty < StratumDifficulty.MinWritable || MaxDifficulty > StratumDifficulty.MaxWritable)
            throw new ArgumentException($"difficulty bounds must lie within [{StratumDifficulty.MinWritable}, {StratumDifficulty.MaxWritable}]");
        if (MinDifficulty > MaxDifficulty)
            throw new ArgumentException($"{nameof(MinDifficulty)} {MinDifficulty} is above {nameof(MaxDifficulty)} {MaxDifficulty}");
        if (InitialDifficulty < MinDifficulty || InitialDifficulty > MaxDifficulty)
            throw new ArgumentException($"{nameof(InitialDifficulty)} {InitialDifficulty} is outside [{MinDifficulty}, {MaxDifficulty}]");
        if (WindowSeconds < 6 * TargetShareSeconds)
            throw new ArgumentException($"{nameof(WindowSeconds)} {WindowSeconds} must be at least 6 x {nameof(TargetShareSeconds)} ({6 * TargetShareSeconds}) to judge a share rate");
    }
}

/// <summary>
/// Variable difficulty for one connection: keeps the miner at about one share per
/// <see cref="VarDiffOptions.TargetShareSeconds"/>. Never reads a clock: every call takes "now" (any monotonic
/// time since a fixed origin), so it runs the same on simulated time.
/// <para>
/// Like btcpool's DiffController it counts shares in time buckets over a sliding window
/// (<see cref="VarDiffOptions.WindowSeconds"/>, 30 buckets, shares counted in units of the current difficulty) and
/// moves only in powers of two (fractional ones below 1). Unlike btcpool it judges with Poisson confidence bounds
/// rather than fixed count thresholds, since miners range from a share a minute to thousands a second. The rules,
/// each chosen by simulating CPU miners and farms (see the tests):
/// </para>
/// <list type="bullet">
/// <item>Raise when, with 2 standard deviations of confidence and at least 16 shares, the rate is above 1.75x the
/// target. The newest buckets holding 16 shares are measured too, so a farm jumps from the default to its level in
/// seconds.</item>
/// <item>Lower when, with 2.5 standard deviations of confidence, the rate is below half the target.</item>
/// <item>Both are judged on the newest half of the window first (a changed hashrate shows there before the old
/// shares age out), then on the whole window. After a change the window starts afresh.</item>
/// <item>The new difficulty is the power of two nearest the rate-matching one, so the rate lands within √2 of the
/// target, inside the [0.5, 1.75] dead band: a steady miner is left alone. Reversing a move needs that full
/// evidence.</item>
/// <item>Going on in the direction of the last move, until 16 shares have come since, needs only one standard
/// deviation: the level is not known yet. Cuts then aim at √2 x the target rate, because too low a difficulty is
/// corrected fast (it brings many shares) while too high a one starves the estimate.</item>
/// <item>A connection with no share at all for two target intervals (at the start, or after a cut made for silence)
/// is cut by 16 at once: a 10 MH/s CPU miner goes from the default 16384 to ~0.02 in a couple of minutes.</item>
/// </list>
/// Call <see cref="RecordShare"/> for every share that proved work, then <see cref="TryRetarget"/>; also call
/// <see cref="TryRetarget"/> every few seconds (or on each new job) so a silent miner is noticed. A new difficulty
/// is the server's to send (mining.set_difficulty) before the next job.
/// </summary>
public sealed class VarDiffController
{
    private const int BucketCount = 30;
    private const int RecentBucketCount = 15;
    private const double RaiseRatio = 1.75;
    private const double LowerRatio = 0.5;
    private const double RaiseConfidenceZ = 2.0;
    private const double ConfidenceZ = 2.5;
    private const double ExploringConfidenceZ = 1.0;
    // Jumping on fewer shares than this would too often overshoot (16 shares: about ±25%); also the count after
    // which a new level counts as settled.
    private const double MinSharesToRaise = 16;
    private const double SilentIntervalsBeforeCut = 2;
    private const double SilentCutFactor = 16;

    private readonly VarDiffOptions _options;
    private readonly double _bucketSeconds;
    private readonly double[] _buckets = new double[BucketCount];
    private long _newestBucket;
    private double _windowStart;
    private double _lastNow;
    // After a change, until 16 shares have come at the new difficulty, the level is not known yet: weaker evidence is
    // enough to go on in the same direction (-1 down, +1 up; 0 once settled). A connection starts looking downwards.
    private int _exploring = -1;
    // From the start, and after a cut made for lack of any share: no share at all for two intervals is cut hard.
    private bool _cutWhenSilent = true;

    public VarDiffController(VarDiffOptions options, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _bucketSeconds = options.WindowSeconds / BucketCount;
        MinimumDifficulty = options.MinDifficulty;
        Difficulty = options.InitialDifficulty;
        _lastNow = now.TotalSeconds;
        ResetWindow(_lastNow);
    }

    public VarDiffOptions Options => _options;

    /// <summary>The difficulty to give the miner for its next job.</summary>
    public double Difficulty { get; private set; }

    /// <summary>The floor in force: the pool's minimum, or higher when the miner asked (md=, minimum-difficulty).</summary>
    public double MinimumDifficulty { get; private set; }

    /// <summary>Counts a share that proved work at <paramref name="shareDifficulty"/> (the difficulty of its job).</summary>
    public void RecordShare(double shareDifficulty, TimeSpan now)
    {
        if (!double.IsFinite(shareDifficulty) || shareDifficulty <= 0)
            throw new ArgumentOutOfRangeException(nameof(shareDifficulty), shareDifficulty, "share difficulty must be positive");
        Advance(now);
        _buckets[BucketSlot(_newestBucket)] += shareDifficulty / Difficulty;
    }

    /// <summary>Re-judges the difficulty; true (with the new value) when it changed.</summary>
    public bool TryRetarget(TimeSpan now, out double difficulty)
    {
        var t = Advance(now);
        difficulty = Difficulty;
        var target = _options.TargetShareSeconds;
        var windowShares = Sum(BucketCount);
        if (windowShares >= MinSharesToRaise)
            _exploring = 0;

        double wanted;
        var silent = windowShares == 0;
        if (_cutWhenSilent && silent)
        {
            if (t - _windowStart < SilentIntervalsBeforeCut * target)
                return false;
            wanted = Difficulty / SilentCutFactor;
        }
        else
        {
            wanted = Judge(t, RecentBucketCount, ref silent);
            if (wanted == 0)
                wanted = Judge(t, BucketCount, ref silent);
            if (wanted == 0)
                return false;
        }

        var next = Math.Clamp(NearestPowerOfTwo(wanted), MinimumDifficulty, _options.MaxDifficulty);
        if (next == Difficulty)
            return false;
        _exploring = next < Difficulty ? -1 : 1;
        _cutWhenSilent = next < Difficulty && silent;
        Difficulty = next;
        difficulty = next;
        ResetWindow(t);
        return true;
    }

    /// <summary>
    /// The rate-matching difficulty when the newest <paramref name="buckets"/> buckets show, with confidence, a rate
    /// outside [0.5, 1.75] x the target; 0 when they do not. <paramref name="silent"/>: they hold no share at all.
    /// </summary>
    private double Judge(double t, int buckets, ref bool silent)
    {
        var expected = Elapsed(t, buckets) / _options.TargetShareSeconds; // shares the target rate gives in that time
        if (expected <= 0)
            return 0;
        var shares = Sum(buckets);
        silent = shares == 0;
        var raiseZ = _exploring > 0 ? ExploringConfidenceZ : RaiseConfidenceZ;
        if (shares >= MinSharesToRaise && LowerBound(shares, raiseZ) / expected > RaiseRatio)
        {
            // The whole span's rate is the steadier estimate; the newest shares' rate wins only when it is clearly
            // higher, i.e. the hashrate rose within the span.
            var rate = shares / expected;
            var newest = NewestRate(t);
            return Difficulty * (newest > 2 * rate ? newest : rate);
        }
        if (UpperBound(shares, _exploring < 0 ? ExploringConfidenceZ : ConfidenceZ) / expected < LowerRatio)
        {
            // No share at all still counts as one: no wild cut. While looking downwards, aim at √2 x the target rate:
            // the estimate rests on a handful of shares, and too low a difficulty is corrected fast (many shares)
            // where too high a one is not.
            var rate = Math.Max(shares, 1) / expected;
            return Difficulty * (_exploring < 0 ? rate / Math.Sqrt(2) : rate);
        }
        return 0;
    }

    /// <summary>The share rate (per target interval) over the newest buckets that hold at least 16 shares.</summary>
    private double NewestRate(double t)
    {
        double shares = 0;
        var buckets = 0;
        while (buckets < BucketCount && shares < MinSharesToRaise)
            shares += _buckets[BucketSlot(_newestBucket - buckets++)];
        var expected = Elapsed(t, buckets) / _options.TargetShareSeconds;
        return expected > 0 ? shares / expected : 0;
    }

    /// <summary>
    /// Sets the difficulty outright, within [<see cref="MinimumDifficulty"/>, max], and starts judging afresh:
    /// for a password's d= and for mining.suggest_difficulty / suggest_target.
    /// </summary>
    public void ResetDifficulty(double difficulty, TimeSpan now)
    {
        if (!double.IsFinite(difficulty) || difficulty <= 0)
            throw new ArgumentOutOfRangeException(nameof(difficulty), difficulty, "difficulty must be positive");
        var t = Advance(now);
        Difficulty = Math.Clamp(difficulty, MinimumDifficulty, _options.MaxDifficulty);
        // The miner chose this: no quick moves on little evidence.
        _exploring = 0;
        _cutWhenSilent = false;
        ResetWindow(t);
    }

    /// <summary>
    /// Raises the floor for this connection (password md=, BIP310 minimum-difficulty), kept within the pool's bounds;
    /// the difficulty is raised to it at once if below.
    /// </summary>
    public void SetMinimumDifficulty(double minimum)
    {
        if (!double.IsFinite(minimum) || minimum < 0)
            throw new ArgumentOutOfRangeException(nameof(minimum), minimum, "minimum difficulty must be a number >= 0");
        MinimumDifficulty = Math.Clamp(minimum, _options.MinDifficulty, _options.MaxDifficulty);
        if (Difficulty < MinimumDifficulty)
        {
            Rescale(Difficulty / MinimumDifficulty);
            Difficulty = MinimumDifficulty;
        }
    }

    /// <summary>Applies a password's md= (floor) then d= (start difficulty), in that order like btcpool.</summary>
    public void ApplyPasswordOptions(StratumPasswordOptions options, TimeSpan now)
    {
        if (options.MinimumDifficulty is { } minimum)
            SetMinimumDifficulty(minimum);
        if (options.StartDifficulty is { } start)
            ResetDifficulty(start, now);
    }

    private static double NearestPowerOfTwo(double value) => Math.ScaleB(1.0, (int)Math.Round(Math.Log2(value)));

    // Poisson confidence bounds on a count n, from the square-root (variance-stabilizing) approximation.
    private static double LowerBound(double n, double z)
    {
        var root = Math.Sqrt(n) - z / 2;
        return root > 0 ? root * root : 0;
    }

    private static double UpperBound(double n, double z)
    {
        var root = Math.Sqrt(n + 1) + z / 2;
        return root * root;
    }

    private double Advance(TimeSpan now)
    {
        // Time never runs backwards here, whatever the caller's clock did.
        var t = Math.Max(now.TotalSeconds, _lastNow);
        _lastNow = t;
        var bucket = (long)Math.Floor(t / _bucketSeconds);
        if (bucket > _newestBucket)
        {
            var clear = Math.Min(bucket - _newestBucket, BucketCount);
            for (long i = 1; i <= clear; i++)
                _buckets[BucketSlot(_newestBucket + i)] = 0;
            _newestBucket = bucket;
        }
        return t;
    }

    private double Sum(int buckets)
    {
        double sum = 0;
        for (var i = 0; i < buckets; i++)
            sum += _buckets[BucketSlot(_newestBucket - i)];
        return sum;
    }

    /// <summary>Seconds covered by the newest <paramref name="buckets"/> buckets, not counting time before the window began.</summary>
    private double Elapsed(double t, int buckets)
    {
        var oldest = (_newestBucket - buckets + 1) * _bucketSeconds;
        return t - Math.Max(_windowStart, oldest);
    }

    private static int BucketSlot(long bucket) => (int)(((bucket % BucketCount) + BucketCount) % BucketCount);

    private void Rescale(double factor)
    {
        for (var i = 0; i < BucketCount; i++)
            _buckets[i] *= factor;
    }

    private void ResetWindow(double t)
    {
        Array.Clear(_buckets);
        _newestBucket = (long)Math.Floor(t / _bucketSeconds);
        _windowStart = t;
    }
}
