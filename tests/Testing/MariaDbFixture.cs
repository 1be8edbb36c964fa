using Microsoft.Extensions.Logging.Abstractions;
using MySql.Data.MySqlClient;
using PoolCluster.Storage;
using PoolCluster.Storage.Migrations;

namespace PoolCluster.Testing;

/// <summary>
/// xunit fixture giving tests isolated databases on the test assembly's one shared MariaDB server. Use it as a class
/// fixture (IClassFixture&lt;MariaDbFixture&gt;): every instance shares the server, which starts on first use and is
/// killed (its data deleted) when the test process exits, so test classes still run in parallel. Each test should
/// create its own database (<see cref="CreateDatabase"/> or <see cref="CreateMigratedDatabaseAsync"/>); the databases
/// a fixture created are dropped when it is disposed. Tests that stop or kill MySQL start a private
/// <see cref="MariaDbServer"/> instead (the shared one refuses).
/// </summary>
public sealed class MariaDbFixture : IDisposable
{
    private static readonly Lazy<MariaDbServer> Shared = new(() =>
    {
        var server = MariaDbServer.StartNew(isShared: true);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAtProcessExit();
        return server;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly List<string> _created = [];

    public MariaDbFixture() => Server = Shared.Value;

    public MariaDbServer Server { get; }

    /// <summary>Creates an empty database with a unique name; returns its name.</summary>
    public string CreateDatabase(string prefix = "test")
    {
        var name = Server.CreateUniqueDatabase(prefix);
        lock (_created)
            _created.Add(name);
        return name;
    }

    /// <summary>Creates a database with the pool's schema (all embedded migrations applied); returns its name.</summary>
    public async Task<string> CreateMigratedDatabaseAsync(string prefix = "test")
    {
        var name = CreateDatabase(prefix);
        await MySqlMigrator.MigrateAsync(Server.ConnectionStringFor(name), NullLogger.Instance).ConfigureAwait(false);
        return name;
    }

    public string ConnectionStringFor(string database) => Server.ConnectionStringFor(database);

    public MySqlOptions OptionsFor(string database) => Server.OptionsFor(database);

    public MySqlConnection OpenConnection(string database)
    {
        var connection = new MySqlConnection(Server.ConnectionStringFor(database));
        connection.Open();
        return connection;
    }

    public void Dispose()
    {
        string[] created;
        lock (_created)
            created = [.. _created];
        foreach (var name in created)
        {
            try
            {
                Server.DropDatabase(name);
            }
            catch (MySqlException)
            {
                // Best effort: the server and everything in it go away with the test process anyway.
            }
        }
    }
}
