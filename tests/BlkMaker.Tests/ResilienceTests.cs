using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using PoolCluster.Storage.Migrations;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.BlkMaker.Tests;

/// <summary>What must not stop a block: MySQL or Redis down, a template missing from the live window, a restart.</summary>
[Collection("Kafka")]
public sealed class ResilienceTests(EmbeddedKafkaFixture kafka, MariaDbFixture mariaDb, RedisFixture redisFixture)
    : IClassFixture<MariaDbFixture>, IClassFixture<RedisFixture>
{
    [Fact]
    public async Task With_MySQL_and_Redis_down_the_block_still_goes_out_at_once_and_is_recorded_and_committed_once_they_are_back()
    {
        await using var node = await TestNode.StartAsync();
        node.Server.Node.AddSyntheticTransactions(6);
        using var mysql = MariaDbServer.StartNew();
        await MySqlMigrator.MigrateAsync(mysql.ConnectionString, NullLogger.Instance);
        using var redis = RedisServer.StartNew();
        var sinks = Sinks.Create(mysql.ConnectionString, redis.CreateOptions());
        var options = kafka.CreateManifestTopics();
        using var topics = new PoolTopics(options);
        var gbt = await node.TemplateAsync();
        var job = Mining.Job(gbt);
        topics.Publish(gbt);
        topics.Publish(job);
        using var blkmaker = new RunningBlkMaker(RunningBlkMaker.Options(EmbeddedKafkaFixture.UniqueGroupId("blkmaker"), node.Endpoint), options, sinks);
        blkmaker.WaitForHistory();

        mysql.Stop();
        redis.Stop();
        var share = Mining.Solve(job, session: 21);
        topics.Publish(share);
        var hash = Mining.DisplayHash(share);
        // Submission does not wait for the databases.
        Eventually.True(() => node.Client.GetBestBlockHashAsync().GetAwaiter().GetResult() == hash, TimeSpan.FromSeconds(10), () => blkmaker.Logs.Tail());
        Eventually.True(() => blkmaker.Logs.Contains("cannot record block"), TimeSpan.FromSeconds(10), () => blkmaker.Logs.Tail());
        Thread.Sleep(500);
        Assert.Equal(-1, blkmaker.Status.CommittedOffset);
        Assert.Equal(1, blkmaker.Status.PendingBlocks);

        mysql.Start();
        Eventually.True(() => FoundBlockRow.ReadAll(sinks.MySqlConnectionString).Count == 1, TimeSpan.FromSeconds(20), () => blkmaker.Logs.Tail());
        Thread.Sleep(500);
        // Recorded in MySQL, but the event is not out yet: still not committed.
        Assert.Equal(-1, blkmaker.Status.CommittedOffset);
        redis.Start();
        blkmaker.WaitForRecorded(1, TimeSpan.FromSeconds(30));
        Eventually.True(() => blkmaker.Status.CommittedOffset == 1, TimeSpan.FromSeconds(10), () => blkmaker.Logs.Tail());
        Assert.Single(RedisLists.Read(sinks.Redis, sinks.NewBlockList));
        Assert.Equal("accepted", Assert.Single(FoundBlockRow.ReadAll(sinks.MySqlConnectionString)).SubmitStatus);
    }

    [Fact]
    public async Task A_coinbase_only_block_needs_no_template()
    {
        await using var node = await TestNode.StartAsync();
        var options = kafka.CreateManifestTopics();
        var sinks = Sinks.Create(mariaDb.ConnectionStringFor(await mariaDb.CreateMigratedDatabaseAsync("blk")), redisFixture.CreateOptions());
        using var topics = new PoolTopics(options);
        // An empty-block job (JobMaker's first job on a new block, from a header-only template); the template is never published.
        var gbt = await node.TemplateAsync();
        Assert.Empty(gbt.Transactions);
        var job = Mining.Job(gbt);
        using var blkmaker = new RunningBlkMaker(RunningBlkMaker.Options(EmbeddedKafkaFixture.UniqueGroupId("blkmaker"), node.Endpoint), options, sinks);
        blkmaker.WaitForHistory();
        var share = Mining.Solve(job, session: 31);
        topics.Publish(share);
        blkmaker.WaitForRecorded(1);
        Assert.Equal(Mining.DisplayHash(share), await node.Client.GetBestBlockHashAsync());
        Assert.False(blkmaker.Logs.Contains("is not known yet"));
    }

    [Fact]
    public async Task A_solved_share_older_than_the_history_read_at_start_finds_its_template_by_searching_the_topic()
    {
        await using var node = await TestNode.StartAsync();
        node.Server.Node.AddSyntheticTransactions(3);
        var options = kafka.CreateManifestTopics();
        var sinks = Sinks.Create(mariaDb.ConnectionStringFor(await mariaDb.CreateMigratedDatabaseAsync("blk")), redisFixture.CreateOptions());
        using var topics = new PoolTopics(options);
        var gbt = await node.TemplateAsync();
        var job = Mining.Job(gbt);
        topics.Publish(gbt);
        topics.Publish(job);
        var share = Mining.Solve(job, session: 41);
        topics.Publish(share);

        // BlkMaker comes back "an hour later": the template is outside the 10 minutes it reads back.
        var later = new ShiftedTime(TimeSpan.FromHours(1));
        var settings = RunningBlkMaker.Options(EmbeddedKafkaFixture.UniqueGroupId("blkmaker"), node.Endpoint);
        using var blkmaker = new RunningBlkMaker(settings, options, sinks, time: later);
        blkmaker.WaitForRecorded(1, TimeSpan.FromSeconds(40));
        Assert.True(blkmaker.Logs.Contains("searching"), blkmaker.Logs.Tail());
        Assert.Equal(Mining.DisplayHash(share), await node.Client.GetBestBlockHashAsync());
    }

    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + shift;
    }
}
