using System.Diagnostics;
using System.Globalization;
using PoolCluster.Kafka.Embedded;
using PoolCluster.Testing;

namespace PoolCluster.Kafka.Tests;

/// <summary>services/EmbeddedKafka as an executable, and the in-process cluster it hosts.</summary>
public class EmbeddedKafkaServiceTests
{
    private static (int ExitCode, string Error) Run(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(EmbeddedKafkaProcess.FindBuiltAssembly("services/EmbeddedKafka", "PoolCluster.EmbeddedKafka"));
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"EmbeddedKafka {string.Join(' ', args)} did not exit");
        }
        return (process.ExitCode, stderr.Result);
    }

    [Theory]
    [InlineData("--brokers 0", "--brokers must be a whole number from 1 to 64, not '0'")]
    [InlineData("--brokers", "option --brokers needs a value")]
    [InlineData("--log-level 9", "--log-level must be a whole number from 0 to 7")]
    [InlineData("--port 9092", "unknown option '--port'")]
    public void Bad_arguments_exit_2_naming_the_problem(string args, string message)
    {
        var (exitCode, error) = Run(args.Split(' '));
        Assert.Equal(2, exitCode);
        Assert.Contains(message, error);
    }

    [Fact]
    public void It_stops_by_itself_when_its_parent_process_is_gone()
    {
        using var parent = Process.Start(new ProcessStartInfo("sleep", "0.3") { UseShellExecute = false })!;
        var (exitCode, error) = Run("--parent-pid", parent.Id.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(0, exitCode);
        Assert.Contains($"parent process {parent.Id}", error);
        Assert.Contains("EmbeddedKafka: stopped", error);
    }

    [Fact]
    public void The_cluster_refuses_bad_topics_and_reports_existing_ones()
    {
        using var cluster = EmbeddedKafkaCluster.Start();
        var name = $"t.{Guid.NewGuid():N}";
        Assert.True(cluster.CreateTopic(name, 3));
        Assert.False(cluster.CreateTopic(name, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => cluster.CreateTopic("x", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => EmbeddedKafkaCluster.Start(brokerCount: 0));

        cluster.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cluster.CreateTopic("late", 1));
    }

    [Fact]
    public void The_fixture_hands_out_unique_topics_and_options_for_its_cluster()
    {
        using var fixture = new EmbeddedKafkaFixture();
        var a = fixture.CreateTopic("same", partitions: 2);
        var b = fixture.CreateTopic("same", partitions: 2);
        Assert.NotEqual(a.Name, b.Name);
        Assert.StartsWith("same.", a.Name);
        Assert.False(fixture.Cluster.CreateTopic(a.Name, 2)); // really created on the cluster
        Assert.Equal(fixture.BootstrapServers, fixture.CreateOptions().ResolveBootstrapServers());
        Assert.NotEqual(fixture.CreateManifestTopics().TopicPrefix, fixture.CreateManifestTopics().TopicPrefix);
    }
}
