using StackExchange.Redis;
using StackExchange.Redis.KeyspaceIsolation;

namespace PoolCluster.Storage;

/// <summary>Opens the one ConnectionMultiplexer a service shares (it is thread-safe and meant to live as long as the process).</summary>
public static class RedisConnectionFactory
{
    /// <summary>
    /// Connects without failing when Redis is unreachable (AbortOnConnectFail off): the multiplexer comes back
    /// disconnected, commands throw RedisConnectionException until Redis is up, and it reconnects by itself.
    /// </summary>
    public static ConnectionMultiplexer Connect(RedisOptions options, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return ConnectionMultiplexer.Connect(options.ToConfigurationOptions(), log);
    }

    /// <inheritdoc cref="Connect"/>
    public static Task<ConnectionMultiplexer> ConnectAsync(RedisOptions options, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return ConnectionMultiplexer.ConnectAsync(options.ToConfigurationOptions(), log);
    }

    /// <summary>The configured database, with every key transparently prefixed by <see cref="RedisOptions.FullKeyPrefix"/>.</summary>
    public static IDatabase GetPoolDatabase(this IConnectionMultiplexer multiplexer, RedisOptions options)
    {
        ArgumentNullException.ThrowIfNull(multiplexer);
        ArgumentNullException.ThrowIfNull(options);
        var database = multiplexer.GetDatabase(options.Database);
        return options.FullKeyPrefix.Length == 0 ? database : database.WithKeyPrefix(options.FullKeyPrefix);
    }
}
