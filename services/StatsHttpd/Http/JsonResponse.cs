using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace PoolCluster.StatsHttpd.Http;

/// <summary>Builds a JSON body with a <see cref="Utf8JsonWriter"/> and sends it with a status code.</summary>
internal static class JsonResponse
{
    /// <summary>btcpool's statshttpd answered with this content type; its endpoints keep it.</summary>
    public const string BtcpoolContentType = "text/json";

    public const string ContentType = "application/json; charset=utf-8";

    /// <summary>
    /// Escapes what JSON requires and no more: worker names and messages stay readable ("rig-ü", "'abc'") instead of
    /// \u-escaped. Safe here: the bodies are never embedded in HTML.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Build(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            write(writer);
        return buffer.WrittenSpan.ToArray();
    }

    public static async Task<int> SendAsync(HttpContext context, int status, byte[] body, string contentType = ContentType)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        context.Response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
            await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        return body.Length;
    }

    /// <summary>The REST error shape: {"error": "..."} plus optional details.</summary>
    public static Task<int> ErrorAsync(HttpContext context, int status, string message, Action<Utf8JsonWriter>? details = null) =>
        SendAsync(context, status, Build(w =>
        {
            w.WriteStartObject();
            w.WriteString("error", message);
            details?.Invoke(w);
            w.WriteEndObject();
        }));
}
