using System.Globalization;
using MySql.Data.MySqlClient;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.StatsHttpd.Sinks;
using PoolCluster.Storage;

namespace PoolCluster.StatsHttpd.Tests;

/// <summary>Reads btcpool's stats tables into comparable text, and builds the rows a stream must give.</summary>
internal static class MySqlSnapshot
{
    private static readonly string[] StatsTables =
        ["stats_workers_hour", "stats_workers_day", "stats_users_hour", "stats_users_day", "stats_pool_hour", "stats_pool_day"];

    /// <summary>Every stats row as text (created_at/updated_at left out: they say when, not what).</summary>
    internal static async Task<SortedDictionary<string, string>> ReadStatsAsync(MySqlConnectionFactory factory)
    {
        var rows = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await using var connection = await factory.OpenConnectionAsync();
        foreach (var table in StatsTables)
        {
            var keyColumns = table switch
            {
                _ when table.StartsWith("stats_workers", StringComparison.Ordinal) => "puid, worker_id, ",
                _ when table.StartsWith("stats_users", StringComparison.Ordinal) => "puid, ",
                _ => "",
            };
            var period = table.EndsWith("hour", StringComparison.Ordinal) ? "hour" : "day";
            await using var command = new MySqlCommand(
                $"SELECT CONCAT_WS('/', {keyColumns}{period}), share_accept, share_stale, share_reject, reject_detail, reject_rate, score, earn FROM {table}",
                connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows[$"{table}/{reader.GetString(0)}"] = string.Join(" ",
                    reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetString(4),
                    reader.GetDouble(5).ToString("R", CultureInfo.InvariantCulture),
                    reader.GetDecimal(6).ToString(CultureInfo.InvariantCulture), reader.GetInt64(7));
            }
        }
        return rows;
    }

    /// <summary>The rows btcpool's stats tables must hold for <paramref name="reference"/>'s stream.</summary>
    internal static SortedDictionary<string, string> ExpectedStats(ReferenceStats reference, Func<char, long, bool>? include = null)
    {
        var rows = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var entity in reference.Entities)
        {
            var parts = entity.Split('/');
            if (parts[0] == "host")
                continue;
            foreach (var (period, index) in reference.PeriodsOf(entity))
            {
                if (include != null && !include(period, index))
                    continue;
                var p = reference.Period(entity, period, index);
                var kind = parts[0] switch { "worker" => "workers", "user" => "users", _ => "pool" };
                var table = $"stats_{kind}_{(period == 'h' ? "hour" : "day")}";
                var key = string.Join('/', parts.Skip(1).Append((period == 'h' ? TimeKeys.HourKey(index) : TimeKeys.DayKey(index)).ToString(CultureInfo.InvariantCulture)));
                var rejectRate = p.Reject > 0 ? p.Reject / (p.Accept + p.Reject) : 0;
                rows[$"{table}/{key}"] = string.Join(" ",
                    (long)p.Accept, (long)p.Stale, (long)p.Reject, MySqlStatsWriter.RejectDetailJson(p.Reasons),
                    rejectRate.ToString("R", CultureInfo.InvariantCulture),
                    decimal.Parse(p.Score.ToString("R", CultureInfo.InvariantCulture), NumberStyles.Float, CultureInfo.InvariantCulture)
                        .ToString("0.0000000000000000000000000", CultureInfo.InvariantCulture),
                    (long)Math.Round(p.Earn, MidpointRounding.AwayFromZero));
            }
        }
        return rows;
    }

    internal static void AssertSame(IReadOnlyDictionary<string, string> expected, IReadOnlyDictionary<string, string> actual)
    {
        foreach (var (key, value) in expected)
        {
            Assert.True(actual.ContainsKey(key), $"MySQL lacks row {key} (expected {value})");
            Assert.True(value == actual[key], $"{key}: expected {value}\n   actual {actual[key]}");
        }
        foreach (var key in actual.Keys)
            Assert.True(expected.ContainsKey(key), $"MySQL has an unexpected row {key}: {actual[key]}");
    }

}
