using System.Globalization;
using PoolCluster.StatsHttpd.Sinks;
using StackExchange.Redis;

namespace PoolCluster.StatsHttpd.Tests;

/// <summary>Reads every key under some patterns into comparable text, and builds the expected viabtc keys of a stream.</summary>
internal static class RedisSnapshot
{
    public static SortedDictionary<string, string> Read(IConnectionMultiplexer redis, params string[] patterns)
    {
        var db = redis.GetDatabase();
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var pattern in patterns)
        {
            foreach (var key in server.Keys(0, pattern, pageSize: 1000))
            {
                result[key!] = db.KeyType(key) switch
                {
                    RedisType.Hash => "hash " + string.Join(" ", db.HashGetAll(key).Select(e => $"{e.Name}={e.Value}").OrderBy(s => s, StringComparer.Ordinal)),
                    RedisType.Set => "set " + string.Join(" ", db.SetMembers(key).Select(m => (string)m!).OrderBy(s => s, StringComparer.Ordinal)),
                    RedisType.List => "list " + string.Join(" | ", db.ListRange(key).Select(m => (string)m!)),
                    var other => other.ToString(),
                };
            }
        }
        return result;
    }

    /// <summary>
    /// The keys viabtc's format gives <paramref name="reference"/>'s stream: per-minute s/p/g hashes of every user and
    /// worker, the pool's and each server's monitor hashes, mining:keys, monitor:keys, mk sets — and the connection
    /// gauge written at <paramref name="connectionsMinute"/> (0 connections) when given.
    /// </summary>
    public static SortedDictionary<string, string> Expected(ReferenceStats reference, string coin, string global, long? connectionsMinute,
        Func<long, bool>? minuteFilter = null, IReadOnlyDictionary<uint, int>? connectionsByServer = null)
    {
        var hashes = new Dictionary<string, SortedDictionary<string, string>>();
        var sets = new Dictionary<string, SortedSet<string>>();
        void HSet(string key, long minute, double value)
        {
            if (value <= 0)
                return;
            if (!hashes.TryGetValue(key, out var hash))
                hashes[key] = hash = new SortedDictionary<string, string>(StringComparer.Ordinal);
            hash[(minute * 60).ToString(CultureInfo.InvariantCulture)] = RedisStatsWriter.FormatNumber(value);
        }
        void SAdd(string key, string member)
        {
            if (!sets.TryGetValue(key, out var set))
                sets[key] = set = new SortedSet<string>(StringComparer.Ordinal);
            set.Add(member);
        }

        foreach (var entity in reference.Entities)
        {
            var parts = entity.Split('/');
            foreach (var minute in reference.MinutesOf(entity))
            {
                if (minuteFilter != null && !minuteFilter(minute))
                    continue;
                var m = reference.Minute(entity, minute);
                switch (parts[0])
                {
                    case "user":
                    case "worker":
                        var who = parts[0] == "user"
                            ? ShareStreams.UserName(int.Parse(parts[1], CultureInfo.InvariantCulture))
                            : $"{ShareStreams.UserName(int.Parse(parts[1], CultureInfo.InvariantCulture))}:{ShareStreams.WorkerName(long.Parse(parts[2], CultureInfo.InvariantCulture))}";
                        HSet($"{coin}:s:{who}", minute, m.AcceptCount);
                        HSet($"{coin}:s:{who}:reject", minute, m.StaleCount + m.RejectCount);
                        HSet($"{coin}:p:{who}", minute, m.Accept);
                        HSet($"{coin}:g:{who}", minute, m.Goal);
                        break;
                    case "pool":
                        HSet($"{coin}:m:pow", minute, m.Accept);
                        HSet($"{coin}:m:share", minute, m.AcceptCount);
                        HSet($"{coin}:m:reject", minute, m.StaleCount + m.RejectCount);
                        HSet($"{coin}:m:block", minute, m.Blocks);
                        break;
                    case "host":
                        var host = parts[1];
                        foreach (var (name, value) in new[] { ("pow", m.Accept), ("share", m.AcceptCount), ("reject", (double)(m.StaleCount + m.RejectCount)), ("block", m.Blocks) })
                        {
                            if (value <= 0)
                                continue;
                            HSet($"{coin}:mh:{host}:{name}", minute, value);
                            SAdd($"{coin}:mk:{name}", host);
                            SAdd($"{global}monitor:keys", $"{coin}:m:{name}");
                        }
                        break;
                }
            }
        }
        foreach (var key in hashes.Keys)
        {
            if (key.StartsWith($"{coin}:s:", StringComparison.Ordinal) || key.StartsWith($"{coin}:p:", StringComparison.Ordinal)
                || key.StartsWith($"{coin}:g:", StringComparison.Ordinal))
                SAdd($"{global}mining:keys", key);
            if (key.StartsWith($"{coin}:m:", StringComparison.Ordinal))
                SAdd($"{global}monitor:keys", key);
        }
        if (connectionsMinute is { } minuteOfGauge)
        {
            var field = (minuteOfGauge * 60).ToString(CultureInfo.InvariantCulture);
            var byServer = connectionsByServer ?? new Dictionary<uint, int>();
            hashes[$"{coin}:m:connections"] = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                [field] = byServer.Values.Sum().ToString(CultureInfo.InvariantCulture),
            };
            SAdd($"{global}monitor:keys", $"{coin}:m:connections");
            foreach (var (server, count) in byServer)
            {
                hashes[$"{coin}:mh:{server}:connections"] = new SortedDictionary<string, string>(StringComparer.Ordinal)
                {
                    [field] = count.ToString(CultureInfo.InvariantCulture),
                };
                SAdd($"{coin}:mk:connections", server.ToString(CultureInfo.InvariantCulture));
            }
        }

        var expected = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, hash) in hashes)
            expected[key] = "hash " + string.Join(" ", hash.Select(e => $"{e.Key}={e.Value}").OrderBy(s => s, StringComparer.Ordinal));
        foreach (var (key, set) in sets)
            expected[key] = "set " + string.Join(" ", set);
        return expected;
    }

    /// <summary>Asserts equality key by key, naming the first difference (a whole-dictionary diff is unreadable).</summary>
    public static void AssertSame(IReadOnlyDictionary<string, string> expected, IReadOnlyDictionary<string, string> actual)
    {
        foreach (var (key, value) in expected)
        {
            Assert.True(actual.ContainsKey(key), $"Redis lacks {key} (expected {Cut(value)})");
            Assert.True(value == actual[key], $"{key}: expected {Cut(value)}\n   actual {Cut(actual[key])}\n   {Difference(value, actual[key])}");
        }
        foreach (var key in actual.Keys)
            Assert.True(expected.ContainsKey(key), $"Redis has an unexpected key {key}: {Cut(actual[key])}");
    }

    /// <summary>The entries only one side has (hash fields, set members, list items).</summary>
    private static string Difference(string expected, string actual)
    {
        var e = expected.Split(' ').Skip(1).ToHashSet();
        var a = actual.Split(' ').Skip(1).ToHashSet();
        return $"only expected: {Cut(string.Join(' ', e.Except(a)))}; only actual: {Cut(string.Join(' ', a.Except(e)))}";
    }

    private static string Cut(string text) => text.Length <= 400 ? text : text[..400] + "…";
}
