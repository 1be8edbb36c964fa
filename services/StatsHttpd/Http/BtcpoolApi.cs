using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Sinks;

namespace PoolCluster.StatsHttpd.Http;

/// <summary>
/// btcpool's statshttpd endpoints with its exact JSON shapes (btccom/btcpool src/StatsHttpd.cc), so tools written for
/// it work unchanged: every answer is {"err_no":…,"err_msg":…[,"data":…]}; err_no 0 ok, 1 invalid arguments,
/// 2 "service is initializing..." (warm-up), and — ours — 3 unknown user. The four-element arrays are the windows
/// [1 min, 5 min, 15 min, 1 h]; btcpool left some of them 0, they are filled here. Values are sums of share
/// difficulty (hashrate = value × 2^32 / window seconds). Unlike btcpool, bad arguments answer HTTP 400 and an
/// unknown user 404 (the body keeps the envelope); warm-up keeps btcpool's HTTP 200.
/// </summary>
internal static class BtcpoolApi
{
    private const int MaxBodyBytes = 64 * 1024;

    private static readonly StatsWindow[] CompatWindows =
        [StatsWindow.OneMinute, StatsWindow.FiveMinutes, StatsWindow.FifteenMinutes, StatsWindow.OneHour];

    private static readonly byte[] Initializing = JsonResponse.Build(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("err_no", 2);
        w.WriteString("err_msg", "service is initializing...");
        w.WriteEndObject();
    });

    /// <summary>GET / : the pool summary.</summary>
    public static async Task ServerStatusAsync(HttpContext context, StatsApiContext api)
    {
        api.CountRequest();
        if (!api.Warmup.IsWarm)
        {
            api.CountBytes(await JsonResponse.SendAsync(context, StatusCodes.Status200OK, Initializing, JsonResponse.BtcpoolContentType).ConfigureAwait(false));
            return;
        }
        var now = api.NowSeconds;
        var pool = CompatStatus.Of(api.SnapshotOf(api.Store.Pool, now));
        var uptime = (long)(api.Store.Time.GetUtcNow() - api.StartedAt).TotalSeconds;
        var body = JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("err_no", 0);
            w.WriteString("err_msg", "");
            w.WriteStartObject("data");
            w.WriteString("uptime", string.Format(CultureInfo.InvariantCulture, "{0:0000} d {1:00} h {2:00} m {3:00} s",
                uptime / 86400, uptime % 86400 / 3600, uptime % 3600 / 60, uptime % 60));
            w.WriteNumber("request", api.Requests);
            w.WriteNumber("repbytes", api.ResponseBytes);
            w.WriteStartObject("pool");
            pool.WriteWindows(w);
            w.WriteNumber("accept_count", pool.AcceptCount);
            w.WriteNumber("workers", api.Store.WorkerCount);
            w.WriteNumber("users", api.Store.UserCount);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        });
        api.CountBytes(await JsonResponse.SendAsync(context, StatusCodes.Status200OK, body, JsonResponse.BtcpoolContentType).ConfigureAwait(false));
    }

    /// <summary>GET/POST /worker_status?user_id=U&amp;worker_id=W1,W2[&amp;is_merge=T] (POST: the same pairs as the body).</summary>
    public static async Task WorkerStatusAsync(HttpContext context, StatsApiContext api)
    {
        api.CountRequest();
        var parameters = await ReadParametersAsync(context).ConfigureAwait(false);
        if (!api.Warmup.IsWarm)
        {
            api.CountBytes(await JsonResponse.SendAsync(context, StatusCodes.Status200OK, Initializing, JsonResponse.BtcpoolContentType).ConfigureAwait(false));
            return;
        }
        if (parameters == null)
        {
            await ErrorAsync(context, api, StatusCodes.Status400BadRequest, 1, $"invalid args: the request body is larger than {MaxBodyBytes} bytes").ConfigureAwait(false);
            return;
        }
        if (!TryParseArguments(parameters, api.Options.MaxWorkerIdsPerRequest, out var userId, out var workerIds, out var merge, out var problem))
        {
            await ErrorAsync(context, api, StatusCodes.Status400BadRequest, 1, "invalid args: " + problem).ConfigureAwait(false);
            return;
        }
        if (!api.Store.TryGetUser(userId, out var user))
        {
            await ErrorAsync(context, api, StatusCodes.Status404NotFound, 3,
                $"unknown user {userId}: no share or connection in the last {api.Options.ExpireIdleHours} hours").ConfigureAwait(false);
            return;
        }

        var now = api.NowSeconds;
        var statuses = new List<(long WorkerId, CompatStatus Status)>(workerIds.Count);
        foreach (var workerId in workerIds)
        {
            // worker_id 0 is the user as a whole (btcpool); an unknown worker reports zeros, as in btcpool.
            ShareStats? entity = workerId == 0 ? user : api.Store.TryGetWorker(userId, workerId, out var worker) ? worker : null;
            statuses.Add((workerId, entity == null ? CompatStatus.Empty() : CompatStatus.Of(api.SnapshotOf(entity, now))));
        }
        if (merge)
            statuses = [(0, CompatStatus.Merge(statuses.Select(s => s.Status)))];

        var body = JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("err_no", 0);
            w.WriteString("err_msg", "");
            w.WriteStartObject("data");
            foreach (var (workerId, status) in statuses)
            {
                w.WriteStartObject(workerId.ToString(CultureInfo.InvariantCulture));
                status.WriteWindows(w);
                w.WriteNumber("accept_count", status.AcceptCount);
                w.WriteString("last_share_ip", status.LastShareIp);
                w.WriteNumber("last_share_time", status.LastShareTime);
                if (!merge && workerId == 0)
                    w.WriteNumber("workers", user.Workers!.Count);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        });
        api.CountBytes(await JsonResponse.SendAsync(context, StatusCodes.Status200OK, body, JsonResponse.BtcpoolContentType).ConfigureAwait(false));
    }

    /// <summary>GET /flush_db_time: when mining_workers was last written (unix seconds; 0 before the first flush).</summary>
    public static async Task FlushDbTimeAsync(HttpContext context, StatsApiContext api)
    {
        api.CountRequest();
        if (!api.Warmup.IsWarm)
        {
            api.CountBytes(await JsonResponse.SendAsync(context, StatusCodes.Status200OK, Initializing, JsonResponse.BtcpoolContentType).ConfigureAwait(false));
            return;
        }
        var flushed = api.MySql?.LastMiningWorkersFlush?.ToUnixTimeSeconds() ?? 0;
        var body = JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("err_no", 0);
            w.WriteString("err_msg", "");
            w.WriteStartObject("data");
            w.WriteNumber("flush_db_time", flushed);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        api.CountBytes(await JsonResponse.SendAsync(context, StatusCodes.Status200OK, body, JsonResponse.BtcpoolContentType).ConfigureAwait(false));
    }

    internal static bool TryParseArguments(IReadOnlyDictionary<string, StringValues> parameters, int maxWorkerIds,
        out int userId, out List<long> workerIds, out bool merge, out string problem)
    {
        userId = 0;
        workerIds = [];
        merge = false;
        if (!parameters.TryGetValue("user_id", out var userValues) || StringValues.IsNullOrEmpty(userValues))
        {
            problem = "user_id is missing";
            return false;
        }
        if (userValues.Count > 1)
        {
            problem = "user_id is given more than once";
            return false;
        }
        var userText = userValues[0]!.Trim();
        if (!int.TryParse(userText, NumberStyles.None, CultureInfo.InvariantCulture, out userId) || userId <= 0)
        {
            problem = $"user_id '{Shorten(userText)}' is not a positive 32-bit integer";
            return false;
        }
        if (!parameters.TryGetValue("worker_id", out var workerValues) || StringValues.IsNullOrEmpty(workerValues))
        {
            problem = "worker_id is missing (a comma-separated list of worker ids; 0 for the user as a whole)";
            return false;
        }
        var seen = new HashSet<long>();
        foreach (var part in string.Join(',', workerValues.ToArray()).Split(','))
        {
            var text = part.Trim();
            if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var workerId))
            {
                problem = $"worker_id '{Shorten(text)}' is not a 64-bit integer";
                return false;
            }
            if (seen.Add(workerId))
                workerIds.Add(workerId);
            if (workerIds.Count > maxWorkerIds)
            {
                problem = $"worker_id lists more than {maxWorkerIds} workers";
                return false;
            }
        }
        if (parameters.TryGetValue("is_merge", out var mergeValues) && !StringValues.IsNullOrEmpty(mergeValues))
        {
            // btcpool: a value starting with T or t merges; we also take 1/true and refuse anything else.
            var text = mergeValues[0]!.Trim();
            if (text.Length == 0 || text is "F" or "f" or "0" || text.Equals("false", StringComparison.OrdinalIgnoreCase))
                merge = false;
            else if (text is "T" or "t" or "1" || text.Equals("true", StringComparison.OrdinalIgnoreCase))
                merge = true;
            else
            {
                problem = $"is_merge '{Shorten(text)}' is not T or F";
                return false;
            }
        }
        problem = "";
        return true;
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";

    /// <summary>The query string, plus for POST the body parsed the same way; null when the body is too large.</summary>
    private static async Task<Dictionary<string, StringValues>?> ReadParametersAsync(HttpContext context)
    {
        var result = new Dictionary<string, StringValues>(StringComparer.Ordinal);
        foreach (var (key, value) in context.Request.Query)
            result[key] = value;
        if (!HttpMethods.IsPost(context.Request.Method))
            return result;
        if (context.Request.ContentLength > MaxBodyBytes)
            return null;
        using var reader = new StreamReader(context.Request.Body);
        var buffer = new char[MaxBodyBytes + 1];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await reader.ReadAsync(buffer.AsMemory(read), context.RequestAborted).ConfigureAwait(false);
            if (n == 0)
                break;
            read += n;
        }
        if (read > MaxBodyBytes)
            return null;
        foreach (var (key, value) in QueryHelpers.ParseQuery(new string(buffer, 0, read)))
            result[key] = value;
        return result;
    }

    private static async Task ErrorAsync(HttpContext context, StatsApiContext api, int status, int errorNumber, string message)
    {
        var body = JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("err_no", errorNumber);
            w.WriteString("err_msg", message);
            w.WriteEndObject();
        });
        api.CountBytes(await JsonResponse.SendAsync(context, status, body, JsonResponse.BtcpoolContentType).ConfigureAwait(false));
    }

    /// <summary>btcpool's WorkerStatus: the four windows, reject detail, accept count, last share.</summary>
    internal sealed class CompatStatus
    {
        public double[] Accept { get; } = new double[4];
        public double[] Stale { get; } = new double[4];
        public double[] Reject { get; } = new double[4];
        public double[][] Reasons { get; } = [.. Enumerable.Range(0, 4).Select(_ => new double[RejectReasons.Count])];
        public long AcceptCount { get; set; }
        public string LastShareIp { get; set; } = "0.0.0.0";
        public long LastShareTime { get; set; }
        private long lastShareMs;

        public static CompatStatus Empty() => new();

        public static CompatStatus Of(EntitySnapshot snapshot)
        {
            var status = new CompatStatus();
            for (var i = 0; i < CompatWindows.Length; i++)
            {
                var totals = snapshot[CompatWindows[i]];
                status.Accept[i] = totals.Accept;
                status.Stale[i] = totals.Stale;
                status.Reject[i] = totals.Reject;
                snapshot.ReasonsOf(CompatWindows[i]).CopyTo(status.Reasons[i]);
            }
            status.AcceptCount = snapshot.AcceptCountDay;
            status.lastShareMs = snapshot.LastShareMs;
            status.LastShareTime = snapshot.LastShareMs / 1000;
            if (!string.IsNullOrEmpty(snapshot.LastShareIp))
                status.LastShareIp = snapshot.LastShareIp;
            return status;
        }

        /// <summary>btcpool's mergeWorkerStatus: sums, and the most recent share's time and address.</summary>
        public static CompatStatus Merge(IEnumerable<CompatStatus> statuses)
        {
            var merged = new CompatStatus();
            foreach (var status in statuses)
            {
                for (var i = 0; i < 4; i++)
                {
                    merged.Accept[i] += status.Accept[i];
                    merged.Stale[i] += status.Stale[i];
                    merged.Reject[i] += status.Reject[i];
                    for (var r = 0; r < RejectReasons.Count; r++)
                        merged.Reasons[i][r] += status.Reasons[i][r];
                }
                merged.AcceptCount += status.AcceptCount;
                if (status.lastShareMs > merged.lastShareMs)
                {
                    merged.lastShareMs = status.lastShareMs;
                    merged.LastShareTime = status.LastShareTime;
                    merged.LastShareIp = status.LastShareIp;
                }
            }
            return merged;
        }

        public void WriteWindows(Utf8JsonWriter w)
        {
            WriteArray(w, "accept", Accept);
            WriteArray(w, "stale", Stale);
            WriteArray(w, "reject", Reject);
            w.WriteStartArray("reject_detail");
            foreach (var reasons in Reasons)
                w.WriteRawValue(MySqlStatsWriter.RejectDetailJson(reasons.AsSpan()));
            w.WriteEndArray();
        }

        private static void WriteArray(Utf8JsonWriter w, string name, double[] values)
        {
            w.WriteStartArray(name);
            foreach (var value in values)
                w.WriteNumberValue(value);
            w.WriteEndArray();
        }
    }
}
