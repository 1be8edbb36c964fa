using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace PoolCluster.Testing;

/// <summary>Collects log lines (Information and above, the newest 2,000) in memory: tests assert on them and print them when they fail.</summary>
public sealed class MemoryLoggerFactory : ILoggerFactory
{
    private readonly ConcurrentQueue<string> lines = new();

    public IReadOnlyCollection<string> Lines => lines;

    public bool Contains(string text) => lines.Any(l => l.Contains(text, StringComparison.Ordinal));

    public string Tail(int count = 60) => string.Join('\n', lines.TakeLast(count));

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(MemoryLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            owner.lines.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}");
            while (owner.lines.Count > 2_000 && owner.lines.TryDequeue(out _))
            {
            }
        }
    }
}
