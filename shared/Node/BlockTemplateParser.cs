using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using PoolCluster.Topics;

namespace PoolCluster.Node;

/// <summary>
/// Turns a node's getblocktemplate result into the RawGbt contract. RPC shows hashes in display (reversed) order;
/// RawGbt carries them in internal order, so this is the one place where the order flips on the way in.
/// </summary>
public static class BlockTemplateParser
{
    public static RawGbt Parse(JsonElement template, string nodeName, long fetchedAtUnixMs)
    {
        try
        {
            var gbt = new RawGbt
            {
                NodeName = nodeName,
                FetchedAtUnixMs = fetchedAtUnixMs,
                Height = template.GetProperty("height").GetUInt32(),
                PreviousBlockHash = ByteString.CopyFrom(DisplayHexToInternal(template.GetProperty("previousblockhash").GetString())),
                Version = unchecked((uint)template.GetProperty("version").GetInt64()),
                Bits = uint.Parse(template.GetProperty("bits").GetString() ?? "", NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                CurTime = template.GetProperty("curtime").GetUInt32(),
                MinTime = template.TryGetProperty("mintime", out var mt) ? mt.GetUInt32() : template.GetProperty("curtime").GetUInt32(),
                CoinbaseValue = template.GetProperty("coinbasevalue").GetInt64(),
                LongpollId = template.TryGetProperty("longpollid", out var lp) ? lp.GetString() ?? "" : "",
                SizeLimit = template.TryGetProperty("sizelimit", out var sl) ? sl.GetUInt32() : 0,
                WeightLimit = template.TryGetProperty("weightlimit", out var wl) ? wl.GetUInt32() : 0,
                SigopLimit = template.TryGetProperty("sigoplimit", out var sg) ? sg.GetUInt32() : 0,
            };
            if (template.TryGetProperty("default_witness_commitment", out var dwc) && dwc.GetString() is { Length: > 0 } commitment)
                gbt.DefaultWitnessCommitment = ByteString.CopyFrom(Convert.FromHexString(commitment));
            if (template.TryGetProperty("rules", out var rules))
                foreach (var rule in rules.EnumerateArray())
                    gbt.Rules.Add(rule.GetString() ?? "");
            foreach (var tx in template.GetProperty("transactions").EnumerateArray())
            {
                var t = new TemplateTransaction
                {
                    Data = ByteString.CopyFrom(Convert.FromHexString(tx.GetProperty("data").GetString() ?? "")),
                    Txid = ByteString.CopyFrom(DisplayHexToInternal(tx.GetProperty("txid").GetString())),
                    Wtxid = ByteString.CopyFrom(DisplayHexToInternal(
                        tx.TryGetProperty("hash", out var h) ? h.GetString() : tx.GetProperty("txid").GetString())),
                    Fee = tx.TryGetProperty("fee", out var fee) ? fee.GetInt64() : 0,
                    Sigops = tx.TryGetProperty("sigops", out var so) ? so.GetInt64() : 0,
                    Weight = tx.TryGetProperty("weight", out var w) ? w.GetInt64() : 0,
                };
                if (tx.TryGetProperty("depends", out var deps))
                    foreach (var d in deps.EnumerateArray())
                        t.Depends.Add(d.GetUInt32());
                gbt.Transactions.Add(t);
            }
            gbt.GbtHash = ByteString.CopyFrom(ComputeIdentity(gbt));
            return gbt;
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw new FormatException($"node '{nodeName}' returned a getblocktemplate result that is not BIP22/23-shaped: {e.Message}", e);
        }
    }

    /// <summary>
    /// The template's identity: what makes two templates the same work (previous block, header fields, coinbase value,
    /// the transactions). curtime is left out on purpose: a refetch that only moved the clock is an exact repeat, and
    /// JobMaker refreshes the time itself.
    /// </summary>
    public static byte[] ComputeIdentity(RawGbt gbt)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> fields = stackalloc byte[4 + 4 + 4 + 8 + 1];
        BinaryPrimitives.WriteUInt32LittleEndian(fields, gbt.Height);
        BinaryPrimitives.WriteUInt32LittleEndian(fields[4..], gbt.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(fields[8..], gbt.Bits);
        BinaryPrimitives.WriteInt64LittleEndian(fields[12..], gbt.CoinbaseValue);
        fields[20] = gbt.HeaderOnly ? (byte)1 : (byte)0;
        sha.AppendData(fields);
        sha.AppendData(gbt.PreviousBlockHash.Span);
        sha.AppendData(gbt.DefaultWitnessCommitment.Span);
        foreach (var tx in gbt.Transactions)
            sha.AppendData(tx.Wtxid.Span);
        return sha.GetHashAndReset();
    }

    /// <summary>A 64-hex-digit hash as RPC shows it, in internal byte order.</summary>
    public static byte[] DisplayHexToInternal(string? displayHex)
    {
        if (displayHex is null || displayHex.Length != 64)
            throw new FormatException($"expected a 64-hex-digit hash, got '{displayHex}'");
        var bytes = Convert.FromHexString(displayHex);
        Array.Reverse(bytes);
        return bytes;
    }

    /// <summary>Internal-order hash bytes as RPC shows them.</summary>
    public static string InternalToDisplayHex(ReadOnlySpan<byte> internalOrder)
    {
        Span<byte> reversed = stackalloc byte[internalOrder.Length];
        internalOrder.CopyTo(reversed);
        reversed.Reverse();
        return Convert.ToHexStringLower(reversed);
    }
}
