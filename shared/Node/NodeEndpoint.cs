using System.ComponentModel.DataAnnotations;

namespace PoolCluster.Node;

/// <summary>One bitcoind-compatible node as configured (section "Nodes", a list).</summary>
public sealed class NodeEndpoint : IValidatableObject
{
    /// <summary>A short name used in logs, in RawGbt.node_name and in found_blocks.</summary>
    [Required] public string Name { get; set; } = "";

    /// <summary>JSON-RPC URL, e.g. http://127.0.0.1:18443; credentials may be in it (http://user:pass@host:port).</summary>
    [Required] public string RpcUrl { get; set; } = "";

    public string? RpcUser { get; set; }
    public string? RpcPassword { get; set; }

    /// <summary>bitcoind's .cookie file; read at every (re)connect because bitcoind rewrites it on restart.</summary>
    public string? CookieFile { get; set; }

    /// <summary>ZMQ endpoint of -zmqpubhashblock, e.g. tcp://127.0.0.1:28332. Empty: polling only.</summary>
    public string? ZmqHashBlock { get; set; }

    /// <summary>Lower is preferred when several nodes offer templates.</summary>
    public int Priority { get; set; }

    [Range(100, 600_000)] public int TimeoutMs { get; set; } = 10_000;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Uri.TryCreate(RpcUrl, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            yield return new ValidationResult($"RpcUrl must be an http(s) URL (was '{RpcUrl}')", [nameof(RpcUrl)]);
        if (!string.IsNullOrEmpty(ZmqHashBlock) && !ZmqHashBlock.Contains("://", StringComparison.Ordinal))
            yield return new ValidationResult($"ZmqHashBlock must look like tcp://host:port (was '{ZmqHashBlock}')", [nameof(ZmqHashBlock)]);
    }
}
