using System.Globalization;
using System.Text.Json;
using PoolCluster.Bitcoin;

namespace PoolCluster.Simulator;

/// <summary>
/// A job as the server sent it, shared by every miner that received the same notify (with the same extranonce size):
/// the <see cref="ShareChecker"/> (per-job precomputation) is built once per process, not once per miner.
/// </summary>
internal sealed class SharedJob
{
    public SharedJob(string jobId, byte[] jobIdJson, byte[] key, ShareChecker checker, uint nTime, long? createdUnixMs)
    {
        JobId = jobId;
        JobIdJson = jobIdJson;
        Key = key;
        Checker = checker;
        NTime = nTime;
        CreatedUnixMs = createdUnixMs;
    }

    public string JobId { get; }

    /// <summary>The job id exactly as received (JSON string contents), sent back in mining.submit.</summary>
    public byte[] JobIdJson { get; }

    /// <summary>The notify params without the clean flag, plus the extranonce size: what makes two notifies the same job.</summary>
    public byte[] Key { get; }

    public ShareChecker Checker { get; }
    public uint NTime { get; }

    /// <summary>When the job id encodes its creation time (JobMaker's 64-bit ids), that time; else null.</summary>
    public long? CreatedUnixMs { get; }

    /// <summary>
    /// JobMaker's ids carry 41 bits of Unix milliseconds above 8 instance and 15 counter bits (services/JobMaker/
    /// JobIdGenerator.cs); SServer forwards short wire ids, other servers their own. Accepted as 16 hex digits or as a
    /// decimal number, and only when the decoded time is within a day of now (anything else is not such an id).
    /// </summary>
    public static long? DecodeCreationTime(string jobId, long nowUnixMs)
    {
        ulong id;
        if (jobId.Length == 16 && ulong.TryParse(jobId, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex))
            id = hex;
        else if (jobId.Length is >= 13 and <= 20 && ulong.TryParse(jobId, NumberStyles.None, CultureInfo.InvariantCulture, out var dec))
            id = dec;
        else
            return null;
        var ms = (long)(id >> 23);
        return Math.Abs(nowUnixMs - ms) <= 86_400_000 ? ms : null;
    }
}

/// <summary>Notify text to <see cref="SharedJob"/>, for the last few hundred distinct jobs.</summary>
internal sealed class JobCache
{
    private const int Capacity = 256;
    private readonly Dictionary<long, List<SharedJob>> _byHash = [];
    private readonly Queue<(long Hash, SharedJob Job)> _order = new();
    private readonly object _lock = new();

    public int Count
    {
        get
        {
            lock (_lock)
                return _order.Count;
        }
    }

    /// <summary>The job for a notify's params, parsing and preparing it on first sight.</summary>
    /// <param name="jobIdJson">The job id as received (raw JSON string contents, as <see cref="ServerParams.TryParseNotifyHead"/> gives it).</param>
    /// <param name="jobText">The notify params without the clean flag.</param>
    /// <param name="parameters">The whole notify params.</param>
    public SharedJob GetOrAdd(ReadOnlySpan<byte> jobIdJson, ReadOnlySpan<byte> jobText, ReadOnlySpan<byte> parameters, int extranonceSize, long nowUnixMs)
    {
        var hashCode = new HashCode();
        hashCode.AddBytes(jobText);
        var hash = ((long)hashCode.ToHashCode() << 8) | (uint)extranonceSize;
        lock (_lock)
        {
            if (_byHash.TryGetValue(hash, out var candidates))
                foreach (var candidate in candidates)
                    if (candidate.Key.AsSpan(1).SequenceEqual(jobText) && candidate.Key[0] == extranonceSize)
                        return candidate;
        }

        var job = Parse(jobIdJson, jobText, parameters, extranonceSize, nowUnixMs);
        lock (_lock)
        {
            if (_byHash.TryGetValue(hash, out var candidates))
            {
                foreach (var candidate in candidates)
                    if (candidate.Key.AsSpan(1).SequenceEqual(jobText) && candidate.Key[0] == extranonceSize)
                        return candidate;
            }
            else
            {
                candidates = [];
                _byHash[hash] = candidates;
            }
            candidates.Add(job);
            _order.Enqueue((hash, job));
            while (_order.Count > Capacity)
            {
                var (oldHash, old) = _order.Dequeue();
                if (_byHash.TryGetValue(oldHash, out var list))
                {
                    list.Remove(old);
                    if (list.Count == 0)
                        _byHash.Remove(oldHash);
                }
            }
            return job;
        }
    }

    /// <summary>Reads the whole notify (throws <see cref="FormatException"/> naming the bad field).</summary>
    private static SharedJob Parse(ReadOnlySpan<byte> jobIdJson, ReadOnlySpan<byte> jobText, ReadOnlySpan<byte> parameters, int extranonceSize, long nowUnixMs)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(parameters.ToArray());
        }
        catch (JsonException e)
        {
            throw new FormatException("mining.notify params are not JSON: " + e.Message, e);
        }
        using (document)
        {
            var p = document.RootElement;
            string Text(int index, string name) =>
                p[index].ValueKind == JsonValueKind.String ? p[index].GetString()! : throw new FormatException($"mining.notify {name} is not a string");
            var jobId = Text(0, "job id");
            if (p[4].ValueKind != JsonValueKind.Array)
                throw new FormatException("mining.notify merkle branch is not an array");
            var branch = p[4].EnumerateArray().Select((e, i) =>
                e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new FormatException($"mining.notify merkle branch entry {i} is not a string")).ToArray();
            if (extranonceSize is < 1 or > 100)
                throw new FormatException($"extranonce1 + extranonce2 is {extranonceSize} bytes; a coinbase placeholder is 1..100");
            var checker = ShareChecker.FromNotify(Text(1, "prevhash"), Text(2, "coinb1"), Text(3, "coinb2"), branch,
                Text(5, "version"), Text(6, "nbits"), extranonceSize);
            var nTime = StratumEncoding.ParseUInt32(Text(7, "ntime"), "ntime");
            // Sent back in every submit from a fixed-size buffer; real ids are a few to 20 characters.
            if (jobIdJson.Length > 256)
                throw new FormatException($"mining.notify job id is {jobIdJson.Length} bytes long; at most 256 are supported");
            byte[] key = [(byte)extranonceSize, .. jobText];
            return new SharedJob(jobId, jobIdJson.ToArray(), key, checker, nTime, SharedJob.DecodeCreationTime(jobId, nowUnixMs));
        }
    }
}

/// <summary>A share difficulty with its target, computed once per mining.set_difficulty.</summary>
internal sealed class ShareTarget
{
    public ShareTarget(double difficulty)
    {
        Difficulty = difficulty;
        Target = Target.FromDifficulty(difficulty);
        TopWord = (uint)(Target.ToBigInteger() >> 224);
        ExpectedHashes = difficulty * Bitcoin.Difficulty.HashesPerDifficulty;
    }

    /// <summary>Stratum's default before any mining.set_difficulty.</summary>
    public static ShareTarget Default { get; } = new(1);

    public double Difficulty { get; }
    public Target Target { get; }

    /// <summary>The target's most significant 32 bits: a hash whose top word is above it cannot meet the target.</summary>
    public uint TopWord { get; }

    /// <summary>Hashes per share on average (difficulty × 2^32).</summary>
    public double ExpectedHashes { get; }
}

/// <summary>
/// A job as one miner works it: the shared job, the difficulty bound to it when it arrived (btcpool judges a job's
/// shares at the difficulty sent before its notify), and the session's extranonce1 / extranonce2 size.
/// </summary>
internal sealed class MiningJob
{
    public MiningJob(SharedJob shared, ShareTarget target, byte[] extranonce1, int extranonce2Size, bool clean, long receivedTimestamp)
    {
        Shared = shared;
        ShareTarget = target;
        Extranonce1 = extranonce1;
        Extranonce2Size = extranonce2Size;
        Clean = clean;
        ReceivedTimestamp = receivedTimestamp;
    }

    public SharedJob Shared { get; }
    public ShareTarget ShareTarget { get; }
    public byte[] Extranonce1 { get; }
    public int Extranonce2Size { get; }
    public bool Clean { get; }
    public long ReceivedTimestamp { get; }

    /// <summary>Set when a clean job replaced this one: its shares are stale.</summary>
    public volatile bool Superseded;

    /// <summary>The extranonce2 being worked and the next nonce to try under it (moved by the miner's share loop only).</summary>
    public ulong Extranonce2;
    public uint NextNonce;
    public bool Started;

    public double Difficulty => ShareTarget.Difficulty;
}
