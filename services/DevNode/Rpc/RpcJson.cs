using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using PoolCluster.Bitcoin;
using PoolCluster.DevNode.Chain;

namespace PoolCluster.DevNode.Rpc;

/// <summary>bitcoind's JSON shapes for headers, blocks and transactions (blockheaderToJSON, blockToJSON, TxToUniv).</summary>
public static class RpcJson
{
    /// <summary>ValueFromAmount: satoshis as a BTC number with 8 decimals.</summary>
    public static JsonNode Amount(long satoshis) => JsonValue.Create(decimal.Divide(satoshis, Subsidy.Coin) + 0.00000000m)!;

    public static string Hex32(uint value) => value.ToString("x8", CultureInfo.InvariantCulture);

    /// <summary>A 256-bit number as 64 hex digits (chainwork, target).</summary>
    public static string Uint256Hex(BigInteger value)
    {
        var hex = value.ToString("x", CultureInfo.InvariantCulture).TrimStart('0');
        return hex.PadLeft(64, '0');
    }

    public static double Difficulty(uint bits) => PoolCluster.Bitcoin.Difficulty.FromCompact(bits);

    public static string TargetHex(uint bits) => Target.FromCompact(bits).ToHex();

    /// <summary>blockheaderToJSON. A seeded start block shows only what is known of it (hash, height, time, chainwork).</summary>
    public static JsonObject Header(ChainState chain, ChainBlock block)
    {
        var active = chain.IsActive(block);
        var json = new JsonObject
        {
            ["hash"] = block.Hash.ToDisplayHex(),
            ["confirmations"] = active ? chain.Height - block.Height + 1 : -1,
            ["height"] = block.Height,
        };
        if (block.Block is not null)
        {
            json["version"] = unchecked((int)block.Header.Version);
            json["versionHex"] = Hex32(block.Header.Version);
            json["merkleroot"] = block.Header.MerkleRoot.ToDisplayHex();
        }
        json["time"] = block.Header.Time;
        json["mediantime"] = block.MedianTimePast;
        if (block.Block is not null)
            json["nonce"] = block.Header.Nonce;
        json["bits"] = Hex32(block.Header.Bits);
        json["target"] = TargetHex(block.Header.Bits);
        json["difficulty"] = Difficulty(block.Header.Bits);
        json["chainwork"] = Uint256Hex(block.ChainWork);
        json["nTx"] = block.TransactionCount;
        if (block.Previous is not null)
            json["previousblockhash"] = block.Previous.Hash.ToDisplayHex();
        if (chain.NextOnActiveChain(block) is { } next)
            json["nextblockhash"] = next.Hash.ToDisplayHex();
        return json;
    }

    /// <summary>blockToJSON at verbosity 1 (txids) or 2 (transaction objects with hex, and fee when known).</summary>
    public static JsonObject Block(ChainState chain, ChainBlock entry, int verbosity)
    {
        var json = Header(chain, entry);
        var block = entry.Block!;
        json["strippedsize"] = entry.StrippedSize;
        json["size"] = entry.Size;
        json["weight"] = entry.Weight;
        var txs = new JsonArray();
        for (var i = 0; i < block.Transactions.Count; i++)
        {
            var tx = block.Transactions[i];
            if (verbosity <= 1)
                txs.Add(tx.TxId.ToDisplayHex());
            else
                txs.Add(Transaction(tx, i > 0 && i < entry.Fees.Count ? entry.Fees[i] : null));
        }
        json["tx"] = txs;
        return json;
    }

    /// <summary>TxToUniv with include_hex; "fee" only when DevNode knows it (it has no undo data).</summary>
    public static JsonObject Transaction(Transaction tx, long? fee = null)
    {
        var vin = new JsonArray();
        foreach (var input in tx.Inputs)
        {
            var item = new JsonObject();
            if (tx.IsCoinbase)
            {
                item["coinbase"] = Hex.Encode(input.ScriptSig.Span);
            }
            else
            {
                item["txid"] = input.PreviousOutput.TxId.ToDisplayHex();
                item["vout"] = input.PreviousOutput.Index;
                item["scriptSig"] = new JsonObject
                {
                    ["asm"] = ScriptDescriber.ToAsm(input.ScriptSig.Span),
                    ["hex"] = Hex.Encode(input.ScriptSig.Span),
                };
            }
            if (input.Witness.Count > 0)
            {
                var witness = new JsonArray();
                foreach (var element in input.Witness)
                    witness.Add(Hex.Encode(element.Span));
                item["txinwitness"] = witness;
            }
            item["sequence"] = input.Sequence;
            vin.Add(item);
        }
        var vout = new JsonArray();
        for (var n = 0; n < tx.Outputs.Count; n++)
        {
            vout.Add(new JsonObject
            {
                ["value"] = Amount(tx.Outputs[n].Value),
                ["n"] = n,
                ["scriptPubKey"] = ScriptDescriber.ToJson(tx.Outputs[n].ScriptPubKey.Span),
            });
        }
        var weight = tx.Weight;
        var json = new JsonObject
        {
            ["txid"] = tx.TxId.ToDisplayHex(),
            ["hash"] = tx.WTxId.ToDisplayHex(),
            ["version"] = tx.Version,
            ["size"] = tx.GetSerializedSize(),
            ["vsize"] = (weight + 3) / 4,
            ["weight"] = weight,
            ["locktime"] = tx.LockTime,
            ["vin"] = vin,
            ["vout"] = vout,
        };
        if (fee is { } known)
            json["fee"] = Amount(known);
        json["hex"] = tx.ToHex();
        return json;
    }
}
