namespace PoolCluster.Bitcoin.Tests;

public class CoinbaseTests
{
    [Theory]
    // Bitcoin Core's CScript() << nHeight, which consensus compares byte for byte (validation.cpp, bad-cb-height):
    // 1..16 are the single opcodes OP_1..OP_16, everything else a minimal CScriptNum push with a sign byte when needed.
    [InlineData(0, "00")]
    [InlineData(1, "51")]
    [InlineData(2, "52")]
    [InlineData(16, "60")]
    [InlineData(17, "0111")]
    [InlineData(111, "016f")]
    [InlineData(127, "017f")]
    [InlineData(128, "028000")]
    [InlineData(255, "02ff00")]
    [InlineData(256, "020001")]
    [InlineData(32767, "02ff7f")]
    [InlineData(32768, "03008000")]
    [InlineData(65535, "03ffff00")]
    [InlineData(227931, "035b7a03")] // BIP34 activation height on mainnet
    [InlineData(300025, "03f99304")]
    [InlineData(482683, "037b5d07")]
    [InlineData(8388607, "03ffff7f")]
    [InlineData(8388608, "0400008000")]
    public void Bip34_height_is_encoded_as_core_does(int height, string hex)
    {
        Assert.Equal(hex, Hex.Encode(Bip34.EncodeHeight(height)));
        Assert.True(Bip34.TryDecodeHeight(Hex.Decode(hex + "deadbeef"), out var decoded));
        Assert.Equal(height, decoded);
    }

    [Theory]
    [InlineData("0101")]          // height 1 as a push instead of OP_1: not what consensus expects
    [InlineData("02ff00")]        // fine: 255
    [InlineData("03ff0000")]      // non-minimal 255
    [InlineData("0180")]          // negative zero
    [InlineData("")]
    public void Bip34_decode_accepts_only_the_exact_consensus_encoding(string hex)
    {
        var ok = Bip34.TryDecodeHeight(Hex.Decode(hex), out var height);
        Assert.Equal(hex == "02ff00", ok);
        if (ok) Assert.Equal(255, height);
    }

    [Theory]
    [InlineData(-1, "81")]
    [InlineData(-128, "8080")]
    [InlineData(-255, "ff80")]
    [InlineData(127, "7f")]
    [InlineData(128, "8000")]
    [InlineData(0, "")]
    [InlineData(long.MaxValue, "ffffffffffffff7f")]
    [InlineData(long.MinValue + 1, "ffffffffffffffff")]
    public void Script_numbers_are_minimal_with_a_sign_bit(long value, string hex)
    {
        Assert.Equal(hex, Hex.Encode(Script.EncodeNumber(value)));
    }

    [Fact]
    public void Push_data_uses_the_shortest_opcode()
    {
        Assert.Equal("0103", Hex.Encode(Script.PushData([3])));
        Assert.Equal(0x4b, Script.PushData(new byte[75])[0]);
        Assert.Equal("4c4c", Hex.Encode(Script.PushData(new byte[76])[..2]));
        Assert.Equal("4d0001", Hex.Encode(Script.PushData(new byte[256])[..3]));
    }

    private static CoinbaseBuilder Builder(int height = 200_000, int extranonceSize = 8, string tag = "/pool/") => new()
    {
        Height = height,
        ExtranonceSize = extranonceSize,
        PoolTag = System.Text.Encoding.ASCII.GetBytes(tag),
        Outputs = [new TxOut(625_000_000, BitcoinAddress.Parse("bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv", Network.Mainnet).ScriptPubKey)],
        WitnessCommitmentScript = WitnessCommitment.BuildOutputScript(Hashes.DoubleSha256("commitment"u8)),
    };

    [Fact]
    public void Coinbase1_extranonce_coinbase2_is_the_coinbases_legacy_serialization()
    {
        var parts = Builder().Build();
        var extranonce1 = new byte[] { 1, 2, 3, 4 };
        var extranonce2 = new byte[] { 5, 6, 7, 8 };
        var coinbase = Transaction.Parse(parts.Assemble(extranonce1, extranonce2));
        Assert.True(coinbase.IsCoinbase);
        Assert.False(coinbase.HasWitness);
        var scriptSig = coinbase.Inputs[0].ScriptSig.ToArray();
        Assert.Equal([.. Bip34.EncodeHeight(200_000), 1, 2, 3, 4, 5, 6, 7, 8, .. "/pool/"u8], scriptSig);
        Assert.Equal(uint.MaxValue, coinbase.Inputs[0].Sequence);
        Assert.Equal(2, coinbase.Outputs.Count);
        Assert.Equal(625_000_000, coinbase.Outputs[0].Value);
        Assert.True(WitnessCommitment.TryFind(coinbase, out var commitment, out var index));
        Assert.Equal(1, index);
        Assert.Equal(Hashes.DoubleSha256("commitment"u8), commitment);
        Assert.Equal(0, coinbase.Outputs[1].Value);
        // Coinbase1 ends right where the extranonce starts: after the height push.
        Assert.EndsWith(Hex.Encode(Bip34.EncodeHeight(200_000)), Hex.Encode(parts.Coinbase1));
    }

    [Fact]
    public void Block_form_of_the_coinbase_carries_the_32_zero_witness_reserved_value()
    {
        var parts = Builder().Build();
        var coinbase = parts.ToTransaction([1, 2, 3, 4], [5, 6, 7, 8]);
        Assert.True(coinbase.HasWitness);
        var item = Assert.Single(Assert.Single(coinbase.Inputs).Witness);
        Assert.Equal(new byte[32], item.ToArray());
        // The txid (what the merkle root and stratum hash) is unchanged by the witness.
        Assert.Equal(Hashes.DoubleSha256(parts.Assemble([1, 2, 3, 4], [5, 6, 7, 8])), coinbase.TxId);
        Assert.NotEqual(coinbase.TxId, coinbase.WTxId);
    }

    [Fact]
    public void Coinbase_without_commitment_has_no_witness()
    {
        var parts = Builder().Build();
        var noCommitment = new CoinbaseBuilder { Height = 5, Outputs = [new TxOut(1, new byte[] { Script.OP_1 })] }.Build();
        Assert.False(noCommitment.HasWitnessCommitment);
        Assert.False(noCommitment.ToTransaction(new byte[4], new byte[4]).HasWitness);
        Assert.True(parts.HasWitnessCommitment);
    }

    [Fact]
    public void Heights_1_to_16_use_op_n_and_still_make_a_valid_length_scriptsig()
    {
        var coinbase = new CoinbaseBuilder { Height = 7, ExtranonceSize = 1, Outputs = [new TxOut(1, new byte[] { Script.OP_1 })] }
            .Build().ToTransaction([0x42], []);
        Assert.Equal(new byte[] { 0x57, 0x42 }, coinbase.Inputs[0].ScriptSig.ToArray());
        Assert.True(Bip34.TryDecodeHeight(coinbase.Inputs[0].ScriptSig.Span, out var height));
        Assert.Equal(7, height);
    }

    [Fact]
    public void Invalid_coinbase_settings_are_errors_that_name_the_problem()
    {
        var longTag = Assert.Throws<InvalidOperationException>(() => Builder(tag: new string('x', 95)).Build());
        Assert.Contains("consensus allows 2..100", longTag.Message);
        Assert.Contains("extranonce size", Assert.Throws<InvalidOperationException>(() => Builder(extranonceSize: 0).Build()).Message);
        var badCommitment = new CoinbaseBuilder { Height = 1, Outputs = [], WitnessCommitmentScript = new byte[] { 0x6a, 0x24 } };
        Assert.Contains("is not 6a24aa21a9ed", Assert.Throws<InvalidOperationException>(() => badCommitment.Build()).Message);
        var parts = Builder().Build();
        Assert.Contains("must fill the 8-byte placeholder", Assert.Throws<ArgumentException>(() => parts.Assemble(new byte[4], new byte[3])).Message);
    }

    [Theory]
    [InlineData(0, 210_000, 5_000_000_000)]
    [InlineData(209_999, 210_000, 5_000_000_000)]
    [InlineData(210_000, 210_000, 2_500_000_000)]
    [InlineData(420_000, 210_000, 1_250_000_000)]
    [InlineData(839_999, 210_000, 625_000_000)]
    [InlineData(840_000, 210_000, 312_500_000)]
    [InlineData(6_929_999, 210_000, 1)]
    [InlineData(6_930_000, 210_000, 0)]
    [InlineData(13_440_000, 210_000, 0)] // 64 halvings: Core returns 0 rather than shifting by 64
    public void Mainnet_subsidy_halves_every_210000_blocks(int height, int interval, long subsidy)
    {
        Assert.Equal(interval, Network.Mainnet.SubsidyHalvingInterval);
        Assert.Equal(subsidy, Subsidy.GetBlockSubsidy(height, Network.Mainnet));
    }

    [Theory]
    [InlineData(0, 5_000_000_000)]
    [InlineData(111, 5_000_000_000)]
    [InlineData(149, 5_000_000_000)]
    [InlineData(150, 2_500_000_000)]
    [InlineData(299, 2_500_000_000)]
    [InlineData(300, 1_250_000_000)]
    [InlineData(150 * 64, 0)]
    public void Regtest_subsidy_halves_every_150_blocks(int height, long subsidy)
    {
        Assert.Equal(subsidy, Subsidy.GetBlockSubsidy(height, Network.Regtest));
    }
}
