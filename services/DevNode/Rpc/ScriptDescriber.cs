using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PoolCluster.Bitcoin;

namespace PoolCluster.DevNode.Rpc;

/// <summary>
/// bitcoind's ScriptToUniv for RPC output: asm (ScriptToAsmStr), desc (InferDescriptor without keys: pk(), addr() or
/// raw(), with the descriptor checksum), hex, address and type (Solver's names).
/// </summary>
public static class ScriptDescriber
{
    public static JsonObject ToJson(ReadOnlySpan<byte> script)
    {
        var type = Classify(script);
        var hasAddress = BitcoinAddress.TryFromScriptPubKey(script, PoolCluster.DevNode.Chain.Regtest.Network, out var address);
        string descriptor;
        if (hasAddress)
            descriptor = $"addr({address!.Text})";
        else if (type == "pubkey")
            descriptor = $"pk({Hex.Encode(script[1..^1])})";
        else
            descriptor = $"raw({Hex.Encode(script)})";
        var json = new JsonObject
        {
            ["asm"] = ToAsm(script),
            ["desc"] = AddDescriptorChecksum(descriptor),
            ["hex"] = Hex.Encode(script),
        };
        if (hasAddress)
            json["address"] = address!.Text;
        json["type"] = type;
        return json;
    }

    /// <summary>Solver's type names.</summary>
    public static string Classify(ReadOnlySpan<byte> script)
    {
        if (script.Length == 25 && script[0] == 0x76 && script[1] == 0xa9 && script[2] == 20 && script[23] == 0x88 && script[24] == 0xac)
            return "pubkeyhash";
        if (script.Length == 23 && script[0] == 0xa9 && script[1] == 20 && script[22] == 0x87)
            return "scripthash";
        if (Script.TryParseWitnessProgram(script, out var version, out var program))
        {
            return (version, program.Length) switch
            {
                (0, 20) => "witness_v0_keyhash",
                (0, 32) => "witness_v0_scripthash",
                (1, 32) => "witness_v1_taproot",
                (1, 2) when program[0] == 0x4e && program[1] == 0x73 => "anchor",
                (0, _) => "nonstandard",
                _ => "witness_unknown",
            };
        }
        if ((script.Length == 35 && script[0] == 33 && script[34] == 0xac) || (script.Length == 67 && script[0] == 65 && script[66] == 0xac))
            return "pubkey";
        if (script.Length >= 1 && script[0] == Script.OP_RETURN && IsPushOnly(script[1..]))
            return "nulldata";
        return "nonstandard";
    }

    /// <summary>ScriptToAsmStr: small pushes as numbers, larger ones as hex, opcodes by name.</summary>
    public static string ToAsm(ReadOnlySpan<byte> script)
    {
        var asm = new StringBuilder();
        var i = 0;
        while (i < script.Length)
        {
            if (asm.Length > 0)
                asm.Append(' ');
            var op = script[i++];
            if (op <= 0x4e)
            {
                if (!TryReadPush(script, op, ref i, out var data))
                {
                    asm.Append("[error]");
                    break;
                }
                if (data.Length <= 4)
                    asm.Append(DecodeScriptNumber(data).ToString(CultureInfo.InvariantCulture));
                else
                    asm.Append(Hex.Encode(data));
            }
            else
            {
                asm.Append(OpName(op));
            }
        }
        return asm.ToString();
    }

    private static bool IsPushOnly(ReadOnlySpan<byte> script)
    {
        var i = 0;
        while (i < script.Length)
        {
            var op = script[i++];
            if (op > 0x60)
                return false;
            if (op <= 0x4e && !TryReadPush(script, op, ref i, out _))
                return false;
        }
        return true;
    }

    private static bool TryReadPush(ReadOnlySpan<byte> script, byte op, ref int i, out ReadOnlySpan<byte> data)
    {
        data = default;
        int length;
        if (op < 0x4c)
            length = op;
        else if (op == 0x4c)
        {
            if (i + 1 > script.Length) return false;
            length = script[i];
            i += 1;
        }
        else if (op == 0x4d)
        {
            if (i + 2 > script.Length) return false;
            length = script[i] | (script[i + 1] << 8);
            i += 2;
        }
        else
        {
            if (i + 4 > script.Length) return false;
            var declared = (uint)(script[i] | (script[i + 1] << 8) | (script[i + 2] << 16) | (script[i + 3] << 24));
            if (declared > int.MaxValue) return false;
            length = (int)declared;
            i += 4;
        }
        if (length > script.Length - i) return false;
        data = script.Slice(i, length);
        i += length;
        return true;
    }

    private static long DecodeScriptNumber(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return 0;
        long value = 0;
        for (var i = 0; i < data.Length; i++)
            value |= (long)data[i] << (8 * i);
        if ((data[^1] & 0x80) != 0)
            return -(value & ~(0x80L << (8 * (data.Length - 1))));
        return value;
    }

    private static string OpName(byte op) => op switch
    {
        0x4f => "-1",
        0x50 => "OP_RESERVED",
        >= 0x51 and <= 0x60 => (op - 0x50).ToString(CultureInfo.InvariantCulture),
        0x61 => "OP_NOP", 0x62 => "OP_VER", 0x63 => "OP_IF", 0x64 => "OP_NOTIF", 0x65 => "OP_VERIF", 0x66 => "OP_VERNOTIF",
        0x67 => "OP_ELSE", 0x68 => "OP_ENDIF", 0x69 => "OP_VERIFY", 0x6a => "OP_RETURN",
        0x6b => "OP_TOALTSTACK", 0x6c => "OP_FROMALTSTACK", 0x6d => "OP_2DROP", 0x6e => "OP_2DUP", 0x6f => "OP_3DUP",
        0x70 => "OP_2OVER", 0x71 => "OP_2ROT", 0x72 => "OP_2SWAP", 0x73 => "OP_IFDUP", 0x74 => "OP_DEPTH", 0x75 => "OP_DROP",
        0x76 => "OP_DUP", 0x77 => "OP_NIP", 0x78 => "OP_OVER", 0x79 => "OP_PICK", 0x7a => "OP_ROLL", 0x7b => "OP_ROT",
        0x7c => "OP_SWAP", 0x7d => "OP_TUCK", 0x7e => "OP_CAT", 0x7f => "OP_SUBSTR", 0x80 => "OP_LEFT", 0x81 => "OP_RIGHT",
        0x82 => "OP_SIZE", 0x83 => "OP_INVERT", 0x84 => "OP_AND", 0x85 => "OP_OR", 0x86 => "OP_XOR", 0x87 => "OP_EQUAL",
        0x88 => "OP_EQUALVERIFY", 0x89 => "OP_RESERVED1", 0x8a => "OP_RESERVED2", 0x8b => "OP_1ADD", 0x8c => "OP_1SUB",
        0x8d => "OP_2MUL", 0x8e => "OP_2DIV", 0x8f => "OP_NEGATE", 0x90 => "OP_ABS", 0x91 => "OP_NOT", 0x92 => "OP_0NOTEQUAL",
        0x93 => "OP_ADD", 0x94 => "OP_SUB", 0x95 => "OP_MUL", 0x96 => "OP_DIV", 0x97 => "OP_MOD", 0x98 => "OP_LSHIFT",
        0x99 => "OP_RSHIFT", 0x9a => "OP_BOOLAND", 0x9b => "OP_BOOLOR", 0x9c => "OP_NUMEQUAL", 0x9d => "OP_NUMEQUALVERIFY",
        0x9e => "OP_NUMNOTEQUAL", 0x9f => "OP_LESSTHAN", 0xa0 => "OP_GREATERTHAN", 0xa1 => "OP_LESSTHANOREQUAL",
        0xa2 => "OP_GREATERTHANOREQUAL", 0xa3 => "OP_MIN", 0xa4 => "OP_MAX", 0xa5 => "OP_WITHIN", 0xa6 => "OP_RIPEMD160",
        0xa7 => "OP_SHA1", 0xa8 => "OP_SHA256", 0xa9 => "OP_HASH160", 0xaa => "OP_HASH256", 0xab => "OP_CODESEPARATOR",
        0xac => "OP_CHECKSIG", 0xad => "OP_CHECKSIGVERIFY", 0xae => "OP_CHECKMULTISIG", 0xaf => "OP_CHECKMULTISIGVERIFY",
        0xb0 => "OP_NOP1", 0xb1 => "OP_CHECKLOCKTIMEVERIFY", 0xb2 => "OP_CHECKSEQUENCEVERIFY", 0xb3 => "OP_NOP4",
        0xb4 => "OP_NOP5", 0xb5 => "OP_NOP6", 0xb6 => "OP_NOP7", 0xb7 => "OP_NOP8", 0xb8 => "OP_NOP9", 0xb9 => "OP_NOP10",
        0xba => "OP_CHECKSIGADD",
        _ => "OP_UNKNOWN",
    };

    private const string InputCharset = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
    private const string ChecksumCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    /// <summary>Appends "#" and the 8-character descriptor checksum (BIP380).</summary>
    public static string AddDescriptorChecksum(string descriptor)
    {
        ulong checksum = 1;
        int cls = 0, clsCount = 0;
        foreach (var ch in descriptor)
        {
            var position = InputCharset.IndexOf(ch, StringComparison.Ordinal);
            if (position < 0)
                throw new ArgumentException($"character '{ch}' cannot appear in a descriptor", nameof(descriptor));
            checksum = PolyMod(checksum, position & 31);
            cls = cls * 3 + (position >> 5);
            if (++clsCount == 3)
            {
                checksum = PolyMod(checksum, cls);
                cls = 0;
                clsCount = 0;
            }
        }
        if (clsCount > 0)
            checksum = PolyMod(checksum, cls);
        for (var j = 0; j < 8; j++)
            checksum = PolyMod(checksum, 0);
        checksum ^= 1;
        var result = new StringBuilder(descriptor.Length + 9).Append(descriptor).Append('#');
        for (var j = 0; j < 8; j++)
            result.Append(ChecksumCharset[(int)((checksum >> (5 * (7 - j))) & 31)]);
        return result.ToString();
    }

    private static ulong PolyMod(ulong c, int value)
    {
        var c0 = (byte)(c >> 35);
        c = ((c & 0x7ffffffffUL) << 5) ^ (ulong)value;
        if ((c0 & 1) != 0) c ^= 0xf5dee51989UL;
        if ((c0 & 2) != 0) c ^= 0xa9fdca3312UL;
        if ((c0 & 4) != 0) c ^= 0x1bab10e32dUL;
        if ((c0 & 8) != 0) c ^= 0x3706b1677aUL;
        if ((c0 & 16) != 0) c ^= 0x644d626ffdUL;
        return c;
    }
}
