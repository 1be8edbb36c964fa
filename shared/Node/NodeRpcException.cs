namespace PoolCluster.Node;

/// <summary>The node answered with a JSON-RPC error (bitcoind's code and message).</summary>
public sealed class NodeRpcException(string node, string method, int code, string message)
    : Exception($"node '{node}' {method}: error {code}: {message}")
{
    public string Node { get; } = node;
    public string Method { get; } = method;
    public int Code { get; } = code;
    public string RpcMessage { get; } = message;
}

/// <summary>The node could not be reached or answered something that is not JSON-RPC (dead, wrong port, bad auth).</summary>
public sealed class NodeUnavailableException(string node, string method, string reason, Exception? inner = null)
    : Exception($"node '{node}' {method}: {reason}", inner)
{
    public string Node { get; } = node;
}
