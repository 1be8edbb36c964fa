using System.Text.Json;

namespace PoolCluster.SServer.Tests;

/// <summary>
/// The real cpuminer 2.5.1 sessions (../shared/testdata/stratum), replayed byte for byte over TCP against SServer fed
/// the recorded job, with the recorded extranonce1 and wire job id: every recorded share must be accepted, and
/// mutated copies must get the right btcpool error codes.
/// </summary>
public class ReplayTests
{
    private static async Task<(TestServer Server, StratumTestClient Client, RecordedSession Session)> StartRecordedAsync(string file,
        StratumIoEngine engine = StratumIoEngine.Epoll)
    {
        var session = RecordedSession.Load(file);
        var server = await TestServer.StartAsync(o =>
            {
                o.ServerId = (int)(session.Extranonce1 >> 24);
                o.IoEngine = engine;
            },
            new VardiffSettings { InitialDifficulty = session.Difficulty, MinDifficulty = 1e-10, MaxDifficulty = 1e12 });
        server.Server.SessionIds.SetNextCounter(session.Extranonce1 & 0xffffff);
        server.Server.Jobs.SetNextWireKey(Convert.ToUInt16(session.WireJobId, 16));
        server.Feed(session.ToJob(TestJobs.NextJobId()));
        var client = await server.ConnectAsync();
        return (server, client, session);
    }

    [Theory]
    [InlineData("cpuminer-mainnet-block482683.jsonl", StratumIoEngine.Epoll)]
    [InlineData("cpuminer-mainnet-block300025.jsonl", StratumIoEngine.Epoll)]
    [InlineData("cpuminer-mainnet-block482683.jsonl", StratumIoEngine.Sockets)]
    public async Task Every_recorded_share_is_accepted_when_the_session_is_replayed_over_tcp(string file, StratumIoEngine engine)
    {
        var (server, client, session) = await StartRecordedAsync(file, engine);
        await using var _ = server;
        await using var __ = client;

        var subscribe = session.Sent[0];
        await client.SendAsync(subscribe.GetRawText());
        var subscribed = await client.ResponseAsync(subscribe.GetProperty("id").GetRawText());
        Assert.Equal(session.Extranonce1Hex, subscribed.GetProperty("result")[1].GetString());
        Assert.Equal(session.Extranonce2Size, subscribed.GetProperty("result")[2].GetInt32());

        var authorize = session.Sent[1];
        await client.SendAsync(authorize.GetRawText());
        Assert.True((await client.ResponseAsync(authorize.GetProperty("id").GetRawText())).GetProperty("result").GetBoolean());
        var setDifficulty = await client.NotificationAsync("mining.set_difficulty");
        Assert.Equal(session.Difficulty, setDifficulty.GetProperty("params")[0].GetDouble());
        var notify = await client.NotificationAsync("mining.notify");
        // Same job, same encoding as the recording server's notify, clean.
        Assert.True(JsonElement.DeepEquals(session.Notify.GetProperty("params"), notify.GetProperty("params")),
            $"expected {session.Notify.GetProperty("params").GetRawText()}\n  actual {notify.GetProperty("params").GetRawText()}");

        var submits = session.Submits.ToList();
        foreach (var submit in submits)
        {
            await client.SendAsync(submit.GetRawText());
            var answer = await client.ResponseAsync(submit.GetProperty("id").GetRawText());
            StratumTestClient.AssertNoError(answer);
            Assert.True(answer.GetProperty("result").GetBoolean(), $"recorded share rejected: {submit.GetRawText()} -> {answer.GetRawText()}");
        }
        Assert.Equal(submits.Count, server.Server.Counters.SharesAccepted);
        Assert.Equal(0, server.Server.Counters.SharesRejected);
    }

    [Fact]
    public async Task Mutated_recorded_shares_get_btcpools_error_codes()
    {
        var (server, client, session) = await StartRecordedAsync(RecordedSession.Files[0]);
        await using var _ = server;
        await using var __ = client;
        foreach (var message in session.Sent.Take(2))
        {
            await client.SendAsync(message.GetRawText());
            await client.ResponseAsync(message.GetProperty("id").GetRawText());
        }
        var submits = session.Submits.Select(s => s.GetProperty("params").EnumerateArray().Select(p => p.GetString()!).ToArray()).ToList();
        var first = submits[0];
        var (worker, job, en2, ntime, nonce) = (first[0], first[1], first[2], first[3], first[4]);

        async Task Expect(int code, string jobId, string extranonce2, string time, string n, string? versionBits = null)
        {
            var answer = await client.SubmitAsync(jobId, extranonce2, time, n, versionBits, worker);
            StratumTestClient.AssertError(answer, code);
        }

        Assert.True((await client.SubmitAsync(job, en2, ntime, nonce, worker: worker)).GetProperty("result").GetBoolean());
        await Expect(22, job, en2, ntime, nonce);                                         // the same share again
        await Expect(23, job, en2, ntime, Flip(nonce, 0));                                // one nonce byte changed
        await Expect(23, job, Flip(en2, 3), ntime, nonce);                                // one extranonce2 byte changed
        await Expect(27, job, en2[..6], ntime, nonce);                                    // extranonce2 too short
        await Expect(27, job, en2 + "00", ntime, nonce);                                  // extranonce2 too long
        await Expect(27, job, en2, ntime[..7], nonce);                                    // ntime not 8 hex digits
        await Expect(27, job, en2, ntime, nonce + "0");                                   // nonce not 8 hex digits
        await Expect(27, job, en2, ntime, "zzzzzzzz");                                    // not hex
        await Expect(31, job, en2, (session.CurTime - 601).ToString("x8"), nonce);        // before the template's mintime
        await Expect(32, job, en2, (session.CurTime + 7201).ToString("x8"), nonce);       // more than 2 h after the job's time
        await Expect(33, job, en2, ntime, nonce, "e0000000");                             // version bits without version rolling
        await Expect(21, "ffff", en2, ntime, nonce);                                      // a job id never sent

        // A new block: every older job is stale, even for a share that would have been valid.
        server.Feed(TestJobs.Mainnet(clean: true, heightOffset: 1));
        await client.NotificationAsync("mining.notify");
        var valid = submits[1];
        await Expect(21, job, valid[2], valid[3], valid[4]);
        Assert.Equal(1, server.Server.Counters.SharesAccepted);
    }

    private static string Flip(string hex, int byteIndex)
    {
        var bytes = Convert.FromHexString(hex);
        bytes[byteIndex] ^= 0x01;
        return Convert.ToHexStringLower(bytes);
    }
}
