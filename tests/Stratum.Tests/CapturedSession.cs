using System.Text;
using System.Text.Json;
using PoolCluster.Testing;

namespace PoolCluster.Stratum.Tests;

/// <summary>A recorded cpuminer session from ../shared/testdata/stratum: what the client sent and what it got.</summary>
public sealed class CapturedSession
{
    public static readonly string[] Files = ["cpuminer-mainnet-block482683.jsonl", "cpuminer-mainnet-block300025.jsonl"];

    private CapturedSession(string file, JsonElement meta, List<JsonElement> sent, List<JsonElement> received)
    {
        File = file;
        Meta = meta;
        Sent = sent;
        Received = received;
    }

    public string File { get; }
    public JsonElement Meta { get; }

    /// <summary>"in": client to server, each the msg object as recorded.</summary>
    public IReadOnlyList<JsonElement> Sent { get; }

    /// <summary>"out": server to client.</summary>
    public IReadOnlyList<JsonElement> Received { get; }

    public string Extranonce1Hex => Meta.GetProperty("extranonce1").GetString()!;
    public int Extranonce2Size => Meta.GetProperty("extranonce2_size").GetInt32();
    public double Difficulty => Meta.GetProperty("difficulty").GetDouble();
    public string BlockFile => Meta.GetProperty("block_file").GetString()!;

    public JsonElement ReceivedWithMethod(string method) =>
        Received.Single(m => m.TryGetProperty("method", out var p) && p.GetString() == method);

    public static byte[] Utf8(JsonElement message) => Encoding.UTF8.GetBytes(message.GetRawText());

    public static CapturedSession Load(string file)
    {
        var path = TestPaths.TestDataFile("stratum", file);
        JsonElement? meta = null;
        var sent = new List<JsonElement>();
        var received = new List<JsonElement>();
        foreach (var text in System.IO.File.ReadLines(path))
        {
            if (text.Length == 0) continue;
            var record = JsonDocument.Parse(text).RootElement;
            var message = record.GetProperty("msg").Clone();
            switch (record.GetProperty("dir").GetString())
            {
                case "meta": meta = message; break;
                case "in": sent.Add(message); break;
                case "out": received.Add(message); break;
                default: throw new InvalidDataException($"{path}: unexpected dir in {text}");
            }
        }
        if (meta == null || sent.Count == 0 || received.Count == 0)
            throw new InvalidDataException($"{path}: expected a meta line and both directions");
        return new CapturedSession(file, meta.Value, sent, received);
    }

    /// <summary>The raw block the session's job was built from (testdata/blocks).</summary>
    public byte[] LoadBlock()
    {
        var name = BlockFile.StartsWith("block", StringComparison.Ordinal) ? "mainnet-" + BlockFile : BlockFile;
        return System.IO.File.ReadAllBytes(TestPaths.TestDataFile("blocks", name));
    }
}

internal static class Json
{
    public static JsonElement Parse(ReadOnlySpan<byte> utf8) => JsonDocument.Parse(utf8.ToArray()).RootElement;

    /// <summary>One written message: exactly one line ending in '\n', parsed.</summary>
    public static JsonElement ParseLine(ReadOnlySpan<byte> written)
    {
        Assert.True(written.Length > 0, "nothing was written");
        Assert.Equal((byte)'\n', written[^1]);
        Assert.Equal(-1, written[..^1].IndexOf((byte)'\n'));
        return Parse(written[..^1]);
    }

    public static void AssertEquivalent(JsonElement expected, JsonElement actual) =>
        Assert.True(JsonElement.DeepEquals(expected, actual), $"expected {expected.GetRawText()}\n  actual {actual.GetRawText()}");
}
