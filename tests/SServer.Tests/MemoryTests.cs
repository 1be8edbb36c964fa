namespace PoolCluster.SServer.Tests;

[CollectionDefinition("Memory", DisableParallelization = true)]
public class MemoryCollection;

/// <summary>
/// The managed memory an idle, authorized connection costs the server (target: at most 4 KB; btcpool needed about
/// 10.6 KB). The miners are a child process, so only the server's side is in this heap; measured after full GCs.
/// </summary>
[Collection("Memory")]
public class MemoryTests
{
    [Fact]
    public async Task An_idle_authorized_connection_costs_at_most_4_KB_of_managed_memory()
    {
        const int connections = 1500;
        await using var server = await TestServer.StartAsync(o => o.Limits.UnauthorizedTimeoutSeconds = 120);
        server.Feed(TestJobs.Mainnet());
        // Warm-up: JIT, pools and lazily built statics, with a few connections that then go away.
        using (var warmup = LoadClientProcess.Start("idle", "--port", server.Port.ToString(), "--connections", "20", "--seconds", "60", "--stop-on-stdin-close", "1"))
        {
            await warmup.WaitReadyAsync(TimeSpan.FromSeconds(60));
            warmup.Stop();
        }
        await TestServer.WaitUntilAsync(() => server.Server.Sessions.Count == 0, "the warm-up connections to close", TimeSpan.FromSeconds(60));
        var before = Settle();

        using var miners = LoadClientProcess.Start("idle", "--port", server.Port.ToString(), "--connections", connections.ToString(),
            "--seconds", "120", "--stop-on-stdin-close", "1");
        await miners.WaitReadyAsync(TimeSpan.FromSeconds(90));
        await TestServer.WaitUntilAsync(() => server.Server.Counters.Authorized == connections,
            $"every connection authorized (now {server.Server.Counters.Authorized})", TimeSpan.FromSeconds(60));
        await TestServer.WaitUntilAsync(() => server.Server.Sessions.All(s => !s.Connection.HoldsReceiveBuffer),
            "every connection idle", TimeSpan.FromSeconds(60));
        var after = Settle();
        var perConnection = (after - before) / (double)connections;
        Assert.True(perConnection <= 4096, $"{perConnection:0} bytes per idle authorized connection (before {before}, after {after})");
        Assert.True(perConnection > 100, $"implausibly small: {perConnection:0} bytes per connection: is the measurement broken?");
        Console.WriteLine($"managed bytes per idle authorized connection: {perConnection:0}");
    }

    private static long Settle()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
