namespace PoolCluster.Stratum.Tests;

/// <summary>
/// The controller against simulated miners: shares are a Poisson process with rate hashrate / (difficulty * 2^32)
/// drawn from a seeded Random, on a simulated clock; the server's periodic check runs every 5 simulated seconds.
/// </summary>
public class VarDiffControllerTests
{
    private const double TwoTo32 = 4294967296.0;
    private const double CpuMiner = 10e6;     // 10 MH/s
    private const double Farm = 500e12;       // 500 TH/s
    private static readonly int[] Seeds = [1, 2, 3, 4, 5, 6, 7, 8];

    private static TimeSpan At(double seconds) => TimeSpan.FromSeconds(seconds);

    /// <summary>The difficulty giving exactly one share per target interval.</summary>
    private static double Ideal(double hashrate, double targetSeconds = 10) => hashrate * targetSeconds / TwoTo32;

    private sealed record Change(double Time, double Difficulty);

    private sealed class Simulation
    {
        public List<double> ShareTimes { get; } = [];
        public List<Change> Changes { get; } = [];
        public List<(double Time, double Difficulty)> Timeline { get; } = [];
    }

    /// <summary>Runs from <paramref name="from"/> to <paramref name="to"/> seconds; hashrate may change over time.</summary>
    private static Simulation Run(VarDiffController controller, Func<double, double> hashrateAt, double from, double to,
        Random random)
    {
        var sim = new Simulation();
        var min = controller.Options.MinDifficulty;
        var max = controller.Options.MaxDifficulty;
        double NextShare(double now)
        {
            var rate = hashrateAt(now) / (controller.Difficulty * TwoTo32);
            return rate <= 0 ? double.PositiveInfinity : now - Math.Log(1 - random.NextDouble()) / rate;
        }

        var t = from;
        var nextTick = from + 5;
        var nextShare = NextShare(t);
        while (true)
        {
            bool changed;
            if (nextShare <= nextTick)
            {
                t = nextShare;
                if (t >= to) break;
                controller.RecordShare(controller.Difficulty, At(t));
                sim.ShareTimes.Add(t);
                changed = controller.TryRetarget(At(t), out _);
            }
            else
            {
                t = nextTick;
                if (t >= to) break;
                nextTick += 5;
                changed = controller.TryRetarget(At(t), out _);
            }
            Assert.InRange(controller.Difficulty, min, max);
            Assert.InRange(controller.Difficulty, controller.MinimumDifficulty, max);
            if (changed)
                sim.Changes.Add(new Change(t, controller.Difficulty));
            sim.Timeline.Add((t, controller.Difficulty));
            // Memoryless: redrawing from now is exact, and follows hashrate and difficulty changes.
            nextShare = NextShare(t);
        }
        return sim;
    }

    private static VarDiffController NewController(VarDiffOptions? options = null) => new(options ?? new VarDiffOptions(), At(0));

    /// <summary>When each run first had the difficulty within <paramref name="within"/>x of ideal, after <paramref name="from"/>.</summary>
    private static double TimeToWithin(Simulation sim, double ideal, double within, double from = 0)
    {
        var hit = sim.Timeline.FirstOrDefault(p => p.Time >= from && p.Difficulty / ideal >= 1 / within && p.Difficulty / ideal <= within);
        return hit == default ? double.PositiveInfinity : hit.Time - from;
    }

    // Shares are random, so these properties are stated as a statistician would: the typical run (7 of 8 seeds)
    // meets the tight bound, and every run meets a looser one. The bounds sit at about the 99th percentile of 300
    // simulated runs each, so they test the design rather than the luck of the seeds.
    private static void AssertTypicallyAndAlways(IReadOnlyList<double> perSeed, double typical, double always, string what)
    {
        var text = string.Join(", ", perSeed.Select(v => v.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.True(perSeed.Count(v => v <= typical) >= perSeed.Count - 1, $"{what}: more than one run above {typical}: {text}");
        Assert.True(perSeed.All(v => v <= always), $"{what}: a run above {always}: {text}");
    }

    [Theory]
    [InlineData(CpuMiner)]
    [InlineData(Farm)]
    public void ConvergesFromTheDefaultWithinAFewMinutes(double hashrate)
    {
        var ideal = Ideal(hashrate);
        var converged = new List<double>();
        var changesAfterConvergence = 0;
        foreach (var seed in Seeds)
        {
            var controller = NewController();
            var sim = Run(controller, _ => hashrate, 0, 45 * 60, new Random(seed));
            var at = TimeToWithin(sim, ideal, 2);
            converged.Add(at);

            // Over the last half hour the share interval is within 2x of the 10 s target.
            var shares = sim.ShareTimes.Count(s => s >= 15 * 60);
            var interval = 30 * 60 / (double)shares;
            Assert.True(interval is >= 5 and <= 20, $"seed {seed}: mean share interval {interval:F1}s: {string.Join(", ", sim.Changes)}");
            changesAfterConvergence += sim.Changes.Count(c => c.Time > at);
        }
        AssertTypicallyAndAlways(converged, typical: 300, always: 20 * 60, "seconds to within 2x of ideal");
        // No oscillation: after converging a run may still move to the better neighbouring power of two, and a rare
        // Poisson extreme may cause a move and the move back, but that is all: at most 2 per 45-minute run on average.
        Assert.True(changesAfterConvergence <= 2 * Seeds.Length, $"{changesAfterConvergence} changes after convergence over {Seeds.Length} runs");
    }

    [Theory]
    [InlineData(Farm, 20)]     // 2^20: the rate sits at 1.1x the target
    [InlineData(CpuMiner, -5)] // 2^-5: at 0.75x; the ideal 0.023 lies between two powers of two
    [InlineData(CpuMiner, -6)] // 2^-6: at 1.5x, so one move up to 2^-5 is as good as staying
    public void SteadyMinerAtItsLevelIsLeftAlone(double hashrate, int exponent)
    {
        var changes = new List<double>();
        foreach (var seed in Seeds)
        {
            var controller = NewController();
            controller.ResetDifficulty(Math.ScaleB(1.0, exponent), At(0));
            var sim = Run(controller, _ => hashrate, 0, 60 * 60, new Random(seed));
            Assert.InRange(controller.Difficulty / Ideal(hashrate), 0.5, 2);
            changes.Add(sim.Changes.Count);
        }
        // An hour of steady mining: typically at most one move (to the other neighbouring power of two) or one blip
        // (a Poisson extreme such as two minutes without a share of a CPU miner, answered by a cut that the flood of
        // shares undoes within seconds); never a back-and-forth.
        AssertTypicallyAndAlways(changes, typical: 2, always: 4, "changes in an hour of steady mining");
        Assert.True(changes.Sum() <= Seeds.Length, $"{changes.Sum()} changes in {Seeds.Length} hours of steady mining");
    }

    [Fact]
    public void CpuMinerSettlesOnAFractionalPowerOfTwo()
    {
        var controller = NewController();
        Run(controller, _ => CpuMiner, 0, 600, new Random(11));
        Assert.True(controller.Difficulty < 1);
        Assert.Equal(controller.Difficulty, Math.ScaleB(1.0, (int)Math.Round(Math.Log2(controller.Difficulty))));
    }

    [Fact]
    public void NeverLeavesThePoolBounds()
    {
        var options = new VarDiffOptions { MinDifficulty = 1, MaxDifficulty = 1024, InitialDifficulty = 64 };
        var cpu = NewController(options);
        Run(cpu, _ => CpuMiner, 0, 20 * 60, new Random(3)); // the simulation asserts the bounds at every step
        Assert.Equal(1, cpu.Difficulty);

        var farm = NewController(options);
        Run(farm, _ => Farm, 0, 5 * 60, new Random(3));
        Assert.Equal(1024, farm.Difficulty);
    }

    [Fact]
    public void PasswordMinimumIsAFloorAndStartIsTheStart()
    {
        var controller = NewController();
        controller.ApplyPasswordOptions(StratumPasswordOptions.Parse("x,d=4,md=0.5"), At(0));
        Assert.Equal(4, controller.Difficulty);
        Assert.Equal(0.5, controller.MinimumDifficulty);
        var sim = Run(controller, _ => CpuMiner, 0, 20 * 60, new Random(5));
        Assert.All(sim.Timeline, p => Assert.True(p.Difficulty >= 0.5));
        Assert.Equal(0.5, controller.Difficulty); // a 10 MH/s miner wants ~0.023: it sits on its floor
    }

    [Fact]
    public void MinimumAboveTheCurrentDifficultyRaisesItAtOnceAndStaysWithinPoolBounds()
    {
        var controller = NewController(new VarDiffOptions { InitialDifficulty = 8, MaxDifficulty = 1 << 20 });
        controller.SetMinimumDifficulty(2048);
        Assert.Equal(2048, controller.Difficulty);
        controller.SetMinimumDifficulty(1e30);
        Assert.Equal(1 << 20, controller.MinimumDifficulty);
        Assert.Equal(1 << 20, controller.Difficulty);
        controller.SetMinimumDifficulty(0);
        Assert.Equal(controller.Options.MinDifficulty, controller.MinimumDifficulty);
        Assert.Throws<ArgumentOutOfRangeException>(() => controller.SetMinimumDifficulty(double.NaN));
    }

    [Fact]
    public void SuggestedDifficultyIsHonouredWithinBounds()
    {
        var controller = NewController(new VarDiffOptions { MinDifficulty = 0.01, MaxDifficulty = 1e6 });
        controller.ResetDifficulty(0.05, At(1));
        Assert.Equal(0.05, controller.Difficulty);
        controller.ResetDifficulty(1e12, At(2));
        Assert.Equal(1e6, controller.Difficulty);
        controller.ResetDifficulty(1e-9, At(3));
        Assert.Equal(0.01, controller.Difficulty);
        controller.SetMinimumDifficulty(1);
        controller.ResetDifficulty(0.5, At(4));
        Assert.Equal(1, controller.Difficulty);
    }

    [Theory]
    [InlineData(10.0, 2.0, 420)]   // 500 -> 50 TH/s: a farm loses most of its machines
    [InlineData(1000.0, 4.0, 360)] // 500 TH/s -> 500 GH/s: shares all but stop
    public void SuddenHashrateDropIsFollowedWithinBoundedTime(double factor, double within, double seconds)
    {
        const double dropAt = 15 * 60;
        var ideal = Ideal(Farm / factor);
        var followed = new List<double>();
        foreach (var seed in Seeds)
        {
            var controller = NewController();
            var sim = Run(controller, t => t < dropAt ? Farm : Farm / factor, 0, dropAt + 20 * 60, new Random(seed));
            var at = TimeToWithin(sim, ideal, within, dropAt);
            followed.Add(at);
            // Once it has followed, it never climbs back towards the old level.
            Assert.All(sim.Timeline.Where(p => p.Time >= dropAt + at), p => Assert.True(p.Difficulty / ideal <= 4, $"seed {seed}: {p}"));
        }
        AssertTypicallyAndAlways(followed, typical: seconds, always: 2 * seconds, $"seconds to within {within}x after a {factor}x drop");
    }

    [Fact]
    public void SuddenHashrateRiseIsFollowedWithinAFewMinutes()
    {
        const double riseAt = 15 * 60;
        var followed = new List<double>();
        foreach (var seed in Seeds)
        {
            var controller = NewController();
            var sim = Run(controller, t => t < riseAt ? Farm / 10 : Farm, 0, riseAt + 15 * 60, new Random(seed));
            followed.Add(TimeToWithin(sim, Ideal(Farm), 2, riseAt));
        }
        AssertTypicallyAndAlways(followed, typical: 300, always: 900, "seconds to within 2x after a 10x rise");
    }

    [Fact]
    public void SilentMinerIsWalkedDownToTheFloorAndNoFurther()
    {
        var controller = NewController(new VarDiffOptions { MinDifficulty = 0.5 });
        var sim = Run(controller, _ => 0, 0, 10 * 60, new Random(1));
        Assert.Equal(0.5, controller.Difficulty);
        // 16384 / 16 / 16 / 16 = 4, then the floor: four cuts, one per two silent target intervals.
        Assert.Equal([1024, 64, 4, 0.5], sim.Changes.Select(c => c.Difficulty));
        Assert.Equal([20, 40, 60, 80], sim.Changes.Select(c => c.Time));
    }

    [Fact]
    public void SharesAtAnOldDifficultyCountForWhatTheyProved()
    {
        // A share found on a job sent before a difficulty change proves the old difficulty's work.
        var a = NewController(new VarDiffOptions { InitialDifficulty = 1024 });
        var b = NewController(new VarDiffOptions { InitialDifficulty = 1024 });
        for (var i = 1; i <= 40; i++)
        {
            a.RecordShare(1024, At(i * 0.5));
            b.RecordShare(512, At(i * 0.5));
        }
        Assert.True(a.TryRetarget(At(20), out var fromFull));
        Assert.True(b.TryRetarget(At(20), out var fromHalf));
        Assert.Equal(fromFull / 2, fromHalf);
    }

    [Fact]
    public void ClockGoingBackwardsIsTreatedAsNoTimePassing()
    {
        var controller = NewController(new VarDiffOptions { InitialDifficulty = 1024 });
        for (var t = 10; t <= 100; t += 10)
            controller.RecordShare(1024, At(t)); // exactly the target rate
        Assert.False(controller.TryRetarget(At(50), out var difficulty));
        Assert.Equal(1024, difficulty);
        controller.RecordShare(1024, At(-5));
        Assert.False(controller.TryRetarget(At(0), out _));
    }

    [Theory]
    [InlineData(0, 1, 100, 10, 300, "MinDifficulty")]
    [InlineData(1, double.NaN, 100, 10, 300, "MaxDifficulty")]
    [InlineData(10, 1, 5, 10, 300, "above")]
    [InlineData(1, 100, 1000, 10, 300, "InitialDifficulty")]
    [InlineData(1, 100, 10, 0, 300, "TargetShareSeconds")]
    [InlineData(1, 100, 10, 10, 30, "WindowSeconds")]
    [InlineData(1e-30, 100, 10, 10, 300, "bounds")]
    public void BadOptionsAreRefusedByName(double min, double max, double initial, double target, double window, string named)
    {
        var options = new VarDiffOptions
        {
            MinDifficulty = min, MaxDifficulty = max, InitialDifficulty = initial,
            TargetShareSeconds = target, WindowSeconds = window,
        };
        var error = Assert.Throws<ArgumentException>(() => new VarDiffController(options, At(0)));
        Assert.Contains(named, error.Message);
    }
}
