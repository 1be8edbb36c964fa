using System.ComponentModel.DataAnnotations;
using PoolCluster.Bitcoin;
using PoolCluster.Node;

namespace PoolCluster.GbtMaker;

/// <summary>Configuration section "GbtMaker".</summary>
public sealed class GbtMakerOptions : IValidatableObject
{
    /// <summary>getblocktemplate on the preferred node this often, whatever else happens.</summary>
    [Range(100, 600_000)] public int PollIntervalMs { get; set; } = 5_000;

    /// <summary>Use BIP22 long polling where the node offers a longpollid.</summary>
    public bool LongPoll { get; set; } = true;

    /// <summary>How long one long-poll call may wait before it is renewed.</summary>
    [Range(1_000, 3_600_000)] public int LongPollTimeoutMs { get; set; } = 120_000;

    /// <summary>
    /// On ZMQ hashblock, publish a header-only template (new previous block, no transactions) before the full one, so
    /// JobMaker can send an empty-block job at once (viabtc's and btcpool's orphan-rate trick).
    /// </summary>
    public bool HeaderOnlyTemplates { get; set; } = true;

    /// <summary>How often a node that failed is asked again (getblockcount) to bring it back.</summary>
    [Range(100, 600_000)] public int RetryDeadNodeMs { get; set; } = 5_000;

    /// <summary>mainnet, testnet, signet or regtest: the subsidy of header-only templates depends on it.</summary>
    [Required] public string Network { get; set; } = "mainnet";

    /// <summary>The nodes, preferred first by <see cref="NodeEndpoint.Priority"/>.</summary>
    [MinLength(1)] public List<NodeEndpoint> Nodes { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!PoolCluster.Bitcoin.Network.TryFromName(Network, out _))
            yield return new ValidationResult($"unknown network '{Network}': mainnet, testnet, signet or regtest", [nameof(Network)]);
        var duplicate = Nodes.GroupBy(n => n.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null)
            yield return new ValidationResult($"node name '{duplicate.Key}' is used twice", [nameof(Nodes)]);
    }
}
