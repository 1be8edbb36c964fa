using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace PoolCluster.Simulator;

internal enum ServerMessageType
{
    /// <summary>An answer to one of our requests: <c>{"id":N,"result":...,"error":...}</c>.</summary>
    Response,
    Notify,
    SetDifficulty,
    SetExtranonce,
    SetVersionMask,
    Reconnect,
    /// <summary>A method this client does not act on (client.show_message, client.get_version, ...).</summary>
    OtherMethod,
}

/// <summary>
/// One line from a stratum server, read with <see cref="Utf8JsonReader"/> straight from the received bytes (the server
/// side of shared/Stratum parses requests only). Everything points into the line, so it lives as long as the line.
/// </summary>
internal readonly ref struct ServerMessage
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 };

    public ServerMessageType Type { get; init; }

    /// <summary>The numeric id of a response (this client only sends numbers); null for id null, a string, or none.</summary>
    public long? Id { get; init; }

    /// <summary>The result's raw JSON (<c>null</c> when absent).</summary>
    public ReadOnlySpan<byte> Result { get; init; }

    /// <summary>The error's raw JSON (<c>null</c> when absent or null).</summary>
    public ReadOnlySpan<byte> Error { get; init; }

    /// <summary>The params array's raw JSON (<c>[]</c> when absent).</summary>
    public ReadOnlySpan<byte> Params { get; init; }

    /// <summary>The method name (raw JSON string contents) of a notification.</summary>
    public ReadOnlySpan<byte> Method { get; init; }

    public bool HasError => !(Error.Length == 4 && Error.SequenceEqual("null"u8));

    /// <summary>A response whose result is <c>true</c> and whose error is null (an accepted share, a granted login).</summary>
    public bool IsTrueResult => !HasError && Result.SequenceEqual("true"u8);

    public static bool TryParse(ReadOnlySpan<byte> line, out ServerMessage message, out string? problem)
    {
        message = default;
        long? id = null;
        var result = "null"u8;
        var error = "null"u8;
        var parameters = "[]"u8;
        var method = ReadOnlySpan<byte>.Empty;
        var hasMethod = false;
        var start = 0;
        while (start < line.Length && line[start] is (byte)' ' or (byte)'\t' or (byte)'\r')
            start++;
        if (start == line.Length || line[start] != (byte)'{')
        {
            problem = "the line is not a JSON object";
            return false;
        }
        var reader = new Utf8JsonReader(line, ReaderOptions);
        try
        {
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number))
                        id = number;
                    else
                        reader.Skip();
                }
                else if (reader.ValueTextEquals("method"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        method = reader.ValueSpan;
                        hasMethod = true;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("result"u8))
                {
                    result = line[RawRange(ref reader)];
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    error = line[RawRange(ref reader)];
                }
                else if (reader.ValueTextEquals("params"u8))
                {
                    var raw = line[RawRange(ref reader)];
                    if (raw.Length > 0 && raw[0] == (byte)'[')
                        parameters = raw;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            while (reader.Read()) { }
        }
        catch (JsonException e)
        {
            problem = "the line is not valid JSON: " + (e.Message.Length > 120 ? e.Message[..120] : e.Message);
            return false;
        }

        var type = ServerMessageType.Response;
        if (hasMethod)
        {
            if (method.SequenceEqual("mining.notify"u8)) type = ServerMessageType.Notify;
            else if (method.SequenceEqual("mining.set_difficulty"u8)) type = ServerMessageType.SetDifficulty;
            else if (method.SequenceEqual("mining.set_extranonce"u8)) type = ServerMessageType.SetExtranonce;
            else if (method.SequenceEqual("mining.set_version_mask"u8)) type = ServerMessageType.SetVersionMask;
            else if (method.SequenceEqual("client.reconnect"u8)) type = ServerMessageType.Reconnect;
            else type = ServerMessageType.OtherMethod;
        }
        message = new ServerMessage { Type = type, Id = id, Result = result, Error = error, Params = parameters, Method = method };
        problem = null;
        return true;
    }

    /// <summary>The raw text of the value after the current property name (a string with its quotes).</summary>
    private static Range RawRange(ref Utf8JsonReader reader)
    {
        reader.Read();
        var start = (int)reader.TokenStartIndex;
        if (reader.TokenType is JsonTokenType.StartArray or JsonTokenType.StartObject)
            reader.Skip();
        return start..(int)reader.BytesConsumed;
    }

    /// <summary>
    /// The error code of a rejected request: <c>[23,"Low difficulty",null]</c> (btcpool, cgminer's form) or
    /// <c>{"code":23,"message":"..."}</c>; -1 when the error carries no number (a bare string, a false result).
    /// </summary>
    public int ErrorCode
    {
        get
        {
            if (!HasError)
                return -1;
            var reader = new Utf8JsonReader(Error, ReaderOptions);
            try
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    reader.Read();
                    return reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var code) ? code : -1;
                }
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isCode = reader.ValueTextEquals("code"u8);
                        reader.Read();
                        if (isCode && reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var code))
                            return code;
                        reader.Skip();
                    }
                }
            }
            catch (JsonException)
            {
            }
            return -1;
        }
    }

    /// <summary>The error's message text (allocates: only on the rare error path).</summary>
    public string ErrorText
    {
        get
        {
            if (!HasError)
                return "";
            try
            {
                using var document = JsonDocument.Parse(Error.ToArray());
                var root = document.RootElement;
                if (root.ValueKind == JsonValueKind.Array && root.GetArrayLength() > 1 && root[1].ValueKind == JsonValueKind.String)
                    return root[1].GetString()!;
                if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                    return m.GetString()!;
                if (root.ValueKind == JsonValueKind.String)
                    return root.GetString()!;
                return root.GetRawText();
            }
            catch (JsonException)
            {
                return Encoding.UTF8.GetString(Error);
            }
        }
    }
}

/// <summary>Readers for the params of server notifications and the subscribe result.</summary>
internal static class ServerParams
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 };

    /// <summary>mining.set_difficulty [difficulty]: a positive finite number (some pools send it as a string).</summary>
    public static bool TryParseSetDifficulty(ReadOnlySpan<byte> parameters, out double difficulty)
    {
        difficulty = 0;
        var reader = new Utf8JsonReader(parameters, ReaderOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray || !reader.Read())
                return false;
            if (reader.TokenType == JsonTokenType.Number)
                difficulty = reader.GetDouble();
            else if (reader.TokenType == JsonTokenType.String)
                _ = Utf8Parser.TryParse(reader.ValueSpan, out difficulty, out _);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return false;
        }
        return double.IsFinite(difficulty) && difficulty > 0;
    }

    /// <summary>
    /// The parts of mining.notify the client needs before deciding whether it knows the job: the job id (raw string
    /// contents, to send back as received), the clean_jobs flag, and the params text without that flag (the same job
    /// arrives with clean true and false, e.g. as a session's first job).
    /// </summary>
    public static bool TryParseNotifyHead(ReadOnlySpan<byte> parameters, out ReadOnlySpan<byte> jobId, out bool clean,
        out ReadOnlySpan<byte> jobText)
    {
        jobId = default;
        clean = false;
        jobText = default;
        var reader = new Utf8JsonReader(parameters, ReaderOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray || !reader.Read() || reader.TokenType != JsonTokenType.String)
                return false;
            jobId = reader.ValueSpan;
            var count = 1;
            var lastStart = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                lastStart = (int)reader.TokenStartIndex;
                count++;
                if (count == 9)
                    clean = reader.TokenType == JsonTokenType.True;
                reader.Skip();
            }
            if (count != 9)
                return false;
            jobText = parameters[..lastStart];
        }
        catch (JsonException)
        {
            return false;
        }
        return jobId.Length > 0;
    }

    /// <summary>The subscribe result's extranonce1 (hex) and extranonce2 size: <c>[subscriptions, "f000000a", 4]</c>.</summary>
    public static bool TryParseSubscribeResult(ReadOnlySpan<byte> result, out byte[] extranonce1, out int extranonce2Size, out string? problem)
    {
        extranonce1 = [];
        extranonce2Size = 0;
        try
        {
            using var document = JsonDocument.Parse(result.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() < 3)
            {
                problem = "the subscribe result is not [subscriptions, extranonce1, extranonce2_size]";
                return false;
            }
            return TryReadExtranonce(root[1], root[2], out extranonce1, out extranonce2Size, out problem);
        }
        catch (JsonException e)
        {
            problem = "the subscribe result is not JSON: " + e.Message;
            return false;
        }
    }

    /// <summary>mining.set_extranonce ["extranonce1 hex", extranonce2_size].</summary>
    public static bool TryParseSetExtranonce(ReadOnlySpan<byte> parameters, out byte[] extranonce1, out int extranonce2Size, out string? problem)
    {
        extranonce1 = [];
        extranonce2Size = 0;
        try
        {
            using var document = JsonDocument.Parse(parameters.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() < 2)
            {
                problem = "mining.set_extranonce params are not [extranonce1, extranonce2_size]";
                return false;
            }
            return TryReadExtranonce(root[0], root[1], out extranonce1, out extranonce2Size, out problem);
        }
        catch (JsonException e)
        {
            problem = "mining.set_extranonce params are not JSON: " + e.Message;
            return false;
        }
    }

    private static bool TryReadExtranonce(JsonElement hex, JsonElement size, out byte[] extranonce1, out int extranonce2Size, out string? problem)
    {
        extranonce1 = [];
        extranonce2Size = 0;
        if (hex.ValueKind != JsonValueKind.String || hex.GetString() is not { } text || text.Length % 2 != 0 || text.Length > 64)
        {
            problem = "extranonce1 is not a hex string of at most 32 bytes";
            return false;
        }
        try
        {
            extranonce1 = Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            problem = $"extranonce1 \"{text}\" is not hex";
            return false;
        }
        if (size.ValueKind != JsonValueKind.Number || !size.TryGetInt32(out extranonce2Size) || extranonce2Size is < 0 or > 16)
        {
            problem = $"extranonce2_size {size.GetRawText()} is not 0..16";
            return false;
        }
        problem = null;
        return true;
    }

    /// <summary>mining.set_version_mask ["1fffe000"].</summary>
    public static bool TryParseVersionMask(ReadOnlySpan<byte> parameters, out uint mask)
    {
        mask = 0;
        var reader = new Utf8JsonReader(parameters, ReaderOptions);
        try
        {
            return reader.Read() && reader.TokenType == JsonTokenType.StartArray && reader.Read()
                   && reader.TokenType == JsonTokenType.String
                   && uint.TryParse(Encoding.ASCII.GetString(reader.ValueSpan), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out mask);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>client.reconnect [] or ["host", port, wait_seconds]; the port may come as a number or a string.</summary>
    public static bool TryParseReconnect(ReadOnlySpan<byte> parameters, out string? host, out int? port, out int waitSeconds)
    {
        host = null;
        port = null;
        waitSeconds = 0;
        try
        {
            using var document = JsonDocument.Parse(parameters.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array)
                return false;
            var length = root.GetArrayLength();
            if (length > 0 && root[0].ValueKind == JsonValueKind.String && root[0].GetString() is { Length: > 0 } h)
                host = h;
            if (length > 1)
            {
                var p = root[1];
                if (p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out var number))
                    port = number;
                else if (p.ValueKind == JsonValueKind.String && int.TryParse(p.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
                    port = parsed;
                if (port is < 1 or > 65535)
                    return false;
            }
            if (length > 2 && root[2].ValueKind == JsonValueKind.Number && root[2].TryGetInt32(out var wait))
                waitSeconds = Math.Clamp(wait, 0, 3600);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
