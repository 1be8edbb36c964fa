using System.Text;
using System.Text.Json;

namespace PoolCluster.Stratum;

public enum StratumMethod
{
    Unknown,
    /// <summary>mining.subscribe</summary>
    Subscribe,
    /// <summary>mining.authorize</summary>
    Authorize,
    /// <summary>mining.submit</summary>
    Submit,
    /// <summary>mining.configure (BIP310)</summary>
    Configure,
    /// <summary>mining.suggest_difficulty</summary>
    SuggestDifficulty,
    /// <summary>mining.suggest_target</summary>
    SuggestTarget,
    /// <summary>mining.extranonce.subscribe</summary>
    ExtranonceSubscribe,
    /// <summary>mining.get_transactions</summary>
    GetTransactions,
}

/// <summary>
/// One client request line, read with <see cref="Utf8JsonReader"/> straight from the received bytes: the id exactly as
/// sent (to echo back), the method, and the raw params array for the method's own parser
/// (<see cref="StratumRequestParams"/>). Parsing never throws: a bad line gives <see cref="Error"/>.
/// Everything here points into the line, so it is valid only as long as the line is.
/// </summary>
public readonly ref struct StratumRequest
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 32 };

    private StratumRequest(ReadOnlySpan<byte> id, StratumMethod method, ReadOnlySpan<byte> methodName,
        ReadOnlySpan<byte> @params, StratumParseError error, bool isJsonObject)
    {
        Id = id;
        Method = method;
        MethodName = methodName;
        Params = @params;
        Error = error;
        IsJsonObject = isJsonObject;
    }

    /// <summary>The id's JSON text as received (<c>4</c>, <c>"abc"</c>, or <c>null</c> when absent or unusable).</summary>
    public ReadOnlySpan<byte> Id { get; }

    public StratumMethod Method { get; }

    /// <summary>The method string's raw JSON contents (escapes not decoded); empty when there was none.</summary>
    public ReadOnlySpan<byte> MethodName { get; }

    /// <summary>The params array's raw JSON text; <c>[]</c> when params was absent or null.</summary>
    public ReadOnlySpan<byte> Params { get; }

    /// <summary>Set when the line is not a usable request (code 27, with the exact problem).</summary>
    public StratumParseError Error { get; }

    /// <summary>False when the line is not a JSON object at all (binary garbage, an HTTP or TLS hello, truncated JSON).</summary>
    public bool IsJsonObject { get; }

    public bool IsValid => !Error.IsError;

    /// <summary>For logs: the method name as text.</summary>
    public string MethodNameText => Encoding.UTF8.GetString(MethodName);

    public static StratumRequest Parse(ReadOnlySpan<byte> line)
    {
        var id = "null"u8;
        var methodName = ReadOnlySpan<byte>.Empty;
        var method = StratumMethod.Unknown;
        var hasMethod = false;
        var parameters = "[]"u8;
        StratumParseError error = default;

        var start = 0;
        while (start < line.Length && line[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            start++;
        if (start == line.Length || line[start] != (byte)'{')
            return new StratumRequest(id, method, methodName, parameters,
                new StratumParseError(StratumErrorCode.IllegalParams, "request is not a JSON object"), isJsonObject: false);

        var reader = new Utf8JsonReader(line, ReaderOptions);
        try
        {
            reader.Read(); // StartObject, checked above
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    switch (reader.TokenType)
                    {
                        case JsonTokenType.Number:
                            id = line.Slice((int)reader.TokenStartIndex, reader.ValueSpan.Length);
                            break;
                        case JsonTokenType.String:
                            id = line.Slice((int)reader.TokenStartIndex, reader.ValueSpan.Length + 2);
                            break;
                        case JsonTokenType.Null:
                            id = "null"u8;
                            break;
                        default:
                            id = "null"u8;
                            reader.Skip();
                            if (!error.IsError)
                                error = new StratumParseError(StratumErrorCode.IllegalParams, "id must be a number, a string or null");
                            break;
                    }
                }
                else if (reader.ValueTextEquals("method"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length > 0)
                    {
                        hasMethod = true;
                        methodName = reader.ValueSpan;
                        method = MethodOf(ref reader);
                    }
                    else
                    {
                        reader.Skip();
                        if (!error.IsError)
                            error = new StratumParseError(StratumErrorCode.IllegalParams, "method must be a non-empty string");
                    }
                }
                else if (reader.ValueTextEquals("params"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        var paramsStart = (int)reader.TokenStartIndex;
                        reader.Skip();
                        parameters = line[paramsStart..(int)reader.BytesConsumed];
                    }
                    else if (reader.TokenType == JsonTokenType.Null)
                    {
                        parameters = "[]"u8;
                    }
                    else
                    {
                        reader.Skip();
                        if (!error.IsError)
                            error = new StratumParseError(StratumErrorCode.IllegalParams, "params must be an array");
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            // Anything after the closing brace other than whitespace makes the reader throw here.
            while (reader.Read()) { }
        }
        catch (JsonException e)
        {
            var syntax = new StratumParseError(StratumErrorCode.IllegalParams, "request is not valid JSON: " + Shorten(e.Message));
            return new StratumRequest(id, method, methodName, "[]"u8, syntax, isJsonObject: false);
        }

        if (!error.IsError && !hasMethod)
            error = new StratumParseError(StratumErrorCode.IllegalParams, "method is missing");
        return new StratumRequest(id, method, methodName, parameters, error, isJsonObject: true);
    }

    private static StratumMethod MethodOf(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("mining.submit"u8)) return StratumMethod.Submit;
        if (reader.ValueTextEquals("mining.subscribe"u8)) return StratumMethod.Subscribe;
        if (reader.ValueTextEquals("mining.authorize"u8)) return StratumMethod.Authorize;
        if (reader.ValueTextEquals("mining.configure"u8)) return StratumMethod.Configure;
        if (reader.ValueTextEquals("mining.suggest_difficulty"u8)) return StratumMethod.SuggestDifficulty;
        if (reader.ValueTextEquals("mining.suggest_target"u8)) return StratumMethod.SuggestTarget;
        if (reader.ValueTextEquals("mining.extranonce.subscribe"u8)) return StratumMethod.ExtranonceSubscribe;
        if (reader.ValueTextEquals("mining.get_transactions"u8)) return StratumMethod.GetTransactions;
        return StratumMethod.Unknown;
    }

    // The reader's messages carry line/byte positions, which is what a miner's operator needs; keep them short.
    private static string Shorten(string message) => message.Length <= 160 ? message : message[..160];
}
