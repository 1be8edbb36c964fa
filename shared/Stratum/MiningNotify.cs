using System.Buffers;

namespace PoolCluster.Stratum;

/// <summary>
/// One job's mining.notify, serialized once and sent as the same bytes to every session. Two variants are kept:
/// the job's own clean_jobs flag, and clean_jobs=true for a session's first job after authorize (btcpool does the
/// same, so a miner never keeps working on work from before it logged in).
/// </summary>
public sealed class MiningNotify
{
    private readonly byte[] _line;
    private readonly byte[] _cleanLine;

    private MiningNotify(string jobId, bool cleanJobs, byte[] line, byte[] cleanLine)
    {
        JobId = jobId;
        CleanJobs = cleanJobs;
        _line = line;
        _cleanLine = cleanLine;
    }

    public string JobId { get; }

    /// <summary>The job's own clean_jobs flag (a new previous block: miners must drop earlier jobs).</summary>
    public bool CleanJobs { get; }

    /// <summary>The notify line (with '\n') carrying the job's own clean_jobs flag.</summary>
    public ReadOnlyMemory<byte> Line => _line;

    /// <summary>The notify line with clean_jobs=true.</summary>
    public ReadOnlyMemory<byte> CleanLine => _cleanLine;

    public ReadOnlyMemory<byte> GetLine(bool forceClean) => forceClean ? _cleanLine : _line;

    /// <summary>Copies the prepared line into <paramref name="output"/>.</summary>
    public void WriteTo(IBufferWriter<byte> output, bool forceClean = false) => output.Write(GetLine(forceClean).Span);

    /// <summary>
    /// Builds the notify for a job. Hashes in Bitcoin's internal byte order (as in blocks and the StratumJob topic);
    /// coinbase parts as raw bytes (the coinbase transaction is coinbase1 | extranonce1 | extranonce2 | coinbase2);
    /// version, bits and time as the header fields' numbers.
    /// </summary>
    public static MiningNotify Create(string jobId, ReadOnlySpan<byte> previousBlockHash, ReadOnlySpan<byte> coinbase1,
        ReadOnlySpan<byte> coinbase2, IReadOnlyList<ReadOnlyMemory<byte>> merkleBranch, uint version, uint bits,
        uint time, bool cleanJobs)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        ArgumentNullException.ThrowIfNull(merkleBranch);
        foreach (var c in jobId)
            if (c is <= ' ' or '"' or '\\' or > '~')
                throw new ArgumentException($"job id \"{jobId}\" must be printable ASCII without quotes or backslashes", nameof(jobId));

        var buffer = new ArrayBufferWriter<byte>(512 + 2 * (coinbase1.Length + coinbase2.Length) + 67 * merkleBranch.Count);
        StratumWriter.WriteNotify(buffer, jobId, previousBlockHash, coinbase1, coinbase2, merkleBranch, version, bits, time, cleanJobs);
        var line = buffer.WrittenSpan.ToArray();
        byte[] cleanLine;
        if (cleanJobs)
        {
            cleanLine = line;
        }
        else
        {
            buffer.ResetWrittenCount();
            StratumWriter.WriteNotify(buffer, jobId, previousBlockHash, coinbase1, coinbase2, merkleBranch, version, bits, time, cleanJobs: true);
            cleanLine = buffer.WrittenSpan.ToArray();
        }
        return new MiningNotify(jobId, cleanJobs, line, cleanLine);
    }
}
