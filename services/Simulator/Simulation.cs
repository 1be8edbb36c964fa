using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace PoolCluster.Simulator;

/// <summary>A run that cannot go on (reported on stderr, exit code 1).</summary>
public sealed class SimulationFailedException(string message) : Exception(message);

/// <summary>
/// One run: creates the miners, ramps their connections up at --connect-rate, drives reconnect storms, shows progress,
/// stops on --duration, --shares or cancellation, waits for the answers in flight (--drain) and builds the report.
/// </summary>
internal sealed class Simulation
{
    private readonly TextWriter _output;
    private readonly bool _terminal;
    private readonly CancellationTokenSource _submitStop = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Random _random;
    private SimulatedMiner[] _miners = [];
    private int _progressLines;
    private int _loggedInAtStop;
    private long _runStart;
    private long _inFlightAtStop;
    private double _runSeconds;

    /// <summary>Submits sent and not yet answered or lost.</summary>
    public long InFlight;

    /// <summary>Connections a miner made after its first (storms, server closes, client.reconnect).</summary>
    public long Reconnects;

    public Simulation(SimulatorSettings settings, TextWriter output, bool terminal)
    {
        Settings = settings;
        _output = output;
        _terminal = terminal;
        _random = settings.Seed is { } seed ? new Random(seed) : new Random();
        StartTimestamp = Stopwatch.GetTimestamp();
        StartedAt = DateTimeOffset.UtcNow;
        Metrics = new SimulationMetrics(settings.Users, StartTimestamp, StartedAt.ToUnixTimeMilliseconds());
        Gate = new ShareGate(settings.Shares);
        Pool = new HashingPool(settings.HashThreads);
    }

    public SimulatorSettings Settings { get; }
    public SimulationMetrics Metrics { get; }
    public JobCache Jobs { get; } = new();
    public ShareGate Gate { get; }
    public HashingPool Pool { get; }
    public long StartTimestamp { get; }
    public DateTimeOffset StartedAt { get; }

    /// <summary>Cancelled when no more shares are to be produced (the connections stay up for the answers).</summary>
    public CancellationToken SubmitStop => _submitStop.Token;

    /// <summary>Cancelled when every connection is to close.</summary>
    public CancellationToken Shutdown => _shutdown.Token;

    internal IReadOnlyList<SimulatedMiner> Miners => _miners;

    /// <summary>
    /// Whether a job's shares are found by hashing. Auto: only when all miners at --rate need at most half of the
    /// measured hashing capacity at this difficulty, so hashing never starves the sockets of CPU.
    /// </summary>
    public bool ShouldHash(MiningJob job) => Settings.Hashing switch
    {
        HashingMode.Real => true,
        HashingMode.Blind => false,
        _ => job.ShareTarget.ExpectedHashes * (Settings.Rate ?? 0) * Settings.Miners <= 0.5 * Pool.CapacityHashesPerSecond,
    };

    public async Task<SimulationReport> RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (Settings.Hashing != HashingMode.Blind)
                Pool.Calibrate(TimeSpan.FromMilliseconds(150));
            WriteStartBanner();
            _runStart = Stopwatch.GetTimestamp();

            _miners = new SimulatedMiner[Settings.Miners];
            for (var i = 0; i < _miners.Length; i++)
            {
                var server = Settings.Servers[i % Settings.Servers.Count];
                var source = Settings.SourceAddresses.Count == 0 ? null : Settings.SourceAddresses[i % Settings.SourceAddresses.Count];
                _miners[i] = new SimulatedMiner(this, i, server, source, new Random(_random.Next()));
            }
            var minerTasks = new Task[_miners.Length];
            for (var i = 0; i < _miners.Length; i++)
                minerTasks[i] = _miners[i].RunAsync(TimeSpan.FromSeconds(i / Settings.ConnectRate));

            using var background = new CancellationTokenSource();
            var progress = Settings.Quiet ? Task.CompletedTask : ProgressLoopAsync(background.Token);
            var storms = Settings.ReconnectEvery is { } every ? StormLoopAsync(every, background.Token) : Task.CompletedTask;

            var stopReason = await WaitForStopAsync(cancellationToken);
            _loggedInAtStop = _miners.Count(m => m.IsLoggedIn);
            _runSeconds = Stopwatch.GetElapsedTime(_runStart).TotalSeconds;
            _submitStop.Cancel();
            _inFlightAtStop = Interlocked.Read(ref InFlight);
            await DrainAsync();
            _shutdown.Cancel();
            await background.CancelAsync();
            try
            {
                await Task.WhenAll(minerTasks).WaitAsync(TimeSpan.FromSeconds(15));
            }
            catch (TimeoutException)
            {
                Metrics.Errors.Add("some miners did not stop within 15 s of the end of the run");
            }
            await Task.WhenAll(progress, storms);

            var report = BuildReport(stopReason);
            WriteFinal(report);
            return report;
        }
        finally
        {
            _submitStop.Cancel();
            _shutdown.Cancel();
            Pool.Dispose();
        }
    }

    private async Task<string> WaitForStopAsync(CancellationToken cancellationToken)
    {
        var waits = new List<Task>();
        var interrupted = Task.Delay(Timeout.Infinite, cancellationToken);
        waits.Add(interrupted);
        Task? duration = null;
        if (Settings.Duration is { } limit)
            waits.Add(duration = Task.Delay(limit, _shutdown.Token));
        waits.Add(Gate.Reached.Task);
        var first = await Task.WhenAny(waits);
        if (first == Gate.Reached.Task)
            return "shares";
        if (first == duration)
            return "duration";
        return "interrupted";
    }

    private async Task DrainAsync()
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(Settings.Drain.TotalSeconds * Stopwatch.Frequency);
        while (Interlocked.Read(ref InFlight) > 0 && Stopwatch.GetTimestamp() < deadline)
            await Task.Delay(10);
    }

    /// <summary>Every period, a fraction of the logged-in miners drop their connection and reconnect at once.</summary>
    private async Task StormLoopAsync(TimeSpan every, CancellationToken token)
    {
        var random = new Random(_random.Next());
        try
        {
            using var timer = new PeriodicTimer(every);
            while (await timer.WaitForNextTickAsync(token))
            {
                if (SubmitStop.IsCancellationRequested)
                    return;
                var connected = _miners.Where(m => m.IsLoggedIn).ToArray();
                var count = (int)Math.Round(connected.Length * Settings.ReconnectFraction);
                if (count == 0 && connected.Length > 0)
                    count = 1;
                random.Shuffle(connected);
                foreach (var miner in connected.Take(count))
                    miner.Disconnect(SessionEnd.Storm);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // ------------------------------------------------------------------ progress

    private readonly record struct Snapshot(long Timestamp, long Submitted, long Answered);

    private async Task ProgressLoopAsync(CancellationToken token)
    {
        var interval = Settings.ProgressInterval > TimeSpan.Zero ? Settings.ProgressInterval : TimeSpan.FromSeconds(_terminal ? 1 : 5);
        var last = new Snapshot(_runStart, 0, 0);
        try
        {
            using var timer = new PeriodicTimer(interval);
            while (await timer.WaitForNextTickAsync(token))
            {
                var now = new Snapshot(Stopwatch.GetTimestamp(), Metrics.Submitted, Metrics.Accepted + Metrics.Rejected);
                WriteProgress(last, now);
                last = now;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void WriteProgress(Snapshot last, Snapshot now)
    {
        var seconds = Stopwatch.GetElapsedTime(last.Timestamp, now.Timestamp).TotalSeconds;
        var elapsed = Stopwatch.GetElapsedTime(_runStart, now.Timestamp).TotalSeconds;
        var sentRate = seconds > 0 ? (now.Submitted - last.Submitted) / seconds : 0;
        var answeredRate = seconds > 0 ? (now.Answered - last.Answered) / seconds : 0;
        var latency = Metrics.AnswerLatency.Summarize();
        var notify = Metrics.Notify.Summarize();
        var codes = FormatCodes(Metrics.RejectedByCode());
        var m = Metrics;
        if (_terminal)
        {
            var lines = new[]
            {
                $"PoolCluster simulator  {elapsed,7:F1} s   {string.Join(" ", Settings.Servers)}",
                $"connections  {Interlocked.Read(ref m.LoggedInNow)}/{Settings.Miners} logged in   open {Interlocked.Read(ref m.Open)}  peak {Interlocked.Read(ref m.PeakOpen)}  reconnects {Interlocked.Read(ref Reconnects)}  connect failures {Interlocked.Read(ref m.ConnectFailures)}",
                $"shares/s     {sentRate,9:F1} sent   {answeredRate,9:F1} answered   (real {Interlocked.Read(ref m.RealShares)}, blind {Interlocked.Read(ref m.BlindShares)})",
                $"answers      accepted {m.Accepted}   rejected {m.Rejected}{codes}   in flight {Interlocked.Read(ref InFlight)}",
                $"latency      submit->answer p50 {latency.P50:F2} ms  p99 {latency.P99:F2} ms   notify spread p50 {notify.AllSpread.P50:F2} ms  p99 {notify.AllSpread.P99:F2} ms  ({notify.Jobs} jobs)",
                $"errors       {m.Errors.Total}{(m.Errors.Total > 0 ? "   most frequent: " + m.Errors.Snapshot()[0].Key : "")}",
            };
            var text = new StringBuilder();
            if (_progressLines > 0)
                text.Append(CultureInfo.InvariantCulture, $"\u001b[{_progressLines}A");
            foreach (var line in lines)
                text.Append("\u001b[2K").Append(line).Append('\n');
            _progressLines = lines.Length;
            _output.Write(text.ToString());
        }
        else
        {
            _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{elapsed:F1}s] logged-in {Interlocked.Read(ref m.LoggedInNow)}/{Settings.Miners} shares/s {sentRate:F1} accepted {m.Accepted} rejected {m.Rejected}{codes} latency p50 {latency.P50:F2}ms p99 {latency.P99:F2}ms notify-spread p99 {notify.AllSpread.P99:F2}ms errors {m.Errors.Total}"));
        }
        _output.Flush();
    }

    private static string FormatCodes(IReadOnlyDictionary<int, long> codes) =>
        codes.Count == 0 ? "" : " [" + string.Join(" ", codes.OrderBy(c => c.Key).Select(c => $"{c.Key}:{c.Value}")) + "]";

    private void WriteStartBanner()
    {
        if (Settings.Quiet)
            return;
        var mode = Settings.Hashrate is { } h
            ? $"hashrate {FormatHashes(h)}/miner"
            : $"rate {Settings.Rate!.Value.ToString("0.###", CultureInfo.InvariantCulture)} shares/s/miner, hashing {Settings.Hashing.ToString().ToLowerInvariant()}";
        var capacity = Settings.Hashing == HashingMode.Blind ? "" : $"; hashing capacity {FormatHashes(Pool.CapacityHashesPerSecond)} on {Pool.Threads} threads";
        _output.WriteLine($"simulating {Settings.Miners} miners ({Settings.Users.Count} users) on {string.Join(", ", Settings.Servers)}: {mode}{capacity}");
        _output.Flush();
    }

    private static string FormatHashes(double hashesPerSecond) => hashesPerSecond switch
    {
        >= 1e9 => $"{hashesPerSecond / 1e9:F2} GH/s",
        >= 1e6 => $"{hashesPerSecond / 1e6:F2} MH/s",
        >= 1e3 => $"{hashesPerSecond / 1e3:F2} kH/s",
        _ => $"{hashesPerSecond:F0} H/s",
    };

    private void WriteFinal(SimulationReport report)
    {
        var latency = report.SubmitToAnswer;
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"done ({report.StopReason}) after {report.DurationSeconds:F1} s: {report.Submitted} submitted, {report.Accepted} accepted, {report.Rejected} rejected{FormatCodes(report.RejectedByCode)}, {report.Unanswered} unanswered; {report.Submitted / Math.Max(report.DurationSeconds, 1e-9):F1} shares/s; submit->answer p50 {latency.P50:F2} ms p99 {latency.P99:F2} ms; {report.Connections.LoggedIn} logins, {report.Connections.Reconnects} reconnects; {report.Errors.Sum(e => e.Value)} errors{(Settings.ReportPath != null ? "; report: " + Settings.ReportPath : "")}"));
        _output.Flush();
    }

    // ------------------------------------------------------------------ report

    private static ProcessReport CaptureProcess()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return new ProcessReport(process.TotalProcessorTime.TotalSeconds, process.PeakWorkingSet64, GC.GetTotalMemory(false),
            GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), Environment.ProcessorCount);
    }

    private SimulationReport BuildReport(string stopReason)
    {
        var m = Metrics;
        var bad = new SortedDictionary<BadShareKind, KindReport>();
        foreach (var kind in Enum.GetValues<BadShareKind>())
            bad[kind] = KindReport.From(m[(ShareKind)(1 + (int)kind)]);
        return new SimulationReport
        {
            Settings = Settings,
            StartedAt = StartedAt,
            EndedAt = DateTimeOffset.UtcNow,
            DurationSeconds = _runSeconds,
            StopReason = stopReason,
            Connections = new ConnectionsReport(Settings.Miners, Interlocked.Read(ref m.ConnectAttempts), Interlocked.Read(ref m.Established),
                Interlocked.Read(ref m.ConnectFailures), Interlocked.Read(ref m.Logins), _loggedInAtStop,
                Interlocked.Read(ref m.PeakOpen), Interlocked.Read(ref Reconnects), Interlocked.Read(ref m.StormDisconnects),
                Interlocked.Read(ref m.ClosedByServer), Interlocked.Read(ref m.ServerReconnectRequests),
                Interlocked.Read(ref m.SubscribeFailures), Interlocked.Read(ref m.AuthorizeFailures)),
            Good = KindReport.From(m[ShareKind.Good]),
            Bad = bad,
            InFlightAtStop = _inFlightAtStop,
            BadShareUnavailable = Interlocked.Read(ref m.BadShareUnavailable),
            UnexpectedAnswers = Interlocked.Read(ref m.UnexpectedAnswers),
            Users = m.Users.Select(u => new UserReport(u.Name, u.Miners, Interlocked.Read(ref u.Submitted), Interlocked.Read(ref u.Accepted),
                Interlocked.Read(ref u.Rejected), u.AcceptedDifficulty)).ToList(),
            Hashing = new HashingReport(Settings.Hashing.ToString().ToLowerInvariant(), Pool.Engine, Pool.Threads, Pool.CapacityHashesPerSecond,
                Pool.HashesDone, Interlocked.Read(ref m.RealShares), Interlocked.Read(ref m.BlindShares),
                Interlocked.Read(ref m.BlindLocallyValid), Pool.Mismatches),
            SubmitToAnswer = m.AnswerLatency.Summarize(),
            Notify = m.Notify.Summarize(),
            Jobs = new JobsReport(Interlocked.Read(ref m.Notifies), Interlocked.Read(ref m.CleanNotifies), Interlocked.Read(ref m.DifficultyChanges),
                Interlocked.Read(ref m.ExtranonceChanges), Interlocked.Read(ref m.VersionMasks), Interlocked.Read(ref m.OtherMethods)),
            Errors = m.Errors.Snapshot(),
            Process = CaptureProcess(),
        };
    }
}
