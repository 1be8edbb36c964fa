using System.Net;
using Xunit.Abstractions;

namespace PoolCluster.Simulator.Tests;

/// <summary>The simulator against the in-test stratum server, over real sockets, with the real recorded job.</summary>
public class SimulationTests(ITestOutputHelper log)
{
    private static void AssertReportMatchesServer(SimulatorRun run, TestStratumServer server)
    {
        // Every submit the server judged is one the simulator sent and saw answered, and the other way round.
        Assert.Equal(0, run.Long("shares", "unanswered"));
        Assert.Equal(server.Verdicts.Count, run.Long("shares", "submitted"));
        Assert.Equal(server.Accepted, run.Long("shares", "accepted"));
        var serverCodes = server.RejectedByCode();
        var reportCodes = run.Codes("shares", "rejectedByCode");
        Assert.Equal(serverCodes.OrderBy(c => c.Key).Select(c => (c.Key, (long)c.Value)), reportCodes.OrderBy(c => c.Key).Select(c => (c.Key, c.Value)));
        var serverDifficulty = server.AcceptedDifficultyByUser();
        foreach (var user in run.Get("users").EnumerateArray())
        {
            var name = user.GetProperty("user").GetString()!;
            var sum = user.GetProperty("acceptedDifficultySum").GetDouble();
            Assert.Equal(serverDifficulty.GetValueOrDefault(name), sum, 1e-12);
        }
        Assert.Equal(serverDifficulty.Values.Sum(), run.Double("shares", "acceptedDifficultySum"), 1e-12);
    }

    [Fact]
    public async Task Real_hashing_at_difficulty_0_001_submits_only_valid_shares_and_stops_at_the_share_count()
    {
        await using var server = TestStratumServer.Start(new TestServerOptions { Recording = RecordedSession.Load(), Difficulty = 0.001 });
        var run = await SimulatorRun.InProcessAsync(log, "--url", server.Url, "--miners", "2", "--users", "2", "--hashing", "real",
            "--rate", "50", "--shares", "2", "--duration", "150s", "--progress-interval", "2s");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("shares", run.Get("stopReason").GetString());
        Assert.Equal(2, server.Accepted);
        Assert.Empty(server.RejectedByCode());
        Assert.All(server.Verdicts, v => Assert.Equal(0.001, v.Difficulty));
        Assert.Equal(2, run.Long("shares", "good", "accepted"));
        Assert.True(run.Long("hashing", "realShares") >= 2);
        Assert.Equal(0, run.Long("hashing", "blindShares"));
        Assert.Equal(0, run.Long("hashing", "checkMismatches"));
        // 2 shares at 0.001 take ~8.6 million hashes on average; far fewer would mean shares not really hashed.
        Assert.True(run.Long("hashing", "hashes") > 100_000, run.ToString());
        AssertReportMatchesServer(run, server);
        Assert.Equal(["user0001", "user0002"], run.Get("users").EnumerateArray().Select(u => u.GetProperty("user").GetString()!).ToArray());
        Assert.All(server.Verdicts, v => Assert.Matches(@"^sim-0000[12]$", v.Worker));
    }

    [Fact]
    public async Task At_the_end_the_answers_to_shares_in_flight_are_awaited_on_open_connections()
    {
        await using var server = TestStratumServer.Start(new TestServerOptions
        {
            Recording = RecordedSession.Load(), Difficulty = 1e-12, AnswerDelay = TimeSpan.FromMilliseconds(400),
        });
        var run = await SimulatorRun.InProcessAsync(log, "--url", server.Url, "--miners", "10", "--rate", "20", "--duration", "1.5",
            "--hashing", "blind", "--progress-interval", "1s");

        Assert.True(run.ExitCode == 0, run.ToString());
        // Up to 10 x 20 x 0.4 = 80 submits were in flight when the run stopped; every one was answered before closing.
        Assert.True(run.Long("shares", "inFlightAtStop") >= 5, run.ToString());
        Assert.True(run.Double("latency", "submitToAnswerMs", "p50") >= 350, run.ToString());
        AssertReportMatchesServer(run, server);
        Assert.Equal(0, run.Long("connections", "closedByServer"));
    }

    [Fact]
    public async Task Hashrate_mode_submits_every_share_found_at_the_difficulty_bound_to_each_job_and_keeps_to_the_hash_rate()
    {
        await using var server = TestStratumServer.Start(new TestServerOptions { Recording = RecordedSession.Load(), Difficulty = 0.00002 });
        var simulation = SimulatorRun.InProcessAsync(log, "--url", server.Url, "--miners", "3", "--hashrate", "300000", "--duration", "4",
            "--progress-interval", "1s");
        // Halfway, a harder difficulty goes out with a new job: shares of that job count at the new difficulty.
        await WaitUntilAsync(() => server.Accepted >= 3, TimeSpan.FromSeconds(60));
        server.SetDifficulty(0.00004);
        server.BroadcastNewJob(clean: true);
        var run = await simulation;

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.All(server.RejectedByCode().Keys, code => Assert.Equal(21, code)); // 21: a share in flight when the clean job came
        Assert.Contains(server.Verdicts, v => v.Code == 0 && v.Difficulty == 0.00002);
        Assert.Contains(server.Verdicts, v => v.Code == 0 && v.Difficulty == 0.00004);
        Assert.Equal(0, run.Long("hashing", "checkMismatches"));
        AssertReportMatchesServer(run, server);
        // Paced: no more than the configured 3 × 300 kH/s over the run (plus one slice per miner of slack).
        var seconds = run.Double("durationSeconds");
        Assert.True(run.Long("hashing", "hashes") <= 3 * 300_000 * seconds * 1.1 + 3 * 15_000, run.ToString());
        // Found shares are all sent, except those of a job replaced while its slice was being hashed.
        Assert.InRange(run.Long("shares", "good", "sent"), run.Long("hashing", "realShares") - 3, run.Long("hashing", "realShares"));
    }

    [Fact]
    public async Task Bad_shares_make_the_fraction_asked_for_and_each_kind_is_rejected_with_its_code()
    {
        await using var server = TestStratumServer.Start(new TestServerOptions { Recording = RecordedSession.Load(), Difficulty = 0.000001 });
        var simulation = SimulatorRun.InProcessAsync(log, "--url", server.Url, "--miners", "4", "--rate", "15", "--duration", "3.5", "--hashing", "real",
            "--bad-share-fraction", "0.5", "--seed", "7", "--progress-interval", "1s");
        // Clean jobs now and then, so stale job ids exist.
        using var jobs = new CancellationTokenSource();
        var broadcaster = Task.Run(async () =>
        {
            while (!jobs.IsCancellationRequested)
            {
                await Task.Delay(700);
                server.BroadcastNewJob(clean: true);
            }
        });
        var run = await simulation;
        await jobs.CancelAsync();
        await broadcaster;

        Assert.True(run.ExitCode == 0, run.ToString());
        AssertReportMatchesServer(run, server);
        var submitted = run.Long("shares", "submitted");
        var badSent = 0L;
        foreach (var (kind, code) in new[] { ("stale", 21), ("duplicate", 22), ("lowdiff", 23), ("garbage", 27) })
        {
            var sent = run.Long("shares", "bad", kind, "sent");
            badSent += sent;
            Assert.True(sent > 0, $"no {kind} share was sent\n{run}");
            Assert.Equal(0, run.Long("shares", "bad", kind, "accepted"));
            Assert.Equal(sent, run.Long("shares", "bad", kind, "rejected"));
            // A duplicate whose job went stale in flight is answered 21 by a btcpool-style server: allow a few.
            Assert.True(run.Codes("shares", "bad", kind, "rejectedByCode").GetValueOrDefault(code) >= sent * 0.8, $"{kind}\n{run}");
        }
        Assert.Equal(server.Verdicts.Count(v => v.Garbage), run.Long("shares", "bad", "garbage", "sent"));
        var fraction = (double)badSent / submitted;
        Assert.InRange(fraction, 0.35, 0.65);
        // Good shares: accepted unless a clean job made them stale while in flight.
        Assert.Equal(0, run.Codes("shares", "good", "rejectedByCode").Keys.Count(k => k != 21));
        Assert.True(run.Long("shares", "good", "accepted") >= 0.9 * run.Long("shares", "good", "sent"), run.ToString());
    }

    [Fact]
    public async Task A_reconnect_storm_drops_and_reconnects_the_fraction_of_miners_each_period()
    {
        await using var server = TestStratumServer.Start(new TestServerOptions { Recording = RecordedSession.Load(), Difficulty = 1e-12 });
        var run = await SimulatorRun.InProcessAsync(log, "--url", server.Url, "--miners", "20", "--rate", "4", "--duration", "2.7",
            "--reconnect-every", "500ms", "--reconnect-fraction", "0.5", "--hashing", "blind", "--seed", "3", "--progress-interval", "1s");

        Assert.True(run.ExitCode == 0, run.ToString());
        var storms = run.Long("connections", "stormDisconnects");
        // 5 storms of 10 miners each (fewer if a storm comes while miners are still reconnecting).
        Assert.InRange(storms, 30, 50);
        var established = run.Long("connections", "established");
        var loggedIn = run.Long("connections", "loggedIn");
        Assert.Equal(established - 20, run.Long("connections", "reconnects"));
        // Every storm victim reconnected and logged in again, except those of a storm just before the end.
        Assert.True(loggedIn >= 20 + storms - 10, run.ToString());
        Assert.True(run.Long("connections", "loggedInAtEnd") >= 10, run.ToString());
        // The server saw the same connections and logins, give or take those under way when the run stopped.
        await WaitUntilAsync(() => server.ConnectionsAccepted >= established, TimeSpan.FromSeconds(10));
        Assert.InRange(server.ConnectionsAccepted, established, run.Long("connections", "attempts"));
        Assert.InRange(server.Authorizations, loggedIn, established);
        Assert.Equal(0, run.Long("connections", "connectFailures"));
        // A share sent on a connection a storm dropped before its answer arrived is unanswered in the report, whether or
        // not the server got to judge it.
        var answered = run.Long("shares", "accepted") + run.Long("shares", "rejected");
        Assert.InRange(server.Verdicts.Count, answered, answered + run.Long("shares", "unanswered"));
        Assert.InRange(server.Accepted, run.Long("shares", "accepted"), run.Long("shares", "accepted") + run.Long("shares", "unanswered"));
        Assert.Equal(0, run.Long("shares", "rejected"));
        Assert.True(run.Long("shares", "accepted") > 50, run.ToString());
        Assert.Equal(run.Long("hashing", "blindShares"), run.Long("hashing", "blindLocallyValid")); // at 1e-12 every hash counts
    }

    [Fact]
    public async Task The_share_count_is_reached_exactly_even_when_storms_cut_miners_off_while_they_hash()
    {
        await using var server = TestStratumServer.Start(new TestServerOptions { Recording = RecordedSession.Load(), Difficulty = 0.00005 });
        var run = await SimulatorRun.InProcessAsync(log, "--url", server.Url, "--miners", "6", "--rate", "20", "--hashing", "real",
            "--shares", "15", "--duration", "30", "--reconnect-every", "200ms", "--reconnect-fraction", "0.5", "--seed", "5",
            "--progress-interval", "1s");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("shares", run.Get("stopReason").GetString());
        Assert.True(run.Long("connections", "stormDisconnects") > 0, run.ToString());
        Assert.Equal(15, run.Long("shares", "good", "accepted"));
        Assert.InRange(server.Accepted, 15, 15 + run.Long("shares", "unanswered"));
    }

    [Fact]
    public async Task Miners_follow_client_reconnect()
    {
        await using var server = TestStratumServer.Start(new TestServerOptions { Recording = RecordedSession.Load(), Difficulty = 1e-12 });
        using var stop = new CancellationTokenSource();
        var simulation = SimulatorRun.InProcessUntilAsync(log, stop.Token, "--url", server.Url, "--miners", "5", "--rate", "2",
            "--duration", "60", "--hashing", "blind", "--progress-interval", "1s");
        await WaitUntilAsync(() => server.AuthorizedNow == 5, TimeSpan.FromSeconds(30));
        server.SendToAll("{\"id\":null,\"method\":\"client.reconnect\",\"params\":[]}");
        await WaitUntilAsync(() => server.Authorizations == 10 && server.AuthorizedNow == 5, TimeSpan.FromSeconds(30));
        await Task.Delay(200); // the login answers reach the miners
        await stop.CancelAsync();
        var run = await simulation;

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("interrupted", run.Get("stopReason").GetString());
        Assert.Equal(5, run.Long("connections", "serverReconnectRequests"));
        Assert.Equal(10, run.Long("connections", "established"));
        Assert.Equal(5, run.Long("connections", "reconnects"));
        Assert.Equal(5, run.Long("connections", "loggedInAtEnd"));
    }

    [Fact]
    public async Task Clean_notify_spread_and_job_age_are_measured_for_every_broadcast()
    {
        await using var server = TestStratumServer.Start(new TestServerOptions
        {
            Recording = RecordedSession.Load(), Difficulty = 1e-12, JobIds = JobIdStyle.JobMakerTime,
        });
        using var stop = new CancellationTokenSource();
        var simulation = SimulatorRun.InProcessUntilAsync(log, stop.Token, "--url", server.Url, "--miners", "12", "--rate", "1",
            "--duration", "60", "--hashing", "blind", "--progress-interval", "1s");
        await WaitUntilAsync(() => server.AuthorizedNow == 12, TimeSpan.FromSeconds(30));
        var broadcast = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            await Task.Delay(300);
            broadcast.Add(server.BroadcastNewJob(clean: true));
        }
        await Task.Delay(500); // the last notify reaches every miner
        await stop.CancelAsync();
        var run = await simulation;

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(3, run.Long("latency", "notifySpreadMs", "count"));
        var recent = run.Get("jobs", "recent").EnumerateArray().ToDictionary(j => j.GetProperty("jobId").GetString()!);
        foreach (var id in broadcast)
        {
            var job = recent[id];
            Assert.Equal(12, job.GetProperty("miners").GetInt32());
            Assert.True(job.GetProperty("clean").GetBoolean());
            var ageFirst = job.GetProperty("ageAtFirstMinerMs").GetDouble();
            var ageLast = job.GetProperty("ageAtLastMinerMs").GetDouble();
            Assert.InRange(ageFirst, -1, 5000); // the id holds whole milliseconds
            Assert.InRange(ageLast, ageFirst, 5000);
            Assert.Equal(ageLast - ageFirst, job.GetProperty("spreadMs").GetDouble(), 0.01);
        }
        Assert.True(run.Long("latency", "jobAgeAtFirstMinerMs", "count") >= 3);
        Assert.Equal(12 * 4, run.Long("jobs", "notifies")); // the login job and 3 broadcasts per miner
    }

    [Fact]
    public async Task Miners_spread_over_several_servers_and_source_addresses()
    {
        var recording = RecordedSession.Load();
        await using var first = TestStratumServer.Start(new TestServerOptions { Recording = recording, Difficulty = 1e-12, ServerId = 1 });
        await using var second = TestStratumServer.Start(new TestServerOptions { Recording = recording, Difficulty = 1e-12, ServerId = 2 });
        var run = await SimulatorRun.InProcessAsync(log, "--url", first.Url, "--url", second.Url, "--miners", "6", "--rate", "3",
            "--duration", "1.5", "--source-ips", "127.0.0.1-127.0.0.3", "--hashing", "blind", "--progress-interval", "1s");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(3, first.ConnectionsAccepted);
        Assert.Equal(3, second.ConnectionsAccepted);
        var sources = first.RemoteAddresses.Concat(second.RemoteAddresses).Select(a => a.ToString()).Distinct().Order().ToArray();
        Assert.Equal(["127.0.0.1", "127.0.0.2", "127.0.0.3"], sources);
        Assert.True(first.Accepted > 0 && second.Accepted > 0);
        Assert.Equal(first.Accepted + second.Accepted, run.Long("shares", "accepted"));
        Assert.Equal(2, run.Get("settings", "servers").GetArrayLength());
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("condition not met within " + timeout);
            await Task.Delay(20);
        }
    }
}
