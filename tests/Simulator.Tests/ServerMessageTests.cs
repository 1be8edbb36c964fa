using System.Text;

namespace PoolCluster.Simulator.Tests;

/// <summary>The client side of the protocol: reading what servers send.</summary>
public class ServerMessageTests
{
    private static ServerMessage Parse(string line, out bool ok, out string? problem)
    {
        ok = ServerMessage.TryParse(Encoding.UTF8.GetBytes(line), out var message, out problem);
        return message;
    }

    [Theory]
    [InlineData(RecordedSession.Block300025)]
    [InlineData(RecordedSession.Block482683)]
    public void Every_line_of_a_recorded_real_session_reads_as_what_it_is(string file)
    {
        var recording = RecordedSession.Load(file);
        var seen = new HashSet<ServerMessageType>();
        foreach (var line in recording.ServerLines)
        {
            var bytes = Encoding.UTF8.GetBytes(line);
            Assert.True(ServerMessage.TryParse(bytes, out var message, out var problem), problem);
            seen.Add(message.Type);
            switch (message.Type)
            {
                case ServerMessageType.Response when message.Id == 1:
                    Assert.True(ServerParams.TryParseSubscribeResult(message.Result, out var extranonce1, out var size, out var subscribeProblem), subscribeProblem);
                    Assert.Equal(recording.Extranonce1, extranonce1);
                    Assert.Equal(recording.Extranonce2Size, size);
                    break;
                case ServerMessageType.Response:
                    Assert.True(message.IsTrueResult, line); // authorize and every cpuminer share were accepted
                    Assert.Equal(-1, message.ErrorCode);
                    break;
                case ServerMessageType.SetDifficulty:
                    Assert.True(ServerParams.TryParseSetDifficulty(message.Params, out var difficulty));
                    Assert.Equal(recording.Difficulty, difficulty);
                    break;
                case ServerMessageType.Notify:
                    Assert.True(ServerParams.TryParseNotifyHead(message.Params, out var jobId, out var clean, out var jobText));
                    Assert.Equal(recording.JobId, Encoding.UTF8.GetString(jobId));
                    Assert.True(clean);
                    Assert.EndsWith(",", Encoding.UTF8.GetString(jobText).TrimEnd());
                    Assert.DoesNotContain("true", Encoding.UTF8.GetString(jobText));
                    break;
                default:
                    Assert.Fail($"unexpected message {message.Type}: {line}");
                    break;
            }
        }
        Assert.Superset(new HashSet<ServerMessageType> { ServerMessageType.Response, ServerMessageType.SetDifficulty, ServerMessageType.Notify }, seen);
    }

    [Theory]
    [InlineData("{\"id\":7,\"result\":null,\"error\":[23,\"Low difficulty\",null]}", 23, "Low difficulty")]
    [InlineData("{\"error\":[21,\"Job not found (=stale)\",null],\"id\":8,\"result\":null}", 21, "Job not found (=stale)")]
    [InlineData("{\"id\":9,\"result\":false,\"error\":{\"code\":22,\"message\":\"Duplicate share\"}}", 22, "Duplicate share")]
    [InlineData("{\"id\":10,\"result\":false,\"error\":\"rejected\"}", -1, "rejected")]
    [InlineData("{\"id\":11,\"result\":false,\"error\":null}", -1, "")]
    public void Rejections_give_their_code_and_message_in_every_form_servers_use(string line, int code, string text)
    {
        var message = Parse(line, out var ok, out var problem);
        Assert.True(ok, problem);
        Assert.Equal(ServerMessageType.Response, message.Type);
        Assert.False(message.IsTrueResult);
        Assert.Equal(code, message.ErrorCode);
        Assert.Equal(text, message.ErrorText);
    }

    [Fact]
    public void Notifications_the_client_acts_on_are_recognized_and_their_params_read()
    {
        var m = Parse("{\"id\":null,\"method\":\"mining.set_extranonce\",\"params\":[\"f000000a\",4]}", out var ok, out _);
        Assert.True(ok);
        Assert.Equal(ServerMessageType.SetExtranonce, m.Type);
        Assert.Null(m.Id);
        Assert.True(ServerParams.TryParseSetExtranonce(m.Params, out var extranonce1, out var size, out _));
        Assert.Equal(new byte[] { 0xf0, 0, 0, 0x0a }, extranonce1);
        Assert.Equal(4, size);

        m = Parse("{\"id\":null,\"method\":\"mining.set_version_mask\",\"params\":[\"1fffe000\"]}", out ok, out _);
        Assert.Equal(ServerMessageType.SetVersionMask, m.Type);
        Assert.True(ServerParams.TryParseVersionMask(m.Params, out var mask));
        Assert.Equal(0x1fffe000u, mask);

        m = Parse("{\"id\":null,\"method\":\"client.reconnect\",\"params\":[]}", out ok, out _);
        Assert.Equal(ServerMessageType.Reconnect, m.Type);
        Assert.True(ServerParams.TryParseReconnect(m.Params, out var host, out var port, out var wait));
        Assert.Null(host);
        Assert.Null(port);
        Assert.Equal(0, wait);

        m = Parse("{\"id\":null,\"method\":\"client.reconnect\",\"params\":[\"pool2.example\",\"3334\",5]}", out ok, out _);
        Assert.True(ServerParams.TryParseReconnect(m.Params, out host, out port, out wait));
        Assert.Equal(("pool2.example", 3334, 5), (host, port!.Value, wait));

        m = Parse("{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[\"0.5\"]}", out ok, out _);
        Assert.True(ServerParams.TryParseSetDifficulty(m.Params, out var difficulty));
        Assert.Equal(0.5, difficulty);
        m = Parse("{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[0]}", out ok, out _);
        Assert.False(ServerParams.TryParseSetDifficulty(m.Params, out _));

        m = Parse("{\"id\":null,\"method\":\"client.show_message\",\"params\":[\"hello\"]}", out ok, out _);
        Assert.True(ok);
        Assert.Equal(ServerMessageType.OtherMethod, m.Type);
    }

    [Theory]
    [InlineData("not json at all", "not a JSON object")]
    [InlineData("[1,2,3]", "not a JSON object")]
    [InlineData("{\"id\":1,\"result\":tru}", "not valid JSON")]
    [InlineData("{\"id\":1,\"result\":true} trailing", "not valid JSON")]
    public void Lines_that_are_not_json_objects_are_refused_with_the_reason(string line, string reason)
    {
        Parse(line, out var ok, out var problem);
        Assert.False(ok);
        Assert.Contains(reason, problem);
    }

    [Fact]
    public void A_notify_with_a_missing_field_is_not_taken_for_a_job()
    {
        var m = Parse("{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"1\",\"00\",\"aa\",\"bb\",[],\"20000000\",\"1d00ffff\",true]}", out var ok, out _);
        Assert.True(ok);
        Assert.False(ServerParams.TryParseNotifyHead(m.Params, out _, out _, out _));
    }

    [Fact]
    public void The_same_job_sent_clean_and_not_clean_is_prepared_once_but_not_across_extranonce_sizes()
    {
        var recording = RecordedSession.Load();
        var cache = new JobCache();
        var text = recording.NotifyParams.GetRawText();
        var notClean = text[..text.LastIndexOf("true", StringComparison.Ordinal)] + "false]";
        SharedJob Get(string parameters, int size)
        {
            var bytes = Encoding.UTF8.GetBytes(parameters);
            Assert.True(ServerParams.TryParseNotifyHead(bytes, out var jobId, out _, out var jobText));
            return cache.GetOrAdd(jobId, jobText, bytes, size, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        }
        var first = Get(text, 8);
        Assert.Same(first, Get(notClean, 8));
        Assert.NotSame(first, Get(text, 12));
        Assert.Equal(recording.JobId, first.JobId);
        Assert.Equal(recording.JobId, Encoding.UTF8.GetString(first.JobIdJson));
        Assert.Equal(recording.NTime, first.NTime);
        Assert.Equal(2, cache.Count);
        var bad = Encoding.UTF8.GetBytes(text.Replace(recording.Bits, "zzzzzzzz"));
        Assert.True(ServerParams.TryParseNotifyHead(bad, out var badId, out _, out var badText));
        var (badIdBytes, badKey) = (badId.ToArray(), badText.ToArray());
        var e = Assert.Throws<FormatException>(() => cache.GetOrAdd(badIdBytes, badKey, bad, 8, 0));
        Assert.Contains("nbits", e.Message);
    }

    [Fact]
    public void JobMaker_ids_give_their_creation_time_and_short_ids_none()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var id = ((ulong)(now - 1234) << 23) | (3UL << 15) | 17;
        Assert.Equal(now - 1234, SharedJob.DecodeCreationTime(id.ToString("x16"), now));
        Assert.Equal(now - 1234, SharedJob.DecodeCreationTime(id.ToString(), now));
        Assert.Null(SharedJob.DecodeCreationTime("6a1f", now));
        Assert.Null(SharedJob.DecodeCreationTime("00000000000000ff", now)); // decodes to 1970: not such an id
    }
}
