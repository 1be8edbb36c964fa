using System.Globalization;

namespace PoolCluster.EmbeddedKafka;

/// <summary>The command line: --brokers N --bootstrap-file PATH --topic-prefix P --parent-pid PID --log-level L.</summary>
internal sealed record EmbeddedKafkaArguments(int Brokers, string? BootstrapFile, string TopicPrefix, int? ParentPid, int LogLevel, bool Help)
{
    public const string Usage = """
        PoolCluster.EmbeddedKafka: an in-memory Kafka cluster (librdkafka's mock brokers) on 127.0.0.1, with the
        topics of topics/topics.json. Data is in memory only. Runs until SIGTERM or SIGINT.

        Options:
          --brokers N            number of brokers (default 1)
          --bootstrap-file PATH  write the bootstrap address (host:port,...) to PATH (atomically; removed on exit)
          --topic-prefix P       prefix for every manifest topic name (default none; as Kafka:TopicPrefix)
          --parent-pid PID       exit when process PID is gone (for test harnesses)
          --log-level L          librdkafka syslog level 0..7 for the brokers' own log on stderr (default 3: errors)

        Ports are chosen by the kernel at start (librdkafka 2.0.2 has no way to fix them). The address is printed on
        stdout as KAFKA_BOOTSTRAP=host:port[,host:port...] and written to --bootstrap-file; services read it with
        Kafka:BootstrapFile.
        """;

    public static EmbeddedKafkaArguments Parse(IReadOnlyList<string> args)
    {
        int brokers = 1, logLevel = 3;
        int? parentPid = null;
        string? bootstrapFile = null;
        var prefix = "";
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name is "-h" or "--help")
                return new EmbeddedKafkaArguments(brokers, bootstrapFile, prefix, parentPid, logLevel, Help: true);
            if (i + 1 >= args.Count)
                throw new ArgumentException($"option {name} needs a value (see --help)");
            var value = args[++i];
            switch (name)
            {
                case "--brokers":
                    brokers = Int(name, value, min: 1, max: 64);
                    break;
                case "--bootstrap-file":
                    bootstrapFile = string.IsNullOrWhiteSpace(value) ? throw new ArgumentException("--bootstrap-file needs a path") : value;
                    break;
                case "--topic-prefix":
                    prefix = value;
                    break;
                case "--parent-pid":
                    parentPid = Int(name, value, min: 1, max: int.MaxValue);
                    break;
                case "--log-level":
                    logLevel = Int(name, value, min: 0, max: 7);
                    break;
                default:
                    throw new ArgumentException($"unknown option '{name}' (see --help)");
            }
        }
        return new EmbeddedKafkaArguments(brokers, bootstrapFile, prefix, parentPid, logLevel, Help: false);
    }

    private static int Int(string name, string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
            throw new ArgumentException($"{name} must be a whole number from {min} to {max}, not '{value}'");
        return n;
    }
}
