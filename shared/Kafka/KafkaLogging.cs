using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace PoolCluster.Kafka;

internal static class KafkaLogging
{
    /// <summary>librdkafka's syslog levels as Microsoft.Extensions.Logging levels.</summary>
    public static LogLevel Level(SyslogLevel level) => level switch
    {
        SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Critical,
        SyslogLevel.Error => LogLevel.Error,
        SyslogLevel.Warning => LogLevel.Warning,
        SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
        _ => LogLevel.Debug,
    };

    /// <summary>
    /// librdkafka's log lines: to <paramref name="logger"/>, or without one to stderr like librdkafka's own printer.
    /// One line is dropped: AUTOCREATE "allow.auto.create.topics=false not supported by broker", which the embedded
    /// (mock) cluster causes on every consumer because its Metadata API predates that flag; real brokers never do.
    /// </summary>
    public static Action<TClient, LogMessage> Handler<TClient>(ILogger? logger)
    {
        if (logger != null)
            return (_, m) => logger.Log(Level(m.Level), "librdkafka {Name} {Facility}: {Message}", m.Name, m.Facility, m.Message);
        return (_, m) =>
        {
            if (m.Facility == "AUTOCREATE")
                return;
            Console.Error.WriteLine($"%{(int)m.Level}|{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0:F3}|{m.Facility}|{m.Name}| {m.Message}");
        };
    }
}
