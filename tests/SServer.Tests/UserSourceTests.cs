using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Dapper;
using PoolCluster.Storage;
using PoolCluster.Testing;

namespace PoolCluster.SServer.Tests;

/// <summary>Users from the real pool database (MariaDB) and from btcpool's user-list HTTP API.</summary>
public class UserSourceTests(MariaDbFixture mariaDb) : IClassFixture<MariaDbFixture>
{
    private async Task<(string Database, MySqlConnectionFactory Connections)> DatabaseAsync()
    {
        var database = await mariaDb.CreateMigratedDatabaseAsync("sserver");
        return (database, new MySqlConnectionFactory(mariaDb.ConnectionStringFor(database)));
    }

    [Fact]
    public async Task Users_come_from_the_users_table_and_new_ones_are_picked_up_by_the_poll()
    {
        var (_, connections) = await DatabaseAsync();
        await using (var db = await connections.OpenConnectionAsync())
            await db.ExecuteAsync("INSERT INTO users (puid, name) VALUES (1001, 'alice')");
        await using var server = await TestServer.StartAsync(users: new MySqlUserDirectory(connections),
            usersOptions: new UsersOptions { Source = UserSource.MySql, PollIntervalSeconds = 1, UnknownUserCacheSeconds = 1 });
        Assert.Equal(1, server.Server.Users.CachedUsers);

        await using var alice = await server.ConnectAsync();
        await alice.LoginAsync("ALICE.rig"); // the table's collation ignores case
        Assert.Equal(1001, server.Server.Sessions.Single().UserId);

        await using var mallory = await server.ConnectAsync();
        await mallory.SubscribeAsync();
        var refused = await mallory.AuthorizeAsync("mallory.x");
        StratumTestClient.AssertError(refused, 29);
        Assert.Contains("mallory", refused.GetProperty("error")[1].GetString());

        await using (var db = await connections.OpenConnectionAsync())
            await db.ExecuteAsync("INSERT INTO users (puid, name) VALUES (1002, 'mallory')");
        await TestServer.WaitUntilAsync(() => server.Server.Users.TryGetCached("mallory", out _), "the poll to find the new user");
        Assert.True((await mallory.AuthorizeAsync("mallory.x")).GetProperty("result").GetBoolean());
        Assert.Equal(1002, server.Server.Sessions.Single(s => s.Worker?.UserName == "mallory").UserId);
    }

    [Fact]
    public async Task Auto_registration_inserts_unknown_users()
    {
        var (_, connections) = await DatabaseAsync();
        await using var server = await TestServer.StartAsync(users: new MySqlUserDirectory(connections),
            usersOptions: new UsersOptions { Source = UserSource.MySql, AutoRegister = true });
        await using var client = await server.ConnectAsync();
        await client.LoginAsync("newbie.w1");
        await using var db = await connections.OpenConnectionAsync();
        var puid = await db.ExecuteScalarAsync<int>("SELECT puid FROM users WHERE name = 'newbie'");
        Assert.True(puid > 0);
        Assert.Equal(puid, server.Server.Sessions.Single().UserId);

        // Registered once: a second worker of the same user gets the same id, no second row.
        await using var second = await server.ConnectAsync();
        await second.LoginAsync("Newbie.w2");
        Assert.Equal(1, await db.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM users"));
        Assert.All(server.Server.Sessions, s => Assert.Equal(puid, s.UserId));
    }

    [Fact]
    public async Task Users_come_from_btcpools_user_list_api_polled_with_last_id()
    {
        var users = new ConcurrentDictionary<string, int>(new Dictionary<string, int> { ["alice"] = 1, ["bob"] = 2 });
        var lastIds = new ConcurrentQueue<int>();
        using var api = new HttpListener();
        var port = FreePort();
        api.Prefixes.Add($"http://127.0.0.1:{port}/userlist/");
        api.Start();
        var serving = Task.Run(async () =>
        {
            while (api.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await api.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                var lastId = int.Parse(context.Request.QueryString["last_id"] ?? "-1");
                lastIds.Enqueue(lastId);
                var data = string.Join(",", users.Where(u => u.Value > lastId).Select(u => $"\"{u.Key}\":{u.Value}"));
                var body = Encoding.UTF8.GetBytes($"{{\"err_no\":0,\"err_msg\":null,\"data\":{{{data}}}}}");
                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
        });

        var url = $"http://127.0.0.1:{port}/userlist/get_user_id_list";
        await using (var server = await TestServer.StartAsync(users: new HttpUserDirectory(url, TimeSpan.FromSeconds(5)),
                         usersOptions: new UsersOptions { Source = UserSource.Http, HttpUrl = url, PollIntervalSeconds = 1, UnknownUserCacheSeconds = 0 }))
        {
            Assert.Equal(0, lastIds.First());
            await using var bob = await server.ConnectAsync();
            await bob.LoginAsync("bob.rig");
            Assert.Equal(2, server.Server.Sessions.Single().UserId);

            await using var carol = await server.ConnectAsync();
            await carol.SubscribeAsync();
            StratumTestClient.AssertError(await carol.AuthorizeAsync("carol.x"), 29);
            users["carol"] = 3;
            await TestServer.WaitUntilAsync(() => server.Server.Users.TryGetCached("carol", out _), "carol from the next poll");
            Assert.True((await carol.AuthorizeAsync("carol.x")).GetProperty("result").GetBoolean());
            Assert.Contains(2, lastIds); // incremental: only users above the highest id seen
        }
        api.Stop();
        await serving;
    }

    [Theory]
    [InlineData("{\"err_no\":0,\"err_msg\":null,\"data\":{\"a\":1,\"b\":2}}", 2, null)]
    [InlineData("{\"err_no\":0,\"err_msg\":null,\"data\":[]}", 0, null)]
    [InlineData("{\"err_no\":1,\"err_msg\":\"bad token\",\"data\":null}", 0, "err_no 1: bad token")]
    [InlineData("{\"data\":{\"a\":1}}", 0, "no numeric err_no")]
    [InlineData("{\"err_no\":0,\"data\":{\"a\":\"1\"}}", 0, "positive integer")]
    [InlineData("<html>", 0, "not JSON")]
    public void User_list_answers_are_checked(string body, int count, string? error)
    {
        if (error == null)
        {
            Assert.Equal(count, HttpUserDirectory.Parse(Encoding.UTF8.GetBytes(body), "test").Count);
            return;
        }
        var e = Assert.Throws<FormatException>(() => HttpUserDirectory.Parse(Encoding.UTF8.GetBytes(body), "test"));
        Assert.Contains(error, e.Message);
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
