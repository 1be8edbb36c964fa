using System.ComponentModel.DataAnnotations;

namespace PoolCluster.JobMaker;

/// <summary>Configuration section "JobMaker".</summary>
public sealed class JobMakerOptions
{
    /// <summary>0..255; distinct per JobMaker instance so job ids never collide.</summary>
    [Range(0, 255)] public int InstanceId { get; set; }

    /// <summary>A non-clean job with a fresh template and time this often (btcpool: 20 s).</summary>
    [Range(1, 600)] public int JobIntervalSeconds { get; set; } = 20;

    /// <summary>A full template is used at most this long after it arrived (btcpool: 90 s).</summary>
    [Range(10, 3600)] public int TemplateLifetimeSeconds { get; set; } = 90;

    /// <summary>An empty (header-only) template is used at most this long (btcpool: 15 s).</summary>
    [Range(5, 600)] public int EmptyTemplateLifetimeSeconds { get; set; } = 15;

    /// <summary>Templates fetched longer ago than this are dropped on arrival (btcpool: 60 s).</summary>
    [Range(1, 3600)] public int MaxTemplateDelaySeconds { get; set; } = 60;

    /// <summary>Publish coinbase-only jobs on a new previous block before its full template arrives.</summary>
    public bool EmptyBlockJobs { get; set; } = true;

    /// <summary>Where the coinbase pays; validated for the configured network at start.</summary>
    [Required] public string PayoutAddress { get; set; } = "";

    /// <summary>Network of the payout address: mainnet, testnet, signet or regtest.</summary>
    [Required] public string Network { get; set; } = "mainnet";

    /// <summary>Tag in the coinbase scriptSig (ASCII), e.g. "/PoolCluster/".</summary>
    [MaxLength(60)] public string CoinbaseTag { get; set; } = "/PoolCluster/";

    /// <summary>Bytes of the extranonce the stratum server assigns per session (server id + session counter).</summary>
    [Range(4, 4)] public int Extranonce1Size { get; set; } = 4;

    /// <summary>Bytes the miner rolls (4..8).</summary>
    [Range(4, 8)] public int Extranonce2Size { get; set; } = 8;
}
