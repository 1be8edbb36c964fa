using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using MySql.Data.MySqlClient;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Http;
using PoolCluster.StatsHttpd.Ingest;
using PoolCluster.StatsHttpd.Sinks;
using PoolCluster.Storage;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.StatsHttpd.Tests;

/// <summary>The HTTP API over real sockets (Kestrel on 127.0.0.1, port 0), on a store filled with a known stream.</summary>
public sealed class ApiTests(MariaDbFixture mariaDb) : IClassFixture<MariaDbFixture>, IAsyncLifetime
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-03-14T15:09:26.5Z");
    private readonly List<ApiServer> servers = [];
    private readonly List<Share> shares = ShareStreams.Known(Now, TimeSpan.FromHours(26), 8000, seed: 21);
    private ReferenceStats reference = null!;
    private ApiServer server = null!;

    /// <summary>A StatsHttpServer over a store; <see cref="Client"/> talks to it.</summary>
    internal sealed class ApiServer : IAsyncDisposable
    {
        private readonly StatsHttpServer http;

        public ApiServer(StatsStore store, WarmupState warmup, StatsHttpdOptions? options = null, FoundBlocksReader? blocks = null)
        {
            Store = store;
            Warmup = warmup;
            options ??= new StatsHttpdOptions { MaxWorkerIdsPerRequest = 50 };
            options.Url = "http://127.0.0.1:0";
            http = new StatsHttpServer(new StatsApiContext(store, warmup, options, null, null, null, blocks), NullLoggerFactory.Instance);
        }

        public StatsStore Store { get; }
        public WarmupState Warmup { get; }
        public HttpClient Client { get; private set; } = null!;

        public async Task StartAsync()
        {
            await http.StartAsync(CancellationToken.None);
            Client = new HttpClient { BaseAddress = http.Address, Timeout = TimeSpan.FromSeconds(10) };
        }

        public async ValueTask DisposeAsync()
        {
            Client?.Dispose();
            await http.StopAsync(CancellationToken.None);
            await http.DisposeAsync();
        }
    }

    public async Task InitializeAsync()
    {
        reference = new ReferenceStats(shares);
        server = await StartAsync(warm: true, fill: true);
    }

    public async Task DisposeAsync()
    {
        foreach (var s in servers)
            await s.DisposeAsync();
    }

    private async Task<ApiServer> StartAsync(bool warm, bool fill, FoundBlocksReader? blocks = null)
    {
        var clock = new ManualClock(Now);
        var store = new StatsStore(new StatsStoreSettings { TrackMinutesForRedis = false, TrackPeriodsForMySql = false }, clock);
        if (fill)
            foreach (var share in shares)
                store.Apply(share);
        var warmup = new WarmupState(clock);
        if (warm)
        {
            warmup.Shares.MarkCaughtUp();
            warmup.WorkerEvents.MarkCaughtUp();
        }
        var started = new ApiServer(store, warmup, blocks: blocks);
        await started.StartAsync();
        servers.Add(started);
        return started;
    }

    private static async Task<(HttpStatusCode Status, JsonElement Json, string ContentType)> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), response.Content.Headers.ContentType?.MediaType ?? "");
    }

    private static double[] Numbers(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetDouble())];

    private static readonly StatsWindow[] CompatWindows =
        [StatsWindow.OneMinute, StatsWindow.FiveMinutes, StatsWindow.FifteenMinutes, StatsWindow.OneHour];

    private string ExpectedDetail(string entity, StatsWindow window) =>
        MySqlStatsWriter.RejectDetailJson(reference.Reasons(entity, window, Now.ToUnixTimeSeconds()));

    private void AssertCompatStatus(string entity, JsonElement status)
    {
        var now = Now.ToUnixTimeSeconds();
        Assert.Equal(CompatWindows.Select(w => reference.Totals(entity, w, now).Accept), Numbers(status.GetProperty("accept")));
        Assert.Equal(CompatWindows.Select(w => reference.Totals(entity, w, now).Stale), Numbers(status.GetProperty("stale")));
        Assert.Equal(CompatWindows.Select(w => reference.Totals(entity, w, now).Reject), Numbers(status.GetProperty("reject")));
        Assert.Equal(CompatWindows.Select(w => ExpectedDetail(entity, w)),
            status.GetProperty("reject_detail").EnumerateArray().Select(e => e.GetRawText()));
        Assert.Equal(reference.AcceptCountDay(entity, now), status.GetProperty("accept_count").GetInt64());
    }

    [Fact]
    public async Task Root_is_btcpools_pool_summary()
    {
        var (status, json, contentType) = await GetAsync(server.Client, "/");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("text/json", contentType);
        Assert.Equal(["err_no", "err_msg", "data"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(0, json.GetProperty("err_no").GetInt32());
        Assert.Equal("", json.GetProperty("err_msg").GetString());
        var data = json.GetProperty("data");
        Assert.Equal(["uptime", "request", "repbytes", "pool"], data.EnumerateObject().Select(p => p.Name));
        Assert.Matches(new Regex(@"^\d{4} d \d{2} h \d{2} m \d{2} s$"), data.GetProperty("uptime").GetString()!);
        var pool = data.GetProperty("pool");
        Assert.Equal(["accept", "stale", "reject", "reject_detail", "accept_count", "workers", "users"], pool.EnumerateObject().Select(p => p.Name));
        AssertCompatStatus(ReferenceStats.Pool, pool);
        Assert.Equal(shares.DistinctBy(s => (s.UserId, s.WorkerId)).Count(), pool.GetProperty("workers").GetInt32());
        Assert.Equal(shares.DistinctBy(s => s.UserId).Count(), pool.GetProperty("users").GetInt32());
        Assert.True(pool.GetProperty("accept")[2].GetDouble() > 0);
    }

    [Fact]
    public async Task Worker_status_answers_per_worker_per_user_and_merged_by_get_and_post()
    {
        var user = shares[0].UserId;
        var workers = shares.Where(s => s.UserId == user).Select(s => s.WorkerId).Distinct().Order().ToList();
        var (status, json, _) = await GetAsync(server.Client, $"/worker_status?user_id={user}&worker_id={string.Join(',', workers)},0,12345");
        Assert.Equal(HttpStatusCode.OK, status);
        var data = json.GetProperty("data");
        Assert.Equal([.. workers.Select(w => w.ToString(CultureInfo.InvariantCulture)), "0", "12345"], data.EnumerateObject().Select(p => p.Name));
        foreach (var worker in workers)
        {
            var entry = data.GetProperty(worker.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(["accept", "stale", "reject", "reject_detail", "accept_count", "last_share_ip", "last_share_time"],
                entry.EnumerateObject().Select(p => p.Name));
            AssertCompatStatus(ReferenceStats.Worker(user, worker), entry);
            var (lastMs, lastIp) = reference.LastShare(ReferenceStats.Worker(user, worker));
            Assert.Equal(lastIp, entry.GetProperty("last_share_ip").GetString());
            Assert.Equal(lastMs / 1000, entry.GetProperty("last_share_time").GetInt64());
        }
        var whole = data.GetProperty("0");
        AssertCompatStatus(ReferenceStats.User(user), whole);
        Assert.Equal(workers.Count, whole.GetProperty("workers").GetInt32());
        // A worker the user does not have: zeros, as btcpool.
        var unknown = data.GetProperty("12345");
        Assert.All(Numbers(unknown.GetProperty("accept")), v => Assert.Equal(0, v));
        Assert.Equal("0.0.0.0", unknown.GetProperty("last_share_ip").GetString());

        // Merged: one entry "0", the sum of the listed workers.
        using var post = await server.Client.PostAsync("/worker_status",
            new StringContent($"user_id={user}&worker_id={string.Join(',', workers)}&is_merge=T", Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        var merged = JsonDocument.Parse(await post.Content.ReadAsStringAsync()).RootElement.GetProperty("data");
        Assert.Equal(["0"], merged.EnumerateObject().Select(p => p.Name));
        // The workers of a user partition its shares, so their merge is the user's status.
        AssertCompatStatus(ReferenceStats.User(user), merged.GetProperty("0"));
        Assert.False(merged.GetProperty("0").TryGetProperty("workers", out _));
    }

    [Fact]
    public async Task Flush_db_time_has_btcpools_shape()
    {
        var (status, json, _) = await GetAsync(server.Client, "/flush_db_time");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"err_no":0,"err_msg":"","data":{"flush_db_time":0}}""", json.GetRawText());
    }

    [Fact]
    public async Task While_warming_up_btcpool_endpoints_say_initializing_and_rest_answers_503()
    {
        var warming = await StartAsync(warm: false, fill: false);
        foreach (var path in new[] { "/", "/worker_status?user_id=1&worker_id=0", "/flush_db_time" })
        {
            var (status, json, _) = await GetAsync(warming.Client, path);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("""{"err_no":2,"err_msg":"service is initializing..."}""", json.GetRawText());
        }
        foreach (var path in new[] { "/api/v1/pool", "/api/v1/users", "/api/v1/users/1", "/api/v1/users/1/workers", "/api/v1/users/1/workers/5" })
        {
            using var response = await warming.Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("5", response.Headers.GetValues("Retry-After").Single());
            var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.StartsWith("warming up", json.GetProperty("error").GetString());
            Assert.False(json.GetProperty("warmup").GetProperty("warm").GetBoolean());
        }
        var (statusCode, statusJson, _) = await GetAsync(warming.Client, "/api/v1/status");
        Assert.Equal(HttpStatusCode.OK, statusCode);
        Assert.False(statusJson.GetProperty("warm").GetBoolean());

        warming.Warmup.Shares.MarkCaughtUp();
        warming.Warmup.WorkerEvents.MarkCaughtUp();
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(warming.Client, "/api/v1/pool")).Status);
    }

    [Theory]
    [InlineData("/worker_status", "user_id is missing")]
    [InlineData("/worker_status?worker_id=1", "user_id is missing")]
    [InlineData("/worker_status?user_id=abc&worker_id=1", "user_id 'abc' is not a positive 32-bit integer")]
    [InlineData("/worker_status?user_id=-3&worker_id=1", "user_id '-3' is not a positive 32-bit integer")]
    [InlineData("/worker_status?user_id=99999999999&worker_id=1", "user_id '99999999999' is not a positive 32-bit integer")]
    [InlineData("/worker_status?user_id=101", "worker_id is missing (a comma-separated list of worker ids; 0 for the user as a whole)")]
    [InlineData("/worker_status?user_id=101&worker_id=1,x", "worker_id 'x' is not a 64-bit integer")]
    [InlineData("/worker_status?user_id=101&worker_id=1,,2", "worker_id '' is not a 64-bit integer")]
    [InlineData("/worker_status?user_id=101&worker_id=1&is_merge=maybe", "is_merge 'maybe' is not T or F")]
    [InlineData("/worker_status?user_id=101&user_id=102&worker_id=1", "user_id is given more than once")]
    public async Task Bad_worker_status_arguments_are_400_with_btcpools_envelope(string path, string message)
    {
        var (status, json, _) = await GetAsync(server.Client, path);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(1, json.GetProperty("err_no").GetInt32());
        Assert.Equal("invalid args: " + message, json.GetProperty("err_msg").GetString());
    }

    [Fact]
    public async Task Too_many_worker_ids_are_refused()
    {
        var ids = string.Join(',', Enumerable.Range(1, 51));
        var (status, json, _) = await GetAsync(server.Client, $"/worker_status?user_id=101&worker_id={ids}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid args: worker_id lists more than 50 workers", json.GetProperty("err_msg").GetString());
    }

    [Fact]
    public async Task Unknown_users_and_workers_are_404()
    {
        var (status, json, _) = await GetAsync(server.Client, "/worker_status?user_id=424242&worker_id=0");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal(3, json.GetProperty("err_no").GetInt32());
        Assert.StartsWith("unknown user 424242", json.GetProperty("err_msg").GetString());
        foreach (var path in new[] { "/api/v1/users/424242", "/api/v1/users/424242/workers", "/api/v1/users/424242/workers/7", $"/api/v1/users/{shares[0].UserId}/workers/7" })
        {
            var (restStatus, restJson, contentType) = await GetAsync(server.Client, path);
            Assert.Equal(HttpStatusCode.NotFound, restStatus);
            Assert.Equal("application/json", contentType);
            Assert.False(string.IsNullOrEmpty(restJson.GetProperty("error").GetString()));
        }
    }

    [Theory]
    [InlineData("/api/v1/users/abc", "user id 'abc' is not a positive 32-bit integer")]
    [InlineData("/api/v1/users/0", "user id '0' is not a positive 32-bit integer")]
    [InlineData("/api/v1/users/101/workers/xyz", "worker id 'xyz' is not a non-zero 64-bit integer")]
    [InlineData("/api/v1/users/101/workers/0", "worker id '0' is not a non-zero 64-bit integer")]
    [InlineData("/api/v1/users?limit=0", "limit '0' is not an integer from 1 to 1000")]
    [InlineData("/api/v1/users?limit=5000", "limit '5000' is not an integer from 1 to 1000")]
    [InlineData("/api/v1/users?offset=-1", "offset '-1' is not a non-negative 32-bit integer")]
    [InlineData("/api/v1/users/101/workers?limit=x", "limit 'x' is not an integer from 1 to 1000")]
    [InlineData("/api/v1/blocks?user_id=x", "user_id 'x' is not a positive 32-bit integer")]
    public async Task Bad_rest_parameters_are_400_with_a_message(string path, string message)
    {
        var (status, json, _) = await GetAsync(server.Client, path);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(message, json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Rest_pool_users_workers_report_every_window_with_hashrate()
    {
        var now = Now.ToUnixTimeSeconds();
        void AssertStats(string entity, JsonElement json)
        {
            var windows = json.GetProperty("windows");
            Assert.Equal(["1m", "5m", "15m", "1h", "1d"], windows.EnumerateObject().Select(p => p.Name));
            foreach (var window in StatsWindows.All)
            {
                var w = windows.GetProperty(window.Label());
                var expected = reference.Totals(entity, window, now);
                Assert.Equal(window.Seconds(), w.GetProperty("seconds").GetInt32());
                Assert.Equal(expected.Accept, w.GetProperty("accept").GetDouble());
                Assert.Equal(expected.Stale, w.GetProperty("stale").GetDouble());
                Assert.Equal(expected.Reject, w.GetProperty("reject").GetDouble());
                Assert.Equal(expected.AcceptCount, w.GetProperty("accept_count").GetInt64());
                Assert.Equal(expected.Accept * 4294967296.0 / window.Seconds(), w.GetProperty("hashrate").GetDouble(), 6);
                if (window != StatsWindow.OneMinute)
                    Assert.Equal(expected.RejectCount, w.GetProperty("reject_count").GetInt64());
            }
            var reasons = json.GetProperty("reject_reasons").GetProperty("1h");
            var expectedReasons = reference.Reasons(entity, StatsWindow.OneHour, now);
            Assert.Equal(expectedReasons.Count(r => r != 0), reasons.EnumerateObject().Count());
            foreach (var reason in reasons.EnumerateObject())
                Assert.Equal(expectedReasons[Enumerable.Range(0, RejectReasons.Count).Single(i => RejectReasons.Name(i) == reason.Name)], reason.Value.GetDouble());
        }

        var (status, pool, _) = await GetAsync(server.Client, "/api/v1/pool");
        Assert.Equal(HttpStatusCode.OK, status);
        AssertStats(ReferenceStats.Pool, pool);

        var (_, users, _) = await GetAsync(server.Client, "/api/v1/users?limit=2&offset=1");
        var userIds = shares.Select(s => s.UserId).Distinct().Order().ToList();
        Assert.Equal(userIds.Count, users.GetProperty("total").GetInt32());
        Assert.Equal(userIds.Skip(1).Take(2), users.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("user_id").GetInt32()));

        var userId = userIds[0];
        var (_, user, _) = await GetAsync(server.Client, $"/api/v1/users/{userId}");
        Assert.Equal($"user{userId}", user.GetProperty("user_name").GetString());
        AssertStats(ReferenceStats.User(userId), user);

        var (_, workers, _) = await GetAsync(server.Client, $"/api/v1/users/{userId}/workers");
        var workerIds = shares.Where(s => s.UserId == userId).Select(s => s.WorkerId).Distinct().ToList();
        Assert.Equal(workerIds.Count, workers.GetProperty("total").GetInt32());
        foreach (var worker in workers.GetProperty("workers").EnumerateArray())
            AssertStats(ReferenceStats.Worker(userId, worker.GetProperty("worker_id").GetInt64()), worker);

        var (workerStatus, one, _) = await GetAsync(server.Client, $"/api/v1/users/{userId}/workers/{workerIds[0]}");
        Assert.Equal(HttpStatusCode.OK, workerStatus);
        Assert.Equal(ShareStreams.WorkerName(workerIds[0]), one.GetProperty("worker_name").GetString());
        Assert.False(one.GetProperty("online").GetBoolean());
        AssertStats(ReferenceStats.Worker(userId, workerIds[0]), one);
    }

    [Fact]
    public async Task Blocks_come_from_found_blocks_newest_first_and_503_without_mysql()
    {
        var (noMySqlStatus, noMySql, _) = await GetAsync(server.Client, "/api/v1/blocks");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, noMySqlStatus);
        Assert.Contains("StatsHttpd:MySql:Enabled", noMySql.GetProperty("error").GetString());

        var database = await mariaDb.CreateMigratedDatabaseAsync("blocks");
        await using (var connection = mariaDb.OpenConnection(database))
        {
            await using var insert = new MySqlCommand(
                """
                INSERT INTO found_blocks (puid, worker_id, worker_full_name, job_id, height, hash, rewards, size, prev_hash, bits, version, created_at)
                VALUES (101, -7, 'user101.rig7', 42, 800000, REPEAT('a', 64), 312500000, 1000, REPEAT('b', 64), 386089497, 536870912, '2026-03-14 12:00:00'),
                       (102, 9, 'user102.rig9', 43, 800001, REPEAT('c', 64), 312512345, 2000, REPEAT('a', 64), 386089497, 536870912, '2026-03-14 12:10:00')
                """, connection);
            await insert.ExecuteNonQueryAsync();
        }
        var withMySql = await StartAsync(warm: true, fill: false, new FoundBlocksReader(new MySqlConnectionFactory(mariaDb.OptionsFor(database))));
        var (status, json, _) = await GetAsync(withMySql.Client, "/api/v1/blocks");
        Assert.Equal(HttpStatusCode.OK, status);
        var blocks = json.GetProperty("blocks").EnumerateArray().ToList();
        Assert.Equal([800001, 800000], blocks.Select(b => b.GetProperty("height").GetInt32()));
        Assert.Equal(new string('c', 64), blocks[0].GetProperty("hash").GetString());
        Assert.Equal(-7, blocks[1].GetProperty("worker_id").GetInt64());
        Assert.Equal("2026-03-14T12:00:00+00:00", blocks[1].GetProperty("created_at").GetString());
        var (_, mine, _) = await GetAsync(withMySql.Client, "/api/v1/blocks?user_id=101&limit=5");
        Assert.Equal([800000], mine.GetProperty("blocks").EnumerateArray().Select(b => b.GetProperty("height").GetInt32()));

        // MySQL unreachable: 503 with the reason, not a 500.
        var unreachable = new MySqlOptions { Host = "127.0.0.1", Port = 1, User = "pool", Database = "none", ConnectTimeoutSeconds = 1 };
        var down = await StartAsync(warm: true, fill: false, new FoundBlocksReader(new MySqlConnectionFactory(unreachable)));
        var (downStatus, downJson, _) = await GetAsync(down.Client, "/api/v1/blocks");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, downStatus);
        Assert.StartsWith("MySQL is unavailable", downJson.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Fuzzed_parameters_and_paths_never_get_a_500()
    {
        var random = new Random(1234);
        string RandomText()
        {
            var length = random.Next(0, random.Next(2) == 0 ? 8 : 300);
            var chars = new char[length];
            const string alphabet = "0123456789-+,.;:=&?/%#xXtTfF \t\u00e9\u4e2d\u0000'\"\\<>{}[]";
            for (var i = 0; i < length; i++)
                chars[i] = random.Next(4) == 0 ? (char)random.Next(1, 0xD7FF) : alphabet[random.Next(alphabet.Length)];
            return new string(chars);
        }
        string[] numbers = ["0", "-1", "1", "101", "2147483647", "2147483648", "9223372036854775807", "9223372036854775808", "1e3", " 7", "0x10", "", "٣"];
        string Value() => random.Next(3) == 0 ? numbers[random.Next(numbers.Length)] : RandomText();

        var paths = new List<string>();
        for (var i = 0; i < 400; i++)
        {
            var query = string.Join('&', Enumerable.Range(0, random.Next(0, 5)).Select(_ =>
                $"{new[] { "user_id", "worker_id", "is_merge", "limit", "offset", "x" }[random.Next(6)]}={Uri.EscapeDataString(Value())}"));
            var segment = Uri.EscapeDataString(Value());
            if (segment.Length == 0)
                segment = "e"; // "//x" would be read as a host, not a path
            paths.Add(random.Next(8) switch
            {
                0 => "/?" + query,
                1 => "/worker_status?" + query,
                2 => "/flush_db_time?" + query,
                3 => $"/api/v1/users/{segment}?" + query,
                4 => $"/api/v1/users/{segment}/workers?" + query,
                5 => $"/api/v1/users/{Uri.EscapeDataString(numbers[random.Next(numbers.Length)])}/workers/{segment}",
                6 => "/api/v1/users?" + query,
                _ => $"/{segment}/{segment}?{query}",
            });
        }
        paths.AddRange(["/worker_status?user_id=%zz&worker_id=%", "/api/v1/users/%2F", "/api/v1/users/101/workers/%00", "/worker_status?" + new string('a', 8000)]);

        foreach (var path in paths)
        {
            using var get = await server.Client.GetAsync(path);
            Assert.True((int)get.StatusCode < 500, $"GET {path} -> {(int)get.StatusCode}: {await get.Content.ReadAsStringAsync()}");
            using var post = await server.Client.PostAsync(path, new StringContent(Value(), Encoding.UTF8, "application/x-www-form-urlencoded"));
            Assert.True((int)post.StatusCode < 500, $"POST {path} -> {(int)post.StatusCode}: {await post.Content.ReadAsStringAsync()}");
        }
        using var huge = await server.Client.PostAsync("/worker_status", new StringContent("user_id=1&worker_id=" + new string('1', 70_000)));
        Assert.Equal(HttpStatusCode.BadRequest, huge.StatusCode);
    }
}
