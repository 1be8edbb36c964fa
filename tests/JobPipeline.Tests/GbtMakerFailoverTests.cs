using System.Net;
using System.Net.Sockets;
using PoolCluster.DevNode;
using PoolCluster.Kafka;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.JobPipeline.Tests;

/// <summary>GbtMaker with a dead preferred node: one log line naming it, and templates from the other node all the same.</summary>
public sealed class GbtMakerFailoverTests(EmbeddedKafkaFixture kafka) : IClassFixture<EmbeddedKafkaFixture>
{
    [Fact]
    public async Task A_dead_node_is_named_at_start_and_the_next_node_supplies_templates()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "poolcluster-failover", Guid.NewGuid().ToString("N"));
        await using var node = await DevNodeServer.StartAsync(new DevNodeOptions
        {
            DataDir = dataDir,
            PersistChain = false,
            Rpc = new RpcOptions { Port = 0, User = "u", Password = "p" },
            Mempool = new MempoolOptions { TxPerSecond = 0 },
        });
        var options = kafka.CreateManifestTopics("failover");
        using var gbtMaker = ServiceProcess.Start("GbtMaker", new
        {
            GbtMaker = new
            {
                PollIntervalMs = 300,
                RetryDeadNodeMs = 300,
                Network = "regtest",
                Nodes = new object[]
                {
                    new { Name = "dead", RpcUrl = $"http://127.0.0.1:{ClosedPort()}/", RpcUser = "u", RpcPassword = "p", Priority = 0, TimeoutMs = 500 },
                    new { Name = "alive", RpcUrl = node.RpcUrl, RpcUser = "u", RpcPassword = "p", Priority = 1 },
                },
            },
            Kafka = new { BootstrapServers = kafka.BootstrapServers, options.TopicPrefix, FetchWaitMaxMs = 5 },
        });

        await gbtMaker.WaitForOutputAsync("node dead at", TimeSpan.FromSeconds(30));
        Assert.Contains("does not answer", gbtMaker.Output);

        using var templates = new PoolConsumer<string, RawGbt>(options, TopicManifest.RawGbt,
            new ConsumerSettings { GroupId = EmbeddedKafkaFixture.UniqueGroupId("failover"), StartFrom = StartFrom.Committed });
        var deadline = DateTime.UtcNow.AddSeconds(30);
        RawGbt? gbt = null;
        while (gbt == null && DateTime.UtcNow < deadline)
            gbt = await Task.Run(() => templates.Consume(TimeSpan.FromMilliseconds(200))?.Message?.Value);
        Assert.NotNull(gbt);
        Assert.Equal("alive", gbt.NodeName);
        Assert.Equal(1u, gbt.Height);
        // One failure line for the dead node, not one per poll.
        await Task.Delay(1500);
        Assert.Equal(1, CountOccurrences(gbtMaker.Output, "node dead failed"));
        Directory.Delete(dataDir, recursive: true);
    }

    private static int CountOccurrences(string text, string needle)
    {
        var count = 0;
        for (var at = text.IndexOf(needle, StringComparison.Ordinal); at >= 0; at = text.IndexOf(needle, at + 1, StringComparison.Ordinal))
            count++;
        return count;
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
