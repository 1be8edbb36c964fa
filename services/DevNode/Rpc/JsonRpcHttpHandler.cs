using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace PoolCluster.DevNode.Rpc;

/// <summary>
/// bitcoind's HTTP JSON-RPC front end (src/httprpc.cpp, JSON-RPC 2.0 support as in Bitcoin Core 28):
/// POST only (405 otherwise); missing or wrong credentials answer 401 with WWW-Authenticate, a wrong one after a
/// 250 ms pause; a legacy (1.0) request's error sets HTTP 500, or 404 for an unknown method and 400 for an invalid
/// request, with {"result":null,"error":{"code","message"},"id"}; a 2.0 request always gets 200 (or 204 for a
/// notification) and only one of result/error; a batch is answered 200 with one reply per non-notification.
/// </summary>
public sealed class JsonRpcHttpHandler(
    IReadOnlyDictionary<string, RpcMethod> methods,
    RpcAuthenticator authenticator,
    ILogger logger)
{
    private const string WwwAuthenticate = "Basic realm=\"jsonrpc\"";

    // bitcoind writes messages such as "... for '00')" as they are; the default encoder would turn ' into \u0027.
    private static readonly JsonSerializerOptions ReplyJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private enum JsonRpcVersion { Legacy, V2 }

    /// <summary>Stops in-flight calls (long polls) when the node shuts down.</summary>
    public CancellationToken ShutdownToken { get; set; }

    public async Task HandleAsync(HttpContext context)
    {
        try
        {
            await HandleRequestAsync(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (typically in a long poll): nobody is left to answer.
        }
    }

    private async Task HandleRequestAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        if (!HttpMethods.IsPost(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            await response.WriteAsync("JSONRPC server handles only POST requests", context.RequestAborted);
            return;
        }
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.Length == 0)
        {
            response.Headers.WWWAuthenticate = WwwAuthenticate;
            response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }
        if (!authenticator.IsAuthorized(authorization))
        {
            logger.LogWarning("ThreadRPCServer incorrect password attempt from {Peer}", context.Connection.RemoteIpAddress);
            // bitcoind's brute-force deterrent.
            await Task.Delay(250, context.RequestAborted);
            response.Headers.WWWAuthenticate = WwwAuthenticate;
            response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, ShutdownToken);
        var body = new MemoryStream();
        await request.Body.CopyToAsync(body, cts.Token);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.GetBuffer().AsMemory(0, (int)body.Length));
        }
        catch (JsonException)
        {
            await WriteErrorAsync(response, Error(RpcErrorCode.ParseError, "Parse error"), id: null, hasId: false, JsonRpcVersion.Legacy);
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                await HandleSingleAsync(response, root, cts.Token);
            }
            else if (root.ValueKind == JsonValueKind.Array)
            {
                var replies = new JsonArray();
                foreach (var item in root.EnumerateArray())
                {
                    // Batches never produce HTTP errors: each reply carries its own.
                    var (reply, notification) = await ExecuteAsync(item, catchErrors: true, cts.Token);
                    if (!notification)
                        replies.Add(reply);
                }
                if (replies.Count == 0 && root.GetArrayLength() > 0)
                {
                    response.StatusCode = StatusCodes.Status204NoContent;
                    return;
                }
                await WriteJsonAsync(response, StatusCodes.Status200OK, replies);
            }
            else
            {
                await WriteErrorAsync(response, Error(RpcErrorCode.ParseError, "Top-level object parse error"), null, false, JsonRpcVersion.Legacy);
            }
        }
    }

    private async Task HandleSingleAsync(HttpResponse response, JsonElement request, CancellationToken cancellationToken)
    {
        ParsedRequest parsed;
        try
        {
            parsed = Parse(request);
        }
        catch (RpcException e)
        {
            var (id, hasId) = ReadId(request);
            await WriteErrorAsync(response, Error(e.Code, e.Message), id, hasId, JsonRpcVersion.Legacy);
            return;
        }
        if (parsed.Version == JsonRpcVersion.Legacy)
        {
            try
            {
                var result = await InvokeAsync(parsed, cancellationToken);
                await WriteJsonAsync(response, StatusCodes.Status200OK, Reply(result, null, parsed.Id, parsed.HasId, parsed.Version));
            }
            catch (RpcException e)
            {
                await WriteErrorAsync(response, Error(e.Code, e.Message), parsed.Id, parsed.HasId, parsed.Version);
            }
            return;
        }
        var (reply, notification) = await ExecuteAsync(request, catchErrors: true, cancellationToken);
        if (notification)
        {
            response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }
        await WriteJsonAsync(response, StatusCodes.Status200OK, reply);
    }

    private async Task<(JsonObject Reply, bool Notification)> ExecuteAsync(JsonElement request, bool catchErrors, CancellationToken cancellationToken)
    {
        ParsedRequest parsed;
        try
        {
            parsed = Parse(request);
        }
        catch (RpcException e) when (catchErrors)
        {
            var (id, hasId) = ReadId(request);
            return (Reply(null, Error(e.Code, e.Message), id, hasId, JsonRpcVersion.Legacy), false);
        }
        try
        {
            var result = await InvokeAsync(parsed, cancellationToken);
            return (Reply(result, null, parsed.Id, parsed.HasId, parsed.Version), parsed.IsNotification);
        }
        catch (RpcException e) when (catchErrors)
        {
            return (Reply(null, Error(e.Code, e.Message), parsed.Id, parsed.HasId, parsed.Version), parsed.IsNotification);
        }
    }

    private async Task<JsonNode?> InvokeAsync(ParsedRequest request, CancellationToken cancellationToken)
    {
        if (!methods.TryGetValue(request.Method, out var method))
            throw new RpcException(RpcErrorCode.MethodNotFound, "Method not found");
        var args = RpcArgs.Bind(method, request.Params);
        try
        {
            return await method.Handler(args, cancellationToken);
        }
        catch (OperationCanceledException) when (ShutdownToken.IsCancellationRequested)
        {
            throw new RpcException(RpcErrorCode.ClientNotConnected, "Shutting down");
        }
        catch (RpcException)
        {
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // bitcoind turns a std::exception from a handler into RPC_MISC_ERROR with its message.
            logger.LogError(e, "RPC {Method} failed", request.Method);
            throw new RpcException(RpcErrorCode.MiscError, e.Message);
        }
    }

    private sealed record ParsedRequest(string Method, JsonElement? Params, JsonNode? Id, bool HasId, JsonRpcVersion Version)
    {
        public bool IsNotification => !HasId && Version == JsonRpcVersion.V2;
    }

    private static ParsedRequest Parse(JsonElement request)
    {
        if (request.ValueKind != JsonValueKind.Object)
            throw new RpcException(RpcErrorCode.InvalidRequest, "Invalid Request object");
        var (id, hasId) = ReadId(request);
        var version = JsonRpcVersion.Legacy;
        if (request.TryGetProperty("jsonrpc", out var jsonrpc) && jsonrpc.ValueKind != JsonValueKind.Null)
        {
            if (jsonrpc.ValueKind != JsonValueKind.String)
                throw new RpcException(RpcErrorCode.InvalidRequest, "jsonrpc field must be a string");
            version = jsonrpc.GetString() switch
            {
                "1.0" => JsonRpcVersion.Legacy,
                "2.0" => JsonRpcVersion.V2,
                _ => throw new RpcException(RpcErrorCode.InvalidRequest, "JSON-RPC version not supported"),
            };
        }
        if (!request.TryGetProperty("method", out var method) || method.ValueKind == JsonValueKind.Null)
            throw new RpcException(RpcErrorCode.InvalidRequest, "Missing method");
        if (method.ValueKind != JsonValueKind.String)
            throw new RpcException(RpcErrorCode.InvalidRequest, "Method must be a string");
        JsonElement? parameters = null;
        if (request.TryGetProperty("params", out var p) && p.ValueKind != JsonValueKind.Null)
        {
            if (p.ValueKind is not (JsonValueKind.Array or JsonValueKind.Object))
                throw new RpcException(RpcErrorCode.InvalidRequest, "Params must be an array or object");
            parameters = p;
        }
        return new ParsedRequest(method.GetString()!, parameters, id, hasId, version);
    }

    private static (JsonNode? Id, bool HasId) ReadId(JsonElement request) =>
        request.ValueKind == JsonValueKind.Object && request.TryGetProperty("id", out var id)
            ? (JsonNode.Parse(id.GetRawText()), true)
            : (null, false);

    private static JsonObject Error(int code, string message) => new() { ["code"] = code, ["message"] = message };

    /// <summary>bitcoind's JSONRPCReplyObj: legacy replies carry both result and error (one null), 2.0 only one.</summary>
    private static JsonObject Reply(JsonNode? result, JsonObject? error, JsonNode? id, bool hasId, JsonRpcVersion version)
    {
        var reply = new JsonObject();
        if (version == JsonRpcVersion.V2)
            reply["jsonrpc"] = "2.0";
        if (error is null)
        {
            reply["result"] = result;
            if (version == JsonRpcVersion.Legacy)
                reply["error"] = null;
        }
        else
        {
            if (version == JsonRpcVersion.Legacy)
                reply["result"] = null;
            reply["error"] = error;
        }
        if (hasId || version == JsonRpcVersion.Legacy)
            reply["id"] = id;
        return reply;
    }

    private static Task WriteErrorAsync(HttpResponse response, JsonObject error, JsonNode? id, bool hasId, JsonRpcVersion version)
    {
        var code = (int)error["code"]!;
        var status = code switch
        {
            RpcErrorCode.InvalidRequest => StatusCodes.Status400BadRequest,
            RpcErrorCode.MethodNotFound => StatusCodes.Status404NotFound,
            _ => StatusCodes.Status500InternalServerError,
        };
        return WriteJsonAsync(response, status, Reply(null, error, id, hasId, version));
    }

    private static async Task WriteJsonAsync(HttpResponse response, int status, JsonNode body)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body, ReplyJson);
        await response.Body.WriteAsync(bytes);
        await response.Body.WriteAsync("\n"u8.ToArray());
    }
}
