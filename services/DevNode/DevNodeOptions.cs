using System.ComponentModel.DataAnnotations;

namespace PoolCluster.DevNode;

/// <summary>DevNode's configuration (appsettings.json, overridable on the command line as --Section:Key=value).</summary>
public sealed class DevNodeOptions
{
    public RpcOptions Rpc { get; set; } = new();

    /// <summary>
    /// Like bitcoind's -datadir: the cookie is written to &lt;DataDir&gt;/regtest/.cookie and, with
    /// <see cref="PersistChain"/>, the chain to &lt;DataDir&gt;/regtest/devnode-blocks.dat. Relative paths are
    /// relative to the working directory.
    /// </summary>
    [Required] public string DataDir { get; set; } = "devnode-data";

    /// <summary>Keep accepted blocks in DataDir so a restart resumes the same chain; off = every start is genesis.</summary>
    public bool PersistChain { get; set; } = true;

    public ZmqOptions Zmq { get; set; } = new();

    public MempoolOptions Mempool { get; set; } = new();

    /// <summary>Another "pool" mines a block on the tip every this many seconds (0 = off), so the pool under test
    /// sees foreign blocks and has to switch to clean jobs.</summary>
    [Range(0, 86_400)] public double ForeignBlockIntervalSeconds { get; set; }

    /// <summary>
    /// Compact bits every block after genesis must carry (regtest: 207fffff, about one hash in two solves a block). A
    /// local pool sets it harder so that not every share is a block; DevNode then checks this instead of regtest's
    /// fixed bits. Never easier than 207fffff.
    /// </summary>
    [RegularExpression("^[0-9a-fA-F]{8}$", ErrorMessage = "BlockBits must be 8 hex digits of compact bits, e.g. 207fffff")]
    public string BlockBits { get; set; } = "207fffff";

    /// <summary><see cref="BlockBits"/> as a number.</summary>
    public uint ParsedBlockBits => uint.Parse(BlockBits, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Where foreign blocks pay; any regtest address. Default: a P2WPKH address no one here owns.</summary>
    public string ForeignPayoutAddress { get; set; } = "bcrt1qmelppaw70cg0thn7zr6aulss7h08uy849hqf8n";

    /// <summary>
    /// A long poll whose tip did not change returns once the mempool changed and this many seconds passed
    /// (bitcoind: 60, then it rechecks every 10 s).
    /// </summary>
    [Range(0.05, 3600)] public double LongPollMempoolSeconds { get; set; } = 60;

    /// <summary>
    /// getblocktemplate reuses its transaction selection while the tip is unchanged and it is younger than this many
    /// seconds (bitcoind: 5), so the mempool's churn does not change every template.
    /// </summary>
    [Range(0, 3600)] public double TemplateRefreshSeconds { get; set; } = 5;

    /// <summary>
    /// Starts the chain on a block this node does not have (instead of genesis), so a block made by another regtest
    /// node on that parent can be replayed. For tests and experiments only; off when Hash is empty.
    /// </summary>
    public SeedTipOptions SeedTip { get; set; } = new();
}

public sealed class RpcOptions
{
    /// <summary>TCP port on 127.0.0.1 (bitcoind regtest default 18443); 0 picks a free port (see the ready file).</summary>
    [Range(0, 65535)] public int Port { get; set; } = 18443;

    /// <summary>With <see cref="Password"/>, accepted as HTTP Basic credentials (-rpcuser/-rpcpassword).</summary>
    public string? User { get; set; }

    public string? Password { get; set; }

    /// <summary>Write &lt;DataDir&gt;/regtest/.cookie (always accepted while it exists, like bitcoind's cookie auth).</summary>
    public bool Cookie { get; set; } = true;
}

public sealed class ZmqOptions
{
    /// <summary>-zmqpubhashblock endpoint, e.g. tcp://127.0.0.1:28332 ("tcp://127.0.0.1:*" = a free port); empty = off.</summary>
    public string? HashBlock { get; set; }

    /// <summary>-zmqpubrawblock endpoint; may equal another topic's endpoint (one socket serves both, like bitcoind).</summary>
    public string? RawBlock { get; set; }

    /// <summary>-zmqpubhashtx endpoint.</summary>
    public string? HashTx { get; set; }
}

public sealed class MempoolOptions
{
    /// <summary>Synthetic transactions arriving per second (0 = none; fractions allowed).</summary>
    [Range(0, 10_000)] public double TxPerSecond { get; set; } = 2;

    /// <summary>Fee rate range of synthetic transactions, satoshis per virtual byte.</summary>
    [Range(1, 100_000)] public int MinFeeRate { get; set; } = 1;

    [Range(1, 100_000)] public int MaxFeeRate { get; set; } = 50;

    /// <summary>Share of synthetic transactions that spend an output of a mempool transaction (template "depends").</summary>
    [Range(0, 1)] public double ChildProbability { get; set; } = 0.2;

    /// <summary>Above this many transactions new synthetic ones are not added.</summary>
    [Range(1, 1_000_000)] public int MaxTransactions { get; set; } = 20_000;

    /// <summary>Seed of the synthetic transaction generator (0 = random each start).</summary>
    public int Seed { get; set; }
}

public sealed class SeedTipOptions
{
    /// <summary>Display-order hash of the block to start on; empty = start on the regtest genesis block.</summary>
    public string? Hash { get; set; }

    [Range(0, 100_000_000)] public int Height { get; set; }

    /// <summary>Its timestamp (unix seconds); also the median time past the next block must exceed.</summary>
    public long Time { get; set; }
}
