using Microsoft.Extensions.Options;
using MySql.Data.MySqlClient;

namespace PoolCluster.Storage;

/// <summary>
/// Hands out connections to the pool's database. Connections are pooled by MySql.Data per connection string, so
/// open one per unit of work and dispose it promptly. After a MySQL outage the pool recovers by itself: opening fails
/// while the server is down and works again once it is back. Note that MySql.Data 8.0's *Async methods complete
/// synchronously; run long batches on a dedicated thread where blocking matters.
/// </summary>
public sealed class MySqlConnectionFactory
{
    static MySqlConnectionFactory() => MySqlDriverCompatibility.Apply();

    public MySqlConnectionFactory(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ConnectionString = connectionString;
        Database = new MySqlConnectionStringBuilder(connectionString).Database;
    }

    public MySqlConnectionFactory(MySqlOptions options)
        : this((options ?? throw new ArgumentNullException(nameof(options))).BuildConnectionString())
    {
    }

    public MySqlConnectionFactory(IOptions<MySqlOptions> options)
        : this((options ?? throw new ArgumentNullException(nameof(options))).Value)
    {
    }

    public string ConnectionString { get; }
    public string Database { get; }

    /// <summary>A new, closed connection.</summary>
    public MySqlConnection CreateConnection() => new(ConnectionString);

    /// <summary>A new open connection; the caller disposes it.</summary>
    public async Task<MySqlConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        var connection = new MySqlConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
