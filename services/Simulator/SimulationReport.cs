using System.Globalization;
using System.Text.Json;

namespace PoolCluster.Simulator;

internal sealed record KindReport(long Sent, long Accepted, long Rejected, long Unanswered, IReadOnlyDictionary<int, long> RejectedByCode)
{
    public static KindReport From(KindCounters counters) => new(
        Interlocked.Read(ref counters.Sent), Interlocked.Read(ref counters.Accepted), Interlocked.Read(ref counters.Rejected),
        Interlocked.Read(ref counters.Unanswered), new SortedDictionary<int, long>(counters.RejectedByCode));
}

internal sealed record ConnectionsReport(int Miners, long Attempts, long Established, long ConnectFailures, long LoggedIn,
    long LoggedInAtEnd, long PeakOpen, long Reconnects, long StormDisconnects, long ClosedByServer, long ServerReconnectRequests,
    long SubscribeFailures, long AuthorizeFailures);

internal sealed record UserReport(string User, int Miners, long Submitted, long Accepted, long Rejected, double AcceptedDifficultySum);

internal sealed record HashingReport(string Mode, string Engine, int Threads, double CapacityHashesPerSecond, long Hashes,
    long RealShares, long BlindShares, long BlindLocallyValid, long CheckMismatches);

/// <summary>The simulator process itself: what the run cost on this machine.</summary>
internal sealed record ProcessReport(double CpuSeconds, long PeakWorkingSetBytes, long ManagedHeapBytes, int Gen0Collections,
    int Gen1Collections, int Gen2Collections, int ProcessorCount);

internal sealed record JobsReport(long Notifies, long CleanNotifies, long DifficultyChanges, long ExtranonceChanges, long VersionMasks,
    long OtherMethods);

/// <summary>Everything a run measured, as written to --report (see docs/simulator.md for the fields).</summary>
internal sealed class SimulationReport
{
    public required SimulatorSettings Settings { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset EndedAt { get; init; }
    public required double DurationSeconds { get; init; }
    public required string StopReason { get; init; }
    public required ConnectionsReport Connections { get; init; }
    public required KindReport Good { get; init; }
    public required IReadOnlyDictionary<BadShareKind, KindReport> Bad { get; init; }
    public required long InFlightAtStop { get; init; }
    public required long BadShareUnavailable { get; init; }
    public required long UnexpectedAnswers { get; init; }
    public required IReadOnlyList<UserReport> Users { get; init; }
    public required HashingReport Hashing { get; init; }
    public required LatencySummary SubmitToAnswer { get; init; }
    public required NotifySummary Notify { get; init; }
    public required JobsReport Jobs { get; init; }
    public required IReadOnlyList<KeyValuePair<string, long>> Errors { get; init; }
    public required ProcessReport Process { get; init; }

    public long Submitted => Good.Sent + Bad.Values.Sum(b => b.Sent);
    public long Accepted => Good.Accepted + Bad.Values.Sum(b => b.Accepted);
    public long Rejected => Good.Rejected + Bad.Values.Sum(b => b.Rejected);
    public long Unanswered => Good.Unanswered + Bad.Values.Sum(b => b.Unanswered);
    public double AcceptedDifficultySum => Users.Sum(u => u.AcceptedDifficultySum);

    public SortedDictionary<int, long> RejectedByCode
    {
        get
        {
            var total = new SortedDictionary<int, long>();
            foreach (var kind in Bad.Values.Prepend(Good))
                foreach (var (code, count) in kind.RejectedByCode)
                    total[code] = total.GetValueOrDefault(code) + count;
            return total;
        }
    }

    public string FirstErrorOrNone() => Errors.Count == 0 ? "no error recorded" : $"{Errors[0].Key} (x{Errors[0].Value})";

    public static string KindName(BadShareKind kind) => kind switch
    {
        BadShareKind.Stale => "stale",
        BadShareKind.Duplicate => "duplicate",
        BadShareKind.LowDifficulty => "lowdiff",
        _ => "garbage",
    };

    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("tool", "PoolCluster.Simulator");
            json.WriteString("startedAt", StartedAt.ToString("O", CultureInfo.InvariantCulture));
            json.WriteString("endedAt", EndedAt.ToString("O", CultureInfo.InvariantCulture));
            json.WriteNumber("durationSeconds", Math.Round(DurationSeconds, 3));
            json.WriteString("stopReason", StopReason);

            json.WriteStartObject("settings");
            json.WriteStartArray("servers");
            foreach (var server in Settings.Servers)
                json.WriteStringValue(server.Url);
            json.WriteEndArray();
            json.WriteNumber("miners", Settings.Miners);
            json.WriteNumber("users", Settings.Users.Count);
            json.WriteString("workerPrefix", Settings.WorkerPrefix);
            WriteNullable(json, "rate", Settings.Rate);
            WriteNullable(json, "hashrate", Settings.Hashrate);
            json.WriteString("hashing", Settings.Hashing.ToString().ToLowerInvariant());
            WriteNullable(json, "durationLimitSeconds", Settings.Duration?.TotalSeconds);
            if (Settings.Shares is { } shares) json.WriteNumber("sharesLimit", shares); else json.WriteNull("sharesLimit");
            json.WriteNumber("badShareFraction", Settings.BadShareFraction);
            json.WriteStartArray("badShareKinds");
            foreach (var kind in Settings.BadShareKinds)
                json.WriteStringValue(KindName(kind));
            json.WriteEndArray();
            WriteNullable(json, "reconnectEverySeconds", Settings.ReconnectEvery?.TotalSeconds);
            json.WriteNumber("reconnectFraction", Settings.ReconnectFraction);
            json.WriteNumber("connectRate", Settings.ConnectRate);
            json.WriteStartArray("sourceIps");
            foreach (var address in Settings.SourceAddresses)
                json.WriteStringValue(address.ToString());
            json.WriteEndArray();
            json.WriteEndObject();

            json.WriteStartObject("connections");
            json.WriteNumber("miners", Connections.Miners);
            json.WriteNumber("attempts", Connections.Attempts);
            json.WriteNumber("established", Connections.Established);
            json.WriteNumber("connectFailures", Connections.ConnectFailures);
            json.WriteNumber("loggedIn", Connections.LoggedIn);
            json.WriteNumber("loggedInAtEnd", Connections.LoggedInAtEnd);
            json.WriteNumber("peakOpen", Connections.PeakOpen);
            json.WriteNumber("reconnects", Connections.Reconnects);
            json.WriteNumber("stormDisconnects", Connections.StormDisconnects);
            json.WriteNumber("closedByServer", Connections.ClosedByServer);
            json.WriteNumber("serverReconnectRequests", Connections.ServerReconnectRequests);
            json.WriteNumber("subscribeFailures", Connections.SubscribeFailures);
            json.WriteNumber("authorizeFailures", Connections.AuthorizeFailures);
            json.WriteEndObject();

            json.WriteStartObject("shares");
            json.WriteNumber("submitted", Submitted);
            json.WriteNumber("accepted", Accepted);
            json.WriteNumber("rejected", Rejected);
            json.WriteNumber("unanswered", Unanswered);
            json.WriteNumber("inFlightAtStop", InFlightAtStop);
            json.WriteNumber("submittedPerSecond", Rate(Submitted));
            json.WriteNumber("acceptedPerSecond", Rate(Accepted));
            json.WriteNumber("acceptedDifficultySum", AcceptedDifficultySum);
            WriteCodes(json, "rejectedByCode", RejectedByCode);
            WriteKind(json, "good", Good);
            json.WriteStartObject("bad");
            foreach (var (kind, report) in Bad)
                WriteKind(json, KindName(kind), report);
            json.WriteEndObject();
            json.WriteNumber("badShareUnavailable", BadShareUnavailable);
            json.WriteNumber("unexpectedAnswers", UnexpectedAnswers);
            json.WriteEndObject();

            json.WriteStartArray("users");
            foreach (var user in Users)
            {
                json.WriteStartObject();
                json.WriteString("user", user.User);
                json.WriteNumber("miners", user.Miners);
                json.WriteNumber("submitted", user.Submitted);
                json.WriteNumber("accepted", user.Accepted);
                json.WriteNumber("rejected", user.Rejected);
                json.WriteNumber("acceptedDifficultySum", user.AcceptedDifficultySum);
                json.WriteNumber("hashrateFromAccepted", DurationSeconds > 0
                    ? Bitcoin.Difficulty.HashrateFromDifficultySeconds(user.AcceptedDifficultySum, DurationSeconds) : 0);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            json.WriteStartObject("hashing");
            json.WriteString("mode", Hashing.Mode);
            json.WriteString("engine", Hashing.Engine);
            json.WriteNumber("threads", Hashing.Threads);
            json.WriteNumber("capacityHashesPerSecond", Math.Round(Hashing.CapacityHashesPerSecond));
            json.WriteNumber("hashes", Hashing.Hashes);
            json.WriteNumber("realShares", Hashing.RealShares);
            json.WriteNumber("blindShares", Hashing.BlindShares);
            json.WriteNumber("blindLocallyValid", Hashing.BlindLocallyValid);
            json.WriteNumber("checkMismatches", Hashing.CheckMismatches);
            json.WriteEndObject();

            json.WriteStartObject("latency");
            WriteLatency(json, "submitToAnswerMs", SubmitToAnswer);
            WriteLatency(json, "notifySpreadMs", Notify.CleanSpread);
            WriteLatency(json, "notifySpreadAllJobsMs", Notify.AllSpread);
            WriteLatency(json, "jobAgeAtFirstMinerMs", Notify.AgeAtFirstMiner);
            WriteLatency(json, "jobAgeAtLastMinerMs", Notify.AgeAtLastMiner);
            json.WriteEndObject();

            json.WriteStartObject("jobs");
            json.WriteNumber("notifies", Jobs.Notifies);
            json.WriteNumber("cleanNotifies", Jobs.CleanNotifies);
            json.WriteNumber("broadcastJobs", Notify.Jobs);
            json.WriteNumber("broadcastCleanJobs", Notify.CleanJobs);
            json.WriteNumber("setDifficulty", Jobs.DifficultyChanges);
            json.WriteNumber("setExtranonce", Jobs.ExtranonceChanges);
            json.WriteNumber("setVersionMask", Jobs.VersionMasks);
            json.WriteNumber("otherMethods", Jobs.OtherMethods);
            json.WriteStartArray("recent");
            foreach (var job in Notify.Recent)
            {
                json.WriteStartObject();
                json.WriteString("jobId", job.JobId);
                json.WriteBoolean("clean", job.Clean);
                json.WriteNumber("miners", job.Miners);
                json.WriteNumber("spreadMs", Math.Round(job.SpreadMs, 3));
                WriteNullable(json, "ageAtFirstMinerMs", job.AgeAtFirstMinerMs is { } a ? Math.Round(a, 3) : null);
                WriteNullable(json, "ageAtLastMinerMs", job.AgeAtLastMinerMs is { } b ? Math.Round(b, 3) : null);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();

            json.WriteStartObject("process");
            json.WriteNumber("cpuSeconds", Math.Round(Process.CpuSeconds, 3));
            json.WriteNumber("peakWorkingSetBytes", Process.PeakWorkingSetBytes);
            json.WriteNumber("managedHeapBytes", Process.ManagedHeapBytes);
            json.WriteNumber("gen0Collections", Process.Gen0Collections);
            json.WriteNumber("gen1Collections", Process.Gen1Collections);
            json.WriteNumber("gen2Collections", Process.Gen2Collections);
            json.WriteNumber("processorCount", Process.ProcessorCount);
            json.WriteEndObject();

            json.WriteStartObject("errors");
            json.WriteNumber("total", Errors.Sum(e => e.Value));
            json.WriteStartArray("messages");
            foreach (var (message, count) in Errors)
            {
                json.WriteStartObject();
                json.WriteString("message", message);
                json.WriteNumber("count", count);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();

            json.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    private double Rate(long count) => DurationSeconds > 0 ? Math.Round(count / DurationSeconds, 3) : 0;

    private static void WriteNullable(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v)
            json.WriteNumber(name, v);
        else
            json.WriteNull(name);
    }

    private static void WriteCodes(Utf8JsonWriter json, string name, IReadOnlyDictionary<int, long> codes)
    {
        json.WriteStartObject(name);
        foreach (var (code, count) in codes.OrderBy(c => c.Key))
            json.WriteNumber(code.ToString(CultureInfo.InvariantCulture), count);
        json.WriteEndObject();
    }

    private static void WriteKind(Utf8JsonWriter json, string name, KindReport kind)
    {
        json.WriteStartObject(name);
        json.WriteNumber("sent", kind.Sent);
        json.WriteNumber("accepted", kind.Accepted);
        json.WriteNumber("rejected", kind.Rejected);
        json.WriteNumber("unanswered", kind.Unanswered);
        WriteCodes(json, "rejectedByCode", kind.RejectedByCode);
        json.WriteEndObject();
    }

    private static void WriteLatency(Utf8JsonWriter json, string name, LatencySummary summary)
    {
        json.WriteStartObject(name);
        json.WriteNumber("count", summary.Count);
        json.WriteNumber("mean", Math.Round(summary.Mean, 3));
        json.WriteNumber("p50", Math.Round(summary.P50, 3));
        json.WriteNumber("p90", Math.Round(summary.P90, 3));
        json.WriteNumber("p99", Math.Round(summary.P99, 3));
        json.WriteNumber("p999", Math.Round(summary.P999, 3));
        json.WriteNumber("max", Math.Round(summary.Max, 3));
        json.WriteEndObject();
    }
}
