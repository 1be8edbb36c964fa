using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using PoolCluster.Kafka.Embedded;
using PoolCluster.Topics;

namespace PoolCluster.Kafka;

/// <summary>What provisioning did with one topic.</summary>
public sealed record TopicProvisionResult(string Topic, int Partitions, bool Created);

/// <summary>
/// Creates every topic of topics/topics.json (names prefixed with <see cref="KafkaOptions.TopicPrefix"/>): on a real
/// cluster with the AdminClient (partitions, replication factor, retention.ms, compression.type, max.message.bytes),
/// on the embedded cluster with the mock API (its AdminClient support has no CreateTopics). A topic that already
/// exists is left as it is.
/// </summary>
public sealed class TopicProvisioner
{
    private readonly KafkaOptions options;
    private readonly ILogger? logger;

    public TopicProvisioner(KafkaOptions options, TopicManifest? manifest = null, ILogger? logger = null)
    {
        KafkaNative.EnsureInitialized();
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        this.logger = logger;
        Manifest = manifest ?? TopicManifest.Load();
    }

    public TopicManifest Manifest { get; }

    /// <summary>The AdminClient request for one manifest topic.</summary>
    public static TopicSpecification Specification(TopicSpec topic, string deployedName, short replicationFactor)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (topic.Partitions < 1)
            throw new InvalidOperationException($"topic '{topic.Name}': partitions must be at least 1, not {topic.Partitions}");
        if (topic.RetentionMs < -1 || topic.RetentionMs == 0)
            throw new InvalidOperationException($"topic '{topic.Name}': retention_ms must be positive or -1 (forever), not {topic.RetentionMs}");
        var compression = KafkaClientConfig.Compression(topic) switch
        {
            CompressionType.None => "uncompressed",
            var c => c.ToString().ToLowerInvariant(),
        };
        return new TopicSpecification
        {
            Name = deployedName,
            NumPartitions = topic.Partitions,
            ReplicationFactor = replicationFactor,
            Configs = new Dictionary<string, string>
            {
                ["retention.ms"] = topic.RetentionMs.ToString(CultureInfo.InvariantCulture),
                // The broker keeps what producers sent ("producer") unless told; the manifest's choice is applied here.
                ["compression.type"] = compression,
                ["max.message.bytes"] = KafkaClientConfig.MaxMessageBytes(topic).ToString(CultureInfo.InvariantCulture),
            },
        };
    }

    /// <summary>Creates the manifest's topics on a real cluster (<see cref="KafkaOptions.ResolveBootstrapServers"/>).</summary>
    public async Task<IReadOnlyList<TopicProvisionResult>> ProvisionAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var wait = timeout ?? TimeSpan.FromSeconds(30);
        var specs = Manifest.Topics.Select(t => Specification(t, options.TopicName(t.Name), options.ReplicationFactor)).ToList();
        using var admin = new AdminClientBuilder(KafkaClientConfig.Admin(options)).SetLogHandler(KafkaLogging.Handler<IAdminClient>(logger)).Build();
        var created = new HashSet<string>();
        try
        {
            await admin.CreateTopicsAsync(specs, new CreateTopicsOptions { RequestTimeout = wait, OperationTimeout = wait })
                .WaitAsync(wait + TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            created.UnionWith(specs.Select(s => s.Name));
        }
        catch (CreateTopicsException e)
        {
            var failed = e.Results.Where(r => r.Error.IsError && r.Error.Code != ErrorCode.TopicAlreadyExists).ToList();
            if (failed.Count > 0)
                throw new InvalidOperationException("creating Kafka topics failed: " +
                    string.Join("; ", failed.Select(r => $"{r.Topic}: {r.Error.Reason} ({r.Error.Code})")), e);
            created.UnionWith(e.Results.Where(r => !r.Error.IsError).Select(r => r.Topic));
        }
        var results = specs.Select(s => new TopicProvisionResult(s.Name, s.NumPartitions, created.Contains(s.Name))).ToList();
        Log(results);
        return results;
    }

    /// <summary>Creates the manifest's topics on the embedded cluster.</summary>
    public IReadOnlyList<TopicProvisionResult> Provision(EmbeddedKafkaCluster cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var results = Manifest.Topics.Select(t =>
        {
            var name = options.TopicName(t.Name);
            Specification(t, name, options.ReplicationFactor); // the same checks of the manifest entry as on a real cluster
            var replicas = options.ReplicationFactor > 0 ? options.ReplicationFactor : 0;
            return new TopicProvisionResult(name, t.Partitions, cluster.CreateTopic(name, t.Partitions, replicas));
        }).ToList();
        Log(results);
        return results;
    }

    private void Log(IReadOnlyList<TopicProvisionResult> results)
    {
        foreach (var r in results)
            logger?.LogInformation("Kafka topic {Topic} ({Partitions} partitions): {State}", r.Topic, r.Partitions, r.Created ? "created" : "already existed");
    }
}
