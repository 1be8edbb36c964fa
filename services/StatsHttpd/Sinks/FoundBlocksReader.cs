using System.Globalization;
using MySql.Data.MySqlClient;
using PoolCluster.Storage;

namespace PoolCluster.StatsHttpd.Sinks;

/// <summary>A row of btcpool's found_blocks (written by BlkMaker).</summary>
public sealed record FoundBlock(
    int Puid, long WorkerId, string WorkerFullName, ulong JobId, int Height, bool IsOrphaned, string Hash, long Rewards,
    int Size, string PrevHash, uint Bits, int Version, DateTime? CreatedAt);

/// <summary>Reads found_blocks for the REST API, newest first.</summary>
internal sealed class FoundBlocksReader(MySqlConnectionFactory connections)
{
    public async Task<IReadOnlyList<FoundBlock>> ReadAsync(int limit, int offset, int? userId, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new MySqlCommand(
            """
            SELECT `puid`, `worker_id`, `worker_full_name`, `job_id`, `height`, `is_orphaned`, `hash`, `rewards`, `size`,
                   `prev_hash`, `bits`, `version`, `created_at`
            FROM `found_blocks`
            WHERE (@userId IS NULL OR `puid` = @userId)
            ORDER BY `height` DESC, `id` DESC
            LIMIT @limit OFFSET @offset
            """, connection);
        command.Parameters.AddWithValue("@userId", userId.HasValue ? userId.Value : DBNull.Value);
        command.Parameters.AddWithValue("@limit", limit);
        command.Parameters.AddWithValue("@offset", offset);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var blocks = new List<FoundBlock>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            blocks.Add(new FoundBlock(
                Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture),
                Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture),
                reader.GetString(2),
                Convert.ToUInt64(reader.GetValue(3), CultureInfo.InvariantCulture),
                Convert.ToInt32(reader.GetValue(4), CultureInfo.InvariantCulture),
                Convert.ToInt32(reader.GetValue(5), CultureInfo.InvariantCulture) != 0,
                reader.GetString(6),
                Convert.ToInt64(reader.GetValue(7), CultureInfo.InvariantCulture),
                Convert.ToInt32(reader.GetValue(8), CultureInfo.InvariantCulture),
                reader.GetString(9),
                Convert.ToUInt32(reader.GetValue(10), CultureInfo.InvariantCulture),
                Convert.ToInt32(reader.GetValue(11), CultureInfo.InvariantCulture),
                reader.IsDBNull(12) ? null : DateTime.SpecifyKind(reader.GetDateTime(12), DateTimeKind.Utc)));
        }
        return blocks;
    }
}
