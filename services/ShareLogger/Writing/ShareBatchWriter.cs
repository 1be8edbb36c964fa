using System.Text;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;
using PoolCluster.ShareLogger.Rows;
using PoolCluster.Storage;

namespace PoolCluster.ShareLogger.Writing;

/// <summary>The writer found a partition's stored position behind a batch: the consumer must read again from <see cref="Offset"/>.</summary>
internal readonly record struct RewindRequest(int Partition, long Offset, int Epoch);

/// <summary>What one committed transaction did.</summary>
internal sealed record BatchWriteResult(
    int RowsWritten,
    int RowsAlreadyPresent,
    int RowsTrimmed,
    double DifficultyWritten,
    IReadOnlyDictionary<int, long> Positions,
    IReadOnlyList<RewindRequest> Rewinds);

/// <summary>
/// Writes a <see cref="ShareBatch"/> to `shares` and the batch's end positions to kafka_positions in ONE transaction,
/// so after any crash the stored positions say exactly which shares are in the table.
/// <para>
/// Fencing: the transaction first locks the batch's rows of kafka_positions (SELECT ... FOR UPDATE) and writes, per
/// range, only the messages at or after the stored position. A batch read by a consumer that has since lost the
/// partition to another ShareLogger (a rebalance), or replayed after a commit whose acknowledgement was lost, therefore
/// writes nothing twice: whatever another transaction already stored is trimmed. A range that starts after the
/// stored position (the position went backwards, which only an operator does) is not written at all and the consumer
/// is asked to read again from the stored position, so nothing is skipped either.
/// </para>
/// Not thread-safe: one writer thread owns it.
/// </summary>
internal sealed class ShareBatchWriter : IDisposable
{
    private readonly string connectionString;
    private readonly string consumerGroup;
    private readonly string topic;
    private readonly int insertStatementRows;
    private readonly ILogger logger;
    private readonly RowBuffer filtered = new(1 << 20);
    private MySqlConnection? connection;
    private InMemoryFile? file;

    public ShareBatchWriter(string connectionString, string consumerGroup, string topic, ShareWriteMethod method, int insertStatementRows, ILogger logger)
    {
        MySqlDriverCompatibility.Apply();
        this.connectionString = WithLocalInfile(connectionString);
        this.consumerGroup = consumerGroup;
        this.topic = topic;
        Method = method;
        this.insertStatementRows = insertStatementRows;
        this.logger = logger;
    }

    public ShareWriteMethod Method { get; private set; }

    /// <summary>LOAD DATA LOCAL needs the client's consent too (MySql.Data refuses the server's file request otherwise).</summary>
    public static string WithLocalInfile(string connectionString) =>
        new MySqlConnectionStringBuilder(connectionString) { AllowLoadLocalInfile = true }.ConnectionString;

    /// <summary>
    /// Checks that the server takes LOAD DATA LOCAL INFILE (an empty load in a rolled-back transaction) and falls back
    /// to multi-row INSERTs when it does not (MySQL 8 ships with local_infile off). Throws when MySQL cannot be reached.
    /// </summary>
    public ShareWriteMethod ResolveMethod()
    {
        if (Method != ShareWriteMethod.LoadData)
            return Method;
        var open = Open();
        file ??= InMemoryFile.Create("sharelogger");
        file.Write([]);
        using var transaction = open.BeginTransaction();
        try
        {
            using var command = new MySqlCommand(LoadDataRowFormat.Statement(file.Path), open, transaction);
            command.ExecuteNonQuery();
        }
        catch (MySqlException e) when (IsLocalInfileRefused(e))
        {
            logger.LogWarning(
                "the MySQL server refuses LOAD DATA LOCAL INFILE ({Reason}): writing shares with multi-row INSERTs instead, which is slower; " +
                "enable local_infile on the server for the fast path", e.Message);
            Method = ShareWriteMethod.Insert;
        }
        transaction.Rollback();
        return Method;
    }

    /// <summary>
    /// Writes the batch in one transaction (see the class comment). Throws on any MySQL failure, leaving nothing
    /// written; the caller retries the same batch, which is safe because the positions decide again what to write.
    /// </summary>
    public BatchWriteResult Write(ShareBatch batch)
    {
        if (batch.Format is LoadDataRowFormat != (Method == ShareWriteMethod.LoadData))
            throw new InvalidOperationException($"the batch was encoded for {batch.Format.GetType().Name}, the writer writes with {Method}");
        var open = Open();
        try
        {
            using var transaction = open.BeginTransaction();
            var stored = LockPositions(open, transaction, batch);
            var plan = Plan(batch, stored);
            var (affected, expected) = WriteRows(open, transaction, batch, plan);
            foreach (var (partition, nextOffset) in plan.NewPositions)
                KafkaPositionStore.SaveAsync(open, transaction, consumerGroup, topic, partition, nextOffset).GetAwaiter().GetResult();
            transaction.Commit();
            return new BatchWriteResult(affected, expected - affected, plan.RowsTrimmed, plan.DifficultyWritten, plan.NewPositions, plan.Rewinds);
        }
        catch
        {
            // The connection's state is unknown (a half-sent LOAD DATA, a dead socket): never reuse it.
            Close();
            throw;
        }
    }

    public void Dispose()
    {
        Close();
        file?.Dispose();
    }

    private MySqlConnection Open()
    {
        if (connection is { State: System.Data.ConnectionState.Open })
            return connection;
        Close();
        connection = new MySqlConnection(connectionString);
        connection.Open();
        return connection;
    }

    private void Close()
    {
        connection?.Dispose();
        connection = null;
    }

    private Dictionary<int, long> LockPositions(MySqlConnection open, MySqlTransaction transaction, ShareBatch batch)
    {
        var partitions = batch.Ranges.Select(r => r.Partition).Distinct().ToList();
        var stored = new Dictionary<int, long>(partitions.Count);
        if (partitions.Count == 0)
            return stored;
        using var command = new MySqlCommand(
            "SELECT `partition`, `next_offset` FROM `kafka_positions` WHERE `consumer_group` = @group AND `topic` = @topic " +
            $"AND `partition` IN ({string.Join(',', partitions)}) FOR UPDATE", open, transaction);
        command.Parameters.AddWithValue("@group", consumerGroup);
        command.Parameters.AddWithValue("@topic", topic);
        using var reader = command.ExecuteReader();
        while (reader.Read())
            stored[reader.GetInt32(0)] = reader.GetInt64(1);
        return stored;
    }

    /// <summary>Which rows of each range to write, given the positions stored now.</summary>
    private static WritePlan Plan(ShareBatch batch, Dictionary<int, long> stored)
    {
        var writeFrom = new long[batch.Ranges.Count];
        var newPositions = new Dictionary<int, long>();
        var rewinds = new List<RewindRequest>();
        var trimmed = 0;
        var allRows = true;
        foreach (var range in batch.Ranges)
        {
            // Ranges of a partition are in reading order: each sees the position the ones before it leave.
            long? position = newPositions.TryGetValue(range.Partition, out var planned) ? planned
                : stored.TryGetValue(range.Partition, out var current) ? current : null;
            if (position is not { } s)
            {
                writeFrom[range.Index] = long.MinValue;
                newPositions[range.Partition] = range.End;
            }
            else if (range.Start is not { } start || start <= s)
            {
                // Everything before s is already in the table (by this writer or another): write from s on.
                writeFrom[range.Index] = s;
                if (range.End > s)
                    newPositions[range.Partition] = range.End;
                if (range.Start is not { } begin || begin < s)
                    allRows = false;
            }
            else
            {
                // The stored position is behind where this range begins: writing it would skip [s, start).
                writeFrom[range.Index] = long.MaxValue;
                allRows = false;
                if (!rewinds.Any(r => r.Partition == range.Partition))
                    rewinds.Add(new RewindRequest(range.Partition, s, range.Epoch));
            }
        }

        var difficulty = 0.0;
        if (allRows)
            difficulty = batch.DifficultySum;
        else
            for (var row = 0; row < batch.Rows; row++)
            {
                if (batch.OffsetOf(row) < writeFrom[batch.RangeIndexOf(row)])
                    trimmed++;
                else
                    difficulty += batch.DifficultyOf(row);
            }
        return new WritePlan(allRows ? null : writeFrom, newPositions, rewinds, trimmed, difficulty);
    }

    private (int Affected, int Expected) WriteRows(MySqlConnection open, MySqlTransaction transaction, ShareBatch batch, WritePlan plan)
    {
        var expected = batch.Rows - plan.RowsTrimmed;
        if (expected == 0)
            return (0, 0);
        var rows = plan.WriteFrom == null ? Enumerable.Range(0, batch.Rows) : KeptRows(batch, plan.WriteFrom);
        if (Method == ShareWriteMethod.LoadData)
        {
            ReadOnlySpan<byte> content;
            if (plan.WriteFrom == null)
                content = batch.Buffer.Written;
            else
            {
                filtered.Clear();
                foreach (var row in rows)
                    filtered.Ascii(batch.RowBytes(row));
                content = filtered.Written;
            }
            file ??= InMemoryFile.Create("sharelogger");
            file.Write(content);
            using var command = new MySqlCommand(LoadDataRowFormat.Statement(file.Path), open, transaction);
            return (command.ExecuteNonQuery(), expected);
        }

        var affected = 0;
        var inStatement = 0;
        filtered.Clear();
        foreach (var row in rows)
        {
            if (inStatement == 0)
                filtered.Ascii(Encoding.ASCII.GetBytes(InsertRowFormat.StatementHead));
            else
                filtered.Byte((byte)',');
            filtered.Ascii(batch.RowBytes(row));
            if (++inStatement == insertStatementRows)
            {
                affected += ExecuteInsert(open, transaction);
                inStatement = 0;
            }
        }
        if (inStatement > 0)
            affected += ExecuteInsert(open, transaction);
        return (affected, expected);
    }

    private int ExecuteInsert(MySqlConnection open, MySqlTransaction transaction)
    {
        using var command = new MySqlCommand(Encoding.UTF8.GetString(filtered.Written), open, transaction);
        filtered.Clear();
        return command.ExecuteNonQuery();
    }

    private static IEnumerable<int> KeptRows(ShareBatch batch, long[] writeFrom)
    {
        for (var row = 0; row < batch.Rows; row++)
            if (batch.OffsetOf(row) >= writeFrom[batch.RangeIndexOf(row)])
                yield return row;
    }

    /// <summary>1148: MariaDB/MySQL 5.x "command not allowed"; 3948/3950: MySQL 8 "loading local data is disabled".</summary>
    private static bool IsLocalInfileRefused(MySqlException e) =>
        e.Number is 1148 or 3948 or 3950 || e.Message.Contains("local data is disabled", StringComparison.OrdinalIgnoreCase);

    private sealed record WritePlan(
        long[]? WriteFrom, Dictionary<int, long> NewPositions, List<RewindRequest> Rewinds, int RowsTrimmed, double DifficultyWritten);
}
