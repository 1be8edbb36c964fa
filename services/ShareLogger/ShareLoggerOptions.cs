using System.ComponentModel.DataAnnotations;

namespace PoolCluster.ShareLogger;

/// <summary>How a batch of rows reaches MySQL.</summary>
public enum ShareWriteMethod
{
    /// <summary>
    /// LOAD DATA LOCAL INFILE from an in-memory file (memfd): the fastest path. Needs the server's local_infile
    /// (MariaDB: on by default; MySQL 8: off by default). Falls back to <see cref="Insert"/> when the server refuses.
    /// </summary>
    LoadData,

    /// <summary>Multi-row INSERT statements of <see cref="ShareLoggerOptions.InsertStatementRows"/> rows each.</summary>
    Insert,
}

/// <summary>Configuration section "ShareLogger".</summary>
public sealed class ShareLoggerOptions : IValidatableObject
{
    public const string SectionName = "ShareLogger";

    /// <summary>
    /// Kafka consumer group, and the consumer_group of this service's rows in kafka_positions. ShareLoggers with the
    /// same group split the share topic's partitions; a second group writing the same database would log every share
    /// twice (the primary key on the Kafka position stops it, but do not do that).
    /// </summary>
    [Required] public string ConsumerGroup { get; set; } = "sharelogger";

    public ShareWriteMethod WriteMethod { get; set; } = ShareWriteMethod.LoadData;

    /// <summary>Rows per MySQL transaction once traffic fills batches (measured best: see docs/sharelogger.md).</summary>
    [Range(1, 1_000_000)] public int BatchRows { get; set; } = 50_000;

    /// <summary>A batch that is not full is written after this long, so a quiet pool's shares still land promptly.</summary>
    [Range(1, 60_000)] public int FlushIntervalMs { get; set; } = 500;

    /// <summary>
    /// Full batches waiting for MySQL before consumption pauses. Memory stays bounded by about
    /// (MaxPendingBatches + 2) x BatchRows rows plus librdkafka's prefetch queue.
    /// </summary>
    [Range(1, 64)] public int MaxPendingBatches { get; set; } = 3;

    /// <summary>Rows per INSERT statement with <see cref="ShareWriteMethod.Insert"/> (a statement must fit max_allowed_packet).</summary>
    [Range(1, 100_000)] public int InsertStatementRows { get; set; } = 2_000;

    /// <summary>First wait after a failed write; doubles up to <see cref="RetryMaxMs"/>. Writes are retried forever.</summary>
    [Range(1, 60_000)] public int RetryMinMs { get; set; } = 100;

    [Range(1, 600_000)] public int RetryMaxMs { get; set; } = 5_000;

    /// <summary>How often lag (messages and seconds behind, pending batches, pause state) is logged.</summary>
    [Range(1, 3_600)] public int LagLogIntervalSeconds { get; set; } = 10;

    /// <summary>
    /// Also commit the MySQL positions to the Kafka group (every few seconds), so Kafka's own tools show this group's
    /// lag. Where consumption starts is always decided by kafka_positions, never by these commits.
    /// </summary>
    public bool CommitToKafka { get; set; } = true;

    [Range(100, 600_000)] public int CommitToKafkaIntervalMs { get; set; } = 5_000;

    /// <summary>
    /// On a rebalance, wait this long for the batches of revoked partitions to reach MySQL, so their next owner does
    /// not re-read them. Correctness does not depend on it (see docs/sharelogger.md, "Fencing").
    /// </summary>
    [Range(0, 300)] public int RevokeFlushTimeoutSeconds { get; set; } = 10;

    /// <summary>At shutdown, wait this long for pending batches to reach MySQL (keep it below Hosting:ShutdownTimeoutSeconds).</summary>
    [Range(0, 3_600)] public int ShutdownDrainSeconds { get; set; } = 20;

    /// <summary>Apply the schema migrations at start.</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>Daily partition maintenance of `shares`.</summary>
    public SharePartitionOptions Partitions { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RetryMaxMs < RetryMinMs)
            yield return new ValidationResult($"RetryMaxMs ({RetryMaxMs}) must not be below RetryMinMs ({RetryMinMs})", [nameof(RetryMaxMs)]);
    }
}

/// <summary>Section "ShareLogger:Partitions": the `shares` table's daily RANGE partitions (docs/storage.md).</summary>
public sealed class SharePartitionOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Partitions exist for today and this many days ahead, created while they are still empty (instant).</summary>
    [Range(1, 365)] public int DaysAhead { get; set; } = 7;

    /// <summary>Partitions whose every row is older than this many days are dropped; 0 keeps everything.</summary>
    [Range(0, 36_500)] public int RetentionDays { get; set; } = 7;

    /// <summary>How often the job runs (it is idempotent; one instance works at a time, under GET_LOCK).</summary>
    [Range(1, 1_440)] public int IntervalMinutes { get; set; } = 60;
}
