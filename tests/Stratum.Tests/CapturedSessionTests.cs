using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace PoolCluster.Stratum.Tests;

/// <summary>Ground truth: real cpuminer 2.5.1 sessions recorded on the wire (../shared/testdata/stratum).</summary>
public class CapturedSessionTests
{
    public static TheoryData<string> Files => new(CapturedSession.Files);

    [Theory]
    [MemberData(nameof(Files))]
    public void EveryClientLineParsesToItsMethodAndParams(string file)
    {
        var session = CapturedSession.Load(file);
        var submits = 0;
        foreach (var message in session.Sent)
        {
            var request = StratumRequest.Parse(CapturedSession.Utf8(message));
            Assert.True(request.IsValid, $"{message.GetRawText()}: {request.Error}");
            Assert.Equal(message.GetProperty("id").GetRawText(), Encoding.UTF8.GetString(request.Id));
            var method = message.GetProperty("method").GetString();
            var p = message.GetProperty("params");
            switch (method)
            {
                case "mining.subscribe":
                    Assert.Equal(StratumMethod.Subscribe, request.Method);
                    Assert.False(request.ParseSubscribe(out var subscribe).IsError);
                    Assert.Equal(p[0].GetString(), subscribe.Agent);
                    Assert.Null(subscribe.SessionId);
                    break;
                case "mining.authorize":
                    Assert.Equal(StratumMethod.Authorize, request.Method);
                    Assert.False(request.ParseAuthorize(out var authorize).IsError);
                    Assert.Equal(p[0].GetString(), authorize.FullName);
                    Assert.Equal(p[1].GetString(), authorize.Password);
                    Assert.Equal(default, authorize.PasswordOptions);
                    break;
                case "mining.submit":
                    submits++;
                    Assert.Equal(StratumMethod.Submit, request.Method);
                    var error = request.ParseSubmit(session.Extranonce2Size, out var submit);
                    Assert.False(error.IsError, error.ToString());
                    Assert.Equal(p[0].GetString(), Encoding.UTF8.GetString(submit.WorkerName));
                    Assert.Equal(p[1].GetString(), Encoding.UTF8.GetString(submit.JobId));
                    Assert.Equal(p[2].GetString(), Encoding.UTF8.GetString(submit.Extranonce2Hex));
                    Assert.Equal(Convert.ToUInt64(p[2].GetString(), 16), submit.Extranonce2);
                    Assert.Equal(Convert.ToUInt32(p[3].GetString(), 16), submit.NTime);
                    Assert.Equal(Convert.ToUInt32(p[4].GetString(), 16), submit.Nonce);
                    Assert.False(submit.HasVersionBits);
                    break;
                default:
                    Assert.Fail($"unexpected method {method} in {file}");
                    break;
            }
        }
        Assert.Equal(file.Contains("482683") ? 52 : 69, submits);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void WrittenSubscribeAuthorizeAndSubmitAnswersMatchTheRecordedOnes(string file)
    {
        var session = CapturedSession.Load(file);
        var output = new ArrayBufferWriter<byte>();

        var recordedSubscribe = session.Received[0];
        var subscriptions = recordedSubscribe.GetProperty("result")[0];
        StratumWriter.WriteSubscribeResult(output, Encoding.UTF8.GetBytes(recordedSubscribe.GetProperty("id").GetRawText()),
            Encoding.UTF8.GetBytes(subscriptions[0][1].GetString()!), Encoding.UTF8.GetBytes(subscriptions[1][1].GetString()!),
            Convert.FromHexString(session.Extranonce1Hex), session.Extranonce2Size);
        Json.AssertEquivalent(recordedSubscribe, Json.ParseLine(output.WrittenSpan));

        foreach (var recorded in session.Received.Where(m => m.TryGetProperty("result", out var r) && r.ValueKind == JsonValueKind.True))
        {
            output.ResetWrittenCount();
            StratumWriter.WriteResult(output, Encoding.UTF8.GetBytes(recorded.GetProperty("id").GetRawText()), true);
            Json.AssertEquivalent(recorded, Json.ParseLine(output.WrittenSpan));
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void WrittenSetDifficultyMatchesTheRecordedOne(string file)
    {
        var session = CapturedSession.Load(file);
        var recorded = session.ReceivedWithMethod("mining.set_difficulty");
        var output = new ArrayBufferWriter<byte>();
        StratumWriter.WriteSetDifficulty(output, session.Difficulty);
        Json.AssertEquivalent(recorded, Json.ParseLine(output.WrittenSpan));
        // And the number is the plain decimal a miner expects, not 1E-03 or 0.0010000000000000000208.
        Assert.Contains($"[{recorded.GetProperty("params")[0].GetRawText()}]", Encoding.UTF8.GetString(output.WrittenSpan));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void NotifyBuiltFromTheRealBlockMatchesTheRecordedOne(string file)
    {
        var session = CapturedSession.Load(file);
        var recorded = session.ReceivedWithMethod("mining.notify");
        var p = recorded.GetProperty("params");

        // Header fields straight from the real block (testdata/blocks): internal byte order, little-endian numbers.
        var block = session.LoadBlock();
        var version = BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(0, 4));
        var previousBlockHash = block.AsSpan(4, 32).ToArray();
        var time = BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(68, 4));
        var bits = BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(72, 4));

        var branch = p[4].EnumerateArray().Select(h => (ReadOnlyMemory<byte>)Convert.FromHexString(h.GetString()!)).ToList();
        var notify = MiningNotify.Create(p[0].GetString()!, previousBlockHash,
            Convert.FromHexString(p[2].GetString()!), Convert.FromHexString(p[3].GetString()!), branch,
            version, bits, time, cleanJobs: p[8].GetBoolean());

        Json.AssertEquivalent(recorded, Json.ParseLine(notify.Line.Span));
        Assert.True(notify.CleanJobs);
        Assert.Equal(notify.Line.ToArray(), notify.CleanLine.ToArray());
    }
}
