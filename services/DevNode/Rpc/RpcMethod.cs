using System.Text.Json.Nodes;

namespace PoolCluster.DevNode.Rpc;

/// <summary>An RPC method: its parameter names (for named arguments), how many are required, and its usage line.</summary>
public sealed class RpcMethod(
    string name,
    string[] parameterNames,
    int requiredCount,
    string usage,
    Func<RpcArgs, CancellationToken, ValueTask<JsonNode?>> handler)
{
    public string Name { get; } = name;
    public string[] ParameterNames { get; } = parameterNames;
    public int RequiredCount { get; } = requiredCount;
    public string Usage { get; } = usage;
    public Func<RpcArgs, CancellationToken, ValueTask<JsonNode?>> Handler { get; } = handler;

    /// <summary>bitcoind answers a wrong argument count with its help text as a -1 error.</summary>
    public RpcException UsageError() => new(RpcErrorCode.MiscError, $"{Name} {Usage}".TrimEnd());
}
