namespace PoolCluster.Bitcoin;

/// <summary>The output types a pool pays to.</summary>
public enum AddressType
{
    /// <summary>Base58 P2PKH (1..., m.../n...).</summary>
    PayToPubKeyHash,

    /// <summary>Base58 P2SH (3..., 2...).</summary>
    PayToScriptHash,

    /// <summary>Bech32 witness v0, 20-byte program.</summary>
    PayToWitnessPubKeyHash,

    /// <summary>Bech32 witness v0, 32-byte program.</summary>
    PayToWitnessScriptHash,

    /// <summary>Bech32m witness v1, 32-byte program.</summary>
    PayToTaproot,
}

/// <summary>A malformed address or one for another network; the message names the problem.</summary>
public sealed class AddressFormatException(string message) : FormatException(message);

/// <summary>
/// A payout address on a given network and the output script it stands for. Parsing never yields a wrong script: a
/// bad checksum, wrong network, wrong length or unknown/unsupported version is an error naming the problem. Witness
/// versions 2..16 and non-32-byte v1 programs are valid BIP350 addresses but have no defined meaning yet, so they are
/// refused as payout addresses (coins sent there could be burned); <see cref="Bech32.TryDecodeSegwitAddress"/> decodes them.
/// </summary>
public sealed class BitcoinAddress
{
    private BitcoinAddress(string text, AddressType type, Network network, byte[] scriptPubKey)
    {
        Text = text;
        Type = type;
        Network = network;
        ScriptPubKey = scriptPubKey;
    }

    /// <summary>The address (bech32 forms in lowercase, the canonical form).</summary>
    public string Text { get; }

    public AddressType Type { get; }

    public Network Network { get; }

    /// <summary>The output script coins to this address are locked with.</summary>
    public ReadOnlyMemory<byte> ScriptPubKey { get; }

    public override string ToString() => Text;

    /// <summary>Parses an address for <paramref name="network"/>; throws <see cref="AddressFormatException"/> naming the problem.</summary>
    public static BitcoinAddress Parse(string address, Network network) =>
        TryParse(address, network, out var result, out var error) ? result! : throw new AddressFormatException(error!);

    /// <summary>Parses an address for <paramref name="network"/>; false with a reason naming the problem.</summary>
    public static bool TryParse(string? address, Network network, out BitcoinAddress? result, out string? error)
    {
        ArgumentNullException.ThrowIfNull(network);
        result = null;
        var text = address?.Trim() ?? "";
        if (text.Length == 0)
        {
            error = "address is empty";
            return false;
        }

        var separator = text.LastIndexOf('1');
        var prefix = separator > 0 ? text[..separator].ToLowerInvariant() : null;
        if (prefix is not null && Network.All.Any(n => n.Bech32Hrp == prefix))
            return TryParseSegwit(text, prefix, network, out result, out error);
        if (prefix is not null && Bech32.TryDecode(text, out var hrp, out _, out _, out _))
        {
            error = $"unknown segwit address prefix '{hrp}' (segwit addresses on {network.Name} start with '{network.Bech32Hrp}1')";
            return false;
        }
        return TryParseBase58(text, network, out result, out error);
    }

    private static bool TryParseSegwit(string text, string hrp, Network network, out BitcoinAddress? result, out string? error)
    {
        result = null;
        // Decode first: a corrupted address is reported as corrupted, not as belonging to some network.
        if (!Bech32.TryDecodeSegwitAddress(text, out _, out var version, out var program, out var reason))
        {
            error = $"invalid segwit address: {reason}";
            return false;
        }
        if (hrp != network.Bech32Hrp)
        {
            var owners = string.Join("/", Network.All.Where(n => n.Bech32Hrp == hrp).Select(n => n.Name));
            error = $"wrong network: '{hrp}1...' is a {owners} address, but the network is {network.Name} (expects '{network.Bech32Hrp}1...')";
            return false;
        }
        AddressType type;
        if (version == 0 && program.Length == 20) type = AddressType.PayToWitnessPubKeyHash;
        else if (version == 0) type = AddressType.PayToWitnessScriptHash;
        else if (version == 1 && program.Length == 32) type = AddressType.PayToTaproot;
        else
        {
            error = version == 1
                ? $"unsupported witness version 1 program of {program.Length} bytes (only 32-byte taproot outputs are defined)"
                : $"unknown witness version {version}: no output type is defined for it yet, so paying to it could burn the coins";
            return false;
        }
        result = new BitcoinAddress(text.ToLowerInvariant(), type, network, Script.WitnessProgram(version, program));
        error = null;
        return true;
    }

    private static bool TryParseBase58(string text, Network network, out BitcoinAddress? result, out string? error)
    {
        result = null;
        if (!Base58.TryDecodeCheck(text, out var payload, out var reason))
        {
            error = $"invalid address: {reason}";
            return false;
        }
        if (payload.Length != 21)
        {
            error = $"invalid base58 address length: payload is {payload.Length} bytes, expected 21 (version byte + 20-byte hash)";
            return false;
        }
        var version = payload[0];
        var hash = payload.AsSpan(1);
        if (version == network.PubKeyHashPrefix)
        {
            result = new BitcoinAddress(text, AddressType.PayToPubKeyHash, network, Script.PayToPubKeyHash(hash));
            error = null;
            return true;
        }
        if (version == network.ScriptHashPrefix)
        {
            result = new BitcoinAddress(text, AddressType.PayToScriptHash, network, Script.PayToScriptHash(hash));
            error = null;
            return true;
        }
        var owners = Network.All.Where(n => n.PubKeyHashPrefix == version || n.ScriptHashPrefix == version).Select(n => n.Name).ToArray();
        error = owners.Length > 0
            ? $"wrong network: version byte 0x{version:x2} is a {string.Join("/", owners)} address, but the network is {network.Name} (expects 0x{network.PubKeyHashPrefix:x2} for P2PKH or 0x{network.ScriptHashPrefix:x2} for P2SH)"
            : $"unknown base58 address version byte 0x{version:x2} (the network {network.Name} uses 0x{network.PubKeyHashPrefix:x2} for P2PKH and 0x{network.ScriptHashPrefix:x2} for P2SH)";
        return false;
    }

    /// <summary>The address that displays <paramref name="scriptPubKey"/>, when it is one of the <see cref="AddressType"/> forms.</summary>
    public static bool TryFromScriptPubKey(ReadOnlySpan<byte> scriptPubKey, Network network, out BitcoinAddress? address)
    {
        ArgumentNullException.ThrowIfNull(network);
        address = null;
        var script = scriptPubKey.ToArray();
        if (script is [Script.OP_DUP, Script.OP_HASH160, 20, .., Script.OP_EQUALVERIFY, Script.OP_CHECKSIG] && script.Length == 25)
        {
            address = new BitcoinAddress(Base58.EncodeCheck([network.PubKeyHashPrefix, .. script.AsSpan(3, 20)]), AddressType.PayToPubKeyHash, network, script);
            return true;
        }
        if (script is [Script.OP_HASH160, 20, .., Script.OP_EQUAL] && script.Length == 23)
        {
            address = new BitcoinAddress(Base58.EncodeCheck([network.ScriptHashPrefix, .. script.AsSpan(2, 20)]), AddressType.PayToScriptHash, network, script);
            return true;
        }
        if (Script.TryParseWitnessProgram(script, out var version, out var program))
        {
            AddressType? type = (version, program.Length) switch
            {
                (0, 20) => AddressType.PayToWitnessPubKeyHash,
                (0, 32) => AddressType.PayToWitnessScriptHash,
                (1, 32) => AddressType.PayToTaproot,
                _ => null,
            };
            if (type is { } known)
            {
                address = new BitcoinAddress(Bech32.EncodeSegwitAddress(network.Bech32Hrp, version, program), known, network, script);
                return true;
            }
        }
        return false;
    }

    /// <summary>As <see cref="TryFromScriptPubKey"/>, throwing for scripts that are not a standard payout form.</summary>
    public static BitcoinAddress FromScriptPubKey(ReadOnlySpan<byte> scriptPubKey, Network network) =>
        TryFromScriptPubKey(scriptPubKey, network, out var address)
            ? address!
            : throw new ArgumentException($"script {Hex.Encode(scriptPubKey)} is not a P2PKH, P2SH, P2WPKH, P2WSH or P2TR output", nameof(scriptPubKey));
}
