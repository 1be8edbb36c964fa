using StackExchange.Redis;

namespace PoolCluster.Storage;

/// <summary>
/// Where Redis is and how the pool's keys are named, bound from the configuration section "Redis".
/// <see cref="Configuration"/> is a StackExchange.Redis configuration string ("host:port[,host:port][,option=value]");
/// the password comes from configuration or the environment (Redis__Password), never from code, and overrides any
/// password= inside the string.
/// </summary>
public sealed class RedisOptions
{
    public const string SectionName = "Redis";

    public string Configuration { get; set; } = "127.0.0.1:6379";
    public string? Password { get; set; }

    /// <summary>
    /// Namespace of every key the pool writes, normally the coin ("btc"), so several coins or clusters can share one
    /// Redis. Keys are "&lt;KeyPrefix&gt;:&lt;key&gt;"; empty means no prefix.
    /// </summary>
    public string KeyPrefix { get; set; } = "btc";

    /// <summary>Redis database number (0-15 on a default server).</summary>
    public int Database { get; set; }

    public int ConnectTimeoutMilliseconds { get; set; } = 5000;
    public int SyncTimeoutMilliseconds { get; set; } = 5000;

    /// <summary>Shown by CLIENT LIST, so an operator can tell which service holds a connection.</summary>
    public string? ClientName { get; set; }

    /// <summary>The prefix actually prepended to keys: KeyPrefix plus ":", or empty.</summary>
    public string FullKeyPrefix => string.IsNullOrEmpty(KeyPrefix) ? "" : KeyPrefix + ":";

    /// <summary>Every problem with these options, each naming the setting; empty when usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Configuration))
            errors.Add($"{SectionName}:Configuration is empty: give host:port of the Redis server");
        else
        {
            try
            {
                var parsed = ConfigurationOptions.Parse(Configuration);
                if (parsed.EndPoints.Count == 0)
                    errors.Add($"{SectionName}:Configuration '{Configuration}' names no host:port endpoint");
            }
            catch (Exception e) when (e is ArgumentException or FormatException or RedisConnectionException)
            {
                errors.Add($"{SectionName}:Configuration is not a valid StackExchange.Redis configuration string: {e.Message}");
            }
        }
        if (KeyPrefix.Any(char.IsWhiteSpace) || KeyPrefix.EndsWith(':'))
            errors.Add($"{SectionName}:KeyPrefix '{KeyPrefix}' must not contain whitespace or end with ':' (the separator is added)");
        if (Database is < 0 or > 255)
            errors.Add($"{SectionName}:Database {Database} is not a Redis database number");
        if (ConnectTimeoutMilliseconds < 1)
            errors.Add($"{SectionName}:ConnectTimeoutMilliseconds {ConnectTimeoutMilliseconds} must be at least 1");
        if (SyncTimeoutMilliseconds < 1)
            errors.Add($"{SectionName}:SyncTimeoutMilliseconds {SyncTimeoutMilliseconds} must be at least 1");
        return errors;
    }

    /// <summary>
    /// The StackExchange.Redis configuration, with AbortOnConnectFail off: a service starts (and keeps running) while
    /// Redis is down, and the multiplexer reconnects in the background. Throws listing every problem.
    /// </summary>
    public ConfigurationOptions ToConfigurationOptions()
    {
        var errors = Validate();
        if (errors.Count > 0)
            throw new InvalidOperationException("Redis options are not usable: " + string.Join("; ", errors));
        var options = ConfigurationOptions.Parse(Configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = ConnectTimeoutMilliseconds;
        options.SyncTimeout = SyncTimeoutMilliseconds;
        options.DefaultDatabase = Database;
        if (!string.IsNullOrEmpty(Password))
            options.Password = Password;
        if (!string.IsNullOrEmpty(ClientName))
            options.ClientName = ClientName;
        return options;
    }
}
