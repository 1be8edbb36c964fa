using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace PoolCluster.Stratum.Tests;

public class WriterTests
{
    private readonly ArrayBufferWriter<byte> _output = new();

    private string Written => Encoding.UTF8.GetString(_output.WrittenSpan);

    [Theory]
    [InlineData("4", true, "{\"id\":4,\"result\":true,\"error\":null}\n")]
    [InlineData("\"a\\\"b\"", false, "{\"id\":\"a\\\"b\",\"result\":false,\"error\":null}\n")]
    [InlineData("null", true, "{\"id\":null,\"result\":true,\"error\":null}\n")]
    public void ResultEchoesTheIdVerbatim(string id, bool result, string expected)
    {
        StratumWriter.WriteResult(_output, Encoding.UTF8.GetBytes(id), result);
        Assert.Equal(expected, Written);
        Json.ParseLine(_output.WrittenSpan);
    }

    public static TheoryData<StratumErrorCode, string> BtcpoolMessages => new()
    {
        { StratumErrorCode.ShareRejected, "Share rejected" },
        { StratumErrorCode.Unknown, "Unknown" },
        { StratumErrorCode.JobNotFound, "Job not found (=stale)" },
        { StratumErrorCode.DuplicateShare, "Duplicate share" },
        { StratumErrorCode.LowDifficulty, "Low difficulty" },
        { StratumErrorCode.UnauthorizedWorker, "Unauthorized worker" },
        { StratumErrorCode.NotSubscribed, "Not subscribed" },
        { StratumErrorCode.IllegalMethod, "Illegal method" },
        { StratumErrorCode.IllegalParams, "Illegal params" },
        { StratumErrorCode.IpBanned, "Ip banned" },
        { StratumErrorCode.InvalidUsername, "Invalid username" },
        { StratumErrorCode.InternalError, "Internal error" },
        { StratumErrorCode.TimeTooOld, "Time too old" },
        { StratumErrorCode.TimeTooNew, "Time too new" },
        { StratumErrorCode.IllegalVersionMask, "Invalid version mask" },
        { StratumErrorCode.InvalidSolution, "Invalid Solution" },
        { StratumErrorCode.WrongNoncePrefix, "Wrong Nonce Prefix" },
        { StratumErrorCode.JobNotIssued, "Job not found (=stale)" },
        { StratumErrorCode.StaleShare, "Stale share" },
    };

    [Theory]
    [MemberData(nameof(BtcpoolMessages))]
    public void ErrorCarriesBtcpoolsCodeAndMessage(StratumErrorCode code, string message)
    {
        StratumWriter.WriteError(_output, "10"u8, code);
        Assert.Equal($"{{\"id\":10,\"result\":null,\"error\":[{(int)code},\"{message}\",null]}}\n", Written);
        Assert.Equal(message, StratumErrors.MessageOf(code));
    }

    [Fact]
    public void ErrorCodesAreBtcpoolsNumbers()
    {
        Assert.Equal(
            [0, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37],
            Enum.GetValues<StratumErrorCode>().Select(c => (int)c).Order().ToArray());
    }

    [Fact]
    public void CustomErrorMessageIsEscaped()
    {
        var message = "nonce \"0x1\" \\ bad\nline\u0001 – ünïcödé 🙂";
        StratumWriter.WriteError(_output, "\"id-7\""u8, StratumErrorCode.IllegalParams, message);
        var json = Json.ParseLine(_output.WrittenSpan);
        Assert.Equal("id-7", json.GetProperty("id").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("result").ValueKind);
        var error = json.GetProperty("error");
        Assert.Equal(27, error[0].GetInt32());
        Assert.Equal(message, error[1].GetString());
        Assert.Equal(JsonValueKind.Null, error[2].ValueKind);
    }

    [Fact]
    public void ParseErrorIsWrittenWithItsOwnMessage()
    {
        var request = StratumRequest.Parse("{\"id\":8,\"method\":\"mining.submit\",\"params\":[1]}"u8);
        var error = request.ParseSubmit(4, out _);
        StratumWriter.WriteError(_output, request.Id, error);
        var json = Json.ParseLine(_output.WrittenSpan);
        Assert.Equal(8, json.GetProperty("id").GetInt32());
        Assert.Equal(error.Message, json.GetProperty("error")[1].GetString());
        Assert.Throws<ArgumentException>(() => StratumWriter.WriteError(_output, "1"u8, StratumParseError.None));
    }

    [Fact]
    public void SubscribeResultWithOneSubscriptionId()
    {
        StratumWriter.WriteSubscribeResult(_output, "1"u8, "0800002a"u8, [0x08, 0x00, 0x00, 0x2a], 8);
        Assert.Equal("{\"id\":1,\"result\":[[[\"mining.set_difficulty\",\"0800002a\"],[\"mining.notify\",\"0800002a\"]],\"0800002a\",8],\"error\":null}\n", Written);
    }

    [Theory]
    [InlineData(1.0, "1")]
    [InlineData(1024.0, "1024")]
    [InlineData(16384.0, "16384")]
    [InlineData(0.5, "0.5")]
    [InlineData(0.001, "0.001")]
    [InlineData(0.002, "0.002")]
    [InlineData(0.015625, "0.015625")]
    [InlineData(0.00001, "0.00001")]
    [InlineData(0.0000123, "0.0000123")]
    [InlineData(9.5367431640625E-07, "0.00000095367431640625")]
    [InlineData(123.456, "123.456")]
    [InlineData(1e15, "1000000000000000")]
    [InlineData(1e16, "10000000000000000")]
    [InlineData(1.5e17, "150000000000000000")]
    [InlineData(4611686018427387904.0, "4611686018427387904")]
    [InlineData(1e-20, "0.00000000000000000001")]
    public void DifficultyIsPlainDecimal(double difficulty, string expected)
    {
        Assert.Equal(expected, StratumDifficulty.Format(difficulty));
        StratumWriter.WriteSetDifficulty(_output, difficulty);
        Assert.Equal($"{{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[{expected}]}}\n", Written);
    }

    [Fact]
    public void DifficultyTextReadsBackAsTheSameDouble()
    {
        var random = new Random(42);
        for (var i = 0; i < 20000; i++)
        {
            // Spread over the whole writable range, fractional powers of two included.
            var value = i % 4 == 0
                ? Math.ScaleB(1.0, random.Next(-60, 63))
                : Math.Pow(10, random.NextDouble() * 38 - 19) * (1 + random.NextDouble());
            var text = StratumDifficulty.Format(value);
            Assert.DoesNotContain("E", text);
            Assert.DoesNotContain("e", text);
            Assert.Equal(value, double.Parse(text, CultureInfo.InvariantCulture));
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(1e-21)]
    [InlineData(1e21)]
    public void UnwritableDifficultyIsRefused(double difficulty)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => StratumWriter.WriteSetDifficulty(_output, difficulty));
        Assert.Equal(0, _output.WrittenCount);
    }

    [Fact]
    public void SetVersionMask()
    {
        StratumWriter.WriteSetVersionMask(_output, 0x00003000);
        Assert.Equal("{\"id\":null,\"method\":\"mining.set_version_mask\",\"params\":[\"00003000\"]}\n", Written);
    }

    [Fact]
    public void SetExtranonce()
    {
        StratumWriter.WriteSetExtranonce(_output, [0xf0, 0x00, 0x00, 0x0a], 4);
        Assert.Equal("{\"id\":null,\"method\":\"mining.set_extranonce\",\"params\":[\"f000000a\",4]}\n", Written);
    }

    [Fact]
    public void Reconnect()
    {
        StratumWriter.WriteReconnect(_output);
        Assert.Equal("{\"id\":null,\"method\":\"client.reconnect\",\"params\":[]}\n", Written);
        _output.ResetWrittenCount();
        StratumWriter.WriteReconnect(_output, "pool\"2\".example", 3333, 5);
        var json = Json.ParseLine(_output.WrittenSpan);
        Assert.Equal("client.reconnect", json.GetProperty("method").GetString());
        Assert.Equal("pool\"2\".example", json.GetProperty("params")[0].GetString());
        Assert.Equal(3333, json.GetProperty("params")[1].GetInt32());
        Assert.Equal(5, json.GetProperty("params")[2].GetInt32());
    }

    [Fact]
    public void ConfigureResultAnswersEveryRequestedExtensionInOrder()
    {
        var request = StratumRequest.Parse(
            "{\"id\":1,\"method\":\"mining.configure\",\"params\":[[\"minimum-difficulty\",\"version-rolling\",\"subscribe-extranonce\",\"info\"],{\"version-rolling.mask\":\"1fffe000\",\"minimum-difficulty.value\":2048}]}"u8);
        Assert.False(request.ParseConfigure(out var configure).IsError);
        var granted = VersionRolling.Negotiate(0x18000000, configure!.VersionRollingMask);
        StratumWriter.WriteConfigureResult(_output, request.Id, configure, new ConfigureResponse(granted, MinimumDifficulty: true, SubscribeExtranonce: false));
        Assert.Equal(
            "{\"id\":1,\"result\":{\"minimum-difficulty\":true,\"version-rolling\":true,\"version-rolling.mask\":\"18000000\",\"subscribe-extranonce\":false,\"info\":false},\"error\":null}\n",
            Written);

        _output.ResetWrittenCount();
        StratumWriter.WriteConfigureResult(_output, request.Id, configure, new ConfigureResponse(null, false, false));
        var json = Json.ParseLine(_output.WrittenSpan).GetProperty("result");
        Assert.False(json.GetProperty("version-rolling").GetBoolean());
        Assert.False(json.TryGetProperty("version-rolling.mask", out _));
    }

    [Fact]
    public void NotifyRefusesMalformedJobInput()
    {
        var hash = new byte[32];
        Assert.Throws<ArgumentException>(() => MiningNotify.Create("", hash, [], [], [], 1, 2, 3, false));
        Assert.Throws<ArgumentException>(() => MiningNotify.Create("a\"b", hash, [], [], [], 1, 2, 3, false));
        Assert.Throws<ArgumentException>(() => MiningNotify.Create("j", new byte[31], [], [], [], 1, 2, 3, false));
        Assert.Throws<ArgumentException>(() => MiningNotify.Create("j", hash, [], [], [new byte[31]], 1, 2, 3, false));
    }

    [Fact]
    public void NotifyKeepsTheJobsFlagAndACleanVariant()
    {
        var previous = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var notify = MiningNotify.Create("17", previous, [0x01, 0x02], [0xff], [new byte[32], Enumerable.Repeat((byte)0xab, 32).ToArray()],
            0x20000000, 0x1d00ffff, 0x5a000000, cleanJobs: false);
        var line = Json.ParseLine(notify.Line.Span);
        var clean = Json.ParseLine(notify.CleanLine.Span);
        Assert.False(line.GetProperty("params")[8].GetBoolean());
        Assert.True(clean.GetProperty("params")[8].GetBoolean());
        var p = line.GetProperty("params");
        Assert.Equal("17", p[0].GetString());
        // Each 4-byte word of the internal-order hash byte-swapped.
        Assert.Equal("03020100070605040b0a09080f0e0d0c13121110171615141b1a19181f1e1d1c", p[1].GetString());
        Assert.Equal("0102", p[2].GetString());
        Assert.Equal("ff", p[3].GetString());
        Assert.Equal(new string('0', 64), p[4][0].GetString());
        Assert.Equal(string.Concat(Enumerable.Repeat("ab", 32)), p[4][1].GetString());
        Assert.Equal("20000000", p[5].GetString());
        Assert.Equal("1d00ffff", p[6].GetString());
        Assert.Equal("5a000000", p[7].GetString());

        _output.ResetWrittenCount();
        notify.WriteTo(_output);
        notify.WriteTo(_output, forceClean: true);
        Assert.Equal(notify.Line.Length + notify.CleanLine.Length, _output.WrittenCount);
    }
}
