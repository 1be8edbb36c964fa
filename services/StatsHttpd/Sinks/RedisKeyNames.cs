using System.Globalization;
using PoolCluster.StatsHttpd.Aggregation;
using StackExchange.Redis;

namespace PoolCluster.StatsHttpd.Sinks;

internal enum RedisKeySlot
{
    /// <summary>s: accepted share count.</summary>
    Share,

    /// <summary>s:…:reject (users, workers) or m:reject (monitor): stale + rejected share count.</summary>
    Reject,

    /// <summary>p (users, workers) or m:pow: accepted difficulty.</summary>
    Pow,

    /// <summary>g: accepted difficulty / network difficulty.</summary>
    Goal,

    /// <summary>m:block: blocks found.</summary>
    Block,
}

/// <summary>
/// viabtc's key names. <c>coin</c> is the Redis section's KeyPrefix ("btc"); the coin-less keys (newworker, newevent,
/// monitor:keys, mining:keys) get StatsHttpd:Redis:GlobalKeyPrefix, empty by default. StatsHttpd's own bookkeeping
/// lives under <c>&lt;coin&gt;:statshttpd:</c>.
/// </summary>
internal sealed class RedisKeyNames
{
    private readonly string coin;

    public RedisKeyNames(string coinKeyPrefix, string globalKeyPrefix, string coinName, string workerEventTopic)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(coinKeyPrefix);
        coin = coinKeyPrefix;
        CoinName = coinName;
        NewWorkerList = globalKeyPrefix + "newworker";
        NewEventList = globalKeyPrefix + "newevent";
        MonitorKeys = globalKeyPrefix + "monitor:keys";
        MiningKeys = globalKeyPrefix + "mining:keys";
        KnownWorkers = $"{coin}:statshttpd:known_workers";
        EventOffsets = $"{coin}:statshttpd:newevent_offsets:{workerEventTopic}";
    }

    public string CoinName { get; }
    public RedisKey NewWorkerList { get; }
    public RedisKey NewEventList { get; }
    public RedisKey MonitorKeys { get; }
    public RedisKey MiningKeys { get; }

    /// <summary>Set of "user:worker" already announced on newworker.</summary>
    public RedisKey KnownWorkers { get; }

    /// <summary>Hash partition → last WorkerEvent offset pushed to newevent.</summary>
    public RedisKey EventOffsets { get; }

    /// <summary>How a stratum server appears in the mh/mk keys (viabtc uses the gateway's address): its server id.</summary>
    public static string HostName(uint serverId) => serverId.ToString(CultureInfo.InvariantCulture);

    public RedisKey PoolMonitor(string name) => $"{coin}:m:{name}";

    public RedisKey HostMonitor(string host, string name) => $"{coin}:mh:{host}:{name}";

    public RedisKey MonitorHosts(string name) => $"{coin}:mk:{name}";

    /// <summary>The entity's keys, built on first use and cached on it.</summary>
    public EntityRedisKeys For(ShareStats entity)
    {
        if (entity.RedisKeys is EntityRedisKeys cached)
            return cached;
        EntityRedisKeys keys;
        switch (entity.Kind)
        {
            case StatsEntityKind.User:
            case StatsEntityKind.Worker:
                var who = entity.Kind == StatsEntityKind.User ? entity.UserName : $"{entity.UserName}:{entity.WorkerName}";
                keys = new EntityRedisKeys(entity, null,
                    share: $"{coin}:s:{who}", reject: $"{coin}:s:{who}:reject", pow: $"{coin}:p:{who}", goal: $"{coin}:g:{who}", block: null);
                break;
            case StatsEntityKind.Pool:
                keys = new EntityRedisKeys(entity, null,
                    share: PoolMonitor("share"), reject: PoolMonitor("reject"), pow: PoolMonitor("pow"), goal: null, block: PoolMonitor("block"));
                break;
            default:
                var host = HostName(entity.ServerId);
                keys = new EntityRedisKeys(entity, host,
                    share: HostMonitor(host, "share"), reject: HostMonitor(host, "reject"), pow: HostMonitor(host, "pow"), goal: null,
                    block: HostMonitor(host, "block"));
                break;
        }
        entity.RedisKeys = keys;
        return keys;
    }

    /// <summary>The set memberships that advertise a key: mining:keys for users/workers; monitor:keys and mk for monitors.</summary>
    public IEnumerable<(RedisKey Set, RedisValue Member)> Registrations(EntityRedisKeys keys, RedisKeySlot slot)
    {
        var key = keys[slot];
        switch (keys.Entity.Kind)
        {
            case StatsEntityKind.User:
            case StatsEntityKind.Worker:
                yield return (MiningKeys, key.ToString());
                break;
            case StatsEntityKind.Pool:
                yield return (MonitorKeys, key.ToString());
                break;
            default:
                var name = MonitorName(slot);
                yield return (MonitorHosts(name), keys.Host);
                yield return (MonitorKeys, PoolMonitor(name).ToString());
                break;
        }
    }

    private static string MonitorName(RedisKeySlot slot) => slot switch
    {
        RedisKeySlot.Share => "share",
        RedisKeySlot.Reject => "reject",
        RedisKeySlot.Pow => "pow",
        RedisKeySlot.Block => "block",
        _ => throw new ArgumentOutOfRangeException(nameof(slot), slot, "monitors have no such key"),
    };
}

/// <summary>One entity's key names, and when each was last advertised in its key sets.</summary>
internal sealed class EntityRedisKeys
{
    private readonly RedisKey?[] keys = new RedisKey?[5];
    private readonly long[] registeredAt = new long[5];

    public EntityRedisKeys(ShareStats entity, string? host, RedisKey share, RedisKey reject, RedisKey pow, RedisKey? goal, RedisKey? block)
    {
        Entity = entity;
        Host = host ?? "";
        keys[(int)RedisKeySlot.Share] = share;
        keys[(int)RedisKeySlot.Reject] = reject;
        keys[(int)RedisKeySlot.Pow] = pow;
        keys[(int)RedisKeySlot.Goal] = goal;
        keys[(int)RedisKeySlot.Block] = block;
    }

    public ShareStats Entity { get; }
    public string Host { get; }

    public RedisKey this[RedisKeySlot slot] =>
        keys[(int)slot] ?? throw new InvalidOperationException($"{Entity} has no {slot} key");

    public bool Has(RedisKeySlot slot) => keys[(int)slot].HasValue;

    /// <summary>True (and noted) when the key was not advertised within <paramref name="intervalSeconds"/>.</summary>
    public bool NeedsRegistration(RedisKeySlot slot, long nowSeconds, long intervalSeconds)
    {
        if (nowSeconds - registeredAt[(int)slot] < intervalSeconds)
            return false;
        registeredAt[(int)slot] = nowSeconds;
        return true;
    }
}
