using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using PoolCluster.Kafka;
using PoolCluster.Topics;

namespace PoolCluster.SServer.Tests;

/// <summary>A real <see cref="StratumServer"/> on 127.0.0.1 (a free port), for one test.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(StratumServer server, CapturedLogs logs)
    {
        Server = server;
        Logs = logs;
    }

    public StratumServer Server { get; }
    public CapturedLogs Logs { get; }
    public int Port => Server.Port;

    public static StratumOptions DefaultOptions() => new()
    {
        BindAddress = "127.0.0.1",
        Port = 0,
        ServerId = 7,
        StatsIntervalSeconds = 0,
        DrainSeconds = 2,
        NotifyIntervalSeconds = 3600,
    };

    /// <summary>Difficulty for tests: starts at the recorded sessions' 0.002, may go as low as 1e-10 (password d=1e-9 for quick shares).</summary>
    public static VardiffSettings DefaultVardiff() => new()
    {
        InitialDifficulty = 0.002,
        MinDifficulty = 1e-10,
        MaxDifficulty = 1e12,
        TargetShareSeconds = 10,
        WindowSeconds = 300,
    };

    public static async Task<TestServer> StartAsync(Action<StratumOptions>? configure = null, VardiffSettings? vardiff = null,
        KafkaOptions? kafka = null, IUserDirectory? users = null, UsersOptions? usersOptions = null)
    {
        var options = DefaultOptions();
        configure?.Invoke(options);
        var logs = new CapturedLogs();
        var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        var resolver = new UserResolver(users ?? new OpenUserDirectory(), usersOptions ?? new UsersOptions { Source = UserSource.None },
            loggerFactory.CreateLogger("users"));
        var server = new StratumServer(options, vardiff ?? DefaultVardiff(), resolver, kafka, loggerFactory);
        await server.StartAsync();
        return new TestServer(server, logs);
    }

    /// <summary>Gives the server a job directly (Kafka tests produce it to the topic instead).</summary>
    public MiningJob Feed(StratumJob job) => Server.Jobs.Accept(job) ?? throw new InvalidOperationException("the server refused the job");

    public Task<StratumTestClient> ConnectAsync() => StratumTestClient.ConnectAsync(Port);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after the timeout.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Log lines a test can look at.</summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => _lines.ToArray();

    public bool Contains(string text) => _lines.Any(l => l.Contains(text, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}{(exception == null ? "" : " " + exception)}");
    }
}
