using Xunit.Abstractions;
using System.Diagnostics;
using Dapper;
using MySql.Data.MySqlClient;
using PoolCluster.Storage.Migrations;
using PoolCluster.Testing;

namespace PoolCluster.Storage.Tests;

/// <summary>MariaDbServer itself, and how our connection factory lives through a MySQL outage. Private servers: these stop them.</summary>
public sealed class MariaDbOutageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_stopped_server_refuses_connections_and_after_start_serves_the_same_data()
    {
        using var server = MariaDbServer.StartNew();
        var factory = new MySqlConnectionFactory(server.OptionsFor(MariaDbServer.DefaultDatabase));
        await MySqlMigrator.MigrateAsync(factory.ConnectionString, new ListLogger());
        await using (var connection = await factory.OpenConnectionAsync())
            await connection.ExecuteAsync("INSERT INTO users (name) VALUES ('before-outage')");

        server.Stop();
        Assert.False(server.IsRunning);
        var refused = Stopwatch.StartNew();
        await Assert.ThrowsAsync<MySqlException>(() => factory.OpenConnectionAsync());
        Assert.True(refused.Elapsed < TimeSpan.FromSeconds(5), $"a refused connection took {refused.Elapsed}");

        server.Start();
        output.WriteLine($"MariaDB restarted in {server.LastStartDuration.TotalMilliseconds:F0} ms");
        Assert.True(server.IsRunning);
        // The first open after the outage must work: the pool drops connections that died with the server.
        await using (var connection = await factory.OpenConnectionAsync())
        {
            Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM users WHERE name = 'before-outage'"));
            await connection.ExecuteAsync("INSERT INTO users (name) VALUES ('after-outage')");
        }
    }

    [Fact]
    public async Task A_killed_server_recovers_committed_rows_on_start()
    {
        using var server = MariaDbServer.StartNew();
        var database = server.CreateUniqueDatabase("crash");
        var connectionString = server.ConnectionStringFor(database);
        await MySqlMigrator.MigrateAsync(connectionString, new ListLogger());
        using (var connection = new MySqlConnection(connectionString))
        {
            connection.Open();
            await connection.ExecuteAsync("INSERT INTO users (name) VALUES ('committed')");
        }

        server.Kill();
        Assert.False(server.IsRunning);
        server.Start();

        using var after = new MySqlConnection(connectionString);
        after.Open();
        Assert.Equal(1, await after.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM users WHERE name = 'committed'"));
    }

    [Fact]
    public async Task Servers_authenticate_with_the_password_only()
    {
        using var server = MariaDbServer.StartNew();
        output.WriteLine($"MariaDB started in {server.LastStartDuration.TotalMilliseconds:F0} ms");
        Assert.True(server.LastStartDuration < TimeSpan.FromSeconds(30), $"start took {server.LastStartDuration}");
        var wrong = new MySqlConnectionStringBuilder(server.ConnectionString) { Password = "not-the-password", Pooling = false };
        using var connection = new MySqlConnection(wrong.ConnectionString);
        var denied = Assert.Throws<MySqlException>(connection.Open);
        Assert.Contains("Access denied", denied.Message, StringComparison.Ordinal);

        using var right = new MySqlConnection(server.ConnectionString);
        right.Open();
        Assert.Equal("pool@127.0.0.1", await right.ExecuteScalarAsync<string>("SELECT USER()"));
        Assert.Equal("+00:00", await right.ExecuteScalarAsync<string>("SELECT @@time_zone"));
    }

    [Fact]
    public void Dispose_kills_the_server_and_deletes_its_directory()
    {
        var server = MariaDbServer.StartNew();
        var pid = int.Parse(File.ReadAllText(Path.Combine(server.RootDirectory, "server.pid")), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("mariadbd", File.ReadAllText($"/proc/{pid}/cmdline"), StringComparison.Ordinal);

        server.Dispose();

        Assert.False(Directory.Exists(server.RootDirectory));
        Assert.False(ProcessAlive(pid), "mariadbd still runs after Dispose");
    }

    [Fact]
    public void The_shared_server_refuses_to_be_stopped()
    {
        using var fixture = new MariaDbFixture();
        Assert.True(fixture.Server.IsShared);
        Assert.Contains("StartNew", Assert.Throws<InvalidOperationException>(fixture.Server.Stop).Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(fixture.Server.Kill);
        Assert.True(fixture.Server.IsRunning);
    }

    [Fact]
    public void Orphans_of_a_dead_test_process_are_killed_and_removed()
    {
        // A dead owner: a process that has exited (its pid no longer maps to the recorded start time).
        using var exited = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!;
        exited.WaitForExit();
        var orphanDir = Path.Combine(Path.GetTempPath(), $"poolcluster-db-mariadb-{exited.Id}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(orphanDir);
        File.WriteAllText(Path.Combine(orphanDir, "owner"), $"{exited.Id} 1");
        // A stand-in server whose command line names the dir, as mariadbd's does (--datadir=...).
        using var orphan = Process.Start(new ProcessStartInfo("/bin/bash", ["-c", $"exec -a '{orphanDir}/data' sleep 120"]) { UseShellExecute = false })!;
        File.WriteAllText(Path.Combine(orphanDir, "server.pid"), orphan.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // A live owner's dir must be left alone.
        var liveDir = Path.Combine(Path.GetTempPath(), $"poolcluster-db-redis-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(liveDir);
        File.WriteAllText(Path.Combine(liveDir, "owner"), $"{Environment.ProcessId}");
        try
        {
            WaitUntil(() => File.ReadAllText($"/proc/{orphan.Id}/cmdline").Contains(orphanDir, StringComparison.Ordinal));

            MariaDbServer.RemoveOrphans();

            Assert.True(orphan.WaitForExit(TimeSpan.FromSeconds(5)), "the orphaned server was not killed");
            Assert.False(Directory.Exists(orphanDir));
            Assert.True(Directory.Exists(liveDir));
        }
        finally
        {
            if (!orphan.HasExited)
                orphan.Kill();
            Directory.Delete(liveDir, recursive: true);
            if (Directory.Exists(orphanDir))
                Directory.Delete(orphanDir, recursive: true);
        }
    }

    internal static bool ProcessAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    internal static void WaitUntil(Func<bool> condition)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(10))
                throw new TimeoutException("condition not met within 10 s");
            Thread.Sleep(10);
        }
    }
}
