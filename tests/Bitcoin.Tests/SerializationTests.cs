namespace PoolCluster.Bitcoin.Tests;

public class SerializationTests
{
    [Theory]
    [InlineData(0ul, "00")]
    [InlineData(0xfcul, "fc")]
    [InlineData(0xfdul, "fdfd00")]
    [InlineData(0xfffful, "fdffff")]
    [InlineData(0x10000ul, "fe00000100")]
    [InlineData(0xfffffffful, "feffffffff")]
    [InlineData(0x100000000ul, "ff0000000001000000")]
    public void Compact_size_round_trips(ulong value, string hex)
    {
        Assert.Equal(hex, Hex.Encode(CompactSize.Encode(value)));
        Assert.Equal(hex.Length / 2, CompactSize.GetSize(value));
        Assert.True(CompactSize.TryRead(Hex.Decode(hex), out var read, out var size, out _));
        Assert.Equal(value, read);
        Assert.Equal(hex.Length / 2, size);
    }

    [Theory]
    [InlineData("fd0100", "non-canonical")]
    [InlineData("fefc000000", "non-canonical")]
    [InlineData("ff00000100000000", "needs 9 bytes")]
    [InlineData("", "no bytes left")]
    public void Non_canonical_or_truncated_compact_sizes_are_rejected(string hex, string reason)
    {
        Assert.False(CompactSize.TryRead(Hex.Decode(hex), out _, out _, out var error));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void Witness_transaction_round_trips_and_its_txid_ignores_the_witness()
    {
        var block = RealData.Block("mainnet-block482683.raw");
        var segwit = block.Transactions.First(t => t.HasWitness && !t.IsCoinbase);
        var withWitness = segwit.Serialize();
        var legacy = segwit.Serialize(includeWitness: false);
        Assert.Equal(0x00, withWitness[4]);
        Assert.Equal(0x01, withWitness[5]);
        Assert.True(withWitness.Length > legacy.Length);
        var reparsedLegacy = Transaction.Parse(legacy);
        Assert.False(reparsedLegacy.HasWitness);
        Assert.Equal(segwit.TxId, reparsedLegacy.TxId);
        Assert.Equal(reparsedLegacy.TxId, reparsedLegacy.WTxId);
        Assert.Equal(segwit.WTxId, Hashes.DoubleSha256(withWitness));
    }

    [Fact]
    public void Malformed_transactions_are_rejected_with_a_reason()
    {
        var legacy = RealData.Block("mainnet-block300025.raw").Transactions[1].Serialize();
        Assert.Contains("unexpected bytes after the end", Assert.Throws<FormatException>(() => Transaction.Parse([.. legacy, 0])).Message);
        Assert.Contains("truncated", Assert.Throws<FormatException>(() => Transaction.Parse(legacy.AsSpan(0, legacy.Length - 1))).Message);

        // Marker 0x00 followed by a flag other than 0x01.
        byte[] unknownFlag = [1, 0, 0, 0, 0x00, 0x02, .. legacy[5..]];
        Assert.Contains("unknown optional data flag 0x02", Assert.Throws<FormatException>(() => Transaction.Parse(unknownFlag)).Message);

        // Witness flag set but every witness stack empty: Core's "Superfluous witness record".
        var oneInput = legacy[4] == 1;
        Assert.True(oneInput);
        byte[] superfluous = [.. legacy[..4], 0x00, 0x01, .. legacy[4..^4], 0x00, .. legacy[^4..]];
        Assert.Contains("superfluous witness record", Assert.Throws<FormatException>(() => Transaction.Parse(superfluous)).Message);
    }

    [Fact]
    public void Hex_errors_say_what_and_where()
    {
        Assert.Contains("odd number of digits", Assert.Throws<FormatException>(() => Hex.Decode("abc", "coinbase1")).Message);
        var bad = Assert.Throws<FormatException>(() => Hex.Decode("abzz", "coinbase2")).Message;
        Assert.Contains("coinbase2", bad);
        Assert.Contains("'z' at position 2", bad);
    }
}
