namespace PoolCluster.DevNode.Rpc;

/// <summary>A JSON-RPC error with bitcoind's code (src/rpc/protocol.h) and message.</summary>
public sealed class RpcException(int code, string message) : Exception(message)
{
    public int Code { get; } = code;
}

/// <summary>bitcoind's RPC error codes (src/rpc/protocol.h) used here.</summary>
public static class RpcErrorCode
{
    public const int InvalidRequest = -32600;
    public const int MethodNotFound = -32601;
    public const int InvalidParams = -32602;
    public const int InternalError = -32603;
    public const int ParseError = -32700;
    public const int MiscError = -1;
    public const int TypeError = -3;
    public const int InvalidAddressOrKey = -5;
    public const int OutOfMemory = -7;
    public const int InvalidParameter = -8;
    public const int ClientNotConnected = -9;
    public const int DeserializationError = -22;
    public const int VerifyError = -25;
    public const int VerifyRejected = -26;
    public const int VerifyAlreadyInChain = -27;
    public const int InWarmup = -28;
}
