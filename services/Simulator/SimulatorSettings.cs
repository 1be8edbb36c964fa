using System.Net;

namespace PoolCluster.Simulator;

/// <summary>How a miner comes by the nonces it submits.</summary>
public enum HashingMode
{
    /// <summary>Real hashing when the machine can sustain the requested share rate at the difficulty, blind otherwise.</summary>
    Auto,
    /// <summary>Always grind nonces until the share meets the target (the share rate drops if the CPU cannot keep up).</summary>
    Real,
    /// <summary>Never hash: submit the next nonce at the configured rate (valid only when the server's difficulty is tiny).</summary>
    Blind,
}

/// <summary>The kinds of deliberately bad submits, and the answer a btcpool-style server gives each.</summary>
public enum BadShareKind
{
    /// <summary>A job id replaced by a clean job (or never issued): error 21 (job not found / stale).</summary>
    Stale,
    /// <summary>The miner's previous share sent again: error 22.</summary>
    Duplicate,
    /// <summary>A nonce whose hash misses the share target: error 23.</summary>
    LowDifficulty,
    /// <summary>A truncated JSON line: error 27 (illegal params); servers may disconnect after a few.</summary>
    Garbage,
}

/// <summary>A stratum server to mine on: stratum+tcp://Host:Port, resolved once at start.</summary>
public sealed record StratumEndpoint(string Host, int Port, IPEndPoint Address)
{
    public string Url => $"stratum+tcp://{Host}:{Port}";

    public override string ToString() => Url;
}

/// <summary>A validated command line (see <see cref="SimulatorCommand"/> for the options and their defaults).</summary>
public sealed class SimulatorSettings
{
    public required IReadOnlyList<StratumEndpoint> Servers { get; init; }
    public required int Miners { get; init; }

    /// <summary>User names; miner i mines for Users[i % Users.Count].</summary>
    public required IReadOnlyList<string> Users { get; init; }

    public required string WorkerPrefix { get; init; }
    public required string Password { get; init; }

    /// <summary>Target shares per second per miner (rate mode); null in hashrate mode.</summary>
    public double? Rate { get; init; }

    /// <summary>Simulated hashes per second per miner (hashrate mode: every share found is submitted); null in rate mode.</summary>
    public double? Hashrate { get; init; }

    public required HashingMode Hashing { get; init; }
    public TimeSpan? Duration { get; init; }

    /// <summary>Stop after this many accepted good shares (over all miners).</summary>
    public long? Shares { get; init; }

    public double BadShareFraction { get; init; }
    public required IReadOnlyList<BadShareKind> BadShareKinds { get; init; }
    public TimeSpan? ReconnectEvery { get; init; }
    public double ReconnectFraction { get; init; }

    /// <summary>New connections per second while ramping up.</summary>
    public required double ConnectRate { get; init; }

    /// <summary>Local addresses to bind, miner i using [i % Count]; empty: the system picks.</summary>
    public required IReadOnlyList<IPAddress> SourceAddresses { get; init; }

    public string? ReportPath { get; init; }
    public bool Quiet { get; init; }
    public required int HashThreads { get; init; }
    public int? Seed { get; init; }
    public required TimeSpan ProgressInterval { get; init; }

    /// <summary>How long to wait for answers to submits in flight when the run ends.</summary>
    public required TimeSpan Drain { get; init; }

    /// <summary>The login miner <paramref name="index"/> (0-based) authorizes as: user.prefix-00001.</summary>
    public string LoginOf(int index) => $"{Users[index % Users.Count]}.{WorkerNameOf(index)}";

    public string WorkerNameOf(int index) => $"{WorkerPrefix}-{index + 1:D5}";

    public int UserIndexOf(int index) => index % Users.Count;
}
