using System.ComponentModel.DataAnnotations;
using PoolCluster.Node;

namespace PoolCluster.BlkMaker;

/// <summary>Configuration section "BlkMaker".</summary>
public sealed class BlkMakerOptions : IValidatableObject
{
    public const string SectionName = "BlkMaker";

    /// <summary>
    /// Kafka consumer group of the solved-share topic; its committed offset is where BlkMaker resumes, so no solved share
    /// is ever skipped. BlkMakers sharing a group are hot standbys (the topic has one partition: one of them works);
    /// BlkMakers in different groups each submit every block (recording is idempotent).
    /// </summary>
    [Required] public string ConsumerGroup { get; set; } = "blkmaker";

    /// <summary>Every node a block is submitted to, in parallel.</summary>
    [MinLength(1)] public List<NodeEndpoint> Nodes { get; set; } = [];

    /// <summary>
    /// At start, templates and jobs published this long ago are read back, so a solved share found just before a
    /// restart can still be rebuilt. Older solved shares get a targeted search of the topics' history.
    /// </summary>
    [Range(1, 1_440)] public int HistoryMinutes { get; set; } = 10;

    /// <summary>A template (and job) is kept this long after its last use by a job: the time SServer may still accept shares for it.</summary>
    [Range(1, 1_440)] public int TemplateRetentionMinutes { get; set; } = 10;

    /// <summary>Hard cap on templates held (memory: a full mainnet template is ~2 MB); unused ones go first.</summary>
    [Range(2, 10_000)] public int MaxTemplates { get; set; } = 300;

    /// <summary>Templates of the latest jobs kept ready to send (transactions pre-serialized as hex): ~2x block size each.</summary>
    [Range(1, 100)] public int HotTemplates { get; set; } = 4;

    /// <summary>How long a solved share waits for a template it needs that has not arrived (after the history is read).</summary>
    [Range(0, 3_600)] public int TemplateWaitSeconds { get; set; } = 15;

    /// <summary>fetch.wait.max.ms of the solved-share consumer: how often an idle fetch returns (a real broker answers a new message at once).</summary>
    [Range(0, 1_000)] public int SolvedShareFetchWaitMs { get; set; } = 2;

    /// <summary>How long to keep resubmitting while no node has taken the block (nodes down or erroring).</summary>
    [Range(1, 86_400)] public int SubmitRetrySeconds { get; set; } = 600;

    /// <summary>Once a node has the block, how long to keep trying nodes that could not be reached.</summary>
    [Range(0, 3_600)] public int UnreachableNodeGraceSeconds { get; set; } = 30;

    [Range(10, 60_000)] public int RetryMinMs { get; set; } = 200;

    [Range(10, 600_000)] public int RetryMaxMs { get; set; } = 5_000;

    /// <summary>Per submitblock request (a node validating a full block can take seconds).</summary>
    [Range(100, 600_000)] public int SubmitTimeoutMs { get; set; } = 60_000;

    /// <summary>Every this often each node is asked getblockcount, which keeps the submit connections open and warm.</summary>
    [Range(1, 3_600)] public int NodeKeepAliveSeconds { get; set; } = 15;

    /// <summary>"name" of the newblock event (viabtc's format).</summary>
    [Required] public string CoinName { get; set; } = "BTC";

    /// <summary>The Redis list of newblock events, not under Redis:KeyPrefix (viabtc's consumers BLPOP "newblock").</summary>
    [Required] public string NewBlockListKey { get; set; } = "newblock";

    /// <summary>Apply the schema migrations at start.</summary>
    public bool MigrateOnStart { get; set; } = true;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RetryMaxMs < RetryMinMs)
            yield return new ValidationResult($"RetryMaxMs ({RetryMaxMs}) must not be below RetryMinMs ({RetryMinMs})", [nameof(RetryMaxMs)]);
        var duplicate = Nodes.GroupBy(n => n.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null)
            yield return new ValidationResult($"node name '{duplicate.Key}' is used twice", [nameof(Nodes)]);
    }
}
