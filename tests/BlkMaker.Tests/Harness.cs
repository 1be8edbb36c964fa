using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;
using PoolCluster.Kafka;
using PoolCluster.Node;
using PoolCluster.Storage;
using StackExchange.Redis;

namespace PoolCluster.BlkMaker.Tests;

/// <summary>Where a BlkMaker under test writes: its MySQL database and its Redis key prefix and newblock list.</summary>
internal sealed record Sinks(string MySqlConnectionString, RedisOptions Redis, string NewBlockList)
{
    public static Sinks Create(string connectionString, RedisOptions redis) => new(connectionString, redis, $"newblock-{Guid.NewGuid():N}");
}

/// <summary>A BlkMaker engine running on its own thread until stopped.</summary>
internal sealed class RunningBlkMaker : IDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly Thread thread;
    private readonly ConnectionMultiplexer redis;
    private Exception? failure;

    public RunningBlkMaker(BlkMakerOptions options, KafkaOptions kafka, Sinks sinks, MemoryLoggerFactory? logs = null, TimeProvider? time = null)
    {
        Logs = logs ?? new MemoryLoggerFactory();
        options.NewBlockListKey = sinks.NewBlockList;
        redis = RedisConnectionFactory.Connect(sinks.Redis);
        Engine = new BlkMakerEngine(options, kafka, sinks.MySqlConnectionString, redis, sinks.Redis, Logs, time);
        Engine.BlockSent += timing => Sent.Enqueue(timing);
        thread = new Thread(() =>
        {
            try
            {
                Engine.Run(stop.Token);
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "blkmaker under test" };
        thread.Start();
    }

    public static BlkMakerOptions Options(string group, params NodeEndpoint[] nodes) => new()
    {
        ConsumerGroup = group,
        Nodes = [.. nodes],
        TemplateWaitSeconds = 2,
        RetryMinMs = 50,
        RetryMaxMs = 500,
        UnreachableNodeGraceSeconds = 1,
        NodeKeepAliveSeconds = 5,
    };

    public BlkMakerEngine Engine { get; }

    public MemoryLoggerFactory Logs { get; }

    public ConcurrentQueue<BlockSentTiming> Sent { get; } = new();

    public BlkMakerStatus Status => Engine.Status;

    public void WaitForHistory() =>
        Eventually.True(() => Status.HistoryRead, TimeSpan.FromSeconds(30), () => "the history was not read back\n" + Logs.Tail());

    public void WaitForRecorded(int blocks, TimeSpan? timeout = null) =>
        Eventually.True(() => Status.BlocksRecorded >= blocks && Status.PendingBlocks == 0, timeout ?? TimeSpan.FromSeconds(60),
            () => $"{Status.BlocksRecorded} of {blocks} blocks recorded, {Status.PendingBlocks} pending\n{Logs.Tail()}");

    public void Stop()
    {
        if (stop.IsCancellationRequested)
            return;
        stop.Cancel();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "BlkMaker did not stop within 30 s");
        Engine.Dispose();
        redis.Dispose();
        if (Environment.GetEnvironmentVariable("BLKMAKER_TEST_LOGS") is { Length: > 0 } dir)
            File.WriteAllText(Path.Combine(dir, $"blkmaker-{Guid.NewGuid():N}.log"), string.Join('\n', Logs.Lines));
        if (failure != null)
            throw new InvalidOperationException($"BlkMaker failed: {failure}\n{Logs.Tail()}", failure);
    }

    public void Dispose() => Stop();
}

/// <summary>A row of found_blocks as the tests read it.</summary>
internal sealed record FoundBlockRow(
    int Puid, long WorkerId, string WorkerFullName, ulong JobId, int Height, int IsOrphaned, string Hash, long Rewards, int Size, string PrevHash,
    uint Bits, int Version, DateTime? CreatedAt, string SubmitStatus, string SubmitResult, DateTime? SubmittedAt, string? BlockHex)
{
    public static IReadOnlyList<FoundBlockRow> ReadAll(string connectionString)
    {
        using var connection = new MySqlConnection(connectionString);
        connection.Open();
        using var command = new MySqlCommand(
            "SELECT `puid`, `worker_id`, `worker_full_name`, `job_id`, `height`, `is_orphaned`, `hash`, `rewards`, `size`, `prev_hash`, `bits`, " +
            "`version`, `created_at`, `submit_status`, `submit_result`, `submitted_at`, `block_hex` FROM `found_blocks` ORDER BY `id`", connection);
        using var reader = command.ExecuteReader();
        var rows = new List<FoundBlockRow>();
        while (reader.Read())
            rows.Add(new FoundBlockRow(reader.GetInt32(0), reader.GetInt64(1), reader.GetString(2), reader.GetUInt64(3), reader.GetInt32(4),
                reader.GetInt32(5), reader.GetString(6), reader.GetInt64(7), reader.GetInt32(8), reader.GetString(9), reader.GetUInt32(10),
                reader.GetInt32(11), reader.IsDBNull(12) ? null : reader.GetDateTime(12), reader.GetString(13), reader.GetString(14),
                reader.IsDBNull(15) ? null : reader.GetDateTime(15), reader.IsDBNull(16) ? null : reader.GetString(16)));
        return rows;
    }
}

internal static class RedisLists
{
    public static string[] Read(RedisOptions options, string key)
    {
        using var redis = RedisConnectionFactory.Connect(options);
        return redis.GetDatabase(options.Database).ListRange(key).Select(v => (string)v!).ToArray();
    }
}
