using PoolCluster.Stratum;

namespace PoolCluster.SServer.Tests;

/// <summary>Vardiff over the wire: a new difficulty rides with the next job; work already sent keeps its difficulty.</summary>
public class VardiffTests
{
    [Fact]
    public async Task A_fast_miner_gets_a_higher_difficulty_with_the_next_job_and_its_old_work_is_judged_at_the_old_one()
    {
        await using var server = await TestServer.StartAsync(o => o.NotifyIntervalSeconds = 1,
            new VardiffSettings { InitialDifficulty = 1e-9, MinDifficulty = 1e-10, MaxDifficulty = 1e12, TargetShareSeconds = 10, WindowSeconds = 300 });
        var job = TestJobs.Mainnet();
        server.Feed(job);
        await using var client = await server.ConnectAsync();
        var extranonce1 = await client.LoginAsync();
        Assert.Equal(1e-9, (await client.NotificationAsync("mining.set_difficulty")).GetProperty("params")[0].GetDouble());
        var oldWire = (await client.NotificationAsync("mining.notify")).GetProperty("params")[0].GetString()!;

        // 40 shares within a second or two: hundreds of times the 1-per-10-s target.
        var nonce = 0u;
        for (var i = 0; i < 40; i++)
        {
            var share = TestJobs.Mine(job, extranonce1, 1e-9, r => r.IsValid, startNonce: nonce);
            nonce = Convert.ToUInt32(share.Nonce, 16) + 1;
            Assert.True((await client.SubmitAsync(oldWire, share.Extranonce2, share.NTime, share.Nonce)).GetProperty("result").GetBoolean());
        }
        var raised = (await client.NotificationAsync("mining.set_difficulty", TimeSpan.FromSeconds(5))).GetProperty("params")[0].GetDouble();
        Assert.True(raised > 1e-7, $"difficulty only went to {raised}");
        Assert.Equal(Math.ScaleB(1, (int)Math.Round(Math.Log2(raised))), raised); // vardiff moves in powers of two
        // set_difficulty, then the job that carries it.
        var next = (await client.NextAsync())!.Value;
        Assert.Equal("mining.notify", next.GetProperty("method").GetString());
        var newWire = next.GetProperty("params")[0].GetString()!;
        Assert.NotEqual(oldWire, newWire);

        // A share good for the old difficulty only: accepted on the old job, low difficulty on the new one.
        var easy = TestJobs.Mine(job, extranonce1, 1e-9, r => r.IsValid && r.HashDifficulty < raised, startNonce: nonce);
        nonce = Convert.ToUInt32(easy.Nonce, 16) + 1;
        Assert.True((await client.SubmitAsync(oldWire, easy.Extranonce2, easy.NTime, easy.Nonce)).GetProperty("result").GetBoolean());
        var easy2 = TestJobs.Mine(job, extranonce1, 1e-9, r => r.IsValid && r.HashDifficulty < raised, startNonce: nonce);
        nonce = Convert.ToUInt32(easy2.Nonce, 16) + 1;
        StratumTestClient.AssertError(await client.SubmitAsync(newWire, easy2.Extranonce2, easy2.NTime, easy2.Nonce), 23);
        var hard = TestJobs.Mine(job, extranonce1, raised, r => r.IsValid, startNonce: nonce);
        Assert.True((await client.SubmitAsync(newWire, hard.Extranonce2, hard.NTime, hard.Nonce)).GetProperty("result").GetBoolean());
    }

    [Fact]
    public async Task A_silent_miner_gets_easier_work()
    {
        await using var server = await TestServer.StartAsync(o => o.NotifyIntervalSeconds = 1,
            new VardiffSettings { InitialDifficulty = 1, MinDifficulty = 1e-6, MaxDifficulty = 1e12, TargetShareSeconds = 1, WindowSeconds = 6 });
        server.Feed(TestJobs.Mainnet());
        await using var client = await server.ConnectAsync();
        await client.LoginAsync();
        Assert.Equal(1, (await client.NotificationAsync("mining.set_difficulty")).GetProperty("params")[0].GetDouble());
        var lowered = (await client.NotificationAsync("mining.set_difficulty", TimeSpan.FromSeconds(10))).GetProperty("params")[0].GetDouble();
        Assert.Equal(1.0 / 16, lowered);
    }

    [Fact]
    public async Task A_cpu_miner_at_the_dev_defaults_finds_shares_within_its_first_minute()
    {
        // The local cluster's defaults (appsettings.Development.json): start 0.005, floor 0.0001. A 10 MH/s CPU miner
        // needs 0.005 * 2^32 / 10e6 = 2.1 s per share at the start.
        var settings = new VardiffSettings { InitialDifficulty = 0.005, MinDifficulty = 0.0001 };
        var secondsPerShare = settings.InitialDifficulty * 4294967296.0 / 10e6;
        Assert.InRange(secondsPerShare, 0.5, 5);
        var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Testing.TestPaths.RepoRoot, "services", "SServer", "appsettings.Development.json")));
        Assert.Equal(settings.InitialDifficulty, json.RootElement.GetProperty("Vardiff").GetProperty("InitialDifficulty").GetDouble());
        Assert.Equal(settings.MinDifficulty, json.RootElement.GetProperty("Vardiff").GetProperty("MinDifficulty").GetDouble());
        await Task.CompletedTask;
    }
}

/// <summary>SessionDifficulty on a simulated clock: when shares re-judge the rate, and that every job does.</summary>
public class SessionDifficultyTests
{
    private static readonly VarDiffOptions Options = new() { InitialDifficulty = 1e-9, MinDifficulty = 1e-10, MaxDifficulty = 1e12, TargetShareSeconds = 10, WindowSeconds = 300 };

    /// <summary>40 shares in 0.4 s, far above one per 10 s: only the first one judged (and had no evidence yet).</summary>
    private static SessionDifficulty AfterFortySharesInFourTenthsOfASecond()
    {
        var difficulty = new SessionDifficulty(Options, TimeSpan.Zero);
        difficulty.JobSent(1);
        for (var i = 0; i < 40; i++)
            difficulty.RecordShare(1e-9, TimeSpan.FromMilliseconds(10 * i));
        Assert.Equal(1e-9, difficulty.Current);
        return difficulty;
    }

    [Fact]
    public void Shares_re_judge_at_most_once_a_second_and_the_next_job_always_judges()
    {
        var difficulty = AfterFortySharesInFourTenthsOfASecond();
        // The next job judges at once.
        Assert.True(difficulty.TakeChangeForNextJob(TimeSpan.FromMilliseconds(450), out var raised));
        Assert.True(raised > 1e-9, $"raised to {raised}");
    }

    [Fact]
    public void A_share_a_second_after_the_last_judgement_judges_again()
    {
        var difficulty = AfterFortySharesInFourTenthsOfASecond();
        difficulty.RecordShare(1e-9, TimeSpan.FromSeconds(1));
        Assert.True(difficulty.Current > 1e-9, $"still {difficulty.Current}");
    }
}

/// <summary>Share timestamps: the server's wall clock (its TimeProvider's), derived from the monotonic read time.</summary>
public class ShareTimestampTests
{
    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + shift;
    }

    [Fact]
    public void A_timestamp_becomes_the_providers_wall_clock_time_in_unix_ms()
    {
        var time = new ShiftedTime(TimeSpan.FromDays(400));
        var users = new UserResolver(new OpenUserDirectory(), new UsersOptions { Source = UserSource.None },
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var server = new StratumServer(TestServer.DefaultOptions(), TestServer.DefaultVardiff(), users, kafka: null,
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, time);
        var expected = time.GetUtcNow().ToUnixTimeMilliseconds();
        var now = time.GetTimestamp();
        Assert.InRange(server.ToUnixMs(now), expected - 50, expected + 50);
        // Later reads are placed by the monotonic clock: 2.5 s later is 2,500 ms later.
        Assert.Equal(server.ToUnixMs(now) + 2500, server.ToUnixMs(now + (long)(2.5 * time.TimestampFrequency)));
    }
}
