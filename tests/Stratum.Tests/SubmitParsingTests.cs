using System.Text;

namespace PoolCluster.Stratum.Tests;

public class SubmitParsingTests
{
    private static StratumParseError Parse(string @params, int extranonce2Size, out string workerName, out string jobId,
        out ulong extranonce2, out uint nTime, out uint nonce, out uint? versionBits)
    {
        var line = Encoding.UTF8.GetBytes($"{{\"id\":4,\"method\":\"mining.submit\",\"params\":{@params}}}");
        var request = StratumRequest.Parse(line);
        Assert.True(request.IsValid, request.Error.ToString());
        var error = request.ParseSubmit(extranonce2Size, out var submit);
        workerName = Encoding.UTF8.GetString(submit.WorkerName);
        jobId = Encoding.UTF8.GetString(submit.JobId);
        extranonce2 = submit.Extranonce2;
        nTime = submit.NTime;
        nonce = submit.Nonce;
        versionBits = submit.HasVersionBits ? submit.VersionBits : null;
        return error;
    }

    [Fact]
    public void FiveParamsDecodeToHeaderNumbers()
    {
        var error = Parse("[\"alice.rig1\",\"6a1f\",\"0000002a\",\"59a70bb9\",\"1212b080\"]", 4,
            out var worker, out var job, out var extranonce2, out var nTime, out var nonce, out var versionBits);
        Assert.False(error.IsError, error.ToString());
        Assert.Equal("alice.rig1", worker);
        Assert.Equal("6a1f", job);
        Assert.Equal(42ul, extranonce2);
        Assert.Equal(0x59a70bb9u, nTime);
        Assert.Equal(0x1212b080u, nonce);
        Assert.Null(versionBits);
    }

    [Fact]
    public void SixthParamIsVersionBitsAndHexIsCaseInsensitive()
    {
        var error = Parse("[\"w\",123,\"DEADBEEF00112233\",\"59A70BB9\",\"ffffffff\",\"1FFFE000\"]", 8,
            out _, out var job, out var extranonce2, out var nTime, out var nonce, out var versionBits);
        Assert.False(error.IsError, error.ToString());
        Assert.Equal("123", job);
        Assert.Equal(0xdeadbeef00112233ul, extranonce2);
        Assert.Equal(0x59a70bb9u, nTime);
        Assert.Equal(0xffffffffu, nonce);
        Assert.Equal(0x1fffe000u, versionBits);
    }

    [Fact]
    public void Extranonce2BytesComeOutInCoinbaseOrder()
    {
        var request = StratumRequest.Parse("{\"id\":4,\"method\":\"mining.submit\",\"params\":[\"w\",\"j\",\"0102a0ff\",\"00000000\",\"00000000\"]}"u8);
        Assert.False(request.ParseSubmit(4, out var submit).IsError);
        Span<byte> bytes = stackalloc byte[4];
        submit.WriteExtranonce2(bytes);
        Assert.Equal(new byte[] { 0x01, 0x02, 0xa0, 0xff }, bytes.ToArray());
        Assert.Equal(4, submit.Extranonce2Size);
        Assert.Equal("0102a0ff", Encoding.UTF8.GetString(submit.Extranonce2Hex));
    }

    [Theory]
    [InlineData("[\"w\",\"j\",\"00000000\",\"59a70bb9\"]", "takes 5 or 6 params", "got 4")]
    [InlineData("[]", "takes 5 or 6 params", "got 0")]
    [InlineData("[\"w\",\"j\",\"00000000\",\"59a70bb9\",\"00000000\",\"00000000\",\"x\"]", "takes 5 or 6 params", "got 7")]
    [InlineData("[1,\"j\",\"00000000\",\"59a70bb9\",\"00000000\"]", "worker name (param 1) must be a string", "got 1")]
    [InlineData("[\"w\",\"\",\"00000000\",\"59a70bb9\",\"00000000\"]", "job id (param 2)", "got \"\"")]
    [InlineData("[\"w\",null,\"00000000\",\"59a70bb9\",\"00000000\"]", "job id (param 2)", "got null")]
    [InlineData("[\"w\",\"j\\u0031\",\"00000000\",\"59a70bb9\",\"00000000\"]", "job id (param 2)", "plain string")]
    [InlineData("[\"w\",\"j\",\"0000000\",\"59a70bb9\",\"00000000\"]", "extranonce2 (param 3) must be 8 hex characters", "got \"0000000\"")]
    [InlineData("[\"w\",\"j\",\"000000000\",\"59a70bb9\",\"00000000\"]", "extranonce2 (param 3) must be 8 hex characters", "got \"000000000\"")]
    [InlineData("[\"w\",\"j\",\"0000000g\",\"59a70bb9\",\"00000000\"]", "extranonce2 (param 3)", "got \"0000000g\"")]
    [InlineData("[\"w\",\"j\",42,\"59a70bb9\",\"00000000\"]", "extranonce2 (param 3)", "got 42")]
    [InlineData("[\"w\",\"j\",\"00000000\",\"59a70bb\",\"00000000\"]", "ntime (param 4) must be 8 hex characters", "got \"59a70bb\"")]
    [InlineData("[\"w\",\"j\",\"00000000\",1504120761,\"00000000\"]", "ntime (param 4)", "got 1504120761")]
    [InlineData("[\"w\",\"j\",\"00000000\",\"59a70bb9\",\"0c71758\"]", "nonce (param 5) must be 8 hex characters", "got \"0c71758\"")]
    [InlineData("[\"w\",\"j\",\"00000000\",\"59a70bb9\",\"0x717580\"]", "nonce (param 5)", "got \"0x717580\"")]
    [InlineData("[\"w\",\"j\",\"00000000\",\"59a70bb9\",\"0c717580\",\"1fffe0\"]", "version bits (param 6) must be 8 hex characters", "got \"1fffe0\"")]
    [InlineData("[\"w\",\"j\",\"00000000\",\"59a70bb9\",\"0c717580\",null]", "version bits (param 6)", "got null")]
    [InlineData("[\"w\",\"j\",\"00000000\",\"59a70bb9\",\"\\u00300c71758\"]", "nonce (param 5)", "")]
    public void EveryWrongParamIsIllegalParamsNamingIt(string @params, string problem, string detail)
    {
        var error = Parse(@params, 4, out _, out _, out _, out _, out _, out _);
        Assert.True(error.IsError);
        Assert.Equal(StratumErrorCode.IllegalParams, error.Code);
        Assert.Contains(problem, error.Message);
        Assert.Contains(detail, error.Message);
    }

    [Fact]
    public void Extranonce2SizeComesFromTheSession()
    {
        const string eight = "[\"w\",\"j\",\"0000000000000001\",\"59a70bb9\",\"0c717580\"]";
        Assert.False(Parse(eight, 8, out _, out _, out var extranonce2, out _, out _, out _).IsError);
        Assert.Equal(1ul, extranonce2);
        var error = Parse(eight, 4, out _, out _, out _, out _, out _, out _);
        Assert.Contains("must be 8 hex characters, got \"0000000000000001\"", error.Message);
    }

    [Fact]
    public void SessionExtranonce2SizeOutsideOneToEightIsAProgrammingError()
    {
        static void ParseWith(int size) =>
            StratumRequest.Parse("{\"id\":4,\"method\":\"mining.submit\",\"params\":[]}"u8).ParseSubmit(size, out _);
        Assert.Throws<ArgumentOutOfRangeException>(() => ParseWith(9));
        Assert.Throws<ArgumentOutOfRangeException>(() => ParseWith(0));
    }
}
