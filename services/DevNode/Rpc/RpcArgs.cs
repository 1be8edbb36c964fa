using System.Globalization;
using System.Text.Json;

namespace PoolCluster.DevNode.Rpc;

/// <summary>
/// One call's parameters, positional or named (bitcoind accepts both), checked the way bitcoind checks them:
/// a wrong count is error -1 with the usage text, a wrong JSON type error -3, a bad value error -8.
/// </summary>
public sealed class RpcArgs
{
    private readonly JsonElement?[] _values;

    private RpcArgs(RpcMethod method, JsonElement?[] values)
    {
        Method = method;
        _values = values;
    }

    public RpcMethod Method { get; }

    /// <summary>Maps the request's "params" (absent, array or object) onto the method's parameter list.</summary>
    public static RpcArgs Bind(RpcMethod method, JsonElement? parameters)
    {
        var values = new JsonElement?[method.ParameterNames.Length];
        if (parameters is { ValueKind: JsonValueKind.Array } array)
        {
            var count = array.GetArrayLength();
            if (count > values.Length)
                throw method.UsageError();
            var i = 0;
            foreach (var item in array.EnumerateArray())
                values[i++] = item.ValueKind == JsonValueKind.Null ? null : item;
        }
        else if (parameters is { ValueKind: JsonValueKind.Object } named)
        {
            foreach (var property in named.EnumerateObject())
            {
                var index = Array.IndexOf(method.ParameterNames, property.Name);
                if (index < 0)
                    throw new RpcException(RpcErrorCode.InvalidParameter, $"Unknown named parameter {property.Name}");
                if (values[index] is not null)
                    throw new RpcException(RpcErrorCode.InvalidParameter, $"Parameter {property.Name} specified multiple times");
                values[index] = property.Value.ValueKind == JsonValueKind.Null ? null : property.Value;
            }
        }
        for (var i = 0; i < method.RequiredCount; i++)
            if (values[i] is null)
                throw method.UsageError();
        return new RpcArgs(method, values);
    }

    public bool Has(int index) => _values[index] is not null;

    public JsonElement? Raw(int index) => _values[index];

    public string GetString(int index)
    {
        var value = _values[index] ?? throw Method.UsageError();
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw TypeError(value, "string");
    }

    public string? GetStringOrNull(int index) => Has(index) ? GetString(index) : null;

    public long GetInt64(int index, long fallback)
    {
        if (_values[index] is not { } value)
            return fallback;
        if (value.ValueKind != JsonValueKind.Number)
            throw TypeError(value, "number");
        if (value.TryGetInt64(out var result))
            return result;
        throw new RpcException(RpcErrorCode.TypeError, $"JSON integer out of range: {value.GetRawText()}");
    }

    public bool GetBool(int index, bool fallback)
    {
        if (_values[index] is not { } value)
            return fallback;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw TypeError(value, "bool"),
        };
    }

    /// <summary>bitcoind's "verbosity"/"verbose" arguments accept a number or, for compatibility, a bool.</summary>
    public int GetVerbosity(int index, int fallback)
    {
        if (_values[index] is not { } value)
            return fallback;
        return value.ValueKind switch
        {
            JsonValueKind.True => 1,
            JsonValueKind.False => 0,
            JsonValueKind.Number when value.TryGetInt32(out var level) => level,
            _ => throw TypeError(value, "number"),
        };
    }

    public JsonElement? GetObjectOrNull(int index)
    {
        if (_values[index] is not { } value)
            return null;
        return value.ValueKind == JsonValueKind.Object ? value : throw TypeError(value, "object");
    }

    /// <summary>A 64-hex-digit hash argument, checked like bitcoind's ParseHashV; returned in display order.</summary>
    public string GetHash(int index, string name)
    {
        var text = GetString(index);
        if (text.Length != 64)
            throw new RpcException(RpcErrorCode.InvalidParameter, $"{name} must be of length 64 (not {text.Length}, for '{text}')");
        foreach (var c in text)
            if (!char.IsAsciiHexDigit(c))
                throw new RpcException(RpcErrorCode.InvalidParameter, $"{name} must be hexadecimal string (not '{text}')");
        return text.ToLowerInvariant();
    }

    /// <summary>bitcoind's message for a JSON value of the wrong type (RPCTypeCheckArgument).</summary>
    public static RpcException TypeError(JsonElement value, string expected) =>
        new(RpcErrorCode.TypeError, $"JSON value of type {TypeName(value.ValueKind)} is not of expected type {expected}");

    public static string TypeName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => "null",
        JsonValueKind.True or JsonValueKind.False => "bool",
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        _ => kind.ToString().ToLower(CultureInfo.InvariantCulture),
    };
}
