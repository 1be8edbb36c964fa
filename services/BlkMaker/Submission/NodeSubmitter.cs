using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using PoolCluster.Node;

namespace PoolCluster.BlkMaker.Submission;

/// <summary>What one node said to one submitblock.</summary>
public enum SubmitVerdict
{
    /// <summary>null: accepted (and normally now its tip).</summary>
    Accepted,

    /// <summary>"duplicate" / "duplicate-inconclusive": it had the block already.</summary>
    Duplicate,

    /// <summary>"inconclusive": valid so far but not connected to its best chain (a side chain, or not fully validated yet).</summary>
    Inconclusive,

    /// <summary>Any other reason ("high-hash", "bad-txnmrklroot", "duplicate-invalid", ...) or an RPC error about the block.</summary>
    Rejected,

    /// <summary>No answer (down, timeout, auth) or an RPC error that says nothing about the block: try again.</summary>
    Unavailable,
}

public readonly record struct SubmitOutcome(SubmitVerdict Verdict, string Detail)
{
    /// <summary>The node stored the block (confirm with getblockheader).</summary>
    public bool NodeHasIt => Verdict is SubmitVerdict.Accepted or SubmitVerdict.Duplicate or SubmitVerdict.Inconclusive;

    public override string ToString() => Detail.Length == 0 ? Verdict.ToString().ToLowerInvariant() : $"{Verdict.ToString().ToLowerInvariant()} ({Detail})";
}

/// <summary>
/// Sends a prepared submitblock request (<see cref="Blocks.SolvedBlock.SubmitRequest"/>) to one node over a kept-warm
/// HTTP connection: the request's bytes go out as they are, without the JSON serialisation of a multi-megabyte string
/// that a general RPC client does (<see cref="BitcoindRpcClient"/> serves everything else: keep-alive pings,
/// getblockheader). Authentication follows <see cref="NodeEndpoint"/>: RpcUser/RpcPassword, credentials in the URL, or
/// the cookie file (read for every request, since bitcoind rewrites it on restart). Thread-safe.
/// </summary>
internal sealed class NodeSubmitter : IDisposable
{
    private readonly HttpClient http;
    private readonly Uri uri;

    public NodeSubmitter(NodeEndpoint endpoint, TimeSpan timeout)
    {
        Endpoint = endpoint;
        uri = new UriBuilder(new Uri(endpoint.RpcUrl)) { UserName = "", Password = "" }.Uri;
        http = new HttpClient(new SocketsHttpHandler
        {
            // bitcoind closes idle keep-alive connections after -rpcservertimeout (30 s); the keep-alive pings stay inside it.
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            Timeout = timeout,
        };
        Rpc = new BitcoindRpcClient(endpoint, new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), UseProxy = false });
    }

    public NodeEndpoint Endpoint { get; }

    public string Name => Endpoint.Name;

    /// <summary>The general client for this node (getblockheader, getblockcount).</summary>
    public BitcoindRpcClient Rpc { get; }

    /// <summary>
    /// Posts <paramref name="request"/> (its pieces one after the other). <paramref name="onWriting"/> runs when the
    /// request's body starts going out, <paramref name="onWritten"/> when its last byte has been handed to the
    /// connection (Stopwatch timestamps).
    /// </summary>
    public async Task<SubmitOutcome> SubmitAsync(IReadOnlyList<ReadOnlyMemory<byte>> request, Action<long>? onWriting, Action<long>? onWritten,
        CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new RequestContent(request, onWriting, onWritten) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        try
        {
            message.Headers.Authorization = Authorization();
        }
        catch (IOException e)
        {
            return new SubmitOutcome(SubmitVerdict.Unavailable, $"cannot read cookie file {Endpoint.CookieFile}: {e.Message}");
        }
        HttpResponseMessage response;
        byte[] body;
        try
        {
            response = await http.SendAsync(message, cancellationToken).ConfigureAwait(false);
            body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new SubmitOutcome(SubmitVerdict.Unavailable, e is OperationCanceledException ? $"no answer within {http.Timeout.TotalSeconds:0.#} s" : e.Message);
        }
        using (response)
            return Interpret(response.StatusCode, body);
    }

    /// <summary>
    /// getblockcount over the submit connection, which keeps it open (and tells whether the node is there): null when
    /// the node answered, else why not.
    /// </summary>
    public async Task<string?> PingAsync(CancellationToken cancellationToken)
    {
        var outcome = await SubmitAsync([PingRequest], null, null, cancellationToken).ConfigureAwait(false);
        return outcome.Verdict is SubmitVerdict.Unavailable ? outcome.Detail : null;
    }

    private static readonly byte[] PingRequest = Encoding.ASCII.GetBytes("{\"jsonrpc\":\"1.0\",\"id\":\"ping\",\"method\":\"getblockcount\",\"params\":[]}");

    /// <summary>Reads bitcoind's answer to submitblock.</summary>
    internal static SubmitOutcome Interpret(HttpStatusCode status, byte[] body)
    {
        if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            return new SubmitOutcome(SubmitVerdict.Unavailable, $"authentication refused (HTTP {(int)status})");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return new SubmitOutcome(SubmitVerdict.Unavailable, $"HTTP {(int)status} with a body that is not JSON-RPC");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return new SubmitOutcome(SubmitVerdict.Unavailable, "the answer is not a JSON-RPC object");
            if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                var code = error.TryGetProperty("code", out var c) && c.TryGetInt32(out var n) ? n : 0;
                var text = error.TryGetProperty("message", out var m) ? m.ToString() : "";
                // Errors about the block itself are final; the rest (warming up, not connected, overloaded) pass.
                return code is RpcErrorCodes.DeserializationError or RpcErrorCodes.VerifyError or RpcErrorCodes.InvalidParameter or RpcErrorCodes.TypeError
                    ? new SubmitOutcome(SubmitVerdict.Rejected, $"RPC error {code}: {text}")
                    : new SubmitOutcome(SubmitVerdict.Unavailable, $"RPC error {code}: {text}");
            }
            if (!root.TryGetProperty("result", out var result))
                return new SubmitOutcome(SubmitVerdict.Unavailable, $"HTTP {(int)status} without a result");
            if (result.ValueKind == JsonValueKind.Null)
                return new SubmitOutcome(SubmitVerdict.Accepted, "");
            var reason = result.ToString();
            return reason switch
            {
                "duplicate" => new SubmitOutcome(SubmitVerdict.Duplicate, ""),
                "duplicate-inconclusive" => new SubmitOutcome(SubmitVerdict.Duplicate, reason),
                "inconclusive" => new SubmitOutcome(SubmitVerdict.Inconclusive, ""),
                _ => new SubmitOutcome(SubmitVerdict.Rejected, reason),
            };
        }
    }

    private AuthenticationHeaderValue? Authorization()
    {
        string? credentials = null;
        var configured = new Uri(Endpoint.RpcUrl);
        if (!string.IsNullOrEmpty(Endpoint.RpcUser))
            credentials = $"{Endpoint.RpcUser}:{Endpoint.RpcPassword}";
        else if (!string.IsNullOrEmpty(configured.UserInfo))
            credentials = Uri.UnescapeDataString(configured.UserInfo);
        else if (!string.IsNullOrEmpty(Endpoint.CookieFile))
            credentials = File.ReadAllText(Endpoint.CookieFile).Trim();
        return credentials == null ? null : new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
    }

    public void Dispose()
    {
        http.Dispose();
        Rpc.Dispose();
    }

    /// <summary>The request's pieces as they are, reporting when writing starts and when the last byte was written.</summary>
    private sealed class RequestContent(IReadOnlyList<ReadOnlyMemory<byte>> pieces, Action<long>? onWriting, Action<long>? onWritten) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            await SerializeToStreamAsync(stream, context, CancellationToken.None).ConfigureAwait(false);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            onWriting?.Invoke(Stopwatch.GetTimestamp());
            foreach (var piece in pieces)
                await stream.WriteAsync(piece, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            onWritten?.Invoke(Stopwatch.GetTimestamp());
        }

        protected override bool TryComputeLength(out long length)
        {
            length = pieces.Sum(p => (long)p.Length);
            return true;
        }
    }
}
