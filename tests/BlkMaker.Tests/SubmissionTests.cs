using PoolCluster.Bitcoin;
using PoolCluster.BlkMaker.Recording;
using PoolCluster.Node;
using PoolCluster.Testing;

namespace PoolCluster.BlkMaker.Tests;

[CollectionDefinition("Kafka")]
public sealed class KafkaCollection : ICollectionFixture<EmbeddedKafkaFixture>;

/// <summary>
/// BlkMaker end to end on real parts: DevNode (regtest, bitcoind's RPC and block validation), the embedded Kafka, a
/// real MariaDB and Redis. Templates come from the node, jobs from JobMaker's builder, solved shares from mining the
/// job with the pool's share checker, as SServer does.
/// </summary>
[Collection("Kafka")]
public sealed class SubmissionTests(EmbeddedKafkaFixture kafka, MariaDbFixture mariaDb, RedisFixture redisFixture)
    : IClassFixture<MariaDbFixture>, IClassFixture<RedisFixture>
{
    private async Task<Sinks> SinksAsync() =>
        Sinks.Create(mariaDb.ConnectionStringFor(await mariaDb.CreateMigratedDatabaseAsync("blk")), redisFixture.CreateOptions());

    [Fact]
    public async Task A_solved_share_becomes_a_block_the_node_accepts_recorded_and_announced_once()
    {
        await using var node = await TestNode.StartAsync();
        node.Server.Node.AddSyntheticTransactions(25);
        var options = kafka.CreateManifestTopics();
        var sinks = await SinksAsync();
        using var topics = new PoolTopics(options);
        var gbt = await node.TemplateAsync();
        Assert.Equal(25, gbt.Transactions.Count);
        Assert.Contains(gbt.Transactions, t => !t.Txid.Equals(t.Wtxid)); // segwit transactions: the coinbase needs its witness
        var job = Mining.Job(gbt);
        topics.Publish(gbt);
        topics.Publish(job);

        var group = EmbeddedKafkaFixture.UniqueGroupId("blkmaker");
        using (var blkmaker = new RunningBlkMaker(RunningBlkMaker.Options(group, node.Endpoint), options, sinks))
        {
            blkmaker.WaitForHistory();
            var share = Mining.Solve(job, session: 0x01020304);
            topics.Publish(share);
            blkmaker.WaitForRecorded(1);
            var hash = Mining.DisplayHash(share);

            // The node took it: it is the tip, with every template transaction.
            Assert.Equal(hash, await node.Client.GetBestBlockHashAsync());
            var header = (await node.Client.GetBlockHeaderAsync(hash))!.Value;
            Assert.Equal(26, header.GetProperty("nTx").GetInt32());
            Assert.Equal(0, (await node.Client.CallAsync("getrawmempool")).GetArrayLength());

            var row = Assert.Single(FoundBlockRow.ReadAll(sinks.MySqlConnectionString));
            var block = Block.ParseHex((await node.Client.CallAsync("getblock", [hash, 0])).GetString()!);
            Assert.Equal(new FoundBlockRow(1001, 424242, "alice.rig1", job.JobId, (int)gbt.Height, 0, hash, gbt.CoinbaseValue, block.Serialize().Length,
                Hash256.FromInternalBytes(gbt.PreviousBlockHash.Span).ToDisplayHex(), gbt.Bits, (int)gbt.Version,
                row.CreatedAt, "accepted", row.SubmitResult, row.SubmittedAt, null), row);
            // created_at is when the share was found (DATETIME: whole seconds).
            var found = DateTimeOffset.FromUnixTimeMilliseconds(share.TimestampUnixMs).UtcDateTime;
            Assert.InRange((row.CreatedAt!.Value - found).Duration(), TimeSpan.Zero, TimeSpan.FromSeconds(1));
            Assert.Equal(block.Coinbase.TotalOutputValue, row.Rewards);
            Assert.Contains("devnode: accepted, main chain", row.SubmitResult);
            Assert.NotNull(row.SubmittedAt);

            Assert.Equal([$"{{\"name\": \"BTC\", \"hash\": \"{hash}\", \"user\": \"alice\", \"worker\": \"rig1\"}}"],
                RedisLists.Read(sinks.Redis, sinks.NewBlockList));
            Eventually.True(() => blkmaker.Status.CommittedOffset == 1, TimeSpan.FromSeconds(10), () => $"committed {blkmaker.Status.CommittedOffset}");
            var timing = Assert.Single(blkmaker.Sent);
            Assert.Equal(hash, timing.Hash);
            Assert.True(timing.ConsumedToAllSentMs < 1_000, $"{timing.ConsumedToAllSentMs} ms from consuming to sending");
        }

        // Another BlkMaker group processes the same solved share again: the node says duplicate; no second row, no second event.
        using (var again = new RunningBlkMaker(RunningBlkMaker.Options(EmbeddedKafkaFixture.UniqueGroupId("again"), node.Endpoint), options, sinks))
        {
            again.WaitForRecorded(1);
            var row = Assert.Single(FoundBlockRow.ReadAll(sinks.MySqlConnectionString));
            Assert.Equal("accepted", row.SubmitStatus);
            Assert.Contains("devnode: duplicate, main chain", row.SubmitResult);
            Assert.Single(RedisLists.Read(sinks.Redis, sinks.NewBlockList));
            Assert.Equal(0, again.Status.Announcements);
        }
    }

    [Fact]
    public async Task A_solved_share_published_while_BlkMaker_was_down_is_submitted_after_it_restarts()
    {
        await using var node = await TestNode.StartAsync();
        node.Server.Node.AddSyntheticTransactions(10);
        var options = kafka.CreateManifestTopics();
        var sinks = await SinksAsync();
        using var topics = new PoolTopics(options);
        var group = EmbeddedKafkaFixture.UniqueGroupId("blkmaker");

        // The template and job come out before BlkMaker ever ran; BlkMaker runs, stops.
        var gbt = await node.TemplateAsync();
        var job = Mining.Job(gbt);
        topics.Publish(gbt);
        topics.Publish(job);
        using (var first = new RunningBlkMaker(RunningBlkMaker.Options(group, node.Endpoint), options, sinks))
            first.WaitForHistory();

        // While it is down, a miner finds the block.
        var share = Mining.Solve(job, session: 77);
        topics.Publish(share);
        Assert.Equal(0, await node.Client.GetBlockCountAsync());

        using var restarted = new RunningBlkMaker(RunningBlkMaker.Options(group, node.Endpoint), options, sinks);
        restarted.WaitForRecorded(1);
        var hash = Mining.DisplayHash(share);
        Assert.Equal(hash, await node.Client.GetBestBlockHashAsync());
        Assert.Equal("accepted", Assert.Single(FoundBlockRow.ReadAll(sinks.MySqlConnectionString)).SubmitStatus);
        Assert.Single(RedisLists.Read(sinks.Redis, sinks.NewBlockList));
    }

    [Fact]
    public async Task Every_node_gets_the_block_an_unreachable_one_does_not_hold_it_up_and_a_lost_race_is_a_side_chain()
    {
        await using var first = await TestNode.StartAsync("node-a");
        await using var second = await TestNode.StartAsync("node-b");
        first.Server.Node.AddSyntheticTransactions(5);
        var options = kafka.CreateManifestTopics();
        var sinks = await SinksAsync();
        using var topics = new PoolTopics(options);
        var dead = new NodeEndpoint { Name = "node-dead", RpcUrl = $"http://127.0.0.1:{FreePort()}/", RpcUser = "x", RpcPassword = "y", TimeoutMs = 1_000 };

        var gbt = await first.TemplateAsync();
        // DevNode has no UTXO set: it learns a transaction's fee from its mempool, so node-b gets them too (as relay would).
        foreach (var tx in gbt.Transactions)
            Assert.True(second.Server.Node.AddTransaction(Transaction.Parse(tx.Data.Span), tx.Fee));
        var job = Mining.Job(gbt);
        topics.Publish(gbt);
        topics.Publish(job);
        using var blkmaker = new RunningBlkMaker(RunningBlkMaker.Options(EmbeddedKafkaFixture.UniqueGroupId("blkmaker"), first.Endpoint, second.Endpoint, dead),
            options, sinks);
        blkmaker.WaitForHistory();

        // Two miners solve the same height (different extranonce1): the first block wins, the second is a side chain.
        var winner = Mining.Solve(job, session: 1, user: "alice", worker: "rig1");
        var loser = Mining.Solve(job, session: 2, user: "bob", worker: "rig9");
        topics.Publish(winner);
        blkmaker.WaitForRecorded(1);
        topics.Publish(loser);
        blkmaker.WaitForRecorded(2);

        var winnerHash = Mining.DisplayHash(winner);
        Assert.Equal(winnerHash, await first.Client.GetBestBlockHashAsync());
        Assert.Equal(winnerHash, await second.Client.GetBestBlockHashAsync());
        var rows = FoundBlockRow.ReadAll(sinks.MySqlConnectionString).ToDictionary(r => r.Hash);
        Assert.Equal("accepted", rows[winnerHash].SubmitStatus);
        Assert.Contains("node-a: accepted, main chain", rows[winnerHash].SubmitResult);
        Assert.Contains("node-b: accepted, main chain", rows[winnerHash].SubmitResult);
        Assert.Contains("node-dead: unavailable", rows[winnerHash].SubmitResult);
        var loserRow = rows[Mining.DisplayHash(loser)];
        Assert.Equal("side-chain", loserRow.SubmitStatus);
        Assert.Contains("node-a: inconclusive, side chain", loserRow.SubmitResult);
        Assert.Equal(-1, await first.ConfirmationsAsync(loserRow.Hash));
        Assert.Equal(0, loserRow.IsOrphaned);
        Assert.Equal(2, RedisLists.Read(sinks.Redis, sinks.NewBlockList).Length);
        // The unreachable node cost the grace period, not the submission: both blocks went out at once.
        Assert.All(blkmaker.Sent, t => Assert.True(t.WrittenTicks[0] > 0 && t.WrittenTicks[1] > 0 && t.WrittenTicks[2] == 0));
    }

    [Fact]
    public async Task A_share_that_misses_the_target_is_rejected_by_the_node_and_recorded_as_such_with_its_block()
    {
        await using var node = await TestNode.StartAsync();
        var options = kafka.CreateManifestTopics();
        var sinks = await SinksAsync();
        using var topics = new PoolTopics(options);
        var gbt = await node.TemplateAsync();
        var job = Mining.Job(gbt);
        topics.Publish(gbt);
        topics.Publish(job);
        using var blkmaker = new RunningBlkMaker(RunningBlkMaker.Options(EmbeddedKafkaFixture.UniqueGroupId("blkmaker"), node.Endpoint), options, sinks);
        blkmaker.WaitForHistory();

        var bad = Mining.Solve(job, session: 5, valid: false);
        topics.Publish(bad);
        blkmaker.WaitForRecorded(1);

        var row = Assert.Single(FoundBlockRow.ReadAll(sinks.MySqlConnectionString));
        Assert.Equal("rejected", row.SubmitStatus);
        Assert.Equal(1, row.IsOrphaned);
        Assert.Contains("rejected (high-hash)", row.SubmitResult);
        Assert.Equal(Mining.DisplayHash(bad), Block.ParseHex(row.BlockHex!).GetHash().ToDisplayHex());
        Assert.Empty(RedisLists.Read(sinks.Redis, sinks.NewBlockList));
        Assert.Equal(0, await node.Client.GetBlockCountAsync());
        Eventually.True(() => blkmaker.Status.CommittedOffset == 1, TimeSpan.FromSeconds(10), () => "not committed");
    }

    [Fact]
    public async Task A_share_whose_template_never_arrives_is_waited_for_then_recorded_as_failed_loudly()
    {
        await using var node = await TestNode.StartAsync();
        node.Server.Node.AddSyntheticTransactions(3);
        var options = kafka.CreateManifestTopics();
        var sinks = await SinksAsync();
        using var topics = new PoolTopics(options);
        var gbt = await node.TemplateAsync();
        var job = Mining.Job(gbt);
        topics.Publish(job); // the job, but never its template
        using var blkmaker = new RunningBlkMaker(RunningBlkMaker.Options(EmbeddedKafkaFixture.UniqueGroupId("blkmaker"), node.Endpoint), options, sinks);
        blkmaker.WaitForHistory();

        var share = Mining.Solve(job, session: 9);
        topics.Publish(share);
        blkmaker.WaitForRecorded(1, TimeSpan.FromSeconds(30));

        var row = Assert.Single(FoundBlockRow.ReadAll(sinks.MySqlConnectionString));
        Assert.Equal("failed", row.SubmitStatus);
        Assert.Equal(1, row.IsOrphaned);
        Assert.Null(row.SubmittedAt);
        Assert.Contains("never arrived", row.SubmitResult);
        Assert.Equal(Mining.DisplayHash(share), row.Hash);
        Assert.True(blkmaker.Logs.Contains("BLOCK LOST"), blkmaker.Logs.Tail());
        Assert.Empty(RedisLists.Read(sinks.Redis, sinks.NewBlockList));
        Assert.Equal(0, await node.Client.GetBlockCountAsync());
    }

    [Fact]
    public async Task A_template_arriving_after_its_solved_share_is_waited_for_and_the_block_goes_out()
    {
        await using var node = await TestNode.StartAsync();
        node.Server.Node.AddSyntheticTransactions(4);
        var options = kafka.CreateManifestTopics();
        var sinks = await SinksAsync();
        using var topics = new PoolTopics(options);
        var gbt = await node.TemplateAsync();
        var job = Mining.Job(gbt);
        var settings = RunningBlkMaker.Options(EmbeddedKafkaFixture.UniqueGroupId("blkmaker"), node.Endpoint);
        settings.TemplateWaitSeconds = 30;
        using var blkmaker = new RunningBlkMaker(settings, options, sinks);
        blkmaker.WaitForHistory();

        var share = Mining.Solve(job, session: 11);
        topics.Publish(share);
        Eventually.True(() => blkmaker.Logs.Contains("is not known yet"), TimeSpan.FromSeconds(10), () => blkmaker.Logs.Tail());
        topics.Publish(gbt);
        blkmaker.WaitForRecorded(1);
        Assert.Equal(Mining.DisplayHash(share), await node.Client.GetBestBlockHashAsync());
        Assert.Equal("accepted", Assert.Single(FoundBlockRow.ReadAll(sinks.MySqlConnectionString)).SubmitStatus);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
