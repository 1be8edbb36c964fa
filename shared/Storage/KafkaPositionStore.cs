using Dapper;
using MySql.Data.MySqlClient;

namespace PoolCluster.Storage;

/// <summary>
/// Reads and writes rows of kafka_positions: a consumer's next offset per partition, kept in MySQL so it can be
/// committed in the same transaction as the rows derived from the messages (exactly-once into MySQL).
/// </summary>
public static class KafkaPositionStore
{
    static KafkaPositionStore() => MySqlDriverCompatibility.Apply();

    /// <summary>Next offset to read per partition of <paramref name="topic"/>; partitions never stored are absent.</summary>
    public static async Task<IReadOnlyDictionary<int, long>> LoadAsync(
        MySqlConnection connection, string consumerGroup, string topic, MySqlTransaction? transaction = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrEmpty(consumerGroup);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        var rows = await connection.QueryAsync<(int Partition, long NextOffset)>(
            "SELECT `partition`, `next_offset` FROM `kafka_positions` WHERE `consumer_group` = @consumerGroup AND `topic` = @topic",
            new { consumerGroup, topic }, transaction).ConfigureAwait(false);
        return rows.ToDictionary(row => row.Partition, row => row.NextOffset);
    }

    /// <summary>
    /// Records that everything before <paramref name="nextOffset"/> in the partition is written. Call it inside the
    /// transaction that wrote those rows; the position commits or rolls back with them.
    /// </summary>
    public static Task SaveAsync(
        MySqlConnection connection, MySqlTransaction transaction, string consumerGroup, string topic, int partition, long nextOffset)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentException.ThrowIfNullOrEmpty(consumerGroup);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfNegative(nextOffset);
        return connection.ExecuteAsync(
            """
            INSERT INTO `kafka_positions` (`consumer_group`, `topic`, `partition`, `next_offset`)
            VALUES (@consumerGroup, @topic, @partition, @nextOffset)
            ON DUPLICATE KEY UPDATE `next_offset` = VALUES(`next_offset`)
            """,
            new { consumerGroup, topic, partition, nextOffset }, transaction);
    }
}
