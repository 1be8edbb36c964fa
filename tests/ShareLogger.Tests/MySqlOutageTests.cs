using Microsoft.Extensions.Logging.Abstractions;
using PoolCluster.Storage.Migrations;
using PoolCluster.Testing;

namespace PoolCluster.ShareLogger.Tests;

/// <summary>
/// MySQL goes away while shares keep coming (a clean stop, then a crash): consumption pauses with bounded memory,
/// resumes when MySQL is back, and the table ends up with every share exactly once.
/// </summary>
[Collection("Kafka")]
public sealed class MySqlOutageTests(EmbeddedKafkaFixture kafka)
{
    [Fact]
    public async Task Shares_produced_through_a_MySQL_stop_and_a_MySQL_crash_are_all_written_once_with_bounded_memory()
    {
        using var server = MariaDbServer.StartNew();
        var connectionString = server.ConnectionString;
        await MySqlMigrator.MigrateAsync(connectionString, NullLogger.Instance);
        var options = kafka.CreateManifestTopics();
        var group = EmbeddedKafkaFixture.UniqueGroupId("outage");
        var settings = EngineTests.TestOptions(group);
        settings.BatchRows = 1_000;
        settings.MaxPendingBatches = 2;

        const int total = 60_000;
        var produced = new ProducedShares();
        using var engine = new EngineTests.RunningEngine(settings, options, connectionString);
        var producing = Task.Run(() => Shares.Produce(options, total, perSecond: 6_000, into: produced));

        Eventually.True(() => engine.Status.RowsWritten > 5_000, TimeSpan.FromSeconds(30), () => engine.Logs.Tail());
        server.Stop();
        var stoppedAt = engine.Status.RowsWritten;
        // Shares keep arriving; the writer fails, the queue fills, consumption pauses.
        Eventually.True(() => engine.Status.IsPaused, TimeSpan.FromSeconds(20), () => engine.Logs.Tail());
        Thread.Sleep(1_000);
        Assert.True(engine.Status.IsPaused);
        Assert.True(engine.Status.WriteFailures > 0);
        Assert.NotNull(engine.Status.MySqlFailingSince);
        Assert.Equal(stoppedAt, engine.Status.RowsWritten);
        server.Start();
        Eventually.True(() => !engine.Status.IsPaused && engine.Status.RowsWritten > stoppedAt + 5_000, TimeSpan.FromSeconds(30), () => engine.Logs.Tail());

        // Now a crash: SIGKILL, InnoDB crash recovery at the next start.
        server.Kill();
        Thread.Sleep(1_500);
        server.Start();

        await producing;
        Eventually.True(() => engine.Status.RowsWritten >= total, TimeSpan.FromSeconds(60),
            () => $"{engine.Status.RowsWritten} of {total}\n{engine.Logs.Tail()}");
        Thread.Sleep(300);
        engine.Stop();

        TableContents.Read(connectionString, group).AssertExactly(produced);
        Assert.Equal(total, engine.Status.RowsWritten);
        Assert.True(engine.Status.Pauses >= 1);
        // Bounded: never more queued than configured (+1 being written), and the open batch never far past its size.
        Assert.True(engine.Status.MaxPendingBatchesSeen <= settings.MaxPendingBatches + 1, $"{engine.Status.MaxPendingBatchesSeen} batches were pending");
        Assert.True(engine.Status.MaxBufferedRowsSeen <= settings.BatchRows + 1_000, $"{engine.Status.MaxBufferedRowsSeen} rows were buffered");
        Assert.True(engine.Logs.Contains("consumption paused"), engine.Logs.Tail());
        Assert.True(engine.Logs.Contains("MySQL writes work again"), engine.Logs.Tail());
    }
}
