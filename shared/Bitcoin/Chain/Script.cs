namespace PoolCluster.Bitcoin;

/// <summary>Script number and push encodings, and the standard output script templates.</summary>
public static class Script
{
    public const byte OP_0 = 0x00;
    public const byte OP_PUSHDATA1 = 0x4c;
    public const byte OP_PUSHDATA2 = 0x4d;
    public const byte OP_1NEGATE = 0x4f;
    public const byte OP_1 = 0x51;
    public const byte OP_16 = 0x60;
    public const byte OP_RETURN = 0x6a;
    public const byte OP_DUP = 0x76;
    public const byte OP_EQUAL = 0x87;
    public const byte OP_EQUALVERIFY = 0x88;
    public const byte OP_HASH160 = 0xa9;
    public const byte OP_CHECKSIG = 0xac;

    /// <summary>
    /// CScriptNum serialization: minimal little-endian magnitude, sign in the top bit of the last byte (an extra 0x00
    /// or 0x80 byte when the magnitude already uses that bit, e.g. 128 -> 80 00, -128 -> 80 80); 0 is empty.
    /// </summary>
    public static byte[] EncodeNumber(long value)
    {
        if (value == 0) return [];
        var negative = value < 0;
        var magnitude = negative ? (ulong)(-(value + 1)) + 1 : (ulong)value;
        var bytes = new List<byte>(9);
        while (magnitude != 0)
        {
            bytes.Add((byte)(magnitude & 0xff));
            magnitude >>= 8;
        }
        if ((bytes[^1] & 0x80) != 0)
            bytes.Add(negative ? (byte)0x80 : (byte)0x00);
        else if (negative)
            bytes[^1] |= 0x80;
        return [.. bytes];
    }

    /// <summary>The shortest push of <paramref name="data"/> (direct length byte below 76, then OP_PUSHDATA1/2).</summary>
    public static byte[] PushData(ReadOnlySpan<byte> data)
    {
        byte[] result;
        int at;
        if (data.Length < OP_PUSHDATA1)
        {
            result = new byte[1 + data.Length];
            result[0] = (byte)data.Length;
            at = 1;
        }
        else if (data.Length <= 0xff)
        {
            result = new byte[2 + data.Length];
            result[0] = OP_PUSHDATA1;
            result[1] = (byte)data.Length;
            at = 2;
        }
        else if (data.Length <= 0xffff)
        {
            result = new byte[3 + data.Length];
            result[0] = OP_PUSHDATA2;
            result[1] = (byte)data.Length;
            result[2] = (byte)(data.Length >> 8);
            at = 3;
        }
        else
        {
            throw new ArgumentException($"push of {data.Length} bytes exceeds the script element limit", nameof(data));
        }
        data.CopyTo(result.AsSpan(at));
        return result;
    }

    /// <summary>
    /// Bitcoin Core's <c>CScript() &lt;&lt; n</c>: OP_0 for 0, OP_1NEGATE for -1, OP_1..OP_16 for 1..16 (one byte),
    /// otherwise a push of <see cref="EncodeNumber"/>.
    /// </summary>
    public static byte[] PushNumber(long value) => value switch
    {
        0 => [OP_0],
        -1 => [OP_1NEGATE],
        >= 1 and <= 16 => [(byte)(OP_1 - 1 + value)],
        _ => PushData(EncodeNumber(value)),
    };

    /// <summary>OP_DUP OP_HASH160 &lt;20&gt; OP_EQUALVERIFY OP_CHECKSIG.</summary>
    public static byte[] PayToPubKeyHash(ReadOnlySpan<byte> pubKeyHash20)
    {
        RequireLength(pubKeyHash20, 20, "P2PKH public key hash");
        return [OP_DUP, OP_HASH160, 20, .. pubKeyHash20, OP_EQUALVERIFY, OP_CHECKSIG];
    }

    /// <summary>OP_HASH160 &lt;20&gt; OP_EQUAL.</summary>
    public static byte[] PayToScriptHash(ReadOnlySpan<byte> scriptHash20)
    {
        RequireLength(scriptHash20, 20, "P2SH script hash");
        return [OP_HASH160, 20, .. scriptHash20, OP_EQUAL];
    }

    /// <summary>Version opcode (OP_0 or OP_1..OP_16) then a push of the 2..40-byte program (BIP141).</summary>
    public static byte[] WitnessProgram(int version, ReadOnlySpan<byte> program)
    {
        if (version is < 0 or > 16)
            throw new ArgumentOutOfRangeException(nameof(version), version, "witness versions are 0..16");
        if (program.Length is < 2 or > 40)
            throw new ArgumentException($"a witness program is 2..40 bytes, got {program.Length}", nameof(program));
        return [version == 0 ? OP_0 : (byte)(OP_1 - 1 + version), (byte)program.Length, .. program];
    }

    /// <summary>If <paramref name="script"/> is a witness program (BIP141 shape), its version and program.</summary>
    public static bool TryParseWitnessProgram(ReadOnlySpan<byte> script, out int version, out ReadOnlySpan<byte> program)
    {
        version = -1;
        program = default;
        if (script.Length is < 4 or > 42) return false;
        if (script[0] != OP_0 && script[0] is < OP_1 or > OP_16) return false;
        if (script[1] + 2 != script.Length) return false;
        version = script[0] == OP_0 ? 0 : script[0] - OP_1 + 1;
        program = script[2..];
        return true;
    }

    private static void RequireLength(ReadOnlySpan<byte> value, int length, string what)
    {
        if (value.Length != length)
            throw new ArgumentException($"{what} must be {length} bytes, got {value.Length}");
    }
}

/// <summary>BIP34: the coinbase scriptSig starts with the block height, encoded as Bitcoin Core's <c>CScript() &lt;&lt; height</c>.</summary>
public static class Bip34
{
    /// <summary>
    /// The height prefix exactly as consensus compares it (validation.cpp: <c>CScript() &lt;&lt; nHeight</c>): heights
    /// 1..16 are the single opcodes OP_1..OP_16 (0x51..0x60), not a push; others a minimal CScriptNum push, e.g.
    /// 17 -> 01 11, 127 -> 01 7f, 128 -> 02 80 00, 32768 -> 03 00 80 00, 8388608 -> 04 00 00 80 00.
    /// </summary>
    public static byte[] EncodeHeight(int height)
    {
        if (height < 0) throw new ArgumentOutOfRangeException(nameof(height), height, "a block height is not negative");
        return Script.PushNumber(height);
    }

    /// <summary>Reads the height a coinbase scriptSig starts with; false unless it is in the exact consensus encoding.</summary>
    public static bool TryDecodeHeight(ReadOnlySpan<byte> scriptSig, out int height)
    {
        height = -1;
        if (scriptSig.IsEmpty) return false;
        var first = scriptSig[0];
        long value;
        if (first == Script.OP_0) value = 0;
        else if (first is >= Script.OP_1 and <= Script.OP_16) value = first - Script.OP_1 + 1;
        else if (first is >= 1 and <= 5 && scriptSig.Length > first)
        {
            var number = scriptSig.Slice(1, first);
            value = 0;
            for (var i = 0; i < number.Length; i++)
                value |= (long)number[i] << (8 * i);
            if ((number[^1] & 0x80) != 0) return false;
        }
        else return false;
        if (value > int.MaxValue) return false;
        var canonical = EncodeHeight((int)value);
        if (!scriptSig.StartsWith(canonical)) return false;
        height = (int)value;
        return true;
    }
}
