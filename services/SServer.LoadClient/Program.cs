using System.Globalization;
using System.Net;
using PoolCluster.SServer.LoadClient;

// Load and measurement client for SServer. Every target address must be on this machine (127.0.0.0/8); every run is
// bounded in connections and time and stops by itself.
//
//   idle   --port P --connections N [--sources 127.0.0.1,127.0.0.2] [--user U] [--seconds S] [--password X]
//          N authorized connections that only listen; prints READY when all have their first job, then for every new
//          job: how long after the first connection got it the others did (the broadcast spread). --read-jobs 0: the
//          connections stop reading after login (the server's send side alone; SServer logs its own spread).
//   shares --port P --connections N --rate R --seconds S [--password X] [--server-pid PID]
//          N connections each submitting R shares a second (unique nonces; the server must run at a difficulty where
//          every hash counts, e.g. Vardiff 1e-12); prints accepted/rejected and, with --server-pid, the server's CPU
//          microseconds per accepted share (/proc/PID/stat).
//   job    --bootstrap HOST:PORT [--prefix P] [--height-offset K] [--notify-file F]
//          publishes a clean StratumJob (the recorded mainnet notify, at a new height) to Kafka and prints when.

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: idle|shares|job [options]  (see Program.cs)");
    return 0;
}
var options = Options.Parse(args.Skip(1).ToArray());
try
{
    return args[0] switch
    {
        "idle" => await IdleCommand.RunAsync(options),
        "shares" => await SharesCommand.RunAsync(options),
        "job" => JobCommand.Run(options),
        _ => throw new ArgumentException($"unknown command '{args[0]}'"),
    };
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"loadclient: {e.Message}");
    return 2;
}

namespace PoolCluster.SServer.LoadClient
{
    internal sealed class Options
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

        public static Options Parse(string[] args)
        {
            var options = new Options();
            for (var i = 0; i < args.Length; i++)
            {
                if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                    throw new ArgumentException($"expected --name value, got '{args[i]}'");
                options._values[args[i][2..]] = args[++i];
            }
            return options;
        }

        public string Get(string name, string? fallback = null) =>
            _values.TryGetValue(name, out var value) ? value : fallback ?? throw new ArgumentException($"--{name} is required");

        public int Int(string name, int? fallback = null) =>
            int.Parse(Get(name, fallback?.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

        public double Double(string name, double fallback) =>
            double.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

        /// <summary>Source addresses to connect from; only loopback addresses are allowed.</summary>
        public IPAddress[] Sources()
        {
            var sources = Get("sources", "127.0.0.1").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(IPAddress.Parse).ToArray();
            foreach (var source in sources)
                if (!IPAddress.IsLoopback(source))
                    throw new ArgumentException($"source address {source} is not a loopback address: this tool only talks to this machine");
            return sources;
        }
    }

    internal static class Stats
    {
        public static double Percentile(List<double> sorted, double p) =>
            sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];

        /// <summary>Wall-clock microseconds (comparable across processes on this machine).</summary>
        public static long UnixMicros() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;
    }
}
