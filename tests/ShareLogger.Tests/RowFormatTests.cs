using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using MySql.Data.MySqlClient;
using PoolCluster.ShareLogger.Rows;
using PoolCluster.ShareLogger.Writing;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.ShareLogger.Tests;

/// <summary>Both row encodings, written to a real MariaDB and read back column by column.</summary>
public sealed class RowFormatTests(MariaDbFixture mariaDb) : IClassFixture<MariaDbFixture>
{
    private static readonly byte[] Awkward = [0x00, 0x09, 0x0A, 0x0D, 0x1A, 0x5C, 0x27, 0x22, 0xFF, 0x4E];

    private sealed record Expected(
        int UserId, long WorkerId, string WorkerName, byte[] Ip, uint ServerId, ulong SessionId, ulong JobId, double ShareDiff,
        double NetworkDiff, int Status, uint Height, DateTime CreatedAt, uint Nonce, uint Ntime, uint VersionBits, byte[] Extranonce1,
        byte[] Extranonce2, byte[]? BlockHash);

    private static IEnumerable<(Share Share, Expected Expected)> Cases()
    {
        var hash = Enumerable.Range(0, 32).Select(i => Awkward[i % Awkward.Length]).ToArray();
        yield return (new Share
        {
            UserId = 42, WorkerId = 9_000_000_000, WorkerName = "rig\t1\n\\x\0y'\"", Ip = "10.1.2.3", ServerId = 7, SessionId = 12,
            JobId = 7_123_456_789, ShareDifficulty = 65536, NetworkDifficulty = 1.23456789012345e15, Status = ShareStatus.Accepted,
            Height = 840_000, TimestampUnixMs = 1_700_000_000_123, Nonce = 0xdeadbeef, Ntime = 1_700_000_000, VersionBits = 0x1fffe000,
            Extranonce1 = ByteString.CopyFrom(Awkward[..4]), Extranonce2 = ByteString.CopyFrom(Awkward[4..]), BlockHash = ByteString.CopyFrom(hash),
        }, new Expected(42, 9_000_000_000, "rig\t1\n\\x\0y'\"", [10, 1, 2, 3], 7, 12, 7_123_456_789, 65536, 1.23456789012345e15, 1, 840_000,
            new DateTime(2023, 11, 14, 22, 13, 20, 123), 0xdeadbeef, 1_700_000_000, 0x1fffe000, Awkward[..4], Awkward[4..], hash));

        var emoji = string.Concat(Enumerable.Repeat("\U0001F600", 60));
        yield return (new Share
        {
            UserId = int.MinValue, WorkerId = long.MinValue, WorkerName = emoji, Ip = "2001:db8::1", ServerId = uint.MaxValue,
            SessionId = ulong.MaxValue, JobId = ulong.MaxValue, ShareDifficulty = double.NaN, NetworkDifficulty = double.PositiveInfinity,
            Status = (ShareStatus)300, Height = uint.MaxValue, TimestampUnixMs = -5, Nonce = uint.MaxValue, Ntime = uint.MaxValue,
            VersionBits = uint.MaxValue, Extranonce1 = ByteString.CopyFrom(new byte[20]), Extranonce2 = ByteString.CopyFrom(Enumerable.Range(0, 40).Select(i => (byte)i).ToArray()),
            BlockHash = ByteString.CopyFrom(new byte[31]),
        }, new Expected(int.MinValue, long.MinValue, string.Concat(Enumerable.Repeat("\U0001F600", 50)),
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], uint.MaxValue, ulong.MaxValue, ulong.MaxValue, 0, 0, 0, uint.MaxValue,
            DateTime.UnixEpoch, uint.MaxValue, uint.MaxValue, uint.MaxValue, new byte[16], Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(), null));

        yield return (new Share { WorkerName = "", Ip = "::ffff:192.168.0.9", Status = ShareStatus.JobNotFound, TimestampUnixMs = 1 },
            new Expected(0, 0, "", [192, 168, 0, 9], 0, 0, 0, 0, 0, 21, 0, DateTime.UnixEpoch.AddMilliseconds(1), 0, 0, 0, [], [], null));
        yield return (new Share { WorkerName = "üñí", Ip = "not-an-address", Status = ShareStatus.Solved, TimestampUnixMs = 253_402_300_799_999 + 1 },
            new Expected(0, 0, "üñí", [], 0, 0, 0, 0, 0, 2, 0, new DateTime(9999, 12, 31, 23, 59, 59, 999), 0, 0, 0, [], [], null));
    }

    [Theory]
    [InlineData(ShareWriteMethod.LoadData)]
    [InlineData(ShareWriteMethod.Insert)]
    public async Task Every_column_reads_back_as_written_even_for_awkward_values(ShareWriteMethod method)
    {
        var database = await mariaDb.CreateMigratedDatabaseAsync("fmt");
        var cases = Cases().ToList();
        var format = ShareRowFormat.For(method);
        var batch = new ShareBatch(format, 4);
        var range = batch.Open(3, null, 1);
        for (var i = 0; i < cases.Count; i++)
            batch.Add(range, cases[i].Share, 100 + i);
        Assert.True(format.Adjusted >= 10, $"only {format.Adjusted} adjustments counted");

        // Two rows per INSERT statement: the statement splitting is exercised too.
        using var writer = new ShareBatchWriter(mariaDb.ConnectionStringFor(database), "fmt", "btc.share", method, 2, NullLogger.Instance);
        Assert.Equal(method, writer.ResolveMethod());
        var result = writer.Write(batch);
        Assert.Equal(cases.Count, result.RowsWritten);
        Assert.Equal(0, result.RowsAlreadyPresent);
        Assert.Equal(100 + cases.Count, result.Positions[3]);

        using var connection = mariaDb.OpenConnection(database);
        using var command = new MySqlCommand(
            "SELECT `user_id`, `worker_id`, `worker_name`, `ip`, `server_id`, `session_id`, `job_id`, `share_diff`, `network_diff`, `status`, " +
            "`height`, `created_at`, `nonce`, `ntime`, `version_bits`, `extranonce1`, `extranonce2`, `block_hash`, `kafka_partition`, `kafka_offset`, `id` " +
            "FROM `shares` ORDER BY `kafka_offset`", connection);
        using var reader = command.ExecuteReader();
        for (var i = 0; i < cases.Count; i++)
        {
            Assert.True(reader.Read(), $"row {i} missing");
            var e = cases[i].Expected;
            var actual = new Expected(reader.GetInt32(0), reader.GetInt64(1), reader.GetString(2), (byte[])reader.GetValue(3), reader.GetUInt32(4),
                reader.GetUInt64(5), reader.GetUInt64(6), reader.GetDouble(7), reader.GetDouble(8), reader.GetInt32(9), reader.GetUInt32(10),
                reader.GetDateTime(11), reader.GetUInt32(12), reader.GetUInt32(13), reader.GetUInt32(14), (byte[])reader.GetValue(15),
                (byte[])reader.GetValue(16), reader.IsDBNull(17) ? null : (byte[])reader.GetValue(17));
            Assert.Equal(e with { Ip = [], Extranonce1 = [], Extranonce2 = [], BlockHash = null },
                actual with { Ip = [], Extranonce1 = [], Extranonce2 = [], BlockHash = null });
            Assert.Equal(e.Ip, actual.Ip);
            Assert.Equal(e.Extranonce1, actual.Extranonce1);
            Assert.Equal(e.Extranonce2, actual.Extranonce2);
            Assert.Equal(e.BlockHash, actual.BlockHash);
            Assert.Equal(3, reader.GetInt32(18));
            Assert.Equal(100 + i, reader.GetInt64(19));
            Assert.Equal((3UL << 48) + (ulong)(100 + i), reader.GetUInt64(20)); // id: the Kafka position in one number
        }
        Assert.False(reader.Read());
    }
}
