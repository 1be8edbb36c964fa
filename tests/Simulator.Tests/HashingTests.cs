using PoolCluster.Bitcoin;

namespace PoolCluster.Simulator.Tests;

/// <summary>The nonce grinder against real shares: cpuminer's recorded submits must be found, and nothing else.</summary>
public class HashingTests
{
    private static MiningJob JobOf(RecordedSession recording, double difficulty)
    {
        var checker = recording.CreateChecker();
        var shared = new SharedJob(recording.JobId, System.Text.Encoding.UTF8.GetBytes(recording.JobId), [8], checker, recording.NTime, null);
        return new MiningJob(shared, new ShareTarget(difficulty), recording.Extranonce1, recording.Extranonce2Size, clean: true, 0);
    }

    [Theory]
    [InlineData(RecordedSession.Block300025, true)]
    [InlineData(RecordedSession.Block300025, false)]
    [InlineData(RecordedSession.Block482683, true)]
    [InlineData(RecordedSession.Block482683, false)]
    public void Grinding_around_each_recorded_share_finds_it_and_only_hashes_that_pass_the_real_share_check(string file, bool fastPath)
    {
        var recording = RecordedSession.Load(file);
        var job = JobOf(recording, recording.Difficulty);
        using var pool = new HashingPool(1, allowFastPath: fastPath);
        Assert.Equal(fastPath && Sha256Engine.IsNative, pool.UsesFastPath);
        var checker = job.Shared.Checker;
        var target = Target.FromDifficulty(recording.Difficulty);
        foreach (var submit in recording.Submits.Take(8))
        {
            Assert.Equal(recording.NTime, submit.NTime);
            const uint Around = 1500;
            var slice = new GrindSlice(job, submit.Extranonce2, submit.Nonce - Around, 2 * Around + 1, stopAtFirst: false);
            pool.Grind(slice);

            Assert.Equal(2 * Around + 1, slice.HashesDone);
            Assert.Equal(0, slice.Mismatches);
            Assert.Contains(submit.Nonce, slice.Found);
            // Independently: exactly the nonces of the range whose share is valid were found.
            var expected = Enumerable.Range(0, (int)(2 * Around + 1)).Select(i => submit.Nonce - Around + (uint)i)
                .Where(n => checker.Check(recording.Extranonce1, submit.Extranonce2, submit.NTime, n, target).IsValid).ToList();
            Assert.Equal(expected, slice.Found);
        }
    }

    [Fact]
    public void Stop_at_first_ends_the_slice_at_the_share_and_counts_the_hashes_up_to_it()
    {
        var recording = RecordedSession.Load();
        var submit = recording.Submits[0];
        using var pool = new HashingPool(1);
        var slice = new GrindSlice(JobOf(recording, recording.Difficulty), submit.Extranonce2, submit.Nonce - 100, 1000, stopAtFirst: true);
        pool.Grind(slice);
        Assert.Equal([submit.Nonce], slice.Found);
        Assert.Equal(101u, slice.HashesDone);
    }

    [Fact]
    public async Task The_pool_threads_grind_queued_slices_and_count_every_hash()
    {
        var recording = RecordedSession.Load();
        using var pool = new HashingPool(2);
        var job = JobOf(recording, 1e9); // unreachable: every nonce of the slice is hashed
        var slices = Enumerable.Range(0, 6).Select(i => new GrindSlice(job, new byte[4], (uint)i * 20_000, 20_000, stopAtFirst: true)).ToList();
        await Task.WhenAll(slices.Select(pool.GrindAsync)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(slices, s => Assert.Empty(s.Found));
        Assert.Equal(6 * 20_000L, pool.HashesDone);
        Assert.True(pool.Calibrate(TimeSpan.FromMilliseconds(50)) > 0);
    }

    [Fact]
    public void An_abandoned_slice_stops_early()
    {
        var recording = RecordedSession.Load();
        using var pool = new HashingPool(1);
        var slice = new GrindSlice(JobOf(recording, 1e9), new byte[4], 0, 1_000_000, stopAtFirst: true) { Abandon = true };
        pool.Grind(slice);
        Assert.True(slice.HashesDone < 1_000_000, $"{slice.HashesDone} hashes");
    }
}
