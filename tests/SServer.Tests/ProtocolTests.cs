using System.Text.Json;
using PoolCluster.Bitcoin;
using PoolCluster.Stratum;

namespace PoolCluster.SServer.Tests;

/// <summary>Every stratum method and every error code, over real sockets.</summary>
public class ProtocolTests
{
    [Fact]
    public async Task Subscribe_gives_extranonce1_of_server_id_and_counter_and_the_jobs_extranonce2_size()
    {
        await using var server = await TestServer.StartAsync(o => o.ServerId = 0x2a);
        server.Feed(TestJobs.Regtest(extranonce2Size: 6));
        await using var client = await server.ConnectAsync();
        var response = await client.RequestAsync("mining.subscribe", "[\"cgminer/4.12.0\"]");
        StratumTestClient.AssertNoError(response);
        var result = response.GetProperty("result");
        var extranonce1 = result[1].GetString()!;
        Assert.Matches("^2a[0-9a-f]{6}$", extranonce1);
        Assert.Equal(6, result[2].GetInt32());
        Assert.Equal("mining.set_difficulty", result[0][0][0].GetString());
        Assert.Equal("mining.notify", result[0][1][0].GetString());
        Assert.Equal(extranonce1, result[0][1][1].GetString());

        // Subscribing twice is an error (btcpool's 20), and the connection stays usable.
        StratumTestClient.AssertError(await client.RequestAsync("mining.subscribe", "[]"), 20);
        StratumTestClient.AssertError(await client.RequestAsync("mining.subscribe", "[]"), 20);
        Assert.Equal("cgminer/4.12.0", server.Server.Sessions.Single().Agent);
    }

    [Fact]
    public async Task Extranonce1_is_unique_per_connection()
    {
        await using var server = await TestServer.StartAsync();
        var seen = new HashSet<string>();
        var clients = new List<StratumTestClient>();
        for (var i = 0; i < 20; i++)
        {
            var client = await server.ConnectAsync();
            clients.Add(client);
            Assert.True(seen.Add((await client.SubscribeAsync()).Extranonce1));
        }
        foreach (var client in clients)
            await client.DisposeAsync();
    }

    [Fact]
    public async Task Authorize_needs_subscribe_and_a_valid_name()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        StratumTestClient.AssertError(await client.AuthorizeAsync(), 25);
        await client.SubscribeAsync();
        StratumTestClient.AssertError(await client.AuthorizeAsync("bad!user.rig"), 29);
        StratumTestClient.AssertError(await client.AuthorizeAsync(".rig"), 29);
        StratumTestClient.AssertError(await client.AuthorizeAsync(""), 29);
        StratumTestClient.AssertError(await client.RequestAsync("mining.authorize", "[42]"), 29);
        StratumTestClient.AssertError(await client.RequestAsync("mining.authorize", "[]"), 29);
        var ok = await client.AuthorizeAsync("alice.rig#1 with spaces", "x");
        Assert.True(ok.GetProperty("result").GetBoolean());
        var worker = server.Server.Sessions.Single().Worker!;
        Assert.Equal("alice", worker.UserName);
        Assert.Equal("rig1withspaces", worker.WorkerName);
        Assert.Equal(StratumWorkerName.ComputeWorkerId("rig1withspaces"), worker.WorkerId);
        Assert.Equal(OpenUserDirectory.IdOf("alice"), server.Server.Sessions.Single().UserId);
        // Authorizing again changes nothing and is answered.
        Assert.True((await client.AuthorizeAsync("bob.other")).GetProperty("result").GetBoolean());
        Assert.Equal("alice", server.Server.Sessions.Single().Worker!.UserName);
    }

    [Fact]
    public async Task User_without_worker_gets_the_default_worker_name()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.LoginAsync("carol");
        Assert.Equal(StratumWorkerName.DefaultWorkerName, server.Server.Sessions.Single().Worker!.WorkerName);
    }

    [Fact]
    public async Task Authorize_sends_difficulty_then_the_current_job_clean()
    {
        await using var server = await TestServer.StartAsync(o => o.NotifyIntervalSeconds = 1);
        server.Feed(TestJobs.Mainnet());
        // A non-clean job sent out later (the notify interval): new miners still get it with clean_jobs=true.
        server.Feed(TestJobs.Mainnet(clean: false));
        var latestBefore = server.Server.Jobs.Latest!.Seq;
        await TestServer.WaitUntilAsync(() => server.Server.Jobs.Latest!.Seq > latestBefore, "the notify interval");
        await using var client = await server.ConnectAsync();
        await client.SubscribeAsync();
        var id = "77";
        await client.SendAsync($"{{\"id\":{id},\"method\":\"mining.authorize\",\"params\":[\"alice.a\",\"x\"]}}");
        Assert.True((await client.ResponseAsync(id)).GetProperty("result").GetBoolean());
        var first = await client.NextAsync();
        var second = await client.NextAsync();
        Assert.Equal("mining.set_difficulty", first!.Value.GetProperty("method").GetString());
        Assert.Equal(0.002, first.Value.GetProperty("params")[0].GetDouble());
        Assert.Equal("mining.notify", second!.Value.GetProperty("method").GetString());
        Assert.Equal(server.Server.Jobs.Latest!.WireId, second.Value.GetProperty("params")[0].GetString());
        Assert.True(second.Value.GetProperty("params")[8].GetBoolean());
    }

    [Fact]
    public async Task Submit_needs_subscribe_then_authorize()
    {
        await using var server = await TestServer.StartAsync();
        server.Feed(TestJobs.Mainnet());
        await using var client = await server.ConnectAsync();
        StratumTestClient.AssertError(await client.SubmitAsync("0000", "0000000000000000", "00000000", "00000000"), 25);
        await client.SubscribeAsync();
        StratumTestClient.AssertError(await client.SubmitAsync("0000", "0000000000000000", "00000000", "00000000"), 24);
        // btcpool also asks an unauthorized submitter to reconnect.
        await client.NotificationAsync("client.reconnect");
        Assert.Equal(2, server.Server.Counters.SharesRejected);
    }

    [Fact]
    public async Task Submit_with_wrong_param_count_or_types_is_illegal_params()
    {
        await using var server = await TestServer.StartAsync();
        server.Feed(TestJobs.Mainnet());
        await using var client = await server.ConnectAsync();
        await client.LoginAsync();
        var notify = await client.NotificationAsync("mining.notify");
        var job = notify.GetProperty("params")[0].GetString();
        StratumTestClient.AssertError(await client.RequestAsync("mining.submit", $"[\"alice.rig1\",\"{job}\",\"00000000\",\"59a70bb9\"]"), 27);
        StratumTestClient.AssertError(await client.RequestAsync("mining.submit", $"[\"alice.rig1\",\"{job}\",\"00000000\",\"59a70bb9\",\"00000000\",\"00000000\",\"x\"]"), 27);
        StratumTestClient.AssertError(await client.RequestAsync("mining.submit", $"[\"alice.rig1\",\"{job}\",0,\"59a70bb9\",\"00000000\"]"), 27);
        var error = (await client.RequestAsync("mining.submit", "[\"alice.rig1\",\"" + job + "\",\"00\",\"59a70bb9\",\"00000000\"]")).GetProperty("error");
        Assert.Contains("extranonce2", error[1].GetString());
    }

    [Fact]
    public async Task Valid_shares_are_accepted_at_the_password_difficulty()
    {
        await using var server = await TestServer.StartAsync();
        var job = TestJobs.Mainnet();
        server.Feed(job);
        await using var client = await server.ConnectAsync();
        var extranonce1 = await client.LoginAsync("alice.rig1", "x,d=0.000000001");
        Assert.Equal(1e-9, (await client.NotificationAsync("mining.set_difficulty")).GetProperty("params")[0].GetDouble());
        var wire = (await client.NotificationAsync("mining.notify")).GetProperty("params")[0].GetString()!;
        for (var i = 0u; i < 5; i++)
        {
            var share = TestJobs.Mine(job, extranonce1, 1e-9, r => r.IsValid, extranonce2: i);
            Assert.True((await client.SubmitAsync(wire, share.Extranonce2, share.NTime, share.Nonce)).GetProperty("result").GetBoolean());
        }
        Assert.Equal(5, server.Server.Counters.SharesAccepted);
    }

    [Fact]
    public async Task Configure_negotiates_the_version_mask_and_rolled_shares_are_judged_with_it()
    {
        await using var server = await TestServer.StartAsync();
        var job = TestJobs.Mainnet();
        server.Feed(job);
        await using var client = await server.ConnectAsync();
        var configure = await client.RequestAsync("mining.configure",
            "[[\"version-rolling\",\"minimum-difficulty\",\"subscribe-extranonce\",\"bogus-ext\"],{\"version-rolling.mask\":\"00ffff00\",\"version-rolling.min-bit-count\":2,\"minimum-difficulty.value\":0.0000000005}]");
        StratumTestClient.AssertNoError(configure);
        var result = configure.GetProperty("result");
        Assert.True(result.GetProperty("version-rolling").GetBoolean());
        Assert.Equal("00ffe000", result.GetProperty("version-rolling.mask").GetString()); // 1fffe000 & 00ffff00
        Assert.True(result.GetProperty("minimum-difficulty").GetBoolean());
        Assert.True(result.GetProperty("subscribe-extranonce").GetBoolean());
        Assert.False(result.GetProperty("bogus-ext").GetBoolean());
        var mask = await client.NotificationAsync("mining.set_version_mask");
        Assert.Equal("00ffe000", mask.GetProperty("params")[0].GetString());

        var extranonce1 = await client.LoginAsync("alice.rig1", "d=0.000000001");
        var wire = (await client.NotificationAsync("mining.notify")).GetProperty("params")[0].GetString()!;
        // A share found with rolled version bits, hashed here with the BIP310 rule.
        const uint bits = 0x00abe000;
        var share = TestJobs.Mine(job, extranonce1, 1e-9, r => r.IsValid, versionBits: bits, versionMask: 0x00ffe000);
        Assert.Equal((job.Version & ~0x00ffe000u) | bits, share.Result.Version);
        Assert.True((await client.SubmitAsync(wire, share.Extranonce2, share.NTime, share.Nonce, bits.ToString("x8"))).GetProperty("result").GetBoolean());
        // The same header fields without the rolled bits is another share; bits outside the granted mask are code 33.
        StratumTestClient.AssertError(await client.SubmitAsync(wire, share.Extranonce2, share.NTime, share.Nonce, "01000000"), 33);
        StratumTestClient.AssertError(await client.SubmitAsync(wire, share.Extranonce2, share.NTime, share.Nonce, "00001000"), 33);
    }

    [Fact]
    public async Task Configure_with_bad_params_is_illegal_params_and_no_mask_from_a_pool_without_rolling()
    {
        await using var server = await TestServer.StartAsync(o => o.VersionRollingMask = "00000000");
        await using var client = await server.ConnectAsync();
        StratumTestClient.AssertError(await client.RequestAsync("mining.configure", "[\"version-rolling\"]"), 27);
        StratumTestClient.AssertError(await client.RequestAsync("mining.configure", "[[\"version-rolling\"],{\"version-rolling.mask\":\"xyz\"}]"), 27);
        var response = await client.RequestAsync("mining.configure", "[[\"version-rolling\"],{\"version-rolling.mask\":\"ffffffff\"}]");
        Assert.False(response.GetProperty("result").GetProperty("version-rolling").GetBoolean());
        // No set_version_mask follows a refusal: the next message is the next answer.
        var next = await client.RequestAsync("mining.extranonce.subscribe", "[]");
        Assert.True(next.GetProperty("result").GetBoolean());
        Assert.DoesNotContain(client.Notifications, n => n.GetProperty("method").GetString() == "mining.set_version_mask");
    }

    [Fact]
    public async Task Minimum_difficulty_from_configure_and_md_password_is_a_floor()
    {
        await using var server = await TestServer.StartAsync();
        server.Feed(TestJobs.Mainnet());
        await using var client = await server.ConnectAsync();
        await client.RequestAsync("mining.configure", "[[\"minimum-difficulty\"],{\"minimum-difficulty.value\":0.5}]");
        await client.LoginAsync("alice.rig1", "d=0.001");
        // d= below the floor is raised to it.
        Assert.Equal(0.5, (await client.NotificationAsync("mining.set_difficulty")).GetProperty("params")[0].GetDouble());

        await using var other = await server.ConnectAsync();
        await other.LoginAsync("alice.rig2", "x,d=4,md=2");
        Assert.Equal(4, (await other.NotificationAsync("mining.set_difficulty")).GetProperty("params")[0].GetDouble());
        var session = server.Server.Sessions.Single(s => s.Worker?.WorkerName == "rig2");
        Assert.Equal(2, session.Difficulty!.MinimumDifficulty);
    }

    [Theory]
    [InlineData("mining.suggest_difficulty", "[0.25]", 0.25)]
    [InlineData("mining.suggest_difficulty", "[\"0.5\"]", 0.5)]
    [InlineData("mining.suggest_difficulty", "[1e30]", 1e12)] // clamped to Vardiff:MaxDifficulty
    [InlineData("mining.suggest_target", "[\"00000000ffff0000000000000000000000000000000000000000000000000000\"]", 1)]
    [InlineData("mining.suggest_target", "[\"0000000100000000000000000000000000000000000000000000000000000000\"]", 65535.0 / 65536)]
    public async Task Suggested_difficulty_is_honoured_within_bounds(string method, string parameters, double expected)
    {
        await using var server = await TestServer.StartAsync();
        server.Feed(TestJobs.Mainnet());
        await using var client = await server.ConnectAsync();
        await client.SubscribeAsync();
        Assert.True((await client.RequestAsync(method, parameters)).GetProperty("result").GetBoolean());
        Assert.True((await client.AuthorizeAsync()).GetProperty("result").GetBoolean());
        var difficulty = (await client.NotificationAsync("mining.set_difficulty")).GetProperty("params")[0].GetDouble();
        Assert.Equal(expected, difficulty, 12);
    }

    [Fact]
    public async Task Bad_suggestions_are_illegal_params()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        StratumTestClient.AssertError(await client.RequestAsync("mining.suggest_difficulty", "[-1]"), 27);
        StratumTestClient.AssertError(await client.RequestAsync("mining.suggest_difficulty", "[]"), 27);
        StratumTestClient.AssertError(await client.RequestAsync("mining.suggest_target", "[\"nothex\"]"), 27);
    }

    [Fact]
    public async Task Suggest_difficulty_after_authorize_comes_with_the_next_job()
    {
        await using var server = await TestServer.StartAsync(o => o.NotifyIntervalSeconds = 1);
        server.Feed(TestJobs.Mainnet());
        await using var client = await server.ConnectAsync();
        await client.LoginAsync();
        Assert.Equal(0.002, (await client.NotificationAsync("mining.set_difficulty")).GetProperty("params")[0].GetDouble());
        await client.NotificationAsync("mining.notify");
        Assert.True((await client.RequestAsync("mining.suggest_difficulty", "[0.125]")).GetProperty("result").GetBoolean());
        var setDifficulty = await client.NotificationAsync("mining.set_difficulty");
        Assert.Equal(0.125, setDifficulty.GetProperty("params")[0].GetDouble());
        // set_difficulty first, then the job it belongs to.
        var next = await client.NextAsync();
        Assert.Equal("mining.notify", next!.Value.GetProperty("method").GetString());
    }

    [Fact]
    public async Task Unknown_methods_are_answered_with_their_id()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.SendAsync("{\"id\":\"abc\",\"method\":\"mining.multi_version\",\"params\":[1]}");
        StratumTestClient.AssertError(await client.ResponseAsync("\"abc\""), 26);
        await client.SendAsync("{\"id\":5,\"method\":\"mining.get_transactions\",\"params\":[]}");
        StratumTestClient.AssertError(await client.ResponseAsync("5"), 26);
        await client.SendAsync("{\"method\":\"mining.extranonce.subscribe\",\"params\":[]}");
        var answer = await client.ResponseAsync("null");
        Assert.True(answer.GetProperty("result").GetBoolean());
    }

    [Fact]
    public async Task Pipelined_requests_in_one_packet_are_answered_in_order()
    {
        await using var server = await TestServer.StartAsync();
        server.Feed(TestJobs.Mainnet());
        await using var client = await server.ConnectAsync();
        await client.SendAsync(
            "{\"id\":1,\"method\":\"mining.configure\",\"params\":[[\"version-rolling\"],{\"version-rolling.mask\":\"ffffffff\"}]}\n" +
            "{\"id\":2,\"method\":\"mining.subscribe\",\"params\":[\"bfgminer/5.5.0\"]}\r\n\r\n" +
            "{\"id\":3,\"method\":\"mining.authorize\",\"params\":[\"dave.x\",\"\"]}");
        var ids = new List<string>();
        while (ids.Count < 3)
        {
            var message = (await client.NextAsync())!.Value;
            if (!message.TryGetProperty("method", out _))
                ids.Add(message.GetProperty("id").GetRawText());
        }
        Assert.Equal(["1", "2", "3"], ids);
    }

    [Fact]
    public async Task Clean_jobs_go_to_every_session_at_once_and_other_jobs_with_the_notify_interval()
    {
        await using var server = await TestServer.StartAsync(o => o.NotifyIntervalSeconds = 2);
        server.Feed(TestJobs.Mainnet());
        await using var a = await server.ConnectAsync();
        await using var b = await server.ConnectAsync();
        await a.LoginAsync("alice.a");
        await b.LoginAsync("alice.b");
        await a.NotificationAsync("mining.notify");
        await b.NotificationAsync("mining.notify");

        var started = DateTime.UtcNow;
        server.Feed(TestJobs.Mainnet(clean: true, heightOffset: 1));
        foreach (var client in new[] { a, b })
        {
            var notify = await client.NotificationAsync("mining.notify", TimeSpan.FromSeconds(1));
            Assert.True(notify.GetProperty("params")[8].GetBoolean());
        }
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(1));

        // A non-clean job waits for the interval (btcpool), then goes out with clean_jobs=false.
        var job = TestJobs.Mainnet(clean: false, heightOffset: 1);
        job.Coinbase2 = Google.Protobuf.ByteString.CopyFrom([.. job.Coinbase2.ToByteArray()[..^4], 1, 0, 0, 0]);
        server.Feed(job);
        var later = await a.NotificationAsync("mining.notify", TimeSpan.FromSeconds(5));
        Assert.False(later.GetProperty("params")[8].GetBoolean());
        Assert.Equal("01000000", later.GetProperty("params")[3].GetString()![^8..]);
        Assert.True(DateTime.UtcNow - started > TimeSpan.FromSeconds(1.5));
    }

    [Fact]
    public async Task A_job_with_another_extranonce2_size_is_announced_or_makes_the_miner_reconnect()
    {
        await using var server = await TestServer.StartAsync();
        server.Feed(TestJobs.Regtest(extranonce2Size: 8));
        await using var subscribed = await server.ConnectAsync();
        Assert.True((await subscribed.RequestAsync("mining.extranonce.subscribe", "[]")).GetProperty("result").GetBoolean());
        var extranonce1 = await subscribed.LoginAsync("alice.sub");
        await using var plain = await server.ConnectAsync();
        await plain.LoginAsync("alice.plain");

        server.Feed(TestJobs.Regtest(extranonce2Size: 4));
        var set = await subscribed.NotificationAsync("mining.set_extranonce");
        Assert.Equal(extranonce1.ToString("x8"), set.GetProperty("params")[0].GetString());
        Assert.Equal(4, set.GetProperty("params")[1].GetInt32());
        await subscribed.NotificationAsync("mining.notify");
        await plain.NotificationAsync("client.reconnect");
        Assert.True(await plain.WaitClosedAsync());
    }

    [Fact]
    public async Task A_job_reserving_more_extranonce2_than_configured_is_padded_with_zeros_as_btcpool_does()
    {
        await using var server = await TestServer.StartAsync(o => o.Extranonce2Size = 4);
        var job = TestJobs.Regtest(extranonce2Size: 8);
        server.Feed(job);
        await using var client = await server.ConnectAsync();
        (string, int) subscribed;
        try
        {
            subscribed = await client.SubscribeAsync();
        }
        catch (IOException e)
        {
            throw new InvalidOperationException(string.Join("\n", server.Logs.Lines), e);
        }
        var (extranonce1, size) = subscribed;
        Assert.Equal(4, size);
        StratumTestClient.AssertNoError(await client.AuthorizeAsync("alice.pad", "d=0.000000001"));
        var notify = (await client.NotificationAsync("mining.notify")).GetProperty("params");
        Assert.Equal(Convert.ToHexStringLower(job.Coinbase1.Span) + "00000000", notify[2].GetString());

        // The coinbase is coinbase1 | 4 zero bytes | extranonce1 | the miner's 4 bytes | coinbase2: mined here as the
        // job the miner was given.
        var asSent = job.Clone();
        asSent.Coinbase1 = Google.Protobuf.ByteString.CopyFrom([.. job.Coinbase1.Span, 0, 0, 0, 0]);
        asSent.Extranonce2Size = 4;
        var share = TestJobs.Mine(asSent, Convert.ToUInt32(extranonce1, 16), 1e-9, r => r.IsValid, extranonce2: 0x0a0b0c0d);
        Assert.Equal("0a0b0c0d", share.Extranonce2);
        var answer = await client.SubmitAsync(notify[0].GetString()!, "0a0b0c0d", share.NTime, share.Nonce);
        Assert.True(answer.GetProperty("result").ValueKind == System.Text.Json.JsonValueKind.True,
            answer.GetRawText() + "\n" + string.Join("\n", server.Logs.Lines));
    }

    [Fact]
    public async Task Job_ids_on_the_wire_are_short_and_stand_for_the_64_bit_job_id()
    {
        await using var server = await TestServer.StartAsync();
        var job = TestJobs.Mainnet();
        server.Feed(job);
        await using var client = await server.ConnectAsync();
        await client.LoginAsync();
        var wire = (await client.NotificationAsync("mining.notify")).GetProperty("params")[0].GetString()!;
        Assert.Matches("^[0-9a-f]{4}$", wire);
        Assert.True(server.Server.Jobs.TryFind(System.Text.Encoding.ASCII.GetBytes(wire), out var entry));
        Assert.Equal(job.JobId, entry.Job.JobId);
    }
}
