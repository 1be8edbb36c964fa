using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Confluent.Kafka;
using Dapper;
using MySql.Data.MySqlClient;
using PoolCluster.Kafka;
using PoolCluster.Node;
using PoolCluster.Testing;
using PoolCluster.Topics;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace PoolCluster.Cluster.Tests;

/// <summary>
/// The whole pool, as a new user gets it: `install/up.sh` (MariaDB, Redis, embedded Kafka, DevNode, six services under
/// supervisord), the Simulator mining real shares over TCP, services killed with SIGKILL mid-run and restarted by
/// supervisord, then the totals: every accepted share once in MySQL, blocks accepted by the node and in found_blocks,
/// StatsHttpd's hashrate close to what was sent, the seeds' Redis keys, every program RUNNING.
/// </summary>
public sealed class WholePoolTests(ITestOutputHelper output)
{
    // DevNode block difficulty ~0.0004: the run accepts ~0.005 of share difficulty, so ~12 blocks are expected and the
    // chance of none (the assertion below) is about e^-12.
    private const string BlockBits = "1e09c3f6";

    [Fact]
    public async Task The_pool_mines_survives_kills_and_every_total_matches()
    {
        using var cluster = new LocalCluster(BlockBits);
        try
        {
            await Run(cluster);
        }
        catch (Exception e)
        {
            output.WriteLine(cluster.UpOutput);
            output.WriteLine(cluster.Logs());
            // Repeated last: a CI excerpt shows the tail of the output, and this is what it needs to show.
            output.WriteLine(cluster.Warnings());
            output.WriteLine($"FAILED: {e.GetType().Name}: {e.Message}");
            throw;
        }
    }

    private async Task Run(LocalCluster cluster)
    {
        var programs = new[] { "mariadb", "redis", "kafka", "devnode", "gbtmaker", "jobmaker", "sserver", "blkmaker", "sharelogger", "statshttpd" };
        AssertAllRunning(cluster, programs);

        using var rpc = new BitcoindRpcClient(new NodeEndpoint
        {
            Name = "devnode", RpcUrl = cluster.Env["NODE_RPC_URL"], RpcUser = cluster.Env["NODE_RPC_USER"], RpcPassword = cluster.Env["NODE_RPC_PASSWORD"],
        });
        var heightBefore = await rpc.GetBlockCountAsync();

        // Mine for a while; kill SServer, ShareLogger and StatsHttpd with SIGKILL along the way.
        var report = Path.Combine(cluster.RunDir, "simulator-report.json");
        var simulator = Task.Run(() => LocalCluster.Run("dotnet", TimeSpan.FromMinutes(3),
            EmbeddedKafkaProcess.FindBuiltAssembly("services/Simulator", "PoolCluster.Simulator"),
            "--host", "127.0.0.1", "--port", cluster.StratumPort.ToString(CultureInfo.InvariantCulture),
            "--miners", "6", "--users", "3", "--user", "e2e", "--worker-prefix", "rig",
            "--password", "d=0.000001", "--hashing", "real", "--rate", "4", "--duration", "45s", "--drain", "10s",
            "--report", report, "--quiet"));
        foreach (var program in new[] { "sserver", "sharelogger", "statshttpd" })
        {
            await Task.Delay(TimeSpan.FromSeconds(8));
            var pid = cluster.Pid(program);
            Assert.True(pid > 0, $"{program} has a pid");
            LocalCluster.Run("kill", TimeSpan.FromSeconds(10), "-9", pid.ToString(CultureInfo.InvariantCulture));
            await WaitUntil(() => cluster.Pid(program) is var p && p > 0 && p != pid, TimeSpan.FromSeconds(60), $"supervisord restarts {program}");
            output.WriteLine($"killed {program} ({pid}); restarted as {cluster.Pid(program)}");
        }
        var (simCode, simOutput) = await simulator;
        output.WriteLine(simOutput);
        Assert.Equal(0, simCode);

        using var reportDoc = JsonDocument.Parse(File.ReadAllText(report));
        var shares = reportDoc.RootElement.GetProperty("shares");
        var accepted = shares.GetProperty("accepted").GetInt64();
        var acceptedDifficulty = shares.GetProperty("acceptedDifficultySum").GetDouble();
        Assert.True(accepted > 50, $"the simulator had shares accepted ({accepted})");

        // Every share SServer published is in MySQL exactly once (ShareLogger was killed mid-run): MySQL equals the
        // Share topic, row for row. Against the miners' view: a share SServer answered but had not yet handed to Kafka
        // when it was SIGKILLed is gone with it (answers never wait for Kafka, by design); the few such are counted.
        await using var db = new MySqlConnection(cluster.MySqlConnectionString);
        await db.OpenAsync();
        var users = (await db.QueryAsync<(int Puid, string Name)>("SELECT puid, name FROM users WHERE name LIKE 'e2e%'")).ToList();
        var userIds = users.Select(u => u.Puid).ToArray();
        var published = CountPublishedAccepted(cluster.Env["KAFKA_BOOTSTRAP"], userIds.ToHashSet());
        (long Count, double Difficulty) stored = default;
        await WaitUntil(async () =>
        {
            stored = await db.QuerySingleAsync<(long, double)>(
                "SELECT COUNT(*), COALESCE(SUM(share_diff), 0) FROM shares WHERE status IN (1, 2) AND user_id IN @userIds", new { userIds });
            return stored.Count >= published.Count;
        }, TimeSpan.FromSeconds(90), $"ShareLogger stores the {published.Count} accepted shares on the topic");
        var unanswered = shares.GetProperty("unanswered").GetInt64();
        output.WriteLine($"simulator: {accepted} accepted (+{unanswered} unanswered), difficulty {acceptedDifficulty}; " +
            $"Share topic: {published.Count}, {published.Difficulty}; MySQL: {stored.Count}, {stored.Difficulty}; " +
            $"answered but lost with the killed SServer: {Math.Max(0, accepted - stored.Count)}");
        Assert.Equal(published.Count, stored.Count);
        Assert.Equal(published.Difficulty, stored.Difficulty, 9);
        Assert.InRange(stored.Count, accepted - Math.Max(5, accepted / 50), accepted + unanswered);
        Assert.Equal(0, await db.QuerySingleAsync<long>(
            "SELECT COUNT(*) FROM (SELECT 1 FROM shares GROUP BY kafka_partition, kafka_offset HAVING COUNT(*) > 1) d"));

        // Blocks were found, the node took them, BlkMaker recorded them.
        var heightAfter = await rpc.GetBlockCountAsync();
        Assert.True(heightAfter > heightBefore, $"blocks found: height {heightBefore} -> {heightAfter}");
        var found = (await db.QueryAsync<(string Hash, int Height, string Status, string Result)>(
            "SELECT hash, height, submit_status, submit_result FROM found_blocks ORDER BY height")).ToList();
        output.WriteLine($"height {heightBefore} -> {heightAfter}; found_blocks {found.Count}: " +
            string.Join(", ", found.GroupBy(b => b.Status).Select(g => $"{g.Count()} {g.Key}")));
        Assert.NotEmpty(found);
        foreach (var block in found)
        {
            // Every block the pool found went to the node, which took it (main chain or, for a block found at a height
            // already taken, a side branch): a rejected or unbuilt block is a lost block.
            Assert.True(block.Status is "accepted" or "side-chain", $"block {block.Hash} at height {block.Height}: {block.Status} ({block.Result})");
            Assert.NotNull(await rpc.GetBlockHeaderAsync(block.Hash));
        }

        // StatsHttpd: each user's accepted difficulty over the last hour matches what the simulator had accepted
        // (so the hashrate over any window is within 10% of what was sent), even though StatsHttpd was killed.
        using var http = new HttpClient { BaseAddress = new Uri(cluster.StatsUrl) };
        var perUser = reportDoc.RootElement.GetProperty("users").EnumerateArray()
            .ToDictionary(u => u.GetProperty("user").GetString()!, u => u.GetProperty("acceptedDifficultySum").GetDouble());
        foreach (var (puid, name) in users)
        {
            double statsAccept = 0;
            await WaitUntil(async () =>
            {
                var json = await http.GetFromJsonAsync<JsonElement>($"api/v1/users/{puid}");
                statsAccept = FindWindow(json, "1h").GetProperty("accept").GetDouble();
                return Math.Abs(statsAccept - perUser[name]) <= 0.1 * perUser[name];
            }, TimeSpan.FromSeconds(60), $"StatsHttpd's 1h accept for {name} within 10% of {perUser[name]}");
            output.WriteLine($"{name}: simulator {perUser[name]}, StatsHttpd 1h {statsAccept}");
        }

        // The seeds' Redis keys.
        using var redis = await ConnectionMultiplexer.ConnectAsync(cluster.Env["REDIS"]);
        var keys = redis.GetServer(cluster.Env["REDIS"]).Keys(pattern: "*").Select(k => (string)k!).ToHashSet();
        foreach (var (_, name) in users)
        {
            Assert.Contains($"btc:s:{name}", keys);
            Assert.Contains($"btc:p:{name}", keys);
        }
        Assert.Contains("btc:m:pow", keys);
        Assert.Contains("btc:m:share", keys);
        await WaitUntil(async () => await redis.GetDatabase().ListLengthAsync("newblock") > 0, TimeSpan.FromSeconds(30), "newblock events in Redis");

        AssertAllRunning(cluster, programs);
    }

    /// <summary>
    /// Accepted shares of these users on the Share topic: every partition read from its beginning up to its end as the
    /// broker reports it (the simulator has stopped), not until a quiet spell, which a loaded machine can fake.
    /// </summary>
    private static (long Count, double Difficulty) CountPublishedAccepted(string bootstrap, HashSet<int> userIds)
    {
        var options = new KafkaOptions { BootstrapServers = bootstrap, ClientId = "e2e-check" };
        using var consumer = new PoolConsumer<int, Share>(options, TopicManifest.Share,
            new ConsumerSettings { GroupId = "e2e-check-" + Guid.NewGuid().ToString("N"), StartFrom = StartFrom.Committed, AutoOffsetReset = AutoOffsetReset.Earliest });
        var partitions = TopicManifest.Load()[TopicManifest.Share].Partitions;
        // SServer hands its last answered shares to Kafka within milliseconds of answering; the ends are taken after.
        Thread.Sleep(TimeSpan.FromSeconds(2));
        var ends = Enumerable.Range(0, partitions).ToDictionary(p => p,
            p => consumer.Inner.QueryWatermarkOffsets(new TopicPartition(consumer.Topic, p), TimeSpan.FromSeconds(10)).High.Value);
        var read = ends.Keys.ToDictionary(p => p, _ => 0L);
        long count = 0;
        double difficulty = 0;
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (read.Any(r => r.Value < ends[r.Key]))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Share topic not read to its end in 90 s: read {string.Join(", ", read.Select(r => $"[{r.Key}] {r.Value}/{ends[r.Key]}"))}");
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is not { Message.Value: { } share } result)
                continue;
            read[result.Partition.Value] = result.Offset.Value + 1;
            if (userIds.Contains(share.UserId) && share.Status is ShareStatus.Accepted or ShareStatus.Solved)
            {
                count++;
                difficulty += share.ShareDifficulty;
            }
        }
        return (count, difficulty);
    }

    private static JsonElement FindWindow(JsonElement user, string window)
    {
        if (user.TryGetProperty("windows", out var windows))
            return windows.GetProperty(window);
        return user.GetProperty("user").GetProperty("windows").GetProperty(window);
    }

    private void AssertAllRunning(LocalCluster cluster, string[] programs)
    {
        var (_, status) = cluster.Supervisorctl("status");
        output.WriteLine(status);
        foreach (var program in programs)
            Assert.Matches($"(?m)^{program}\\s+RUNNING", status);
    }

    private static Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what) => WaitUntil(() => Task.FromResult(condition()), timeout, what);

    private static async Task WaitUntil(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition())
                    return;
            }
            catch (Exception e) when (e is HttpRequestException or MySqlException or KeyNotFoundException or InvalidOperationException or JsonException)
            {
                // The service is restarting or warming up: ask again.
            }
            await Task.Delay(500);
        }
        throw new TimeoutException($"not within {timeout.TotalSeconds} s: {what}");
    }
}
