using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using PoolCluster.Testing;

namespace PoolCluster.SServer.Tests;

/// <summary>The real executable: configuration, jobs from Kafka, miners, and a graceful stop on SIGTERM.</summary>
[Collection("Kafka")]
public partial class ProcessTests(EmbeddedKafkaFixture kafka)
{
    [Fact]
    public async Task The_service_takes_jobs_from_kafka_serves_miners_and_stops_gracefully_on_sigterm()
    {
        var options = kafka.CreateManifestTopics();
        KafkaTests.ProduceJob(options, TestJobs.Mainnet());
        using var config = new TempConfig(new
        {
            // Extranonce2 as the recorded job's: this miner subscribes before the job has arrived.
            Stratum = new { BindAddress = "127.0.0.1", Port = 0, ServerId = 3, Extranonce2Size = 4, StatsIntervalSeconds = 0, DrainSeconds = 10 },
            Vardiff = new { InitialDifficulty = 0.002, MinDifficulty = 1e-10 },
            Users = new { Source = "None" },
            Kafka = new { BootstrapServers = options.BootstrapServers, TopicPrefix = options.TopicPrefix, ClientId = "sserver-process-test" },
        });
        using var service = ServiceProcess.Start("--config", config.Path);
        var port = await service.WaitForPortAsync(TimeSpan.FromSeconds(60));

        await using var miner = await StratumTestClient.ConnectAsync(port);
        var extranonce1 = await miner.LoginAsync("alice.proc");
        Assert.Equal(3u, extranonce1 >> 24);
        System.Text.Json.JsonElement notify;
        try
        {
            notify = await miner.NotificationAsync("mining.notify", TimeSpan.FromSeconds(30));
        }
        catch (Exception e) when (e is IOException or TimeoutException)
        {
            throw new InvalidOperationException($"no job reached the miner ({e.Message}); SServer's output:\n{service.Output}", e);
        }
        Assert.True(notify.GetProperty("params")[8].GetBoolean());

        service.Terminate();
        await miner.NotificationAsync("client.reconnect", TimeSpan.FromSeconds(10));
        await miner.DisposeAsync(); // the miner follows: the drain ends as soon as it is gone
        Assert.Equal(0, service.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("stopped:", service.Output);
    }

    [Fact]
    public void A_bad_setting_stops_the_service_at_start_naming_the_key()
    {
        using var config = new TempConfig(new
        {
            Stratum = new { ServerId = 0 },
            Users = new { Source = "Http", HttpUrl = "" },
            Kafka = new { BootstrapServers = "127.0.0.1:1" },
        });
        using var service = ServiceProcess.Start("--config", config.Path);
        Assert.Equal(2, service.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Contains("Stratum:ServerId", service.Output);
        Assert.Contains("HttpUrl", service.Output);
    }

    private sealed class TempConfig : IDisposable
    {
        public TempConfig(object settings)
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"sserver-{Guid.NewGuid():N}.json");
            File.WriteAllText(Path, JsonSerializer.Serialize(settings));
        }

        public string Path { get; }

        public void Dispose() => File.Delete(Path);
    }

    private sealed partial class ServiceProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private ServiceProcess(Process process) => _process = process;

        public string Output
        {
            get
            {
                lock (_output)
                    return _output.ToString();
            }
        }

        public static ServiceProcess Start(params string[] args)
        {
            var dll = EmbeddedKafkaProcess.FindBuiltAssembly("services/SServer", "PoolCluster.SServer");
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add(dll);
            foreach (var arg in args)
                info.ArgumentList.Add(arg);
            var service = new ServiceProcess(new Process { StartInfo = info });
            DataReceivedEventHandler collect = (_, e) =>
            {
                if (e.Data == null)
                    return;
                lock (service._output)
                    service._output.AppendLine(e.Data);
                if (ListeningLine().Match(e.Data) is { Success: true } match)
                    service._port.TrySetResult(int.Parse(match.Groups[1].Value));
            };
            service._process.OutputDataReceived += collect;
            service._process.ErrorDataReceived += collect;
            service._process.Start();
            service._process.BeginOutputReadLine();
            service._process.BeginErrorReadLine();
            return service;
        }

        [GeneratedRegex(@"listening for miners on 127\.0\.0\.1:(\d+)")]
        private static partial Regex ListeningLine();

        public async Task<int> WaitForPortAsync(TimeSpan timeout)
        {
            try
            {
                return await _port.Task.WaitAsync(timeout);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException("SServer did not start listening; its output:\n" + Output);
            }
        }

        public void Terminate() => Assert.Equal(0, Kill(_process.Id, 15));

        public int WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout))
            {
                _process.Kill(entireProcessTree: true);
                Assert.Fail("SServer did not exit in time; its output:\n" + Output);
            }
            _process.WaitForExit();
            return _process.ExitCode;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }

        [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static partial int Kill(int pid, int signal);
    }
}
