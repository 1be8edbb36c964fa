namespace PoolCluster.Bitcoin;

/// <summary>
/// The parameters of a Bitcoin network that this library needs: address prefixes, subsidy halving interval and
/// proof-of-work limit. Testnet3 and testnet4 share <see cref="Testnet"/>'s values; testnet, signet and regtest share
/// base58 prefixes, so a base58 address cannot tell those three apart (bech32 can: "tb" vs "bcrt").
/// </summary>
public sealed class Network
{
    private Network(string name, string bech32Hrp, byte pubKeyHashPrefix, byte scriptHashPrefix, int halvingInterval, uint powLimitBits, string[] aliases)
    {
        Name = name;
        Bech32Hrp = bech32Hrp;
        PubKeyHashPrefix = pubKeyHashPrefix;
        ScriptHashPrefix = scriptHashPrefix;
        SubsidyHalvingInterval = halvingInterval;
        PowLimitBits = powLimitBits;
        Aliases = aliases;
    }

    public static Network Mainnet { get; } = new("mainnet", "bc", 0x00, 0x05, 210_000, 0x1d00ffff, ["main", "mainnet", "bitcoin"]);

    public static Network Testnet { get; } = new("testnet", "tb", 0x6f, 0xc4, 210_000, 0x1d00ffff, ["test", "testnet", "testnet3", "testnet4"]);

    public static Network Signet { get; } = new("signet", "tb", 0x6f, 0xc4, 210_000, 0x1e0377ae, ["signet"]);

    public static Network Regtest { get; } = new("regtest", "bcrt", 0x6f, 0xc4, 150, 0x207fffff, ["regtest"]);

    public static IReadOnlyList<Network> All { get; } = [Mainnet, Testnet, Signet, Regtest];

    public string Name { get; }

    /// <summary>Human-readable part of segwit addresses.</summary>
    public string Bech32Hrp { get; }

    /// <summary>Base58 version byte of P2PKH addresses.</summary>
    public byte PubKeyHashPrefix { get; }

    /// <summary>Base58 version byte of P2SH addresses.</summary>
    public byte ScriptHashPrefix { get; }

    /// <summary>Blocks between subsidy halvings (210000; regtest 150).</summary>
    public int SubsidyHalvingInterval { get; }

    /// <summary>Compact encoding of the easiest allowed target.</summary>
    public uint PowLimitBits { get; }

    /// <summary>The easiest allowed target.</summary>
    public Target PowLimit => Target.FromCompact(PowLimitBits);

    /// <summary>Names accepted by <see cref="FromName"/>, including bitcoind's getblockchaininfo "chain" values.</summary>
    public IReadOnlyList<string> Aliases { get; }

    /// <summary>The network for a name: "main"/"mainnet", "test"/"testnet"/"testnet3"/"testnet4", "signet", "regtest" (any case).</summary>
    public static Network FromName(string name) =>
        TryFromName(name, out var network)
            ? network
            : throw new ArgumentException($"unknown network '{name}': expected one of {string.Join(", ", All.SelectMany(n => n.Aliases))}", nameof(name));

    public static bool TryFromName(string? name, out Network network)
    {
        foreach (var candidate in All)
        {
            if (candidate.Aliases.Any(alias => string.Equals(alias, name?.Trim(), StringComparison.OrdinalIgnoreCase)))
            {
                network = candidate;
                return true;
            }
        }
        network = Mainnet;
        return false;
    }

    public override string ToString() => Name;
}

/// <summary>The block subsidy schedule.</summary>
public static class Subsidy
{
    /// <summary>Satoshis per bitcoin.</summary>
    public const long Coin = 100_000_000;

    /// <summary>The first subsidy: 50 BTC.</summary>
    public const long InitialSubsidy = 50 * Coin;

    /// <summary>New coins a block at <paramref name="height"/> may create: 50 BTC halved every interval (Core's GetBlockSubsidy).</summary>
    public static long GetBlockSubsidy(int height, Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (height < 0) throw new ArgumentOutOfRangeException(nameof(height), height, "a block height is not negative");
        var halvings = height / network.SubsidyHalvingInterval;
        return halvings >= 64 ? 0 : InitialSubsidy >> halvings;
    }
}
