using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PoolCluster.Topics;

/// <summary>One topic of the manifest (topics/topics.json).</summary>
public sealed record TopicSpec(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("partitions")] int Partitions,
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("retention_ms")] long RetentionMs,
    [property: JsonPropertyName("compression")] string Compression,
    [property: JsonPropertyName("max_message_bytes")] int MaxMessageBytes);

/// <summary>The pool's topics, as listed in topics/topics.json (embedded in this assembly).</summary>
public sealed class TopicManifest
{
    public const string RawGbt = "btc.rawgbt";
    public const string StratumJob = "btc.job";
    public const string Share = "btc.share";
    public const string SolvedShare = "btc.solvedshare";
    public const string WorkerEvent = "btc.workerevent";

    public IReadOnlyList<TopicSpec> Topics { get; }

    private TopicManifest(IReadOnlyList<TopicSpec> topics) => Topics = topics;

    public TopicSpec this[string name] =>
        Topics.FirstOrDefault(t => t.Name == name) ?? throw new KeyNotFoundException($"topic '{name}' is not in topics.json");

    public static TopicManifest Load()
    {
        using var stream = typeof(TopicManifest).Assembly.GetManifestResourceStream("topics.json")
            ?? throw new InvalidOperationException("topics.json is not embedded in PoolCluster.Topics");
        var doc = JsonSerializer.Deserialize<ManifestFile>(stream)
            ?? throw new InvalidOperationException("topics.json is empty");
        return new TopicManifest(doc.Topics);
    }

    private sealed record ManifestFile([property: JsonPropertyName("topics")] List<TopicSpec> Topics);
}
