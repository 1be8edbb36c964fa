using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using PoolCluster.Testing;
using PoolCluster.Topics;

namespace PoolCluster.Kafka.Tests;

/// <summary>
/// Separate OS processes meet on an embedded cluster hosted by a third: services/EmbeddedKafka as a child process,
/// tests/Kafka.Probe as another child, and this test process.
/// </summary>
public class CrossProcessTests
{
    private const int Count = 500;

    [Fact]
    public void A_child_process_produces_and_this_process_consumes_every_share_through_a_child_hosted_cluster()
    {
        var prefix = $"x{Guid.NewGuid():N}.";
        using var broker = EmbeddedKafkaProcess.Start(brokers: 1, topicPrefix: prefix);
        Assert.Equal(broker.BootstrapServers, BootstrapFile.Read(broker.BootstrapFile));
        Assert.Matches(@"^127\.0\.0\.1:\d+$", broker.BootstrapServers);

        var probe = RunProbe("produce", broker.BootstrapServers, prefix, "--count", Count.ToString(CultureInfo.InvariantCulture));
        Assert.True(probe.ExitCode == 0, $"producer child failed ({probe.ExitCode}):\n{probe.Output}\n{probe.Error}");
        Assert.Contains($"PRODUCED {Count}", probe.Output);

        // Connect through the bootstrap file, as a service configured with Kafka:BootstrapFile does.
        var options = new KafkaOptions { BootstrapFile = broker.BootstrapFile, TopicPrefix = prefix, FetchWaitMaxMs = 50, ClientId = "cross-process-test" };
        using var consumer = new PoolConsumer<int, Share>(options, TopicManifest.Share,
            new ConsumerSettings { StartFrom = StartFrom.Timestamp(DateTimeOffset.UtcNow.AddHours(-1)) });
        var received = Drain.Exactly(consumer, Count);
        Drain.Nothing(consumer, TimeSpan.FromMilliseconds(300));

        Assert.Equal(Enumerable.Range(0, Count).Select(i => (ulong)i), received.Select(r => r.Message.Value.SessionId).Order());
        Assert.All(received, r =>
        {
            var i = (int)r.Message.Value.SessionId;
            Assert.Equal(i % 7, r.Message.Key);
            Assert.Equal(i % 7, r.Message.Value.UserId);
            Assert.Equal($"probe-{i}", r.Message.Value.WorkerName);
            Assert.Equal(ShareStatus.Accepted, r.Message.Value.Status);
        });
        // Per key (user), the order produced is the order consumed.
        foreach (var user in received.GroupBy(r => r.Message.Key))
            Assert.Equal(user.Select(r => r.Message.Value.SessionId).Order(), user.Select(r => r.Message.Value.SessionId));

        Assert.Equal(0, broker.Stop());
        Assert.False(File.Exists(broker.BootstrapFile), "EmbeddedKafka left its bootstrap file behind after SIGTERM");
        Assert.Contains("EmbeddedKafka: stopped", broker.StandardError);
    }

    [Fact]
    public async Task This_process_produces_and_a_child_process_consumes_in_a_group()
    {
        var prefix = $"y{Guid.NewGuid():N}.";
        using var broker = EmbeddedKafkaProcess.Start(brokers: 2, topicPrefix: prefix);
        Assert.Equal(2, broker.BootstrapServers.Split(',').Length);

        var options = new KafkaOptions { BootstrapServers = broker.BootstrapServers, TopicPrefix = prefix, ClientId = "cross-process-test" };
        using (var producer = new PoolProducer<int, Share>(options, TopicManifest.Share))
        {
            for (var i = 0; i < Count; i++)
                producer.Produce(i % 7, new Share { UserId = i % 7, SessionId = (ulong)i, WorkerName = $"probe-{i}", Status = ShareStatus.Accepted });
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
            Assert.Equal(0, producer.DeliveryFailures);
        }

        var group = $"probe-group-{Guid.NewGuid():N}";
        var probe = await Task.Run(() => RunProbe("consume", broker.BootstrapServers, prefix, "--count", Count.ToString(CultureInfo.InvariantCulture), "--group", group));
        Assert.True(probe.ExitCode == 0, $"consumer child failed ({probe.ExitCode}):\n{probe.Output}\n{probe.Error}");
        var sessions = probe.Output.Split('\n').Where(l => l.StartsWith("SHARE ", StringComparison.Ordinal))
            .Select(l => l.Split(' ')).Select(f => (Key: int.Parse(f[1], CultureInfo.InvariantCulture), Session: int.Parse(f[2], CultureInfo.InvariantCulture), Worker: f[3]))
            .ToList();
        Assert.Equal(Enumerable.Range(0, Count), sessions.Select(s => s.Session).Order());
        Assert.All(sessions, s => Assert.Equal((s.Session % 7, $"probe-{s.Session}"), (s.Key, s.Worker)));

        // The child committed before exiting: the group's offsets, read by this process, add up to every message.
        KafkaNative.EnsureInitialized();
        using var reader = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = broker.BootstrapServers, GroupId = group }).Build();
        var topic = options.TopicName(TopicManifest.Share);
        var partitions = Enumerable.Range(0, TopicManifest.Load()[TopicManifest.Share].Partitions).Select(p => new TopicPartition(topic, p));
        var committed = reader.Committed(partitions, TimeSpan.FromSeconds(10));
        Assert.Equal(Count, committed.Where(c => c.Offset.Value > 0).Sum(c => c.Offset.Value));
    }

    private sealed record ProbeRun(int ExitCode, string Output, string Error);

    private static ProbeRun RunProbe(params string[] args)
    {
        var dll = EmbeddedKafkaProcess.FindBuiltAssembly("tests/Kafka.Probe", "PoolCluster.Kafka.Probe");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add(args[0]);
        info.ArgumentList.Add("--bootstrap");
        info.ArgumentList.Add(args[1]);
        info.ArgumentList.Add("--topic-prefix");
        info.ArgumentList.Add(args[2]);
        foreach (var arg in args.Skip(3))
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"probe {args[0]} did not finish within 60 s");
        }
        return new ProbeRun(process.ExitCode, stdout.Result, stderr.Result);
    }
}
