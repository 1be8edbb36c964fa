using System.ComponentModel.DataAnnotations;

namespace PoolCluster.Hosting;

/// <summary>The "Hosting" section every service has.</summary>
public sealed class PoolHostOptions
{
    public const string SectionName = "Hosting";

    /// <summary>How long a stop (SIGTERM, Ctrl+C) waits for hosted services to finish before giving up on them.</summary>
    [Range(1, 3600)]
    public int ShutdownTimeoutSeconds { get; set; } = 30;
}
