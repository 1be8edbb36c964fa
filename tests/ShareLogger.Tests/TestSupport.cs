using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;
using PoolCluster.Kafka;
using PoolCluster.Topics;

namespace PoolCluster.ShareLogger.Tests;

/// <summary>What the test produced to the share topic, as the broker acknowledged it.</summary>
internal sealed class ProducedShares
{
    private readonly ConcurrentDictionary<(int Partition, long Offset), double> delivered = new();
    private long failures;

    public int Count => delivered.Count;

    public long Failures => Interlocked.Read(ref failures);

    public double DifficultySum => delivered.Values.Sum();

    public IReadOnlyDictionary<int, long> CountPerPartition =>
        delivered.Keys.GroupBy(k => k.Partition).ToDictionary(g => g.Key, g => (long)g.Count());

    public void Record(DeliveryResultInfo result)
    {
        if (result.Error != null)
            Interlocked.Increment(ref failures);
        else
            delivered[(result.Partition, result.Offset)] = result.Difficulty;
    }
}

internal readonly record struct DeliveryResultInfo(int Partition, long Offset, double Difficulty, string? Error);

/// <summary>Realistic shares with integer difficulties, so sums compare exactly.</summary>
internal static class Shares
{
    public static Share Make(long i, Random random) => new()
    {
        UserId = 1 + (int)(i % 97),
        WorkerId = 1_000 + i % 1_000,
        UserName = $"user{i % 97}",
        WorkerName = $"rig{i % 13}",
        Ip = $"10.0.{i % 200}.{i % 250}",
        ServerId = 1,
        SessionId = (ulong)i,
        JobId = 7_000_000_000UL + (ulong)(i / 1000),
        ShareDifficulty = random.Next(1, 4097),
        NetworkDifficulty = 1.2e12,
        Status = i % 50 == 0 ? ShareStatus.LowDifficulty : ShareStatus.Accepted,
        Height = 800_000,
        TimestampUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        Nonce = (uint)random.Next(),
        Ntime = 1_700_000_000,
        Extranonce1 = ByteString.CopyFrom(BitConverter.GetBytes((uint)i)),
        Extranonce2 = ByteString.CopyFrom(BitConverter.GetBytes(i)),
        BlockHash = ByteString.CopyFrom(Guid.NewGuid().ToByteArray().Concat(Guid.NewGuid().ToByteArray()).ToArray()),
    };

    /// <summary>
    /// Produces <paramref name="count"/> shares at about <paramref name="perSecond"/> (0: as fast as possible), keyed by
    /// user id like SServer; waits for every acknowledgement.
    /// </summary>
    public static ProducedShares Produce(KafkaOptions kafka, int count, int perSecond = 0, ProducedShares? into = null, int seed = 1,
        CancellationToken cancellationToken = default)
    {
        var produced = into ?? new ProducedShares();
        var random = new Random(seed);
        using var producer = new PoolProducer<int, Share>(kafka, TopicManifest.Share);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count && !cancellationToken.IsCancellationRequested; i++)
        {
            var share = Make(i + (long)seed * 100_000_000, random);
            var difficulty = share.ShareDifficulty;
            producer.Produce(share.UserId, share, report => produced.Record(new DeliveryResultInfo(
                report.Partition.Value, report.Offset.Value, difficulty, report.Error.IsError ? report.Error.Reason : null)));
            if (perSecond > 0 && i % 500 == 499)
            {
                var due = TimeSpan.FromSeconds((i + 1) / (double)perSecond);
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                    Thread.Sleep(wait);
            }
        }
        if (producer.Flush(TimeSpan.FromSeconds(60)) != 0)
            Assert.Fail("the test producer could not deliver every share");
        return produced;
    }
}

/// <summary>What `shares` and kafka_positions hold, for exactly-once checks.</summary>
internal sealed record TableContents(long Rows, double DifficultySum, long DistinctPositions, IReadOnlyDictionary<int, (long Min, long Max, long Rows)> Partitions,
    IReadOnlyDictionary<int, long> StoredPositions)
{
    public static TableContents Read(string connectionString, string group)
    {
        using var connection = new MySqlConnection(connectionString);
        connection.Open();
        using var totals = new MySqlCommand(
            "SELECT COUNT(*), COALESCE(SUM(`share_diff`), 0), COUNT(DISTINCT `kafka_partition`, `kafka_offset`) FROM `shares`", connection);
        long rows, distinct;
        double sum;
        using (var reader = totals.ExecuteReader())
        {
            reader.Read();
            rows = reader.GetInt64(0);
            sum = reader.GetDouble(1);
            distinct = reader.GetInt64(2);
        }
        var partitions = new Dictionary<int, (long, long, long)>();
        using (var perPartition = new MySqlCommand(
                   "SELECT `kafka_partition`, MIN(`kafka_offset`), MAX(`kafka_offset`), COUNT(*) FROM `shares` GROUP BY `kafka_partition`", connection))
        using (var reader = perPartition.ExecuteReader())
            while (reader.Read())
                partitions[reader.GetInt32(0)] = (reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        var positions = new Dictionary<int, long>();
        using (var stored = new MySqlCommand("SELECT `partition`, `next_offset` FROM `kafka_positions` WHERE `consumer_group` = @g", connection))
        {
            stored.Parameters.AddWithValue("@g", group);
            using var reader = stored.ExecuteReader();
            while (reader.Read())
                positions[reader.GetInt32(0)] = reader.GetInt64(1);
        }
        return new TableContents(rows, sum, distinct, partitions, positions);
    }

    public static long Count(string connectionString)
    {
        using var connection = new MySqlConnection(connectionString);
        connection.Open();
        using var command = new MySqlCommand("SELECT COUNT(*) FROM `shares`", connection);
        return Convert.ToInt64(command.ExecuteScalar());
    }

    /// <summary>Every produced share is in the table exactly once, and the positions say where each partition ends.</summary>
    public void AssertExactly(ProducedShares produced)
    {
        Assert.Equal(0, produced.Failures);
        Assert.Equal(produced.Count, Rows);
        Assert.Equal(Rows, DistinctPositions);
        Assert.Equal(produced.DifficultySum, DifficultySum);
        foreach (var (partition, count) in produced.CountPerPartition)
        {
            Assert.True(Partitions.TryGetValue(partition, out var stats), $"partition {partition} has no rows");
            // Fresh topic: offsets 0..count-1, each once.
            Assert.Equal((0L, count - 1, count), stats);
            Assert.Equal(count, StoredPositions[partition]);
        }
    }
}
