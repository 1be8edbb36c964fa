using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace PoolCluster.Node;

/// <summary>
/// JSON-RPC client for bitcoind and compatible nodes. One instance per node; thread-safe. Transport failures become
/// <see cref="NodeUnavailableException"/>, JSON-RPC errors <see cref="NodeRpcException"/>, so callers can fail over on
/// the first and report the second.
/// </summary>
public sealed class BitcoindRpcClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly NodeEndpoint _endpoint;
    private readonly Uri _uri;
    private long _nextId;

    public BitcoindRpcClient(NodeEndpoint endpoint, HttpMessageHandler? handler = null)
    {
        _endpoint = endpoint;
        var uri = new Uri(endpoint.RpcUrl);
        // Credentials in the URL are moved to the Authorization header; HttpClient does not send userinfo itself.
        _uri = new UriBuilder(uri) { UserName = "", Password = "" }.Uri;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = Timeout.InfiniteTimeSpan, // per call, below: long polls need their own
        };
    }

    public string Name => _endpoint.Name;
    public NodeEndpoint Endpoint => _endpoint;

    /// <summary>Calls <paramref name="method"/> and returns a copy of its "result" (JsonValueKind.Null when null).</summary>
    public async Task<JsonElement> CallAsync(string method, object?[]? parameters = null, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        var id = Interlocked.Increment(ref _nextId);
        var body = JsonSerializer.SerializeToUtf8Bytes(new { jsonrpc = "1.0", id, method, @params = parameters ?? [] });
        using var request = new HttpRequestMessage(HttpMethod.Post, _uri) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = BuildAuthorization();

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromMilliseconds(_endpoint.TimeoutMs));
        HttpResponseMessage response;
        byte[] payload;
        try
        {
            response = await _http.SendAsync(request, cts.Token).ConfigureAwait(false);
            payload = await response.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NodeUnavailableException(Name, method, $"no answer within {(timeout ?? TimeSpan.FromMilliseconds(_endpoint.TimeoutMs)).TotalMilliseconds} ms");
        }
        catch (HttpRequestException e)
        {
            throw new NodeUnavailableException(Name, method, e.Message, e);
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.Unauthorized || response.StatusCode == HttpStatusCode.Forbidden)
                throw new NodeUnavailableException(Name, method, $"authentication refused (HTTP {(int)response.StatusCode}): check RpcUser/RpcPassword/CookieFile");
            // bitcoind answers RPC errors with HTTP 500 (or 404 for unknown methods) and a JSON body: parse it first.
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(payload);
            }
            catch (JsonException)
            {
                throw new NodeUnavailableException(Name, method, $"HTTP {(int)response.StatusCode} with a body that is not JSON-RPC");
            }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                    throw new NodeUnavailableException(Name, method, "answer is not a JSON-RPC object");
                if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
                {
                    var code = error.TryGetProperty("code", out var c) && c.TryGetInt32(out var ci) ? ci : 0;
                    var message = error.TryGetProperty("message", out var m) ? m.ToString() : "";
                    throw new NodeRpcException(Name, method, code, message);
                }
                if (!root.TryGetProperty("result", out var result))
                    throw new NodeUnavailableException(Name, method, $"HTTP {(int)response.StatusCode} without a result");
                return result.Clone();
            }
        }
    }

    /// <summary>getblocktemplate with the segwit rule; with a longpollid it waits until the template changes.</summary>
    public Task<JsonElement> GetBlockTemplateAsync(string? longPollId = null, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        object request = longPollId is null
            ? new { rules = new[] { "segwit" } }
            : new { rules = new[] { "segwit" }, longpollid = longPollId };
        return CallAsync("getblocktemplate", [request], timeout, cancellationToken);
    }

    /// <summary>submitblock: null when accepted, otherwise bitcoind's reject reason (e.g. "high-hash", "duplicate").</summary>
    public async Task<string?> SubmitBlockAsync(string blockHex, CancellationToken cancellationToken = default)
    {
        var result = await CallAsync("submitblock", [blockHex], cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.ValueKind == JsonValueKind.Null ? null : result.ToString();
    }

    public async Task<string> GetBestBlockHashAsync(CancellationToken cancellationToken = default) =>
        (await CallAsync("getbestblockhash", cancellationToken: cancellationToken).ConfigureAwait(false)).GetString()
        ?? throw new NodeUnavailableException(Name, "getbestblockhash", "null result");

    public async Task<long> GetBlockCountAsync(CancellationToken cancellationToken = default) =>
        (await CallAsync("getblockcount", cancellationToken: cancellationToken).ConfigureAwait(false)).GetInt64();

    /// <summary>getblockheader (verbose): null when the node does not know the hash (bitcoind error -5).</summary>
    public async Task<JsonElement?> GetBlockHeaderAsync(string displayHash, CancellationToken cancellationToken = default)
    {
        try
        {
            return await CallAsync("getblockheader", [displayHash, true], cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NodeRpcException e) when (e.Code == RpcErrorCodes.InvalidAddressOrKey)
        {
            return null;
        }
    }

    private AuthenticationHeaderValue? BuildAuthorization()
    {
        string? credentials = null;
        var uri = new Uri(_endpoint.RpcUrl);
        if (!string.IsNullOrEmpty(_endpoint.RpcUser))
            credentials = $"{_endpoint.RpcUser}:{_endpoint.RpcPassword}";
        else if (!string.IsNullOrEmpty(uri.UserInfo))
            credentials = Uri.UnescapeDataString(uri.UserInfo);
        else if (!string.IsNullOrEmpty(_endpoint.CookieFile))
        {
            try
            {
                credentials = File.ReadAllText(_endpoint.CookieFile).Trim();
            }
            catch (IOException e)
            {
                throw new NodeUnavailableException(Name, "auth", $"cannot read cookie file {_endpoint.CookieFile}: {e.Message}", e);
            }
        }
        return credentials is null ? null : new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>bitcoind's RPC error codes (src/rpc/protocol.h) that the pool reacts to.</summary>
public static class RpcErrorCodes
{
    public const int MethodNotFound = -32601;
    public const int InvalidParams = -32602;
    public const int ParseError = -32700;
    public const int MiscError = -1;
    public const int TypeError = -3;
    public const int InvalidAddressOrKey = -5;
    public const int InvalidParameter = -8;
    public const int DeserializationError = -22;
    public const int VerifyError = -25;
    public const int ClientNotConnected = -9;
    public const int ClientInInitialDownload = -10;
}
