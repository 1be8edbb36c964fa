using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PoolCluster.Bitcoin;
using PoolCluster.DevNode.Chain;

namespace PoolCluster.DevNode.Rpc;

/// <summary>
/// The RPC methods DevNode answers, with bitcoind's names, parameters, result shapes and errors (Bitcoin Core 29/30
/// as of src/rpc/mining.cpp, blockchain.cpp, net.cpp, misc.cpp, server.cpp).
/// </summary>
public sealed class NodeRpcMethods(RegtestNode node, Action requestStop)
{
    /// <summary>bitcoind's DEFAULT_MAX_TRIES for generatetoaddress.</summary>
    public const long DefaultMaxTries = 1_000_000;

    public const string SubVersion = "/DevNode:1.0.0/";

    private bool _leftInitialBlockDownload;

    public IReadOnlyDictionary<string, RpcMethod> Build()
    {
        RpcMethod[] methods =
        [
            new("getblocktemplate", ["template_request"], 1, "{\"rules\":[\"segwit\"], \"mode\":\"template\"|\"proposal\", \"longpollid\":\"...\", \"data\":\"hex\"}", GetBlockTemplateAsync),
            new("submitblock", ["hexdata", "dummy"], 1, "\"hexdata\" ( \"dummy\" )", Sync(SubmitBlock)),
            new("getbestblockhash", [], 0, "", Sync(_ => node.Tip.Hash.ToDisplayHex())),
            new("getblockcount", [], 0, "", Sync(_ => node.Tip.Height)),
            new("getblockhash", ["height"], 1, "height", Sync(GetBlockHash)),
            new("getblockheader", ["blockhash", "verbose"], 1, "\"blockhash\" ( verbose )", Sync(GetBlockHeader)),
            new("getblock", ["blockhash", "verbosity"], 1, "\"blockhash\" ( verbosity )", Sync(GetBlock)),
            new("getblockchaininfo", [], 0, "", Sync(GetBlockchainInfo)),
            new("getchaintips", [], 0, "", Sync(GetChainTips)),
            new("getdifficulty", [], 0, "", Sync(_ => RpcJson.Difficulty(node.Tip.Header.Bits))),
            new("getnetworkinfo", [], 0, "", Sync(GetNetworkInfo)),
            new("getconnectioncount", [], 0, "", Sync(_ => 0)),
            new("getmininginfo", [], 0, "", Sync(GetMiningInfo)),
            new("getnetworkhashps", ["nblocks", "height"], 0, "( nblocks height )", Sync(GetNetworkHashPs)),
            new("validateaddress", ["address"], 1, "\"address\"", Sync(ValidateAddress)),
            new("generatetoaddress", ["nblocks", "address", "maxtries"], 2, "nblocks \"address\" ( maxtries )", GenerateToAddressAsync),
            new("getrawmempool", ["verbose", "mempool_sequence"], 0, "( verbose mempool_sequence )", Sync(GetRawMempool)),
            new("getmempoolinfo", [], 0, "", Sync(GetMempoolInfo)),
            new("uptime", [], 0, "", Sync(_ => node.Now - node.StartedAt)),
            new("stop", ["wait"], 0, "", Sync(Stop)),
        ];
        return methods.ToDictionary(method => method.Name, StringComparer.Ordinal);
    }

    private static Func<RpcArgs, CancellationToken, ValueTask<JsonNode?>> Sync<T>(Func<RpcArgs, T> handler) =>
        (args, _) => ValueTask.FromResult(ToNode(handler(args)));

    private static JsonNode? ToNode<T>(T value) => value switch
    {
        null => null,
        JsonNode node => node,
        _ => JsonValue.Create(value),
    };

    // ------------------------------------------------------------------ mining

    private async ValueTask<JsonNode?> GetBlockTemplateAsync(RpcArgs args, CancellationToken cancellationToken)
    {
        var request = args.GetObjectOrNull(0);
        var mode = "template";
        JsonElement? longPollId = null;
        var clientRules = new HashSet<string>(StringComparer.Ordinal);
        if (request is { } options)
        {
            if (options.TryGetProperty("mode", out var modeValue) && modeValue.ValueKind != JsonValueKind.Null)
            {
                if (modeValue.ValueKind != JsonValueKind.String)
                    throw new RpcException(RpcErrorCode.InvalidParameter, "Invalid mode");
                mode = modeValue.GetString()!;
            }
            if (options.TryGetProperty("longpollid", out var lp) && lp.ValueKind != JsonValueKind.Null)
                longPollId = lp;

            if (mode == "proposal")
            {
                if (!options.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.String)
                    throw new RpcException(RpcErrorCode.TypeError, "Missing data String key for proposal");
                return node.ProposeBlock(DecodeBlock(data.GetString()!).Block);
            }

            if (options.TryGetProperty("rules", out var rules) && rules.ValueKind == JsonValueKind.Array)
            {
                foreach (var rule in rules.EnumerateArray())
                {
                    if (rule.ValueKind != JsonValueKind.String)
                        throw new RpcException(RpcErrorCode.TypeError, "JSON value is not a string as expected");
                    clientRules.Add(rule.GetString()!);
                }
            }
        }
        if (mode != "template")
            throw new RpcException(RpcErrorCode.InvalidParameter, "Invalid mode");

        if (longPollId is { } lpValue)
        {
            Hash256 watchedTip;
            uint watchedUpdates;
            if (lpValue.ValueKind == JsonValueKind.String)
            {
                // Format: <hashBestChain><nTransactionsUpdatedLast>
                var text = lpValue.GetString()!;
                var hashPart = text.Length > 64 ? text[..64] : text;
                if (hashPart.Length != 64)
                    throw new RpcException(RpcErrorCode.InvalidParameter, $"longpollid must be of length 64 (not {hashPart.Length}, for '{hashPart}')");
                if (!Hash256.TryFromDisplayHex(hashPart, out watchedTip, out _))
                    throw new RpcException(RpcErrorCode.InvalidParameter, $"longpollid must be hexadecimal string (not '{hashPart}')");
                watchedUpdates = unchecked((uint)LeadingInteger(text.AsSpan(64)));
            }
            else
            {
                // Not specified by BIP22; bitcoind watches the current tip and the last template's counter.
                watchedTip = node.Tip.Hash;
                watchedUpdates = node.LastTemplateTransactionsUpdated;
            }
            await node.WaitForLongPollAsync(watchedTip, watchedUpdates, cancellationToken).ConfigureAwait(false);
        }

        if (!clientRules.Contains("segwit"))
            throw new RpcException(RpcErrorCode.InvalidParameter, "getblocktemplate must be called with the segwit rule set (call with {\"rules\": [\"segwit\"]})");

        var (template, curTime) = node.GetTemplate();
        var transactions = new JsonArray();
        for (var i = 0; i < template.Transactions.Count; i++)
        {
            var entry = template.Transactions[i];
            var depends = new JsonArray();
            foreach (var index in template.Depends[i])
                depends.Add(index);
            transactions.Add(new JsonObject
            {
                ["data"] = Hex.Encode(entry.Data),
                ["txid"] = entry.TxId.ToDisplayHex(),
                ["hash"] = entry.Transaction.WTxId.ToDisplayHex(),
                ["depends"] = depends,
                ["fee"] = entry.Fee,
                ["sigops"] = entry.SigOpsCost,
                ["weight"] = entry.Weight,
            });
        }
        var maxTime = curTime + Regtest.MaxFutureBlockTime;
        return new JsonObject
        {
            ["capabilities"] = new JsonArray("proposal"),
            ["version"] = unchecked((int)template.Version),
            ["rules"] = new JsonArray("csv", "!segwit", "taproot"),
            ["vbavailable"] = new JsonObject(),
            ["vbrequired"] = 0,
            ["previousblockhash"] = template.Parent.Hash.ToDisplayHex(),
            ["transactions"] = transactions,
            ["coinbaseaux"] = new JsonObject(),
            ["coinbasevalue"] = template.CoinbaseValue,
            ["longpollid"] = template.Parent.Hash.ToDisplayHex() + template.TransactionsUpdated.ToString(CultureInfo.InvariantCulture),
            ["target"] = RpcJson.TargetHex(template.Bits),
            ["mintime"] = template.MinTime,
            ["mutable"] = new JsonArray("time", "transactions", "prevblock"),
            ["noncerange"] = "00000000ffffffff",
            ["sigoplimit"] = Regtest.MaxBlockSigOpsCost,
            ["sizelimit"] = Regtest.MaxBlockSerializedSize,
            ["weightlimit"] = Regtest.MaxBlockWeight,
            ["curtime"] = curTime,
            ["bits"] = RpcJson.Hex32(template.Bits),
            ["height"] = template.Height,
            // Not in bitcoind's answer but in the reference node's (see README): harmless extras a BIP22 client ignores.
            ["maxtime"] = maxTime,
            ["expires"] = maxTime,
            ["submitold"] = false,
            ["default_witness_commitment"] = Hex.Encode(template.WitnessCommitmentScript),
        };
    }

    private string? SubmitBlock(RpcArgs args)
    {
        var (block, raw) = DecodeBlock(args.GetString(0));
        return node.SubmitBlock(block, raw);
    }

    /// <summary>DecodeHexBlk: hex that does not decode to a block is RPC error -22 "Block decode failed".</summary>
    private static (Block Block, byte[] Raw) DecodeBlock(string hex)
    {
        try
        {
            var raw = Convert.FromHexString(hex);
            return (Bitcoin.Block.Parse(raw), raw);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new RpcException(RpcErrorCode.DeserializationError, "Block decode failed");
        }
    }

    private async ValueTask<JsonNode?> GenerateToAddressAsync(RpcArgs args, CancellationToken cancellationToken)
    {
        var count = args.GetInt64(0, 0);
        var address = args.GetString(1);
        var maxTries = args.GetInt64(2, DefaultMaxTries);
        if (count is < 0 or > int.MaxValue)
            throw new RpcException(RpcErrorCode.TypeError, $"JSON integer out of range: {count}");
        if (!BitcoinAddress.TryParse(address, Regtest.Network, out var parsed, out _))
            throw new RpcException(RpcErrorCode.InvalidAddressOrKey, "Error: Invalid address");
        // Mining holds the node lock per block; keep it off the request thread.
        var hashes = await Task.Run(() => node.Generate((int)count, parsed!.ScriptPubKey, maxTries, cancellationToken: cancellationToken), cancellationToken)
            .ConfigureAwait(false);
        var result = new JsonArray();
        foreach (var hash in hashes)
            result.Add(hash.ToDisplayHex());
        return result;
    }

    private JsonObject GetMiningInfo(RpcArgs args)
    {
        var (tip, pooled) = node.Read((chain, mempool) => (chain.Tip, mempool.Count));
        var template = node.LastTemplate;
        var json = new JsonObject { ["blocks"] = tip.Height };
        if (template is not null)
        {
            json["currentblockweight"] = template.Weight + Regtest.CoinbaseReservedWeight;
            json["currentblocktx"] = template.Transactions.Count;
        }
        json["bits"] = RpcJson.Hex32(tip.Header.Bits);
        json["difficulty"] = RpcJson.Difficulty(tip.Header.Bits);
        json["target"] = RpcJson.TargetHex(tip.Header.Bits);
        json["networkhashps"] = NetworkHashPs(120, -1);
        json["pooledtx"] = pooled;
        json["chain"] = "regtest";
        json["next"] = new JsonObject
        {
            ["height"] = tip.Height + 1,
            ["bits"] = RpcJson.Hex32(node.BlockBits),
            ["difficulty"] = RpcJson.Difficulty(node.BlockBits),
            ["target"] = RpcJson.TargetHex(node.BlockBits),
        };
        json["warnings"] = Warnings();
        return json;
    }

    private double GetNetworkHashPs(RpcArgs args) => NetworkHashPs(args.GetInt64(0, 120), args.GetInt64(1, -1));

    /// <summary>GetNetworkHashPS: chain work over the time span of the last <paramref name="lookup"/> blocks.</summary>
    private double NetworkHashPs(long lookup, long height) => node.Read((chain, _) =>
    {
        if (lookup < -1 || lookup == 0)
            throw new RpcException(RpcErrorCode.InvalidParameter, "Invalid nblocks. Must be a positive number or -1.");
        if (height < -1 || height > chain.Height)
            throw new RpcException(RpcErrorCode.InvalidParameter, "Block does not exist at specified height");
        var last = height >= 0 ? chain.AtHeight((int)height) : chain.Tip;
        if (last is null || last.Height == 0 || last.Previous is null)
            return 0d;
        if (lookup == -1)
            lookup = last.Height % Regtest.DifficultyAdjustmentInterval + 1;
        lookup = Math.Min(lookup, last.Height);
        var first = last;
        long minTime = last.Time, maxTime = last.Time;
        for (var i = 0; i < lookup && first.Previous is not null; i++)
        {
            first = first.Previous;
            minTime = Math.Min(minTime, first.Time);
            maxTime = Math.Max(maxTime, first.Time);
        }
        return minTime == maxTime ? 0d : (double)(last.ChainWork - first.ChainWork) / (maxTime - minTime);
    });

    // ------------------------------------------------------------------ blockchain

    private string GetBlockHash(RpcArgs args)
    {
        var height = args.GetInt64(0, 0);
        return node.Read((chain, _) =>
        {
            if (height < 0 || height > chain.Height || chain.AtHeight((int)height) is not { } block)
                throw new RpcException(RpcErrorCode.InvalidParameter, "Block height out of range");
            return block.Hash.ToDisplayHex();
        });
    }

    private JsonNode GetBlockHeader(RpcArgs args)
    {
        var hash = ParseHash(args.GetHash(0, "blockhash"));
        var verbose = args.GetBool(1, true);
        return node.Read<JsonNode>((chain, _) =>
        {
            var block = chain.Lookup(hash) ?? throw new RpcException(RpcErrorCode.InvalidAddressOrKey, "Block not found");
            if (verbose)
                return RpcJson.Header(chain, block);
            if (block.Block is null)
                throw new RpcException(RpcErrorCode.MiscError, "Block header not available (seeded start block: only its hash, height and time are known)");
            return JsonValue.Create(Hex.Encode(block.Header.Serialize()));
        });
    }

    private JsonNode GetBlock(RpcArgs args)
    {
        var hash = ParseHash(args.GetHash(0, "blockhash"));
        var verbosity = args.GetVerbosity(1, 1);
        return node.Read<JsonNode>((chain, _) =>
        {
            var block = chain.Lookup(hash) ?? throw new RpcException(RpcErrorCode.InvalidAddressOrKey, "Block not found");
            if (block.Block is null || block.Raw is null)
                throw new RpcException(RpcErrorCode.MiscError, "Block not available (pruned data)");
            return verbosity <= 0 ? JsonValue.Create(Hex.Encode(block.Raw)) : RpcJson.Block(chain, block, verbosity);
        });
    }

    private JsonObject GetBlockchainInfo(RpcArgs args) => node.Read((chain, _) =>
    {
        var tip = chain.Tip;
        var ibd = InitialBlockDownload(tip);
        return new JsonObject
        {
            ["chain"] = "regtest",
            ["blocks"] = tip.Height,
            ["headers"] = chain.BestHeaderHeight,
            ["bestblockhash"] = tip.Hash.ToDisplayHex(),
            ["bits"] = RpcJson.Hex32(tip.Header.Bits),
            ["target"] = RpcJson.TargetHex(tip.Header.Bits),
            ["difficulty"] = RpcJson.Difficulty(tip.Header.Bits),
            ["time"] = tip.Time,
            ["mediantime"] = tip.MedianTimePast,
            ["verificationprogress"] = 1.0,
            ["initialblockdownload"] = ibd,
            ["chainwork"] = RpcJson.Uint256Hex(tip.ChainWork),
            ["size_on_disk"] = 0,
            ["pruned"] = false,
            ["warnings"] = Warnings(),
        };
    });

    /// <summary>
    /// bitcoind's IsInitialBlockDownload on a test chain: true while the tip is more than a day old (a fresh regtest
    /// node with only genesis), and false for good once it was not.
    /// </summary>
    private bool InitialBlockDownload(ChainBlock tip)
    {
        if (!_leftInitialBlockDownload && tip.Time >= node.Now - 24 * 60 * 60)
            _leftInitialBlockDownload = true;
        return !_leftInitialBlockDownload;
    }

    private JsonArray GetChainTips(RpcArgs args) => node.Read((chain, _) =>
    {
        var tips = new JsonArray();
        foreach (var leaf in chain.Leaves().OrderByDescending(block => block.Height))
        {
            var fork = leaf;
            while (!chain.IsActive(fork))
                fork = fork.Previous!;
            tips.Add(new JsonObject
            {
                ["height"] = leaf.Height,
                ["hash"] = leaf.Hash.ToDisplayHex(),
                ["branchlen"] = leaf.Height - fork.Height,
                ["status"] = chain.IsActive(leaf) ? "active" : leaf.Invalid ? "invalid" : "valid-fork",
            });
        }
        return tips;
    });

    // ------------------------------------------------------------------ mempool

    private JsonNode GetRawMempool(RpcArgs args)
    {
        var verbose = args.GetBool(0, false);
        var withSequence = args.GetBool(1, false);
        if (verbose && withSequence)
            throw new RpcException(RpcErrorCode.InvalidParameter, "Verbose results cannot contain mempool sequence values.");
        return node.Read<JsonNode>((_, mempool) =>
        {
            if (!verbose)
            {
                var txids = new JsonArray();
                foreach (var entry in mempool.Entries)
                    txids.Add(entry.TxId.ToDisplayHex());
                return withSequence
                    ? new JsonObject { ["txids"] = txids, ["mempool_sequence"] = mempool.TransactionsUpdated }
                    : txids;
            }
            var result = new JsonObject();
            foreach (var entry in mempool.Entries)
            {
                var depends = new JsonArray();
                foreach (var input in entry.Transaction.Inputs)
                    if (mempool.Contains(input.PreviousOutput.TxId))
                        depends.Add(input.PreviousOutput.TxId.ToDisplayHex());
                var spentBy = new JsonArray();
                result[entry.TxId.ToDisplayHex()] = new JsonObject
                {
                    ["vsize"] = entry.VirtualSize,
                    ["weight"] = entry.Weight,
                    ["time"] = entry.Time,
                    ["height"] = entry.Height,
                    ["wtxid"] = entry.Transaction.WTxId.ToDisplayHex(),
                    ["fees"] = new JsonObject { ["base"] = RpcJson.Amount(entry.Fee), ["modified"] = RpcJson.Amount(entry.Fee) },
                    ["depends"] = depends,
                    ["spentby"] = spentBy,
                    ["bip125-replaceable"] = entry.Transaction.Inputs.Any(input => input.Sequence < 0xfffffffe),
                    ["unbroadcast"] = false,
                };
            }
            return result;
        });
    }

    private JsonObject GetMempoolInfo(RpcArgs args) => node.Read((_, mempool) =>
    {
        long bytes = 0, fees = 0;
        foreach (var entry in mempool.Entries)
        {
            bytes += entry.VirtualSize;
            fees += entry.Fee;
        }
        return new JsonObject
        {
            ["loaded"] = true,
            ["size"] = mempool.Count,
            ["bytes"] = bytes,
            ["usage"] = bytes * 4,
            ["total_fee"] = RpcJson.Amount(fees),
            ["maxmempool"] = 300_000_000,
            ["mempoolminfee"] = RpcJson.Amount(1000),
            ["minrelaytxfee"] = RpcJson.Amount(1000),
            ["incrementalrelayfee"] = RpcJson.Amount(1000),
            ["unbroadcastcount"] = 0,
            ["fullrbf"] = true,
        };
    });

    // ------------------------------------------------------------------ network, util, control

    private JsonObject GetNetworkInfo(RpcArgs args) => new()
    {
        ["version"] = 290000,
        ["subversion"] = SubVersion,
        ["protocolversion"] = 70016,
        ["localservices"] = "0000000000000c08",
        ["localservicesnames"] = new JsonArray("WITNESS", "NETWORK_LIMITED", "P2P_V2"),
        ["localrelay"] = true,
        ["timeoffset"] = 0,
        ["networkactive"] = false,
        ["connections"] = 0,
        ["connections_in"] = 0,
        ["connections_out"] = 0,
        ["networks"] = new JsonArray(),
        ["relayfee"] = RpcJson.Amount(1000),
        ["incrementalfee"] = RpcJson.Amount(1000),
        ["localaddresses"] = new JsonArray(),
        ["warnings"] = Warnings(),
    };

    private static JsonArray Warnings() =>
        new("This is DevNode, a regtest development node: no P2P, no UTXO set, no script or signature checks.");

    private static JsonObject ValidateAddress(RpcArgs args)
    {
        var text = args.GetString(0);
        if (!BitcoinAddress.TryParse(text, Regtest.Network, out var address, out var error))
        {
            return new JsonObject
            {
                ["isvalid"] = false,
                ["error_locations"] = new JsonArray(),
                ["error"] = error,
            };
        }
        var script = address!.ScriptPubKey.Span;
        var json = new JsonObject
        {
            ["isvalid"] = true,
            ["address"] = address.Text,
            ["scriptPubKey"] = Hex.Encode(script),
        };
        switch (address.Type)
        {
            case AddressType.PayToPubKeyHash:
                json["isscript"] = false;
                json["iswitness"] = false;
                break;
            case AddressType.PayToScriptHash:
                json["isscript"] = true;
                json["iswitness"] = false;
                break;
            default:
                Script.TryParseWitnessProgram(script, out var version, out var program);
                json["isscript"] = address.Type != AddressType.PayToWitnessPubKeyHash;
                json["iswitness"] = true;
                json["witness_version"] = version;
                json["witness_program"] = Hex.Encode(program);
                break;
        }
        return json;
    }

    private string Stop(RpcArgs args)
    {
        requestStop();
        return "DevNode stopping";
    }

    private static Hash256 ParseHash(string displayHex) => Hash256.FromDisplayHex(displayHex);

    /// <summary>LocaleIndependentAtoi: the leading decimal integer, 0 when there is none.</summary>
    private static long LeadingInteger(ReadOnlySpan<char> text)
    {
        var i = 0;
        var negative = false;
        if (i < text.Length && (text[i] == '-' || text[i] == '+'))
            negative = text[i++] == '-';
        long value = 0;
        for (; i < text.Length && char.IsAsciiDigit(text[i]); i++)
        {
            if (value > (long.MaxValue - 9) / 10)
                return 0;
            value = value * 10 + (text[i] - '0');
        }
        return negative ? -value : value;
    }
}
