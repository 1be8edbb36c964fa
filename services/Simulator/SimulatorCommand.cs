using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PoolCluster.Stratum;

namespace PoolCluster.Simulator;

/// <summary>
/// The command line: options (System.CommandLine), their validation into <see cref="SimulatorSettings"/>, and the run.
/// Exit codes: 0 the run finished (duration, share count or Ctrl-C); 1 it could not run (no miner ever logged in, the
/// report could not be written); 2 bad arguments, each problem named on stderr.
/// </summary>
public static class SimulatorCommand
{
    public const int ExitOk = 0;
    public const int ExitFailed = 1;
    public const int ExitBadArguments = 2;

    private static readonly string[] BadKindNames = ["stale", "duplicate", "lowdiff", "garbage"];

    /// <summary>Parses <paramref name="args"/> and runs the simulation; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken,
        bool? outputIsTerminal = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new Options();
        var root = options.CreateRootCommand();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var problem in parsed.Errors)
                await error.WriteLineAsync($"simulator: {problem.Message}");
            await error.WriteLineAsync("Run with --help to see the options.");
            return ExitBadArguments;
        }
        if (parsed.Action != null && !ReferenceEquals(parsed.Action, root.Action))
        {
            // --help or --version.
            return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
        }

        var problems = new List<string>();
        var settings = options.Validate(parsed, problems);
        if (settings == null)
        {
            foreach (var problem in problems)
                await error.WriteLineAsync($"simulator: {problem}");
            await error.WriteLineAsync("Run with --help to see the options.");
            return ExitBadArguments;
        }

        var terminal = outputIsTerminal ?? (ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected);
        var simulation = new Simulation(settings, output, terminal);
        SimulationReport report;
        try
        {
            // On the thread pool: a caller's SynchronizationContext (a UI, a test framework) must not carry the
            // continuations of thousands of connections.
            report = await Task.Run(() => simulation.RunAsync(cancellationToken), CancellationToken.None);
        }
        catch (SimulationFailedException e)
        {
            await error.WriteLineAsync($"simulator: {e.Message}");
            return ExitFailed;
        }

        if (settings.ReportPath != null)
        {
            try
            {
                await File.WriteAllBytesAsync(settings.ReportPath, report.ToJson(), CancellationToken.None);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"simulator: cannot write the report to {settings.ReportPath}: {e.Message}");
                return ExitFailed;
            }
        }
        if (report.Connections.LoggedIn == 0)
        {
            await error.WriteLineAsync(
                $"simulator: no miner ever logged in ({report.FirstErrorOrNone()}); is a stratum server listening on {string.Join(", ", settings.Servers)}?");
            return ExitFailed;
        }
        return ExitOk;
    }

    /// <summary>The option objects of one parse (System.CommandLine symbols are not meant to be shared between parsers).</summary>
    private sealed class Options
    {
        public readonly Option<string[]> Url = new("--url")
        {
            Description = "Stratum server as stratum+tcp://host:port; repeat for several servers (miners are spread round-robin). " +
                          "Default: --host and --port.",
            HelpName = "stratum+tcp://HOST:PORT",
            AllowMultipleArgumentsPerToken = false,
        };
        public readonly Option<string> Host = new("--host") { Description = "Stratum server host (when no --url).", DefaultValueFactory = _ => "127.0.0.1" };
        public readonly Option<int> Port = new("--port") { Description = "Stratum server port (when no --url).", DefaultValueFactory = _ => 3333 };
        public readonly Option<int> Miners = new("--miners") { Description = "Number of miners (one TCP connection each).", DefaultValueFactory = _ => 1 };
        public readonly Option<string> User = new("--user")
        {
            Description = "User name every miner logs in as; with --users N the prefix of the N user names.",
            DefaultValueFactory = _ => "user",
        };
        public readonly Option<int?> Users = new("--users") { Description = "Spread miners round-robin over N users named <user>0001, <user>0002, ..." };
        public readonly Option<string> WorkerPrefix = new("--worker-prefix") { Description = "Worker names are <prefix>-00001, <prefix>-00002, ...", DefaultValueFactory = _ => "sim" };
        public readonly Option<string> Password = new("--password") { Description = "mining.authorize password (e.g. d=0.001 to ask for a start difficulty).", DefaultValueFactory = _ => "x" };
        public readonly Option<double?> Rate = new("--rate") { Description = "Target shares per second per miner (default 1; exclusive with --hashrate)." };
        public readonly Option<double?> Hashrate = new("--hashrate") { Description = "Simulated hashes per second per miner: real hashing, every share found is submitted, so the share rate follows the difficulty (exercises vardiff)." };
        public readonly Option<string> Hashing = new("--hashing") { Description = "auto: real hashing when the CPU sustains --rate at the difficulty, else blind; real: always grind; blind: never hash (needs a tiny server difficulty).", DefaultValueFactory = _ => "auto" };
        public readonly Option<string?> Duration = new("--duration") { Description = "Run time: 30, 30s, 5m, 1h. Without it and --shares: until Ctrl-C." };
        public readonly Option<long?> Shares = new("--shares") { Description = "Stop after N accepted good shares (over all miners)." };
        public readonly Option<double> BadShareFraction = new("--bad-share-fraction") { Description = "Fraction (0..1) of submits that are deliberately bad.", DefaultValueFactory = _ => 0 };
        public readonly Option<string> BadShareKinds = new("--bad-share-kinds") { Description = "Comma list of bad kinds to mix: stale,duplicate,lowdiff,garbage.", DefaultValueFactory = _ => "stale,duplicate,lowdiff,garbage" };
        public readonly Option<string?> ReconnectEvery = new("--reconnect-every") { Description = "Reconnect storm period (e.g. 10s): every period a --reconnect-fraction of connected miners disconnects and reconnects." };
        public readonly Option<double?> ReconnectFraction = new("--reconnect-fraction") { Description = "Fraction (0..1] of connected miners in each reconnect storm (default 0.1)." };
        public readonly Option<double> ConnectRate = new("--connect-rate") { Description = "New connections per second during the ramp-up.", DefaultValueFactory = _ => 1000 };
        public readonly Option<string?> SourceIps = new("--source-ips") { Description = "Local addresses to connect from, e.g. 127.0.0.1-127.0.0.20 or 127.0.0.2,127.0.0.3 (more than ~28,000 connections per address and server need several)." };
        public readonly Option<string?> Report = new("--report") { Description = "Write the JSON report to this file at the end." };
        public readonly Option<bool> Quiet = new("--quiet") { Description = "No progress output; only the final summary line." };
        public readonly Option<int?> HashThreads = new("--hash-threads") { Description = "Hashing threads (default: one per core)." };
        public readonly Option<int?> Seed = new("--seed") { Description = "Random seed (phases, bad-share choice, storms) for repeatable runs." };
        public readonly Option<string?> ProgressInterval = new("--progress-interval") { Description = "Progress period (default 1s on a terminal, 5s otherwise)." };
        public readonly Option<string> Drain = new("--drain") { Description = "At the end, how long to wait for answers to shares in flight.", DefaultValueFactory = _ => "5s" };

        public RootCommand CreateRootCommand()
        {
            var root = new RootCommand("PoolCluster simulator: many stratum miners over real TCP, real shares, live progress and a JSON report.")
            {
                Url, Host, Port, Miners, User, Users, WorkerPrefix, Password, Rate, Hashrate, Hashing, Duration, Shares,
                BadShareFraction, BadShareKinds, ReconnectEvery, ReconnectFraction, ConnectRate, SourceIps, Report, Quiet,
                HashThreads, Seed, ProgressInterval, Drain,
            };
            root.SetAction(_ => ExitOk);
            return root;
        }

        public SimulatorSettings? Validate(ParseResult parsed, List<string> problems)
        {
            var servers = new List<StratumEndpoint>();
            var urls = parsed.GetValue(Url) ?? [];
            if (urls.Length > 0)
            {
                if (parsed.GetResult(Host) is { Implicit: false } || parsed.GetResult(Port) is { Implicit: false })
                    problems.Add("--url and --host/--port both given: use one or the other");
                foreach (var url in urls)
                    if (TryParseUrl(url, out var host, out var port, out var urlProblem))
                        AddServer(servers, host, port, problems);
                    else
                        problems.Add(urlProblem);
            }
            else
            {
                var port = parsed.GetValue(Port);
                if (port is < 1 or > 65535)
                    problems.Add($"--port {port} is not a TCP port (1..65535)");
                else
                    AddServer(servers, parsed.GetValue(Host)!, port, problems);
            }

            var miners = parsed.GetValue(Miners);
            if (miners is < 1 or > 1_000_000)
                problems.Add($"--miners {miners} must be 1..1000000");

            var user = parsed.GetValue(User) ?? "";
            var userCount = parsed.GetValue(Users);
            var users = new List<string>();
            if (userCount is { } n)
            {
                if (n is < 1 or > 1_000_000)
                    problems.Add($"--users {n} must be 1..1000000");
                else
                    for (var i = 1; i <= n; i++)
                        users.Add(user + i.ToString("D4", CultureInfo.InvariantCulture));
            }
            else
            {
                users.Add(user);
            }
            var prefix = parsed.GetValue(WorkerPrefix) ?? "";
            if (users.Count > 0 && miners >= 1)
            {
                // The longest login this run makes must survive the server's normalization unchanged, or the shares the
                // report attributes to a user/worker would land elsewhere.
                var longest = $"{users[^1]}.{prefix}-{Math.Max(miners, 1):D5}";
                if (!StratumWorkerName.TryParse(longest, out var worker, out var loginProblem))
                    problems.Add($"--user \"{user}\": {loginProblem}");
                else if (worker!.FullName != longest)
                    problems.Add($"--worker-prefix \"{prefix}\": the worker name {longest[(longest.IndexOf('.') + 1)..]} would be changed by the server " +
                                 $"to {worker.WorkerName} (allowed: letters, digits and - . _ : | ^ /, at most {StratumWorkerName.MaxWorkerNameLength} characters)");
            }

            var rate = parsed.GetValue(Rate);
            var hashrate = parsed.GetValue(Hashrate);
            if (rate != null && hashrate != null)
                problems.Add("--rate and --hashrate both given: --rate asks for a share rate, --hashrate for a hash rate (the share rate then follows the difficulty)");
            if (rate is { } r && !(r > 0 && r <= 100_000))
                problems.Add($"--rate {Format(r)} must be above 0 and at most 100000 shares/s per miner");
            if (hashrate is { } h && !(h >= 1 && h <= 1e15))
                problems.Add($"--hashrate {Format(h)} must be 1..1e15 hashes/s per miner");
            if (rate == null && hashrate == null)
                rate = 1;

            var hashingText = parsed.GetValue(Hashing) ?? "auto";
            HashingMode hashing = HashingMode.Auto;
            switch (hashingText.ToLowerInvariant())
            {
                case "auto": hashing = HashingMode.Auto; break;
                case "real": hashing = HashingMode.Real; break;
                case "blind": hashing = HashingMode.Blind; break;
                default: problems.Add($"--hashing \"{hashingText}\" must be auto, real or blind"); break;
            }
            if (hashrate != null && hashing == HashingMode.Blind)
                problems.Add("--hashing blind with --hashrate: a hash rate means real hashing; use --rate for blind submits");

            TimeSpan? duration = null;
            if (parsed.GetValue(Duration) is { } durationText)
                duration = ParseDuration("--duration", durationText, problems);
            var shares = parsed.GetValue(Shares);
            if (shares is < 1)
                problems.Add($"--shares {shares} must be at least 1");

            var badFraction = parsed.GetValue(BadShareFraction);
            if (!(badFraction >= 0 && badFraction <= 1))
                problems.Add($"--bad-share-fraction {Format(badFraction)} must be 0..1");
            else if (hashrate != null && badFraction >= 1)
                problems.Add("--bad-share-fraction 1 with --hashrate: bad shares are mixed in among the shares found, so the fraction must be below 1");
            var kinds = new List<BadShareKind>();
            foreach (var name in (parsed.GetValue(BadShareKinds) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                BadShareKind? kind = name.ToLowerInvariant() switch
                {
                    "stale" => BadShareKind.Stale,
                    "duplicate" => BadShareKind.Duplicate,
                    "lowdiff" => BadShareKind.LowDifficulty,
                    "garbage" => BadShareKind.Garbage,
                    _ => null,
                };
                if (kind == null)
                    problems.Add($"--bad-share-kinds: unknown kind \"{name}\" (known: {string.Join(", ", BadKindNames)})");
                else if (!kinds.Contains(kind.Value))
                    kinds.Add(kind.Value);
            }
            if (kinds.Count == 0 && badFraction > 0)
                problems.Add("--bad-share-kinds names no kind, but --bad-share-fraction is above 0");

            TimeSpan? reconnectEvery = null;
            if (parsed.GetValue(ReconnectEvery) is { } everyText)
                reconnectEvery = ParseDuration("--reconnect-every", everyText, problems);
            var reconnectFraction = parsed.GetValue(ReconnectFraction);
            if (reconnectFraction != null && reconnectEvery == null && parsed.GetValue(ReconnectEvery) == null)
                problems.Add("--reconnect-fraction without --reconnect-every: say how often the storm comes");
            if (reconnectFraction is { } f && !(f > 0 && f <= 1))
                problems.Add($"--reconnect-fraction {Format(f)} must be above 0 and at most 1");

            var connectRate = parsed.GetValue(ConnectRate);
            if (!(connectRate > 0 && connectRate <= 1_000_000))
                problems.Add($"--connect-rate {Format(connectRate)} must be above 0 and at most 1000000 connections/s");

            var sources = new List<IPAddress>();
            if (parsed.GetValue(SourceIps) is { } sourceText)
                ParseSourceAddresses(sourceText, sources, problems);
            if (sources.Count > 0)
            {
                foreach (var server in servers)
                    if (sources.Any(s => s.AddressFamily != server.Address.AddressFamily))
                        problems.Add($"--source-ips mixes address families with the server {server} ({server.Address.Address})");
            }

            var report = parsed.GetValue(Report);
            if (report != null)
            {
                var full = Path.GetFullPath(report);
                var directory = Path.GetDirectoryName(full);
                if (report.Length == 0 || Directory.Exists(full))
                    problems.Add($"--report \"{report}\" must name a file");
                else if (directory != null && !Directory.Exists(directory))
                    problems.Add($"--report \"{report}\": the directory {directory} does not exist");
            }

            var threads = parsed.GetValue(HashThreads) ?? Environment.ProcessorCount;
            if (threads is < 1 or > 1024)
                problems.Add($"--hash-threads {threads} must be 1..1024");

            var password = parsed.GetValue(Password) ?? "x";
            if (password.Length > 200)
                problems.Add($"--password is {password.Length} characters; at most 200");

            var quiet = parsed.GetValue(Quiet);
            TimeSpan progress = TimeSpan.Zero;
            if (parsed.GetValue(ProgressInterval) is { } progressText)
                progress = ParseDuration("--progress-interval", progressText, problems) ?? TimeSpan.Zero;
            var drain = ParseDuration("--drain", parsed.GetValue(Drain) ?? "5s", problems, allowZero: true) ?? TimeSpan.Zero;

            if (problems.Count > 0)
                return null;
            return new SimulatorSettings
            {
                Servers = servers,
                Miners = miners,
                Users = users,
                WorkerPrefix = prefix,
                Password = password,
                Rate = rate,
                Hashrate = hashrate,
                Hashing = hashrate != null ? HashingMode.Real : hashing,
                Duration = duration,
                Shares = shares,
                BadShareFraction = badFraction,
                BadShareKinds = kinds,
                ReconnectEvery = reconnectEvery,
                ReconnectFraction = reconnectEvery == null ? 0 : reconnectFraction ?? 0.1,
                ConnectRate = connectRate,
                SourceAddresses = sources,
                ReportPath = report == null ? null : Path.GetFullPath(report),
                Quiet = quiet,
                HashThreads = threads,
                Seed = parsed.GetValue(Seed),
                ProgressInterval = progress,
                Drain = drain,
            };
        }

        private static void AddServer(List<StratumEndpoint> servers, string host, int port, List<string> problems)
        {
            if (host.Length == 0)
            {
                problems.Add("the server host is empty");
                return;
            }
            IPAddress? address;
            if (!IPAddress.TryParse(host.Trim('[', ']'), out address))
            {
                try
                {
                    var addresses = Dns.GetHostAddresses(host);
                    address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
                }
                catch (SocketException e)
                {
                    problems.Add($"cannot resolve the server host \"{host}\": {e.Message}");
                    return;
                }
                if (address == null)
                {
                    problems.Add($"the server host \"{host}\" has no address");
                    return;
                }
            }
            servers.Add(new StratumEndpoint(host, port, new IPEndPoint(address, port)));
        }
    }

    /// <summary>stratum+tcp://host:port (IPv6 hosts in brackets).</summary>
    internal static bool TryParseUrl(string url, out string host, out int port, out string problem)
    {
        host = "";
        port = 0;
        const string Scheme = "stratum+tcp://";
        if (!url.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            problem = $"--url \"{url}\" must start with {Scheme} (e.g. stratum+tcp://127.0.0.1:3333)";
            return false;
        }
        var rest = url[Scheme.Length..].TrimEnd('/');
        var colon = rest.LastIndexOf(':');
        if (colon <= 0 || (rest.StartsWith('[') && !rest[..colon].EndsWith(']')))
        {
            problem = $"--url \"{url}\" has no port (e.g. stratum+tcp://127.0.0.1:3333)";
            return false;
        }
        host = rest[..colon];
        if (!int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            problem = $"--url \"{url}\": \"{rest[(colon + 1)..]}\" is not a TCP port (1..65535)";
            return false;
        }
        problem = "";
        return true;
    }

    /// <summary>30, 30s, 500ms, 5m, 1h, 1.5m.</summary>
    internal static TimeSpan? ParseDuration(string option, string text, List<string> problems, bool allowZero = false)
    {
        var trimmed = text.Trim().ToLowerInvariant();
        double scale = 1;
        if (trimmed.EndsWith("ms", StringComparison.Ordinal)) { scale = 0.001; trimmed = trimmed[..^2]; }
        else if (trimmed.EndsWith('s')) { trimmed = trimmed[..^1]; }
        else if (trimmed.EndsWith('m')) { scale = 60; trimmed = trimmed[..^1]; }
        else if (trimmed.EndsWith('h')) { scale = 3600; trimmed = trimmed[..^1]; }
        if (!double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            problems.Add($"{option} \"{text}\" is not a duration (e.g. 30, 30s, 500ms, 5m, 1h)");
            return null;
        }
        var seconds = value * scale;
        if (seconds < 0 || (!allowZero && seconds <= 0) || seconds > 365 * 86400.0)
        {
            problems.Add($"{option} \"{text}\" must be {(allowZero ? "at least 0" : "above 0")} and at most a year");
            return null;
        }
        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>a-b ranges (IPv4, same first three octets not required, at most 65536 addresses) and single addresses, comma separated.</summary>
    internal static void ParseSourceAddresses(string text, List<IPAddress> addresses, List<string> problems)
    {
        var problemsBefore = problems.Count;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-');
            if (dash < 0)
            {
                if (IPAddress.TryParse(part, out var single))
                    addresses.Add(single);
                else
                    problems.Add($"--source-ips: \"{part}\" is not an IP address");
                continue;
            }
            if (!IPAddress.TryParse(part[..dash], out var first) || !IPAddress.TryParse(part[(dash + 1)..], out var last)
                || first.AddressFamily != AddressFamily.InterNetwork || last.AddressFamily != AddressFamily.InterNetwork)
            {
                problems.Add($"--source-ips: \"{part}\" is not an IPv4 range like 127.0.0.1-127.0.0.20");
                continue;
            }
            var from = ToUInt32(first);
            var to = ToUInt32(last);
            if (to < from)
            {
                problems.Add($"--source-ips: \"{part}\" ends before it starts");
                continue;
            }
            if (to - from >= 65536)
            {
                problems.Add($"--source-ips: \"{part}\" has more than 65536 addresses");
                continue;
            }
            for (var value = from; ; value++)
            {
                addresses.Add(new IPAddress([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]));
                if (value == to)
                    break;
            }
        }
        if (addresses.Count == 0 && problems.Count == problemsBefore)
            problems.Add($"--source-ips \"{text}\" names no address");
    }

    private static uint ToUInt32(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return (uint)(bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]);
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
