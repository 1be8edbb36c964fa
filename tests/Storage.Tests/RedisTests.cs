using Xunit.Abstractions;
using System.Diagnostics;
using PoolCluster.Testing;
using StackExchange.Redis;

namespace PoolCluster.Storage.Tests;

public sealed class RedisTests(RedisFixture redis, ITestOutputHelper output) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task Values_round_trip_under_the_key_prefix()
    {
        var options = redis.CreateOptions();
        using var multiplexer = await RedisConnectionFactory.ConnectAsync(options);
        var pool = multiplexer.GetPoolDatabase(options);

        await pool.StringSetAsync("worker:7:hashrate", "123.5");
        Assert.Equal("123.5", (string?)await pool.StringGetAsync("worker:7:hashrate"));

        // The prefix is real: the raw database holds "<prefix>:worker:7:hashrate", nothing unprefixed.
        var raw = multiplexer.GetDatabase(options.Database);
        Assert.Equal("123.5", (string?)await raw.StringGetAsync($"{options.KeyPrefix}:worker:7:hashrate"));
        Assert.False(await raw.KeyExistsAsync("worker:7:hashrate"));

        // Another coin's prefix does not see it.
        var other = redis.CreateOptions();
        Assert.False(await multiplexer.GetPoolDatabase(other).KeyExistsAsync("worker:7:hashrate"));
    }

    [Fact]
    public void A_wrong_password_is_reported_not_hidden()
    {
        var options = redis.CreateOptions();
        options.Password = "wrong";
        using var multiplexer = RedisConnectionFactory.Connect(options);
        Assert.False(multiplexer.IsConnected);
        Assert.ThrowsAny<RedisException>(() => multiplexer.GetPoolDatabase(options).StringGet("anything"));
    }

    [Fact]
    public async Task Redis_down_at_start_does_not_throw_and_the_connection_recovers_after_an_outage()
    {
        using var server = RedisServer.StartNew();
        output.WriteLine($"Redis started in {server.LastStartDuration.TotalMilliseconds:F0} ms");
        var options = server.CreateOptions();
        server.Stop();

        // A service starting while Redis is down gets a multiplexer, not an exception.
        using var multiplexer = RedisConnectionFactory.Connect(options);
        Assert.False(multiplexer.IsConnected);
        var pool = multiplexer.GetPoolDatabase(options);
        Assert.ThrowsAny<RedisException>(() => pool.StringSet("k", "v"));

        server.Start();
        await WaitForAsync(() => pool.StringSet("k", "v1"));
        Assert.Equal("v1", (string?)pool.StringGet("k"));

        // And again while connected: the multiplexer notices and reconnects by itself.
        server.Stop();
        server.Start();
        await WaitForAsync(() => pool.StringSet("k", "v2"));
        Assert.Equal("v2", (string?)pool.StringGet("k"));
    }

    [Fact]
    public void The_shared_server_refuses_to_be_stopped()
    {
        Assert.True(redis.Server.IsShared);
        Assert.Throws<InvalidOperationException>(redis.Server.Stop);
        Assert.True(redis.Server.IsRunning);
    }

    [Fact]
    public void Dispose_kills_the_server_and_deletes_its_directory()
    {
        var server = RedisServer.StartNew();
        var pid = int.Parse(File.ReadAllText(Path.Combine(server.RootDirectory, "server.pid")), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(MariaDbOutageTests.ProcessAlive(pid));
        server.Dispose();
        Assert.False(Directory.Exists(server.RootDirectory));
        Assert.False(MariaDbOutageTests.ProcessAlive(pid), "redis-server still runs after Dispose");
    }

    private static async Task WaitForAsync(Func<bool> operation)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (operation())
                    return;
            }
            catch (RedisException) when (waited.Elapsed < TimeSpan.FromSeconds(20))
            {
            }
            await Task.Delay(50);
        }
    }
}
