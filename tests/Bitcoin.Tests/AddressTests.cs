namespace PoolCluster.Bitcoin.Tests;

/// <summary>BIP173 and BIP350 test vectors (copied from the BIPs), Bitcoin Core's key_io_valid.json addresses, and errors.</summary>
public class AddressTests
{
    // ---------------------------------------------------------------- checksum vectors

    private static readonly string[] ValidBech32Strings =
    [
        "A12UEL5L",
        "a12uel5l",
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    ];

    public static TheoryData<string> ValidBech32 => new(ValidBech32Strings);

    public static TheoryData<string> ValidBech32m => new()
    {
        "A1LQFN3A",
        "a1lqfn3a",
        "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
        "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
        "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
        "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
        "?1v759aa",
    };

    [Theory]
    [MemberData(nameof(ValidBech32))]
    public void Bip173_valid_strings_decode_as_bech32_and_reencode(string text)
    {
        Assert.True(Bech32.TryDecode(text, out var hrp, out var data, out var encoding, out var error), error);
        Assert.Equal(Bech32Encoding.Bech32, encoding);
        Assert.Equal(text.ToLowerInvariant(), Bech32.Encode(hrp, data, encoding));
    }

    [Theory]
    [MemberData(nameof(ValidBech32m))]
    public void Bip350_valid_strings_decode_as_bech32m_and_reencode(string text)
    {
        Assert.True(Bech32.TryDecode(text, out var hrp, out var data, out var encoding, out var error), error);
        Assert.Equal(Bech32Encoding.Bech32m, encoding);
        Assert.Equal(text.ToLowerInvariant(), Bech32.Encode(hrp, data, encoding));
    }

    [Theory]
    // BIP173 invalid bech32 strings, with the BIP's reason.
    [InlineData("\x20" + "1nwldj5", "character out of range")]
    [InlineData("\x7F" + "1axkwrx", "character out of range")]
    [InlineData("\x80" + "1eym55h", "character out of range")]
    [InlineData("an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx", "overall max length exceeded")]
    [InlineData("pzry9x0s0muk", "no separator")]
    [InlineData("1pzry9x0s0muk", "empty human-readable part")]
    [InlineData("x1b4n0q5v", "invalid data character 'b'")]
    [InlineData("li1dgmt3", "checksum too short")]
    [InlineData("de1lg7wt" + "\xFF", "character out of range")]
    [InlineData("A1G7SGD8", "invalid checksum")]
    [InlineData("10a06t8", "empty human-readable part")]
    [InlineData("1qzzfhee", "empty human-readable part")]
    // BIP350 invalid bech32m strings.
    [InlineData("\x20" + "1xj0phk", "character out of range")]
    [InlineData("\x7F" + "1g6xzxy", "character out of range")]
    [InlineData("\x80" + "1vctc34", "character out of range")]
    [InlineData("an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4", "overall max length exceeded")]
    [InlineData("qyrz8wqd2c9m", "no separator")]
    [InlineData("1qyrz8wqd2c9m", "empty human-readable part")]
    [InlineData("y1b0jsk6g", "invalid data character 'b'")]
    [InlineData("lt1igcx5c0", "invalid data character 'i'")]
    [InlineData("in1muywd", "checksum too short")]
    [InlineData("mm1crxm3i", "invalid data character 'i' at position 8 (in the checksum)")]
    [InlineData("au1s5cgom", "invalid data character 'o' at position 7 (in the checksum)")]
    [InlineData("M1VUXWEZ", "invalid checksum")]
    [InlineData("16plkw9", "empty human-readable part")]
    [InlineData("1p2gdwpf", "empty human-readable part")]
    public void Bip173_and_bip350_invalid_strings_are_rejected_with_the_bips_reason(string text, string reason)
    {
        Assert.False(Bech32.TryDecode(text, out _, out _, out _, out var error));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void No_string_is_valid_under_both_checksums()
    {
        foreach (var text in ValidBech32Strings)
        {
            Assert.True(Bech32.TryDecode(text, out _, out _, out var encoding, out _));
            Assert.NotEqual(Bech32Encoding.Bech32m, encoding);
        }
    }

    // ---------------------------------------------------------------- segwit address vectors

    [Theory]
    // BIP350's valid segwit addresses (BIP173's v0 ones are the same strings) with their scriptPubKey.
    [InlineData("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6")]
    [InlineData("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262")]
    [InlineData("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6")]
    [InlineData("BC1SW50QGDZ25J", "6002751e")]
    [InlineData("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323")]
    [InlineData("tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy", "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433")]
    [InlineData("tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c", "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433")]
    [InlineData("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")]
    public void Bip350_valid_segwit_addresses_decode_to_their_script(string address, string scriptHex)
    {
        Assert.True(Bech32.TryDecodeSegwitAddress(address, out var hrp, out var version, out var program, out var error), error);
        Assert.Equal(scriptHex, Hex.Encode(Script.WitnessProgram(version, program)));
        Assert.Equal(address.ToLowerInvariant(), Bech32.EncodeSegwitAddress(hrp, version, program));

        // As payout addresses: v0 and 32-byte v1 are the types we pay; other versions are refused by name.
        var network = hrp == "bc" ? Network.Mainnet : Network.Testnet;
        if (version == 0 || (version == 1 && program.Length == 32))
        {
            var parsed = BitcoinAddress.Parse(address, network);
            Assert.Equal(scriptHex, Hex.Encode(parsed.ScriptPubKey.Span));
            Assert.Equal(address.ToLowerInvariant(), parsed.Text);
            Assert.Equal(parsed.Text, BitcoinAddress.FromScriptPubKey(Hex.Decode(scriptHex), network).Text);
        }
        else
        {
            Assert.False(BitcoinAddress.TryParse(address, network, out _, out var reason));
            Assert.Contains($"witness version {version}", reason);
        }
    }

    [Theory]
    // BIP350's invalid segwit addresses with the BIP's reasons.
    [InlineData("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "unknown segwit address prefix 'tc'")]
    [InlineData("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "Bech32 instead of Bech32m")]
    [InlineData("tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", "Bech32 instead of Bech32m")]
    [InlineData("BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", "Bech32 instead of Bech32m")]
    [InlineData("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "Bech32m instead of Bech32")]
    [InlineData("tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", "Bech32m instead of Bech32")]
    [InlineData("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", "invalid data character 'o'")]
    [InlineData("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "invalid witness version 17")]
    [InlineData("bc1pw5dgrnzv", "invalid program length (1 bytes")]
    [InlineData("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav", "invalid program length (41 bytes")]
    [InlineData("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "invalid program length for witness version 0 (16 bytes")]
    [InlineData("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "mixed case")]
    [InlineData("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", "zero padding of more than 4 bits")]
    [InlineData("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", "non-zero padding")]
    [InlineData("bc1gmk9yu", "empty data section")]
    // BIP173's invalid list (the v1+ bech32 addresses it lists as valid are invalid under BIP350, below).
    [InlineData("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "unknown segwit address prefix 'tc'")]
    [InlineData("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "invalid checksum")]
    [InlineData("BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "invalid witness version 17")]
    [InlineData("bc1rw5uspcuh", "invalid program length (1 bytes")]
    [InlineData("bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90", "invalid program length (41 bytes")]
    [InlineData("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", "mixed case")]
    [InlineData("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", "zero padding of more than 4 bits")]
    [InlineData("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv", "non-zero padding")]
    // BIP173's "valid" v1+ addresses: bech32 checksums on witness v1+ are invalid since BIP350.
    [InlineData("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx", "Bech32 instead of Bech32m")]
    [InlineData("BC1SW50QA3JX3S", "Bech32 instead of Bech32m")]
    [InlineData("bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj", "Bech32 instead of Bech32m")]
    public void Invalid_segwit_addresses_are_refused_with_the_reason(string address, string reason)
    {
        var network = address.StartsWith("t", StringComparison.OrdinalIgnoreCase) ? Network.Testnet : Network.Mainnet;
        Assert.False(BitcoinAddress.TryParse(address, network, out var parsed, out var error));
        Assert.Null(parsed);
        Assert.Contains(reason, error);
        Assert.Contains(reason, Assert.Throws<AddressFormatException>(() => BitcoinAddress.Parse(address, network)).Message);
    }

    // ---------------------------------------------------------------- every network (Bitcoin Core key_io_valid.json)

    [Theory]
    [InlineData("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", "76a914a31c06bd463e3923bc1aadbde48b16976c08071788ac", "main", AddressType.PayToPubKeyHash)]
    [InlineData("36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm", "a914373b819a068f32b7a6b38b6b38729647cfde01c287", "main", AddressType.PayToScriptHash)]
    [InlineData("mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ", "76a914ce28b26c57472737f5c3561a1761185bd8589a4388ac", "testnet4", AddressType.PayToPubKeyHash)]
    [InlineData("2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK", "a914ce0bba75891ff9ec60148d4bd4a09ee2dc5c933187", "testnet4", AddressType.PayToScriptHash)]
    [InlineData("mww4LvqtTMKvmeQvizPz2EQv26xTneWrbg", "76a914b4110ba93ac54afc14da3bdd19614774a2d55d2988ac", "signet", AddressType.PayToPubKeyHash)]
    [InlineData("2N1r7aC69VHeE7yQJPDLi9T1PYq4wnwvjuT", "a9145e5a35ab44b3efaea5129ba22b88ba3e2976614587", "signet", AddressType.PayToScriptHash)]
    [InlineData("n4fajahJrAuKbN7uNsKjLjQkz9Qn5ewJXQ", "76a914fdeca3b08e38af53d7c4c60e3ad208ce5066441088ac", "regtest", AddressType.PayToPubKeyHash)]
    [InlineData("2MxFajLApXpYk4VodBSZSt7rw8y4ryABkfA", "a91436e9f191e0b75036a77f65e2eaa4752443233fbe87", "regtest", AddressType.PayToScriptHash)]
    [InlineData("1FjL87pn8ky6Vbavd1ZHeChRXtoxwRGCRd", "76a914a19331b7b2627e663e25a7b001e4c0dcc5e21bc788ac", "main", AddressType.PayToPubKeyHash)]
    [InlineData("3BZECeAH8gSKkjrTx8PwMrNQBLG18yHpvf", "a9146c382dcdf5b284760c8e3fead91f7422cd76aa8787", "main", AddressType.PayToScriptHash)]
    [InlineData("bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv", "00146100fc6343edc8c874496cb2f5bbfec88ea9b77c", "main", AddressType.PayToWitnessPubKeyHash)]
    [InlineData("bc1qyucykdlhp62tezs0hagqury402qwhk589q80tqs5myh3rxq34nwqhkdhv7", "002027304b37f70e94bc8a0fbf500e0c957a80ebda87280ef58214d92f119811acdc", "main", AddressType.PayToWitnessScriptHash)]
    [InlineData("bc1p83n3au0rjylefxq2nc2xh2y4jzz4pm6zxj4mw5pagdjjr2a9f36s6jjnnu", "51203c671ef1e3913f94980a9e146ba895908550ef4234abb7503d436521aba54c75", "main", AddressType.PayToTaproot)]
    [InlineData("tb1qcrh3yqn4nlleplcez2yndq2ry8h9ncg3qh7n54", "0014c0ef1202759fff90ff19128936814321ee59e111", "testnet4", AddressType.PayToWitnessPubKeyHash)]
    [InlineData("tb1quyl9ujpgwr2chdzdnnalen48sup245vdfnh2jxhsuq3yx80rrwlq5hqfe4", "0020e13e5e482870d58bb44d9cfbfccea78702aad18d4ceea91af0e022431de31bbe", "testnet4", AddressType.PayToWitnessScriptHash)]
    [InlineData("tb1p35n52jy6xkm4wd905tdy8qtagrn73kqdz73xe4zxpvq9t3fp50aqk3s6gz", "51208d2745489a35b75734afa2da43817d40e7e8d80d17a26cd4460b0055c521a3fa", "testnet4", AddressType.PayToTaproot)]
    [InlineData("tb1q3vya2h5435jkugq2few7dmktlrwq4ejmfaw7kr", "00148b09d55e958d256e200a4e5de6eecbf8dc0ae65b", "signet", AddressType.PayToWitnessPubKeyHash)]
    [InlineData("tb1qxkhrl2s6ttrclckldruea0e8anhrehffl8xv7t0pdyrzm08v2hyqy408nf", "002035ae3faa1a5ac78fe2df68f99ebf27ecee3cdd29f9cccf2de169062dbcec55c8", "signet", AddressType.PayToWitnessScriptHash)]
    [InlineData("tb1pae5um27ahn8n73pgexe3kcwlp8dhswpn684h2k2w6t9a7w3eq65qephd5y", "5120ee69cdabddbccf3f4428c9b31b61df09db783833d1eb75594ed2cbdf3a3906a8", "signet", AddressType.PayToTaproot)]
    [InlineData("bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9", "00146f58bac9506f9bfb821d62e69330410bb56f0085", "regtest", AddressType.PayToWitnessPubKeyHash)]
    [InlineData("bcrt1qan8gntac7z7me2ejt4hpru42ad2f759fmy0m3ejvs98656znv7eqga4uhv", "0020ecce89afb8f0bdbcab325d6e11f2aaeb549f50a9d91fb8e64c814faa685367b2", "regtest", AddressType.PayToWitnessScriptHash)]
    [InlineData("bcrt1pfwxjqvtt4tcxrtdluukfmy2dv7xd2qzdfy6kajv5nwn4yam3wxkq3553uh", "51204b8d20316baaf061adbfe72c9d914d678cd5004d49356ec9949ba752777171ac", "regtest", AddressType.PayToTaproot)]
    public void Addresses_on_every_network_map_to_their_script_and_back(string address, string scriptHex, string chain, AddressType type)
    {
        var network = Network.FromName(chain);
        var parsed = BitcoinAddress.Parse(address, network);
        Assert.Equal(type, parsed.Type);
        Assert.Same(network, parsed.Network);
        Assert.Equal(scriptHex, Hex.Encode(parsed.ScriptPubKey.Span));
        Assert.Equal(address, BitcoinAddress.FromScriptPubKey(Hex.Decode(scriptHex), network).Text);
        Assert.Equal(address, parsed.ToString());
        if (type >= AddressType.PayToWitnessPubKeyHash)
            Assert.Equal(scriptHex, Hex.Encode(BitcoinAddress.Parse(address.ToUpperInvariant(), network).ScriptPubKey.Span));
    }

    [Theory]
    [InlineData("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", "regtest", "version byte 0x00 is a mainnet address, but the network is regtest")]
    [InlineData("36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm", "testnet", "version byte 0x05 is a mainnet address, but the network is testnet")]
    [InlineData("mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ", "main", "version byte 0x6f is a testnet/signet/regtest address, but the network is mainnet")]
    [InlineData("2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK", "main", "version byte 0xc4 is a testnet/signet/regtest address, but the network is mainnet")]
    [InlineData("bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv", "regtest", "'bc1...' is a mainnet address, but the network is regtest")]
    [InlineData("tb1qcrh3yqn4nlleplcez2yndq2ry8h9ncg3qh7n54", "main", "'tb1...' is a testnet/signet address, but the network is mainnet")]
    [InlineData("tb1qcrh3yqn4nlleplcez2yndq2ry8h9ncg3qh7n54", "regtest", "'tb1...' is a testnet/signet address, but the network is regtest")]
    [InlineData("bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9", "signet", "'bcrt1...' is a regtest address, but the network is signet")]
    public void Addresses_of_another_network_are_a_wrong_network_error(string address, string chain, string reason)
    {
        var error = Assert.Throws<AddressFormatException>(() => BitcoinAddress.Parse(address, Network.FromName(chain))).Message;
        Assert.StartsWith("wrong network", error);
        Assert.Contains(reason, error);
    }

    [Theory]
    [InlineData("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mp", "checksum mismatch")]       // last character changed
    [InlineData("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2m0", "invalid base58 character '0'")]
    [InlineData("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mI", "invalid base58 character 'I'")]
    [InlineData("", "address is empty")]
    [InlineData("   ", "address is empty")]
    public void Malformed_base58_addresses_name_the_problem(string address, string reason)
    {
        Assert.False(BitcoinAddress.TryParse(address, Network.Mainnet, out _, out var error));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void Base58_payloads_of_the_wrong_length_or_an_unknown_version_are_refused()
    {
        var hash = new byte[20];
        var tooLong = Base58.EncodeCheck([0x00, .. hash, 0x01]);
        Assert.Contains("payload is 22 bytes, expected 21", Error(tooLong));
        var tooShort = Base58.EncodeCheck([0x00, .. hash[..19]]);
        Assert.Contains("payload is 20 bytes, expected 21", Error(tooShort));
        var unknownVersion = Base58.EncodeCheck([0x30, .. hash]); // a Litecoin P2PKH version byte
        Assert.Contains("unknown base58 address version byte 0x30", Error(unknownVersion));

        static string Error(string address)
        {
            Assert.False(BitcoinAddress.TryParse(address, Network.Mainnet, out _, out var error));
            return error!;
        }
    }

    [Fact]
    public void Base58_encoding_keeps_leading_zero_bytes_as_ones()
    {
        var data = new byte[] { 0, 0, 1, 2, 3 };
        var text = Base58.Encode(data);
        Assert.StartsWith("11", text);
        Assert.True(Base58.TryDecode(text, out var decoded, out _));
        Assert.Equal(data, decoded);
        // The genesis coinbase key's well-known address.
        Assert.Equal("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", Base58.EncodeCheck(Hex.Decode("0062e907b15cbf27d5425399ebf6f0fb50ebb88f18")));
    }

    [Fact]
    public void Non_standard_scripts_have_no_address()
    {
        Assert.False(BitcoinAddress.TryFromScriptPubKey(Hex.Decode("6a24aa21a9ed" + new string('0', 64)), Network.Mainnet, out _));
        Assert.False(BitcoinAddress.TryFromScriptPubKey(Hex.Decode("5210751e76e8199196d454941c45d1b3a323"), Network.Mainnet, out _));
        Assert.Throws<ArgumentException>(() => BitcoinAddress.FromScriptPubKey([0x51], Network.Mainnet));
    }

    [Theory]
    [InlineData("main", "mainnet")]
    [InlineData("test", "testnet")]
    [InlineData("testnet4", "testnet")]
    [InlineData("Signet", "signet")]
    [InlineData("regtest", "regtest")]
    public void Networks_resolve_from_bitcoind_chain_names(string name, string expected)
    {
        Assert.Equal(expected, Network.FromName(name).Name);
        Assert.Contains("unknown network 'liquid'", Assert.Throws<ArgumentException>(() => Network.FromName("liquid")).Message);
    }
}
