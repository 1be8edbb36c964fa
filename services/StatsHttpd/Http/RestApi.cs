using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using MySql.Data.MySqlClient;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Sinks;

namespace PoolCluster.StatsHttpd.Http;

/// <summary>
/// The REST surface under /api/v1 (JSON): status, pool, users, one user, one user's workers, one worker, found blocks.
/// Windows are reported with their difficulty sums, share counts and hashrate (H/s). Errors are {"error": "..."}:
/// 400 for bad parameters, 404 for an unknown user or worker, 503 while warming up or when MySQL is unavailable.
/// </summary>
internal static class RestApi
{
    private const int DefaultLimit = 100;
    private const int MaxLimit = 1000;

    /// <summary>GET /api/v1/status: always answers (also while warming up).</summary>
    public static Task StatusAsync(HttpContext context, StatsApiContext api)
    {
        api.CountRequest();
        var store = api.Store;
        var body = JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            w.WriteString("service", "statshttpd");
            w.WriteBoolean("warm", api.Warmup.IsWarm);
            w.WriteString("started_at", api.StartedAt);
            w.WriteNumber("uptime_seconds", (long)(store.Time.GetUtcNow() - api.StartedAt).TotalSeconds);
            // Every instance reads every partition of the share topic (no consumer group), so it can answer for any user.
            w.WriteString("serves", "all users: every instance reads every partition of the share topic");
            api.WriteWarmup(w);
            w.WriteStartObject("shares");
            w.WriteNumber("applied", store.SharesApplied);
            w.WriteNumber("invalid", store.SharesInvalid);
            w.WriteNumber("from_the_future", store.SharesFromTheFuture);
            w.WriteNumber("buckets_dropped", store.EvictionsDropped);
            w.WriteEndObject();
            w.WriteNumber("users", store.UserCount);
            w.WriteNumber("workers", store.WorkerCount);
            w.WriteStartObject("redis");
            w.WriteBoolean("enabled", api.Redis != null);
            if (api.Redis != null)
            {
                WriteTime(w, "last_success", api.Redis.LastSuccess);
                w.WriteNumber("pending_minutes", api.Redis.PendingMinutes);
                w.WriteNumber("dropped_minutes", api.Redis.DroppedMinutes);
                w.WriteNumber("pending_events", api.RedisEvents?.Count ?? 0);
                w.WriteNumber("dropped_events", api.RedisEvents?.Dropped ?? 0);
            }
            w.WriteEndObject();
            w.WriteStartObject("mysql");
            w.WriteBoolean("enabled", api.MySql != null);
            if (api.MySql != null)
            {
                WriteTime(w, "last_mining_workers_flush", api.MySql.LastMiningWorkersFlush);
                w.WriteNumber("pending_buckets", api.MySql.PendingPeriods);
                w.WriteNumber("dropped_buckets", api.MySql.DroppedPeriods);
            }
            w.WriteEndObject();
            w.WriteEndObject();
        });
        return SendAsync(context, api, StatusCodes.Status200OK, body);
    }

    /// <summary>GET /api/v1/pool</summary>
    public static Task PoolAsync(HttpContext context, StatsApiContext api)
    {
        api.CountRequest();
        if (!api.Warmup.IsWarm)
            return WarmingAsync(context, api);
        var now = api.NowSeconds;
        var snapshot = api.SnapshotOf(api.Store.Pool, now);
        var (connections, byServer) = api.Store.Connections();
        var body = JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("users", api.Store.UserCount);
            w.WriteNumber("workers", api.Store.WorkerCount);
            w.WriteNumber("connections", connections);
            w.WriteStartObject("connections_by_server");
            foreach (var (server, count) in byServer.OrderBy(p => p.Key))
                w.WriteNumber(server.ToString(CultureInfo.InvariantCulture), count);
            w.WriteEndObject();
            WriteStats(w, snapshot);
            w.WriteEndObject();
        });
        return SendAsync(context, api, StatusCodes.Status200OK, body);
    }

    /// <summary>GET /api/v1/users?limit=&amp;offset=: users by id.</summary>
    public static Task UsersAsync(HttpContext context, StatsApiContext api)
    {
        api.CountRequest();
        if (!TryPaging(context, out var limit, out var offset, out var problem))
            return BadRequestAsync(context, api, problem);
        if (!api.Warmup.IsWarm)
            return WarmingAsync(context, api);
        var now = api.NowSeconds;
        var users = api.Store.Users.OrderBy(u => u.UserId).ToList();
        var body = JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("total", users.Count);
            w.WriteNumber("limit", limit);
            w.WriteNumber("offset", offset);
            w.WriteStartArray("users");
            foreach (var user in users.Skip(offset).Take(limit))
            {
                w.WriteStartObject();
                WriteUser(w, api, user, api.SnapshotOf(user, now));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
        return SendAsync(context, api, StatusCodes.Status200OK, body);
    }

    /// <summary>GET /api/v1/users/{userId}</summary>
    public static Task UserAsync(HttpContext context, StatsApiContext api)
    {
        api.CountRequest();
        if (!TryUser(context, api, out var user, out var failure))
            return failure;
        var snapshot = api.SnapshotOf(user, api.NowSeconds);
        var body = JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            WriteUser(w, api, user, snapshot);
            w.WriteEndObject();
        });
        return SendAsync(context, api, StatusCodes.Status200OK, body);
    }

    /// <summary>GET /api/v1/users/{userId}/workers?limit=&amp;offset=: the user's workers by name.</summary>
    public static Task WorkersAsync(HttpContext context, StatsApiContext api)
    {
        api.CountRequest();
        if (!TryPaging(context, out var limit, out var offset, out var problem))
            return BadRequestAsync(context, api, problem);
        if (!TryUser(context, api, out var user, out var failure))
            return failure;
        var now = api.NowSeconds;
        var workers = user.Workers!.Values.OrderBy(w => w.WorkerName, StringComparer.Ordinal).ThenBy(w => w.WorkerId).ToList();
        var body = JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("user_id", user.UserId);
            w.WriteString("user_name", user.UserName);
            w.WriteNumber("total", workers.Count);
            w.WriteNumber("limit", limit);
            w.WriteNumber("offset", offset);
            w.WriteStartArray("workers");
            foreach (var worker in workers.Skip(offset).Take(limit))
            {
                w.WriteStartObject();
                WriteWorker(w, worker, api.SnapshotOf(worker, now));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
        return SendAsync(context, api, StatusCodes.Status200OK, body);
    }

    /// <summary>GET /api/v1/users/{userId}/workers/{workerId}</summary>
    public static Task WorkerAsync(HttpContext context, StatsApiContext api)
    {
        api.CountRequest();
        var workerText = context.Request.RouteValues["workerId"] as string ?? "";
        if (!long.TryParse(workerText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var workerId) || workerId == 0)
            return BadRequestAsync(context, api, $"worker id '{Shorten(workerText)}' is not a non-zero 64-bit integer");
        if (!TryUser(context, api, out var user, out var failure))
            return failure;
        if (!api.Store.TryGetWorker(user.UserId, workerId, out var worker))
            return NotFoundAsync(context, api, $"user {user.UserId} has no worker {workerId}");
        var snapshot = api.SnapshotOf(worker, api.NowSeconds);
        var body = JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            WriteWorker(w, worker, snapshot);
            w.WriteEndObject();
        });
        return SendAsync(context, api, StatusCodes.Status200OK, body);
    }

    /// <summary>GET /api/v1/blocks?limit=&amp;offset=&amp;user_id=: found_blocks from MySQL, newest first.</summary>
    public static async Task BlocksAsync(HttpContext context, StatsApiContext api)
    {
        api.CountRequest();
        if (!TryPaging(context, out var limit, out var offset, out var problem))
        {
            await BadRequestAsync(context, api, problem).ConfigureAwait(false);
            return;
        }
        int? userId = null;
        if (context.Request.Query.TryGetValue("user_id", out var userValues))
        {
            var text = userValues.ToString();
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed <= 0)
            {
                await BadRequestAsync(context, api, $"user_id '{Shorten(text)}' is not a positive 32-bit integer").ConfigureAwait(false);
                return;
            }
            userId = parsed;
        }
        if (api.Blocks == null)
        {
            await SendAsync(context, api, StatusCodes.Status503ServiceUnavailable,
                Error("found blocks come from MySQL, which this instance does not use (StatsHttpd:MySql:Enabled is false)")).ConfigureAwait(false);
            return;
        }
        IReadOnlyList<FoundBlock> blocks;
        try
        {
            blocks = await api.Blocks.ReadAsync(limit, offset, userId, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is MySqlException or InvalidOperationException or TimeoutException)
        {
            await SendAsync(context, api, StatusCodes.Status503ServiceUnavailable, Error($"MySQL is unavailable: {e.Message}")).ConfigureAwait(false);
            return;
        }
        var body = JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("limit", limit);
            w.WriteNumber("offset", offset);
            w.WriteStartArray("blocks");
            foreach (var block in blocks)
            {
                w.WriteStartObject();
                w.WriteNumber("height", block.Height);
                w.WriteString("hash", block.Hash);
                w.WriteString("prev_hash", block.PrevHash);
                w.WriteNumber("user_id", block.Puid);
                w.WriteNumber("worker_id", block.WorkerId);
                w.WriteString("worker_full_name", block.WorkerFullName);
                w.WriteNumber("job_id", block.JobId);
                w.WriteBoolean("is_orphaned", block.IsOrphaned);
                w.WriteNumber("rewards", block.Rewards);
                w.WriteNumber("size", block.Size);
                w.WriteNumber("bits", block.Bits);
                w.WriteNumber("version", block.Version);
                if (block.CreatedAt is { } created)
                    w.WriteString("created_at", new DateTimeOffset(created, TimeSpan.Zero));
                else
                    w.WriteNull("created_at");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
        await SendAsync(context, api, StatusCodes.Status200OK, body).ConfigureAwait(false);
    }

    private static bool TryUser(HttpContext context, StatsApiContext api, out ShareStats user, out Task failure)
    {
        user = null!;
        var text = context.Request.RouteValues["userId"] as string ?? "";
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var userId) || userId <= 0)
        {
            failure = BadRequestAsync(context, api, $"user id '{Shorten(text)}' is not a positive 32-bit integer");
            return false;
        }
        if (!api.Warmup.IsWarm)
        {
            failure = WarmingAsync(context, api);
            return false;
        }
        if (!api.Store.TryGetUser(userId, out user))
        {
            failure = NotFoundAsync(context, api, $"unknown user {userId}: no share or connection in the last {api.Options.ExpireIdleHours} hours");
            return false;
        }
        failure = Task.CompletedTask;
        return true;
    }

    private static bool TryPaging(HttpContext context, out int limit, out int offset, out string problem)
    {
        limit = DefaultLimit;
        offset = 0;
        problem = "";
        var query = context.Request.Query;
        if (query.TryGetValue("limit", out var limitValues))
        {
            var text = limitValues.ToString();
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > MaxLimit)
            {
                problem = $"limit '{Shorten(text)}' is not an integer from 1 to {MaxLimit}";
                return false;
            }
        }
        if (query.TryGetValue("offset", out var offsetValues))
        {
            var text = offsetValues.ToString();
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out offset))
            {
                problem = $"offset '{Shorten(text)}' is not a non-negative 32-bit integer";
                return false;
            }
        }
        return true;
    }

    private static void WriteUser(Utf8JsonWriter w, StatsApiContext api, ShareStats user, EntitySnapshot snapshot)
    {
        w.WriteNumber("user_id", user.UserId);
        w.WriteString("user_name", user.UserName);
        var workers = user.Workers!.Values.ToList();
        w.WriteNumber("workers", workers.Count);
        var online = 0;
        foreach (var worker in workers)
        {
            lock (worker.Gate)
                online += worker.OnlineSessions > 0 ? 1 : 0;
        }
        w.WriteNumber("online_workers", online);
        WriteStats(w, snapshot);
    }

    private static void WriteWorker(Utf8JsonWriter w, ShareStats worker, EntitySnapshot snapshot)
    {
        w.WriteNumber("user_id", worker.UserId);
        w.WriteString("user_name", worker.UserName);
        w.WriteNumber("worker_id", worker.WorkerId);
        w.WriteString("worker_name", snapshot.WorkerName);
        w.WriteBoolean("online", snapshot.OnlineSessions > 0);
        w.WriteNumber("sessions", snapshot.OnlineSessions);
        if (snapshot.MinerAgent != null)
            w.WriteString("miner_agent", snapshot.MinerAgent);
        else
            w.WriteNull("miner_agent");
        WriteStats(w, snapshot);
    }

    /// <summary>windows {1m, 5m, 15m, 1h, 1d}, reject_reasons, accept_count_1d, last share.</summary>
    private static void WriteStats(Utf8JsonWriter w, EntitySnapshot snapshot)
    {
        w.WriteStartObject("windows");
        foreach (var window in StatsWindows.All)
        {
            var totals = snapshot[window];
            w.WriteStartObject(window.Label());
            w.WriteNumber("seconds", window.Seconds());
            w.WriteNumber("hashrate", window.Hashrate(totals.Accept));
            w.WriteNumber("accept", totals.Accept);
            w.WriteNumber("stale", totals.Stale);
            w.WriteNumber("reject", totals.Reject);
            w.WriteNumber("accept_count", totals.AcceptCount);
            if (window != StatsWindow.OneMinute)
            {
                w.WriteNumber("stale_count", totals.StaleCount);
                w.WriteNumber("reject_count", totals.RejectCount);
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteStartObject("reject_reasons");
        foreach (var window in StatsWindows.All)
        {
            if (window == StatsWindow.OneMinute)
                continue;
            w.WriteStartObject(window.Label());
            var reasons = snapshot.ReasonsOf(window);
            for (var i = 0; i < reasons.Length; i++)
                if (reasons[i] != 0)
                    w.WriteNumber(RejectReasons.Name(i), reasons[i]);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteNumber("accept_count_1d", snapshot.AcceptCountDay);
        if (snapshot.LastShareMs > 0)
        {
            w.WriteNumber("last_share_time", snapshot.LastShareMs / 1000);
            w.WriteString("last_share_ip", snapshot.LastShareIp);
        }
        else
        {
            w.WriteNull("last_share_time");
            w.WriteNull("last_share_ip");
        }
    }

    private static void WriteTime(Utf8JsonWriter w, string name, DateTimeOffset? time)
    {
        if (time is { } value)
            w.WriteString(name, value);
        else
            w.WriteNull(name);
    }

    private static Task WarmingAsync(HttpContext context, StatsApiContext api)
    {
        context.Response.Headers.RetryAfter = "5";
        return SendAsync(context, api, StatusCodes.Status503ServiceUnavailable, JsonResponse.Build(w =>
        {
            w.WriteStartObject();
            w.WriteString("error", "warming up: replaying the last day of shares before serving windows");
            api.WriteWarmup(w);
            w.WriteEndObject();
        }));
    }

    private static Task BadRequestAsync(HttpContext context, StatsApiContext api, string message) =>
        SendAsync(context, api, StatusCodes.Status400BadRequest, Error(message));

    private static Task NotFoundAsync(HttpContext context, StatsApiContext api, string message) =>
        SendAsync(context, api, StatusCodes.Status404NotFound, Error(message));

    private static byte[] Error(string message) => JsonResponse.Build(w =>
    {
        w.WriteStartObject();
        w.WriteString("error", message);
        w.WriteEndObject();
    });

    private static async Task SendAsync(HttpContext context, StatsApiContext api, int status, byte[] body) =>
        api.CountBytes(await JsonResponse.SendAsync(context, status, body).ConfigureAwait(false));

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
