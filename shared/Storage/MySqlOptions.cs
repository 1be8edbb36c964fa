using MySql.Data.MySqlClient;

namespace PoolCluster.Storage;

/// <summary>
/// Where the pool's MySQL/MariaDB database is, bound from the configuration section "MySql". Give either
/// <see cref="ConnectionString"/> or the parts (Host, Port, User, Password, Database). The password comes from
/// configuration or the environment (MySql__Password), never from code; when both a connection string and
/// <see cref="Password"/> are given, <see cref="Password"/> wins, so the string can live in a config file and the
/// secret in the environment. The pool settings below always apply on top of the connection string.
/// </summary>
public sealed class MySqlOptions
{
    public const string SectionName = "MySql";

    static MySqlOptions() => MySqlDriverCompatibility.Apply();

    public string? ConnectionString { get; set; }
    public string? Host { get; set; }
    public int Port { get; set; } = 3306;
    public string? User { get; set; }
    public string? Password { get; set; }
    public string? Database { get; set; }

    /// <summary>Upper bound of pooled connections per process; each service needs few (batch writers, one reader).</summary>
    public int MaximumPoolSize { get; set; } = 50;
    public int MinimumPoolSize { get; set; }

    /// <summary>Seconds to wait for a connection: short, so a MySQL outage surfaces quickly instead of piling up callers.</summary>
    public int ConnectTimeoutSeconds { get; set; } = 5;

    public int DefaultCommandTimeoutSeconds { get; set; } = 30;

    /// <summary>Pooled connections older than this are closed on return, so a fail-over or DNS change is picked up.</summary>
    public int ConnectionLifetimeSeconds { get; set; } = 300;

    /// <summary>Every problem with these options, each naming the setting; empty when usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        MySqlConnectionStringBuilder? fromString = null;
        if (!string.IsNullOrWhiteSpace(ConnectionString))
        {
            try
            {
                fromString = new MySqlConnectionStringBuilder(ConnectionString);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                errors.Add($"{SectionName}:ConnectionString is not a valid MySQL connection string: {e.Message}");
            }
        }
        else
        {
            if (string.IsNullOrWhiteSpace(Host))
                errors.Add($"{SectionName}:Host is empty: set {SectionName}:ConnectionString, or {SectionName}:Host/Port/User/Password/Database");
            if (string.IsNullOrWhiteSpace(User))
                errors.Add($"{SectionName}:User is empty");
            if (Port is < 1 or > 65535)
                errors.Add($"{SectionName}:Port {Port} is not a TCP port (1-65535)");
        }

        var connectionStringInvalid = !string.IsNullOrWhiteSpace(ConnectionString) && fromString == null;
        var database = !string.IsNullOrWhiteSpace(Database) ? Database : fromString?.Database;
        if (!connectionStringInvalid && string.IsNullOrWhiteSpace(database))
            errors.Add($"{SectionName}:Database is empty and the connection string names none: the pool's tables live in one database");
        if (MaximumPoolSize < 1)
            errors.Add($"{SectionName}:MaximumPoolSize {MaximumPoolSize} must be at least 1");
        if (MinimumPoolSize < 0 || MinimumPoolSize > MaximumPoolSize)
            errors.Add($"{SectionName}:MinimumPoolSize {MinimumPoolSize} must be between 0 and MaximumPoolSize ({MaximumPoolSize})");
        if (ConnectTimeoutSeconds < 1)
            errors.Add($"{SectionName}:ConnectTimeoutSeconds {ConnectTimeoutSeconds} must be at least 1");
        if (DefaultCommandTimeoutSeconds < 0)
            errors.Add($"{SectionName}:DefaultCommandTimeoutSeconds {DefaultCommandTimeoutSeconds} must be 0 (no limit) or more");
        if (ConnectionLifetimeSeconds < 0)
            errors.Add($"{SectionName}:ConnectionLifetimeSeconds {ConnectionLifetimeSeconds} must be 0 (no limit) or more");
        return errors;
    }

    /// <summary>The connection string services use; throws <see cref="InvalidOperationException"/> listing every problem.</summary>
    public string BuildConnectionString()
    {
        var errors = Validate();
        if (errors.Count > 0)
            throw new InvalidOperationException("MySQL options are not usable: " + string.Join("; ", errors));

        var builder = string.IsNullOrWhiteSpace(ConnectionString)
            ? new MySqlConnectionStringBuilder { Server = Host, Port = (uint)Port, UserID = User }
            : new MySqlConnectionStringBuilder(ConnectionString);
        if (!string.IsNullOrEmpty(Password))
            builder.Password = Password;
        if (!string.IsNullOrWhiteSpace(Database))
            builder.Database = Database;

        builder.Pooling = true;
        builder.MaximumPoolSize = (uint)MaximumPoolSize;
        builder.MinimumPoolSize = (uint)MinimumPoolSize;
        builder.ConnectionTimeout = (uint)ConnectTimeoutSeconds;
        builder.DefaultCommandTimeout = (uint)DefaultCommandTimeoutSeconds;
        builder.ConnectionLifeTime = (uint)ConnectionLifetimeSeconds;
        // Worker names come from miners; utf8mb4 is what the tables use.
        builder.CharacterSet = "utf8mb4";
        // Maintenance SQL (migrations, partition jobs) uses @variables, which MySql.Data rejects as unknown parameters otherwise.
        builder.AllowUserVariables = true;
        return builder.ConnectionString;
    }
}
