using System.Text;

namespace PoolCluster.Stratum.Tests;

public class RequestParsingTests
{
    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    [Theory]
    [InlineData("{\"id\":4,\"method\":\"mining.submit\",\"params\":[]}", "4")]
    [InlineData("{\"method\":\"mining.submit\",\"params\":[],\"id\":17}", "17")]
    [InlineData("{\"id\":\"abc\",\"method\":\"mining.submit\",\"params\":[]}", "\"abc\"")]
    [InlineData("{\"id\":\"a\\\"b\\u0041\",\"method\":\"mining.submit\",\"params\":[]}", "\"a\\\"b\\u0041\"")]
    [InlineData("{\"id\":null,\"method\":\"mining.submit\",\"params\":[]}", "null")]
    [InlineData("{\"method\":\"mining.submit\",\"params\":[]}", "null")]
    [InlineData("{\"id\":12345678901234567890123,\"method\":\"mining.submit\",\"params\":[]}", "12345678901234567890123")]
    [InlineData("{\"id\":-1.5e3,\"method\":\"mining.submit\",\"params\":[]}", "-1.5e3")]
    [InlineData("  {\"id\" : 9 , \"method\" : \"mining.submit\" , \"params\" : [ ] }  ", "9")]
    public void IdIsEchoedExactlyAsSent(string line, string expectedId)
    {
        var request = StratumRequest.Parse(U(line));
        Assert.True(request.IsValid, request.Error.ToString());
        Assert.Equal(expectedId, Encoding.UTF8.GetString(request.Id));
        Assert.Equal(StratumMethod.Submit, request.Method);
    }

    [Theory]
    [InlineData("mining.subscribe", StratumMethod.Subscribe)]
    [InlineData("mining.authorize", StratumMethod.Authorize)]
    [InlineData("mining.submit", StratumMethod.Submit)]
    [InlineData("mining.configure", StratumMethod.Configure)]
    [InlineData("mining.suggest_difficulty", StratumMethod.SuggestDifficulty)]
    [InlineData("mining.suggest_target", StratumMethod.SuggestTarget)]
    [InlineData("mining.extranonce.subscribe", StratumMethod.ExtranonceSubscribe)]
    [InlineData("mining.get_transactions", StratumMethod.GetTransactions)]
    [InlineData("mining.multi_version", StratumMethod.Unknown)]
    [InlineData("mining.Submit", StratumMethod.Unknown)]
    [InlineData("mining\\u002esubmit", StratumMethod.Submit)]
    public void MethodNamesMapToTheEnum(string method, StratumMethod expected)
    {
        var request = StratumRequest.Parse(U($"{{\"id\":1,\"method\":\"{method}\",\"params\":[]}}"));
        Assert.True(request.IsValid);
        Assert.Equal(expected, request.Method);
        Assert.Equal(method, request.MethodNameText);
    }

    [Fact]
    public void UnknownPropertiesOfAnyShapeAreSkipped()
    {
        var request = StratumRequest.Parse(U(
            "{\"jsonrpc\":\"2.0\",\"worker\":{\"a\":[1,{\"b\":null}]},\"id\":3,\"method\":\"mining.authorize\",\"params\":[\"u\",\"p\"],\"x\":[[]]}"));
        Assert.True(request.IsValid);
        Assert.Equal(StratumMethod.Authorize, request.Method);
        Assert.Equal("[\"u\",\"p\"]", Encoding.UTF8.GetString(request.Params));
    }

    [Theory]
    [InlineData("{\"id\":1,\"method\":\"mining.extranonce.subscribe\"}")]
    [InlineData("{\"id\":1,\"method\":\"mining.extranonce.subscribe\",\"params\":null}")]
    public void MissingOrNullParamsAreAnEmptyList(string line)
    {
        var request = StratumRequest.Parse(U(line));
        Assert.True(request.IsValid);
        Assert.Equal("[]", Encoding.UTF8.GetString(request.Params));
    }

    [Theory]
    // Not JSON objects at all: garbage, other protocols, truncation.
    [InlineData("", false, "not a JSON object")]
    [InlineData("GET / HTTP/1.1", false, "not a JSON object")]
    [InlineData("\u0016\u0003\u0001\u0002\u0000", false, "not a JSON object")]
    [InlineData("[1,2,3]", false, "not a JSON object")]
    [InlineData("{\"id\":1,\"method\":\"mining.submit\",\"params\":[", false, "not valid JSON")]
    [InlineData("{\"id\":1,\"method\":\"mining.submit\",\"params\":[]}garbage", false, "not valid JSON")]
    [InlineData("{\"id\":1,\"method\":\"mining.submit\",\"params\":[]}{\"id\":2}", false, "not valid JSON")]
    [InlineData("{'id':1}", false, "not valid JSON")]
    [InlineData("{\"id\":1,\"method\":\"mining.submit\",\"params\":[],}", false, "not valid JSON")]
    [InlineData("{\"id\":1 /* c */,\"method\":\"mining.submit\",\"params\":[]}", false, "not valid JSON")]
    // JSON objects with the wrong shape.
    [InlineData("{}", true, "method is missing")]
    [InlineData("{\"id\":1,\"params\":[]}", true, "method is missing")]
    [InlineData("{\"id\":1,\"method\":5,\"params\":[]}", true, "method must be a non-empty string")]
    [InlineData("{\"id\":1,\"method\":\"\",\"params\":[]}", true, "method must be a non-empty string")]
    [InlineData("{\"id\":1,\"method\":\"mining.submit\",\"params\":{\"a\":1}}", true, "params must be an array")]
    [InlineData("{\"id\":1,\"method\":\"mining.submit\",\"params\":\"x\"}", true, "params must be an array")]
    [InlineData("{\"id\":true,\"method\":\"mining.submit\",\"params\":[]}", true, "id must be a number, a string or null")]
    [InlineData("{\"id\":[1],\"method\":\"mining.submit\",\"params\":[]}", true, "id must be a number, a string or null")]
    public void BadLinesGiveIllegalParamsWithTheProblemNamed(string line, bool isJsonObject, string problem)
    {
        var request = StratumRequest.Parse(U(line));
        Assert.False(request.IsValid);
        Assert.Equal(StratumErrorCode.IllegalParams, request.Error.Code);
        Assert.Contains(problem, request.Error.Message);
        Assert.Equal(isJsonObject, request.IsJsonObject);
    }

    [Fact]
    public void IdSeenBeforeASyntaxErrorIsStillEchoed()
    {
        var request = StratumRequest.Parse(U("{\"id\":42,\"method\":\"mining.submit\",\"params\":[\"w\""));
        Assert.False(request.IsValid);
        Assert.Equal("42", Encoding.UTF8.GetString(request.Id));

        var badId = StratumRequest.Parse(U("{\"id\":{\"x\":1},\"method\":\"mining.submit\",\"params\":[]}"));
        Assert.Equal("null", Encoding.UTF8.GetString(badId.Id));
    }

    [Fact]
    public void RandomBytesNeverThrow()
    {
        var random = new Random(310);
        var seeds = new[] { "{\"id\":1,\"method\":\"mining.submit\",\"params\":[\"w\",\"j\",\"00000000\",\"536def62\",\"0c717580\"]}" };
        for (var round = 0; round < 20000; round++)
        {
            byte[] line;
            if (round % 2 == 0)
            {
                line = new byte[random.Next(0, 120)];
                random.NextBytes(line);
            }
            else
            {
                // Mutations of a real line reach deeper into the parsers than pure noise.
                line = U(seeds[0]);
                for (var flips = random.Next(1, 4); flips > 0; flips--)
                    line[random.Next(line.Length)] = (byte)random.Next(256);
            }
            var request = StratumRequest.Parse(line);
            if (!request.IsValid)
            {
                Assert.False(string.IsNullOrEmpty(request.Error.Message));
                continue;
            }
            _ = request.Method switch
            {
                StratumMethod.Submit => request.ParseSubmit(4, out _),
                StratumMethod.Authorize => request.ParseAuthorize(out _),
                StratumMethod.Subscribe => request.ParseSubscribe(out _),
                StratumMethod.Configure => request.ParseConfigure(out _),
                StratumMethod.SuggestDifficulty => request.ParseSuggestDifficulty(out _),
                StratumMethod.SuggestTarget => request.ParseSuggestTarget(out _),
                _ => default,
            };
        }
    }

    [Fact]
    public void InvalidUtf8AndLoneSurrogatesInStringsDoNotThrow()
    {
        byte[] Line(string method, string paramsStart, byte[] middle, string paramsEnd) =>
            [.. U($"{{\"id\":1,\"method\":\"{method}\",\"params\":{paramsStart}"), .. middle, .. U(paramsEnd + "}")];

        // The reader accepts any bytes inside a string; decoding them must not throw either.
        var authorize = StratumRequest.Parse(Line("mining.authorize", "[\"al\\u0069ce", [0xff, 0xfe], ".rig\"]"));
        Assert.True(authorize.IsValid, authorize.Error.ToString());
        Assert.False(authorize.ParseAuthorize(out var parsed).IsError);
        Assert.False(StratumWorkerName.TryParse(parsed.FullName, out _, out var error));
        Assert.Contains("contains", error);
        var surrogate = StratumRequest.Parse(U("{\"id\":1,\"method\":\"mining.authorize\",\"params\":[\"bob\\ud800.rig\"]}"));
        Assert.True(surrogate.IsValid);
        Assert.False(surrogate.ParseAuthorize(out var bob).IsError);
        Assert.StartsWith("bob", bob.FullName);
        var configure = StratumRequest.Parse(U("{\"id\":1,\"method\":\"mining.configure\",\"params\":[[\"x\\udc00\"],{}]}"));
        Assert.False(configure.ParseConfigure(out var extensions).IsError);
        Assert.Single(extensions!.Extensions);
    }

    [Fact]
    public void AuthorizeGivesNameAndPasswordWithDifficultyOptions()
    {
        var request = StratumRequest.Parse(U("{\"params\":[\"alice.rig1\",\"x,d=1024,md=0.5\"],\"id\":2,\"method\":\"mining.authorize\"}"));
        Assert.False(request.ParseAuthorize(out var authorize).IsError);
        Assert.Equal("alice.rig1", authorize.FullName);
        Assert.Equal("x,d=1024,md=0.5", authorize.Password);
        Assert.Equal(1024, authorize.PasswordOptions.StartDifficulty);
        Assert.Equal(0.5, authorize.PasswordOptions.MinimumDifficulty);
    }

    [Theory]
    [InlineData("[\"slush.miner1\"]", "slush.miner1", "")]
    [InlineData("[\"slush.miner1\",null]", "slush.miner1", "")]
    [InlineData("[\"slush.miner1\",1234]", "slush.miner1", "1234")]
    [InlineData("[\"al\\u0069ce.r\\/1\",\"p\\\"w\"]", "alice.r/1", "p\"w")]
    public void AuthorizePasswordMayBeMissingNullOrANumber(string @params, string name, string password)
    {
        var request = StratumRequest.Parse(U($"{{\"id\":2,\"method\":\"mining.authorize\",\"params\":{@params}}}"));
        Assert.False(request.ParseAuthorize(out var authorize).IsError);
        Assert.Equal(name, authorize.FullName);
        Assert.Equal(password, authorize.Password);
    }

    [Theory]
    [InlineData("[]", StratumErrorCode.InvalidUsername, "needs the user name")]
    [InlineData("[5,\"x\"]", StratumErrorCode.InvalidUsername, "must be a string, got 5")]
    [InlineData("[null]", StratumErrorCode.InvalidUsername, "must be a string, got null")]
    [InlineData("[\"u\",[1]]", StratumErrorCode.IllegalParams, "password must be a string")]
    public void AuthorizeProblemsAreNamed(string @params, StratumErrorCode code, string problem)
    {
        var request = StratumRequest.Parse(U($"{{\"id\":2,\"method\":\"mining.authorize\",\"params\":{@params}}}"));
        var error = request.ParseAuthorize(out _);
        Assert.Equal(code, error.Code);
        Assert.Contains(problem, error.Message);
    }

    [Theory]
    [InlineData("[]", "", null)]
    [InlineData("[\"cpuminer/2.5.1\"]", "cpuminer/2.5.1", null)]
    [InlineData("[\"bfgminer/4.4.0-32-gac4e9b3\",\"01ad557d\"]", "bfgminer/4.4.0-32-gac4e9b3", "01ad557d")]
    [InlineData("[null,null]", "", null)]
    [InlineData("[\"Antminer S9 <v1.2>\",\"\"]", "AntminerS9v1.2", null)]
    [InlineData("[\"an-agent-string-that-is-much-longer-than-thirty\",\"ae6812eb4cd7735a302a8a9dd95cf71f\",\"host\",3333]",
        "an-agent-string-that-is-much-l", "ae6812eb4cd7735a302a8a9dd95cf71f")]
    public void SubscribeGivesFilteredAgentAndSessionId(string @params, string agent, string? sessionId)
    {
        var request = StratumRequest.Parse(U($"{{\"id\":1,\"method\":\"mining.subscribe\",\"params\":{@params}}}"));
        Assert.False(request.ParseSubscribe(out var subscribe).IsError);
        Assert.Equal(agent, subscribe.Agent);
        Assert.Equal(sessionId, subscribe.SessionId);
    }

    [Theory]
    [InlineData("[5]", "agent (param 1) must be a string")]
    [InlineData("[\"a\",{}]", "session id (param 2) must be a string")]
    public void SubscribeWithWrongTypesIsIllegal(string @params, string problem)
    {
        var request = StratumRequest.Parse(U($"{{\"id\":1,\"method\":\"mining.subscribe\",\"params\":{@params}}}"));
        var error = request.ParseSubscribe(out _);
        Assert.Equal(StratumErrorCode.IllegalParams, error.Code);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void ConfigureReadsBip310Example()
    {
        var request = StratumRequest.Parse(U(
            "{\"method\": \"mining.configure\", \"id\": 1, \"params\": [[\"minimum-difficulty\", \"version-rolling\"], " +
            "{\"minimum-difficulty.value\": 2048, \"version-rolling.mask\": \"1fffe000\", \"version-rolling.min-bit-count\": 2}]}"));
        Assert.Equal(StratumMethod.Configure, request.Method);
        Assert.False(request.ParseConfigure(out var configure).IsError);
        Assert.Equal(["minimum-difficulty", "version-rolling"], configure!.Extensions);
        Assert.Equal(0x1fffe000u, configure.VersionRollingMask);
        Assert.Equal(2, configure.VersionRollingMinBitCount);
        Assert.Equal(2048, configure.MinimumDifficultyValue);
        Assert.True(configure.Requests(ConfigureRequest.VersionRolling));
        Assert.False(configure.Requests(ConfigureRequest.SubscribeExtranonce));
    }

    [Fact]
    public void ConfigureWithoutOptionalValuesAndWithUnknownExtensions()
    {
        var request = StratumRequest.Parse(U(
            "{\"id\":1,\"method\":\"mining.configure\",\"params\":[[\"version-rolling\",\"subscribe-extranonce\",\"info\",\"version-rolling\"]," +
            "{\"info.hw-version\":\"x\",\"minimum-difficulty.value\":0.25}]}"));
        Assert.False(request.ParseConfigure(out var configure).IsError);
        Assert.Equal(["version-rolling", "subscribe-extranonce", "info"], configure!.Extensions);
        Assert.Null(configure.VersionRollingMask);
        Assert.Equal(0, configure.VersionRollingMinBitCount);
        Assert.Equal(0.25, configure.MinimumDifficultyValue);
    }

    [Theory]
    [InlineData("[[\"version-rolling\"]]", "takes 2 params")]
    [InlineData("[\"version-rolling\",{}]", "extension list (param 1) must be an array")]
    [InlineData("[[\"version-rolling\"],[]]", "extension parameters (param 2) must be an object")]
    [InlineData("[[\"version-rolling\",7],{}]", "extension names must be strings")]
    [InlineData("[[\"version-rolling\"],{\"version-rolling.mask\":\"1fffe00\"}]", "version-rolling.mask must be 8 hex characters")]
    [InlineData("[[\"version-rolling\"],{\"version-rolling.mask\":\"1fffe00g\"}]", "version-rolling.mask must be 8 hex characters")]
    [InlineData("[[\"version-rolling\"],{\"version-rolling.mask\":536862720}]", "version-rolling.mask must be 8 hex characters")]
    [InlineData("[[\"version-rolling\"],{\"version-rolling.min-bit-count\":2.5}]", "min-bit-count must be a whole number")]
    [InlineData("[[\"version-rolling\"],{\"version-rolling.min-bit-count\":33}]", "min-bit-count must be a whole number")]
    [InlineData("[[\"minimum-difficulty\"],{\"minimum-difficulty.value\":-1}]", "minimum-difficulty.value must be a number >= 0")]
    [InlineData("[[\"minimum-difficulty\"],{\"minimum-difficulty.value\":[1]}]", "minimum-difficulty.value must be a number >= 0")]
    public void ConfigureProblemsAreNamed(string @params, string problem)
    {
        var request = StratumRequest.Parse(U($"{{\"id\":1,\"method\":\"mining.configure\",\"params\":{@params}}}"));
        var error = request.ParseConfigure(out var configure);
        Assert.Null(configure);
        Assert.Equal(StratumErrorCode.IllegalParams, error.Code);
        Assert.Contains(problem, error.Message);
    }

    [Theory]
    [InlineData("[1024]", 1024)]
    [InlineData("[0.001]", 0.001)]
    [InlineData("[\"2048\"]", 2048)]
    [InlineData("[1e3]", 1000)]
    public void SuggestDifficultyReadsAPositiveNumber(string @params, double expected)
    {
        var request = StratumRequest.Parse(U($"{{\"id\":5,\"method\":\"mining.suggest_difficulty\",\"params\":{@params}}}"));
        Assert.False(request.ParseSuggestDifficulty(out var difficulty).IsError);
        Assert.Equal(expected, difficulty);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[0]")]
    [InlineData("[-4]")]
    [InlineData("[\"abc\"]")]
    [InlineData("[null]")]
    [InlineData("[1e999]")]
    public void SuggestDifficultyRejectsNonPositiveOrNonNumbers(string @params)
    {
        var request = StratumRequest.Parse(U($"{{\"id\":5,\"method\":\"mining.suggest_difficulty\",\"params\":{@params}}}"));
        var error = request.ParseSuggestDifficulty(out _);
        Assert.Equal(StratumErrorCode.IllegalParams, error.Code);
        Assert.Contains("mining.suggest_difficulty", error.Message);
    }

    [Theory]
    [InlineData("00000000ffff0000000000000000000000000000000000000000000000000000", 1.0)]
    [InlineData("000000007fff8000000000000000000000000000000000000000000000000000", 2.0)]
    [InlineData("0000000000ffff00000000000000000000000000000000000000000000000000", 256.0)]
    [InlineData("ffff0000000000000000000000000000000000000000000000000000", 1.0)]
    [InlineData("00000001FFFE0000000000000000000000000000000000000000000000000000", 0.5)]
    public void SuggestTargetGivesTheMatchingDifficulty(string target, double difficulty)
    {
        var request = StratumRequest.Parse(U($"{{\"id\":5,\"method\":\"mining.suggest_target\",\"params\":[\"{target}\"]}}"));
        Assert.False(request.ParseSuggestTarget(out var parsed).IsError);
        Assert.Equal(difficulty, parsed, 12);
    }

    [Theory]
    [InlineData("[]", "needs the target")]
    [InlineData("[\"0000000000000000000000000000000000000000000000000000000000000000\"]", "must not be zero")]
    [InlineData("[\"00000000ffff00000000000000000000000000000000000000000000000000000\"]", "1..64 hex characters")]
    [InlineData("[\"xyz\"]", "1..64 hex characters")]
    [InlineData("[1]", "1..64 hex characters")]
    public void SuggestTargetProblemsAreNamed(string @params, string problem)
    {
        var request = StratumRequest.Parse(U($"{{\"id\":5,\"method\":\"mining.suggest_target\",\"params\":{@params}}}"));
        var error = request.ParseSuggestTarget(out _);
        Assert.Equal(StratumErrorCode.IllegalParams, error.Code);
        Assert.Contains(problem, error.Message);
    }
}
