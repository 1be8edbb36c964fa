using System.ComponentModel.DataAnnotations;
using PoolCluster.Bitcoin;

namespace PoolCluster.StatsHttpd;

/// <summary>StatsHttpd's own settings: configuration section "StatsHttpd" (defaults as in appsettings.json).</summary>
public sealed class StatsHttpdOptions : IValidatableObject
{
    public const string SectionName = "StatsHttpd";

    /// <summary>Where the HTTP API listens (btcpool's statshttpd used port 8080). Port 0 picks a free port.</summary>
    [Required]
    public string Url { get; set; } = "http://0.0.0.0:8080";

    /// <summary>Chain whose subsidy schedule prices "earn" (mainnet, testnet, signet, regtest).</summary>
    [Required]
    public string Network { get; set; } = "mainnet";

    /// <summary>
    /// Hours of the Share topic replayed at start, counted back from the start of the current hour, before the API
    /// serves. 24 fills every window (the 1-day window is 24 complete hours); 48 also lets a restart rewrite
    /// yesterday's stats_*_day rows in full.
    /// </summary>
    [Range(1, 72)]
    public int WarmupHours { get; set; } = 24;

    /// <summary>Hours of the WorkerEvent topic replayed at start to rebuild open sessions (the topic keeps 72).</summary>
    [Range(0, 168)]
    public int WorkerEventWarmupHours { get; set; } = 72;

    /// <summary>Shares stamped further in the future than this are refused (a bad clock would poison ring slots).</summary>
    [Range(0, 86_400)]
    public int MaxFutureSkewSeconds { get; set; } = 300;

    /// <summary>Workers and users with no share or event for this long (and no open session) are dropped from memory.</summary>
    [Range(25, 24 * 30)]
    public int ExpireIdleHours { get; set; } = 25;

    /// <summary>Most buckets held for MySQL/Redis while they are down (about 100 bytes each); more are dropped and counted.</summary>
    [Range(1_000, 100_000_000)]
    public int MaxPendingRecords { get; set; } = 1_000_000;

    /// <summary>Most worker ids one /worker_status request may name.</summary>
    [Range(1, 100_000)]
    public int MaxWorkerIdsPerRequest { get; set; } = 1_000;

    public StatsMySqlOptions MySql { get; set; } = new();

    public StatsRedisOptions Redis { get; set; } = new();

    public Network ResolveNetwork() => Bitcoin.Network.FromName(Network);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Bitcoin.Network.TryFromName(Network, out _))
            yield return new ValidationResult(
                $"{SectionName}:Network '{Network}' is not a known chain (mainnet, testnet, signet, regtest)", [nameof(Network)]);
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.AbsolutePath != "/")
            yield return new ValidationResult(
                $"{SectionName}:Url '{Url}' must be an http URL with host and port only, e.g. http://0.0.0.0:8080", [nameof(Url)]);
    }
}

/// <summary>"StatsHttpd:MySql": what StatsHttpd writes to the pool database (the connection is the "MySql" section).</summary>
public sealed class StatsMySqlOptions
{
    /// <summary>Write mining_workers and stats_*; when false the "MySql" section is not needed and /api/v1/blocks answers 503.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Apply shared/Storage's migrations at start (idempotent; serialised with other services).</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>Seconds between flushes of mining_workers and stats_*_hour/day (btcpool's flush_db_interval).</summary>
    [Range(1, 3600)]
    public int FlushIntervalSeconds { get; set; } = 15;

    /// <summary>Rows per multi-row INSERT.</summary>
    [Range(1, 10_000)]
    public int BatchRows { get; set; } = 500;

    /// <summary>btcpool's retention: stats_workers_hour keeps 3 days.</summary>
    [Range(0, 3650)]
    public int WorkersHourRetentionDays { get; set; } = 3;

    /// <summary>btcpool's retention: stats_users_hour keeps 30 days.</summary>
    [Range(0, 3650)]
    public int UsersHourRetentionDays { get; set; } = 30;

    /// <summary>btcpool's retention: stats_workers_day keeps 90 days. (users_day and pool_* are kept forever.)</summary>
    [Range(0, 3650)]
    public int WorkersDayRetentionDays { get; set; } = 90;
}

/// <summary>"StatsHttpd:Redis": what StatsHttpd writes to Redis (the connection is the "Redis" section; its KeyPrefix is the coin, "btc").</summary>
public sealed class StatsRedisOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Seconds between flushes of the per-minute hashes and the event lists.</summary>
    [Range(1, 3600)]
    public int FlushIntervalSeconds { get; set; } = 5;

    /// <summary>
    /// Prepended to viabtc's coin-less keys (newworker, newevent, monitor:keys, mining:keys). Empty: viabtc's exact
    /// names. Set it when several pools share one Redis database.
    /// </summary>
    public string GlobalKeyPrefix { get; set; } = "";

    /// <summary>The "coin" field of newworker/newevent entries (viabtc writes "BTC").</summary>
    [Required]
    public string CoinName { get; set; } = "BTC";

    /// <summary>Worker events older than this (minutes) are not pushed to newevent (a replay after a long outage would flood it).</summary>
    [Range(1, 7 * 24 * 60)]
    public int EventMaxAgeMinutes { get; set; } = 60;

    /// <summary>Most pending newworker/newevent entries held while Redis is down.</summary>
    [Range(100, 10_000_000)]
    public int MaxPendingEvents { get; set; } = 100_000;
}
