using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;
using PoolCluster.Stratum;

namespace PoolCluster.SServer;

/// <summary>Configuration section "Stratum": the listener, the protocol and the limits that keep the server up.</summary>
public sealed class StratumOptions : IValidatableObject
{
    public const string SectionName = "Stratum";

    /// <summary>Address to listen on: 0.0.0.0 (all IPv4), :: (IPv4 and IPv6), or one address.</summary>
    [Required] public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>Plain stratum port; 0 picks a free port (tests), -1 turns the plain listener off (TLS only).</summary>
    [Range(-1, 65535)] public int Port { get; set; } = 3333;

    /// <summary>
    /// 1..255, distinct per SServer instance: the first byte of every extranonce1 this server hands out, so two
    /// servers never give two miners the same coinbase.
    /// </summary>
    [Range(1, 255)] public int ServerId { get; set; } = 1;

    /// <summary>extranonce2 bytes when a job does not say (StratumJob.extranonce2_size carries JobMaker's value).</summary>
    [Range(1, 8)] public int Extranonce2Size { get; set; } = 8;

    /// <summary>BIP310: the header version bits miners may roll (hex); 00000000 turns version rolling off.</summary>
    [Required] public string VersionRollingMask { get; set; } = "1fffe000";

    /// <summary>A share's ntime may be at most this far past its job's time (code 32 above); Bitcoin's own limit is 2 h.</summary>
    [Range(0, 7200)] public int MaxNTimeAheadSeconds { get; set; } = 7200;

    /// <summary>The current job is sent again this often when no clean job came (btcpool's mining notify interval).</summary>
    [Range(1, 3600)] public int NotifyIntervalSeconds { get; set; } = 30;

    /// <summary>Shares for a job are judged this long after it arrived; later they are "job not found" (21).</summary>
    [Range(10, 86400)] public int JobLifetimeSeconds { get; set; } = 300;

    /// <summary>A job made longer ago than this when it arrives is ignored (a restart must not hand out old work).</summary>
    [Range(1, 86400)] public int MaxJobDelaySeconds { get; set; } = 60;

    /// <summary>Expect a PROXY protocol v1 header first on every connection (behind a load balancer that sends one).</summary>
    public bool ProxyProtocol { get; set; }

    /// <summary>How long a graceful stop waits for miners to follow client.reconnect before closing the rest.</summary>
    [Range(0, 600)] public int DrainSeconds { get; set; } = 10;

    /// <summary>Longest wait for Kafka to acknowledge a solved block before the miner is answered anyway.</summary>
    [Range(1, 600)] public int SolvedShareTimeoutSeconds { get; set; } = 15;

    /// <summary>Shares and worker events held while Kafka is slow or away; beyond this they are counted and logged as dropped.</summary>
    [Range(1, 10_000_000)] public int OutputQueueCapacity { get; set; } = 200_000;

    /// <summary>A statistics line in the log this often; 0 = never.</summary>
    [Range(0, 86400)] public int StatsIntervalSeconds { get; set; } = 60;

    /// <summary>
    /// How plain TCP connections are served: Epoll (the server's own event loops: one recv and one send per share, no
    /// thread-pool hop; Linux x64/arm64) or Sockets (.NET's async sockets, as TLS connections always are). Epoll falls
    /// back to Sockets, with a warning, where it is not available.
    /// </summary>
    public StratumIoEngine IoEngine { get; set; } = StratumIoEngine.Epoll;

    /// <summary>Event loop threads for <see cref="IoEngine"/> Epoll; 0 = one per processor.</summary>
    [Range(0, 256)] public int IoThreads { get; set; }

    public TlsOptions Tls { get; set; } = new();

    public LimitOptions Limits { get; set; } = new();

    public BanOptions Ban { get; set; } = new();

    internal uint ParsedVersionRollingMask =>
        uint.TryParse(VersionRollingMask, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var mask) ? mask : 0;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPAddress.TryParse(BindAddress, out _))
            yield return new ValidationResult($"BindAddress '{BindAddress}' is not an IP address", [nameof(BindAddress)]);
        if (VersionRollingMask is not { Length: 8 }
            || !uint.TryParse(VersionRollingMask, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out _))
            yield return new ValidationResult($"VersionRollingMask '{VersionRollingMask}' must be 8 hex digits, e.g. 1fffe000", [nameof(VersionRollingMask)]);
        if (Port == -1 && Tls.Port == 0)
            yield return new ValidationResult("Port is -1 and Tls:Port is 0: no listener would accept miners", [nameof(Port)]);
    }
}

public enum StratumIoEngine
{
    Epoll,
    Sockets,
}

/// <summary>"Stratum:Tls": an optional TLS listener beside the plain one.</summary>
public sealed class TlsOptions : IValidatableObject
{
    /// <summary>TLS port; 0 = no TLS listener.</summary>
    [Range(0, 65535)] public int Port { get; set; }

    /// <summary>The certificate: a PKCS#12 file (.pfx/.p12), or a PEM certificate (.pem/.crt) with <see cref="KeyPath"/>.</summary>
    public string CertificatePath { get; set; } = "";

    /// <summary>The PEM private key when <see cref="CertificatePath"/> is PEM without the key in it.</summary>
    public string KeyPath { get; set; } = "";

    /// <summary>Password of the PKCS#12 file.</summary>
    public string CertificatePassword { get; set; } = "";

    [Range(1, 120)] public int HandshakeTimeoutSeconds { get; set; } = 10;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Port != 0 && string.IsNullOrWhiteSpace(CertificatePath))
            yield return new ValidationResult("CertificatePath is required when Tls:Port is set", [nameof(CertificatePath)]);
        else if (Port != 0 && !File.Exists(CertificatePath))
            yield return new ValidationResult($"CertificatePath '{CertificatePath}' does not exist", [nameof(CertificatePath)]);
    }
}

/// <summary>"Stratum:Limits": what one client or all of them together may cost.</summary>
public sealed class LimitOptions
{
    [Range(1, 1_000_000)] public int MaxConnections { get; set; } = 100_000;

    /// <summary>Per source IP; high because a farm behind one NAT address is normal.</summary>
    [Range(1, 1_000_000)] public int MaxConnectionsPerIp { get; set; } = 10_000;

    /// <summary>A request line longer than this disconnects the client.</summary>
    [Range(256, 1_048_576)] public int MaxLineBytes { get; set; } = StratumLineFramer.DefaultMaxLineLength;

    /// <summary>Lines that are not JSON-RPC requests: each is answered with error 27, this many disconnect.</summary>
    [Range(1, 1000)] public int MaxInvalidLines { get; set; } = 3;

    /// <summary>Bytes waiting for a client that does not read; beyond this it is dropped instead of buffered.</summary>
    [Range(4096, 64 * 1024 * 1024)] public int MaxSendQueueBytes { get; set; } = 256 * 1024;

    /// <summary>Time from connect to a successful authorize; also bounds a client that trickles bytes.</summary>
    [Range(1, 3600)] public int UnauthorizedTimeoutSeconds { get; set; } = 30;

    /// <summary>An authorized client that sends nothing for this long is disconnected.</summary>
    [Range(10, 86400)] public int IdleTimeoutSeconds { get; set; } = 900;

    /// <summary>Distinct shares remembered per connection for duplicate detection (older jobs' entries are pruned first).</summary>
    [Range(64, 10_000_000)] public int MaxTrackedSharesPerConnection { get; set; } = 65_536;
}

/// <summary>"Stratum:Ban": clients that flood invalid shares or garbage are refused for a while.</summary>
public sealed class BanOptions
{
    /// <summary>Rejected shares (stale ones not counted) per minute on one connection that ban its IP; 0 = never.</summary>
    [Range(0, 1_000_000)] public int MaxInvalidSharesPerMinute { get; set; } = 600;

    /// <summary>Garbage disconnects (invalid lines, over-long lines) from one IP within <see cref="StrikeWindowSeconds"/> that ban it; 0 = never.</summary>
    [Range(0, 1_000_000)] public int StrikesToBan { get; set; } = 5;

    [Range(1, 86400)] public int StrikeWindowSeconds { get; set; } = 600;

    [Range(1, 30 * 86400)] public int BanSeconds { get; set; } = 600;
}

/// <summary>Configuration section "Vardiff": the per-connection difficulty (shared/Stratum's VarDiffController).</summary>
public sealed class VardiffSettings : IValidatableObject
{
    public const string SectionName = "Vardiff";

    /// <summary>A new connection's difficulty (btcpool's default 16384). A password's d= or mining.suggest_difficulty overrides it.</summary>
    public double InitialDifficulty { get; set; } = 16384;

    /// <summary>Lowest difficulty: fractions are fine (a 10 MH/s CPU miner needs ~0.02 for a share per 10 s).</summary>
    public double MinDifficulty { get; set; } = 0.0009765625;

    public double MaxDifficulty { get; set; } = 4611686018427387904;

    /// <summary>Aim: one share per this many seconds per connection.</summary>
    public double TargetShareSeconds { get; set; } = 10;

    /// <summary>How much share history the judgement uses (at least 6 x TargetShareSeconds).</summary>
    public double WindowSeconds { get; set; } = 300;

    public VarDiffOptions ToVarDiffOptions() => new()
    {
        InitialDifficulty = InitialDifficulty,
        MinDifficulty = MinDifficulty,
        MaxDifficulty = MaxDifficulty,
        TargetShareSeconds = TargetShareSeconds,
        WindowSeconds = WindowSeconds,
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        string? problem = null;
        try
        {
            ToVarDiffOptions().Validate();
        }
        catch (ArgumentException e)
        {
            problem = e.Message;
        }
        if (problem != null)
            yield return new ValidationResult(problem);
    }
}

/// <summary>Where user names come from.</summary>
public enum UserSource
{
    /// <summary>The pool database's <c>users</c> table (section "MySql").</summary>
    MySql,

    /// <summary>btcpool's user-list API: <c>GET url?last_id=N</c> → <c>{"err_no":0,"err_msg":null,"data":{"name":id}}</c>.</summary>
    Http,

    /// <summary>Every well-formed user name is accepted; its id is a stable hash of the name (tests, solo setups).</summary>
    None,
}

/// <summary>Configuration section "Users".</summary>
public sealed class UsersOptions : IValidatableObject
{
    public const string SectionName = "Users";

    public UserSource Source { get; set; } = UserSource.MySql;

    /// <summary>Unknown users are inserted into <c>users</c> at authorize (MySql source only; the local dev cluster turns it on).</summary>
    public bool AutoRegister { get; set; }

    /// <summary>The user-list API (Http source).</summary>
    public string HttpUrl { get; set; } = "";

    /// <summary>New users are fetched (incrementally, by id) this often.</summary>
    [Range(1, 3600)] public int PollIntervalSeconds { get; set; } = 10;

    /// <summary>A name found in no source is answered from memory for this long, so a misconfigured farm cannot flood the source.</summary>
    [Range(0, 3600)] public int UnknownUserCacheSeconds { get; set; } = 10;

    [Range(1, 120)] public int RequestTimeoutSeconds { get; set; } = 5;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Source == UserSource.Http && !Uri.TryCreate(HttpUrl, UriKind.Absolute, out _))
            yield return new ValidationResult($"HttpUrl '{HttpUrl}' must be an absolute URL when Source is Http", [nameof(HttpUrl)]);
        if (AutoRegister && Source != UserSource.MySql)
            yield return new ValidationResult($"AutoRegister needs Source MySql (it inserts into the users table), not {Source}", [nameof(AutoRegister)]);
    }
}
