using Microsoft.Extensions.Logging.Abstractions;
using MySql.Data.MySqlClient;
using PoolCluster.ShareLogger.Rows;
using PoolCluster.ShareLogger.Writing;
using PoolCluster.Storage;
using PoolCluster.Testing;

namespace PoolCluster.ShareLogger.Tests;

/// <summary>
/// The writer's fencing on a real MariaDB: batches replayed, overlapping or out of date never double-count a share
/// and never skip one. Each case is what a crash, a lost commit acknowledgement or a rebalance between two
/// ShareLoggers produces.
/// </summary>
public sealed class FencingTests(MariaDbFixture mariaDb) : IClassFixture<MariaDbFixture>
{
    private const string Group = "sharelogger";
    private const string Topic = "btc.share";

    private static ShareBatch Batch(params (int Partition, long? Start, int Epoch, long From, long To)[] ranges)
    {
        var random = new Random(7);
        var batch = new ShareBatch(ShareRowFormat.For(ShareWriteMethod.LoadData), 64);
        foreach (var (partition, start, epoch, from, to) in ranges)
        {
            var range = batch.Open(partition, start, epoch);
            for (var offset = from; offset < to; offset++)
                batch.Add(range, Shares.Make(partition * 1_000_000 + offset, random), offset);
        }
        return batch;
    }

    private async Task<(string ConnectionString, ShareBatchWriter Writer)> NewDatabaseAsync()
    {
        var database = await mariaDb.CreateMigratedDatabaseAsync("fence");
        var connectionString = mariaDb.ConnectionStringFor(database);
        return (connectionString, new ShareBatchWriter(connectionString, Group, Topic, ShareWriteMethod.LoadData, 1000, NullLogger.Instance));
    }

    private static (long Rows, long Distinct) Count(string connectionString, int partition)
    {
        using var connection = new MySqlConnection(connectionString);
        connection.Open();
        using var command = new MySqlCommand(
            $"SELECT COUNT(*), COUNT(DISTINCT `kafka_offset`) FROM `shares` WHERE `kafka_partition` = {partition}", connection);
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private static long? Stored(string connectionString, int partition)
    {
        using var connection = new MySqlConnection(connectionString);
        connection.Open();
        var positions = KafkaPositionStore.LoadAsync(connection, Group, Topic).GetAwaiter().GetResult();
        return positions.TryGetValue(partition, out var position) ? position : null;
    }

    [Fact]
    public async Task A_batch_written_again_after_its_commit_adds_nothing()
    {
        var (connectionString, writer) = await NewDatabaseAsync();
        using var _ = writer;
        var batch = Batch((0, null, 1, 0, 100), (5, null, 1, 0, 40));
        var first = writer.Write(batch);
        Assert.Equal(140, first.RowsWritten);

        // What a retry after a lost commit acknowledgement does: the same batch again.
        var again = writer.Write(batch);
        Assert.Equal(0, again.RowsWritten);
        Assert.Equal(140, again.RowsTrimmed);
        Assert.Equal(0, again.RowsAlreadyPresent);
        Assert.Equal((100L, 100L), Count(connectionString, 0));
        Assert.Equal((40L, 40L), Count(connectionString, 5));
        Assert.Equal(100, Stored(connectionString, 0));
        Assert.Equal(40, Stored(connectionString, 5));
    }

    [Fact]
    public async Task A_batch_overlapping_what_another_writer_stored_adds_only_the_rest()
    {
        var (connectionString, writer) = await NewDatabaseAsync();
        using var _ = writer;
        using var other = new ShareBatchWriter(connectionString, Group, Topic, ShareWriteMethod.Insert, 7, NullLogger.Instance);
        Assert.Equal(100, writer.Write(Batch((2, null, 1, 0, 100))).RowsWritten);

        // The partition's new owner loaded position 50 before the old owner's batch [50, 100) committed above.
        var overlapping = other.Write(new ShareBatchWithFormat(ShareWriteMethod.Insert, (2, 50, 1, 50, 160)).Batch);
        Assert.Equal(60, overlapping.RowsWritten);
        Assert.Equal(50, overlapping.RowsTrimmed);
        Assert.Equal(160, Stored(connectionString, 2));

        // And the old owner's last batch, read before it lost the partition, arrives even later.
        var stale = writer.Write(Batch((2, 100, 1, 100, 130)));
        Assert.Equal(0, stale.RowsWritten);
        Assert.Equal(30, stale.RowsTrimmed);
        Assert.Equal((160L, 160L), Count(connectionString, 2));
        Assert.Equal(160, Stored(connectionString, 2));
    }

    [Fact]
    public async Task A_batch_starting_after_the_stored_position_is_not_written_and_asks_to_read_again()
    {
        var (connectionString, writer) = await NewDatabaseAsync();
        using var _ = writer;
        writer.Write(Batch((1, null, 1, 0, 50)));

        // Starting at 80 while MySQL says 50: writing it would lose [50, 80).
        var result = writer.Write(Batch((1, 80, 3, 80, 90), (4, null, 1, 0, 10)));
        Assert.Equal(10, result.RowsWritten);
        Assert.Equal(10, result.RowsTrimmed);
        Assert.Equal([new RewindRequest(1, 50, 3)], result.Rewinds);
        Assert.Equal(50, Stored(connectionString, 1));
        Assert.Equal(10, Stored(connectionString, 4));
        Assert.Equal((50L, 50L), Count(connectionString, 1));
    }

    [Fact]
    public async Task Ranges_of_one_partition_are_fenced_in_the_order_they_were_read()
    {
        var (connectionString, writer) = await NewDatabaseAsync();
        using var _ = writer;
        writer.Write(Batch((6, null, 1, 0, 50)));

        // An old epoch's rows [100, 110), then the re-read from 50 after a seek: only the second counts.
        var result = writer.Write(Batch((6, 100, 1, 100, 110), (6, 50, 2, 50, 120)));
        Assert.Equal(70, result.RowsWritten);
        Assert.Equal(10, result.RowsTrimmed);
        Assert.Single(result.Rewinds);
        Assert.Equal(120, Stored(connectionString, 6));
        Assert.Equal((120L, 120L), Count(connectionString, 6));
    }

    [Fact]
    public async Task A_failed_transaction_leaves_neither_rows_nor_positions()
    {
        var (connectionString, writer) = await NewDatabaseAsync();
        using var _ = writer;
        using (var connection = new MySqlConnection(connectionString))
        {
            connection.Open();
            // Positions cannot be saved: the transaction must fail after the rows went in, and take them back out.
            new MySqlCommand("ALTER TABLE `kafka_positions` ADD CONSTRAINT `no_big_offsets` CHECK (`next_offset` < 10)", connection).ExecuteNonQuery();
        }
        Assert.ThrowsAny<MySqlException>(() => writer.Write(Batch((0, null, 1, 0, 20))));
        Assert.Equal((0L, 0L), Count(connectionString, 0));
        Assert.Null(Stored(connectionString, 0));
    }

    private sealed class ShareBatchWithFormat
    {
        public ShareBatchWithFormat(ShareWriteMethod method, (int Partition, long? Start, int Epoch, long From, long To) spec)
        {
            var random = new Random(7);
            Batch = new ShareBatch(ShareRowFormat.For(method), 64);
            var range = Batch.Open(spec.Partition, spec.Start, spec.Epoch);
            for (var offset = spec.From; offset < spec.To; offset++)
                Batch.Add(range, Shares.Make(spec.Partition * 1_000_000 + offset, random), offset);
        }

        public ShareBatch Batch { get; }
    }
}
