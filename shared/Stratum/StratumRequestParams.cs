using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace PoolCluster.Stratum;

/// <summary>
/// mining.submit's params: <c>[worker, job id, extranonce2, ntime, nonce(, version bits)]</c>, hex checked for exact
/// size and decoded. The spans point into the request line.
/// </summary>
public readonly ref struct SubmitRequest
{
    internal SubmitRequest(ReadOnlySpan<byte> workerName, ReadOnlySpan<byte> jobId, ReadOnlySpan<byte> extranonce2Hex,
        ulong extranonce2, uint nTime, uint nonce, uint versionBits, bool hasVersionBits)
    {
        WorkerName = workerName;
        JobId = jobId;
        Extranonce2Hex = extranonce2Hex;
        Extranonce2 = extranonce2;
        NTime = nTime;
        Nonce = nonce;
        VersionBits = versionBits;
        HasVersionBits = hasVersionBits;
    }

    /// <summary>The worker name as sent (raw JSON string contents). Pools go by the authorized worker, not this.</summary>
    public ReadOnlySpan<byte> WorkerName { get; }

    /// <summary>The job id as sent: a string's contents or a number's digits.</summary>
    public ReadOnlySpan<byte> JobId { get; }

    /// <summary>The extranonce2 hex digits exactly as sent (case preserved).</summary>
    public ReadOnlySpan<byte> Extranonce2Hex { get; }

    /// <summary>The extranonce2 bytes read as a big-endian number: "0000002a" is 42.</summary>
    public ulong Extranonce2 { get; }

    public int Extranonce2Size => Extranonce2Hex.Length / 2;

    /// <summary>ntime as the number the hex spells ("536def62" is 0x536def62), as in the block header field.</summary>
    public uint NTime { get; }

    /// <summary>The nonce as the number the hex spells, as in the block header field.</summary>
    public uint Nonce { get; }

    /// <summary>BIP310 version bits (6th param), 0 when absent.</summary>
    public uint VersionBits { get; }

    public bool HasVersionBits { get; }

    /// <summary>Writes the extranonce2 bytes in coinbase order (the order of the hex digits).</summary>
    public void WriteExtranonce2(Span<byte> destination)
    {
        var size = Extranonce2Size;
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, size);
        var value = Extranonce2;
        for (var i = size - 1; i >= 0; i--)
        {
            destination[i] = (byte)value;
            value >>= 8;
        }
    }
}

/// <summary>mining.authorize's params: <c>[user.worker, password]</c>; the password may be absent.</summary>
public readonly record struct AuthorizeRequest(string FullName, string Password, StratumPasswordOptions PasswordOptions);

/// <summary>mining.subscribe's params: <c>[agent, session id]</c>, both optional.</summary>
/// <param name="Agent">The miner software, filtered like btcpool's (allowed name characters, at most 30); empty if none.</param>
/// <param name="SessionId">The session the miner asks to resume (whatever it was given before), null if none.</param>
public readonly record struct SubscribeRequest(string Agent, string? SessionId)
{
    public const int MaxAgentLength = 30;
}

/// <summary>mining.configure's params (BIP310): the extension list and the extension parameters.</summary>
public sealed class ConfigureRequest
{
    public const string VersionRolling = "version-rolling";
    public const string MinimumDifficulty = "minimum-difficulty";
    public const string SubscribeExtranonce = "subscribe-extranonce";

    internal ConfigureRequest(IReadOnlyList<string> extensions, uint? versionRollingMask, int versionRollingMinBitCount,
        double? minimumDifficultyValue)
    {
        Extensions = extensions;
        VersionRollingMask = versionRollingMask;
        VersionRollingMinBitCount = versionRollingMinBitCount;
        MinimumDifficultyValue = minimumDifficultyValue;
    }

    /// <summary>The extension codes requested, in request order, without repeats; every one must be answered.</summary>
    public IReadOnlyList<string> Extensions { get; }

    /// <summary>"version-rolling.mask": the bits the miner can roll; null when not sent (BIP310 default ffffffff).</summary>
    public uint? VersionRollingMask { get; }

    /// <summary>"version-rolling.min-bit-count", 0 when not sent.</summary>
    public int VersionRollingMinBitCount { get; }

    /// <summary>"minimum-difficulty.value", null when not sent.</summary>
    public double? MinimumDifficultyValue { get; }

    public bool Requests(string extension) => Extensions.Contains(extension, StringComparer.Ordinal);
}

/// <summary>Per-method params parsers. Each returns <see cref="StratumParseError.None"/> or the exact problem.</summary>
public static class StratumRequestParams
{
    public const int MaxExtranonce2Size = 8;

    /// <summary>Parses mining.submit with the session's extranonce2 size (1..8 bytes).</summary>
    public static StratumParseError ParseSubmit(this in StratumRequest request, int extranonce2Size, out SubmitRequest submit)
    {
        if (extranonce2Size is < 1 or > MaxExtranonce2Size)
            throw new ArgumentOutOfRangeException(nameof(extranonce2Size), extranonce2Size, "extranonce2 size must be 1..8 bytes");
        submit = default;
        var json = request.Params;
        ParamSlots slots = default;
        var count = ScanParams(json, ref slots);
        if (count is < 5 or > 6)
            return Illegal($"mining.submit takes 5 or 6 params (worker, job id, extranonce2, ntime, nonce[, version bits]), got {count}");

        var worker = slots[0];
        if (worker.Type != JsonTokenType.String)
            return Illegal($"mining.submit worker name (param 1) must be a string, got {Describe(json, worker)}");

        var job = slots[1];
        if (!(job.Type == JsonTokenType.Number || job.Type == JsonTokenType.String && job.Length > 0 && !job.Escaped))
            return Illegal($"mining.submit job id (param 2) must be a non-empty plain string or a number, got {Describe(json, job)}");

        var extranonce2Slot = slots[2];
        var extranonce2Hex = json.Slice(extranonce2Slot.Start, extranonce2Slot.Length);
        if (extranonce2Slot.Type != JsonTokenType.String || extranonce2Slot.Escaped
            || extranonce2Hex.Length != extranonce2Size * 2 || !Hex.TryParseUInt64(extranonce2Hex, out var extranonce2))
            return Illegal($"mining.submit extranonce2 (param 3) must be {extranonce2Size * 2} hex characters, got {Describe(json, extranonce2Slot)}");

        if (!TryHex8(json, slots[3], out var nTime))
            return Illegal($"mining.submit ntime (param 4) must be 8 hex characters, got {Describe(json, slots[3])}");
        if (!TryHex8(json, slots[4], out var nonce))
            return Illegal($"mining.submit nonce (param 5) must be 8 hex characters, got {Describe(json, slots[4])}");

        uint versionBits = 0;
        var hasVersionBits = count == 6;
        if (hasVersionBits && !TryHex8(json, slots[5], out versionBits))
            return Illegal($"mining.submit version bits (param 6) must be 8 hex characters, got {Describe(json, slots[5])}");

        submit = new SubmitRequest(json.Slice(worker.Start, worker.Length), json.Slice(job.Start, job.Length),
            extranonce2Hex, extranonce2, nTime, nonce, versionBits, hasVersionBits);
        return default;
    }

    /// <summary>Parses mining.authorize. A missing or non-string user name is code 29 (btcpool's answer).</summary>
    public static StratumParseError ParseAuthorize(this in StratumRequest request, out AuthorizeRequest authorize)
    {
        authorize = default;
        var json = request.Params;
        ParamSlots slots = default;
        var count = ScanParams(json, ref slots);
        if (count < 1)
            return new StratumParseError(StratumErrorCode.InvalidUsername, "mining.authorize needs the user name (user.worker) as its first param");
        if (slots[0].Type != JsonTokenType.String)
            return new StratumParseError(StratumErrorCode.InvalidUsername, $"mining.authorize user name must be a string, got {Describe(json, slots[0])}");
        var fullName = StringOf(json, slots[0]);

        var password = "";
        if (count >= 2)
        {
            var slot = slots[1];
            switch (slot.Type)
            {
                case JsonTokenType.String: password = StringOf(json, slot); break;
                case JsonTokenType.Number: password = Encoding.UTF8.GetString(json.Slice(slot.Start, slot.Length)); break;
                case JsonTokenType.Null: break;
                default: return Illegal($"mining.authorize password must be a string, got {Describe(json, slot)}");
            }
        }
        authorize = new AuthorizeRequest(fullName, password, StratumPasswordOptions.Parse(password));
        return default;
    }

    public static StratumParseError ParseSubscribe(this in StratumRequest request, out SubscribeRequest subscribe)
    {
        subscribe = new SubscribeRequest("", null);
        var json = request.Params;
        ParamSlots slots = default;
        var count = ScanParams(json, ref slots);
        var agent = "";
        string? sessionId = null;
        if (count >= 1)
        {
            if (slots[0].Type == JsonTokenType.String)
                agent = FilterAgent(StringOf(json, slots[0]));
            else if (slots[0].Type != JsonTokenType.Null)
                return Illegal($"mining.subscribe agent (param 1) must be a string, got {Describe(json, slots[0])}");
        }
        if (count >= 2)
        {
            if (slots[1].Type == JsonTokenType.String)
                sessionId = StringOf(json, slots[1]);
            else if (slots[1].Type != JsonTokenType.Null)
                return Illegal($"mining.subscribe session id (param 2) must be a string, got {Describe(json, slots[1])}");
        }
        // Further params (host, port from some proxies) carry nothing a pool uses.
        subscribe = new SubscribeRequest(agent, string.IsNullOrEmpty(sessionId) ? null : sessionId);
        return default;
    }

    public static StratumParseError ParseConfigure(this in StratumRequest request, out ConfigureRequest? configure)
    {
        configure = null;
        var json = request.Params;
        ParamSlots slots = default;
        var count = ScanParams(json, ref slots);
        if (count < 2)
            return Illegal($"mining.configure takes 2 params (extension list, extension parameters), got {count}");
        if (slots[0].Type != JsonTokenType.StartArray)
            return Illegal($"mining.configure extension list (param 1) must be an array, got {Describe(json, slots[0])}");
        if (slots[1].Type != JsonTokenType.StartObject)
            return Illegal($"mining.configure extension parameters (param 2) must be an object, got {Describe(json, slots[1])}");

        var extensions = new List<string>();
        var list = new Utf8JsonReader(json.Slice(slots[0].Start, slots[0].Length));
        list.Read();
        while (list.Read() && list.TokenType != JsonTokenType.EndArray)
        {
            if (list.TokenType != JsonTokenType.String)
                return Illegal("mining.configure extension names must be strings");
            var name = ReadString(ref list);
            if (!extensions.Contains(name))
                extensions.Add(name);
        }

        uint? mask = null;
        var minBitCount = 0;
        double? minimumDifficulty = null;
        var options = new Utf8JsonReader(json.Slice(slots[1].Start, slots[1].Length));
        options.Read();
        while (options.Read() && options.TokenType == JsonTokenType.PropertyName)
        {
            if (options.ValueTextEquals("version-rolling.mask"u8))
            {
                options.Read();
                if (options.TokenType != JsonTokenType.String || options.ValueIsEscaped || options.ValueSpan.Length != 8
                    || !Hex.TryParseUInt32(options.ValueSpan, out var value))
                    return Illegal("mining.configure version-rolling.mask must be 8 hex characters");
                mask = value;
            }
            else if (options.ValueTextEquals("version-rolling.min-bit-count"u8))
            {
                options.Read();
                if (!TryNumber(ref options, out var bits) || bits < 0 || bits > 32 || bits != Math.Floor(bits))
                    return Illegal("mining.configure version-rolling.min-bit-count must be a whole number 0..32");
                minBitCount = (int)bits;
            }
            else if (options.ValueTextEquals("minimum-difficulty.value"u8))
            {
                options.Read();
                if (!TryNumber(ref options, out var value) || value < 0)
                    return Illegal("mining.configure minimum-difficulty.value must be a number >= 0");
                minimumDifficulty = value;
            }
            else
            {
                options.Read();
                options.Skip();
            }
        }
        configure = new ConfigureRequest(extensions, mask, minBitCount, minimumDifficulty);
        return default;
    }

    /// <summary>mining.suggest_difficulty: <c>[difficulty]</c>, a positive number (a numeric string is accepted too).</summary>
    public static StratumParseError ParseSuggestDifficulty(this in StratumRequest request, out double difficulty)
    {
        difficulty = 0;
        var json = request.Params;
        ParamSlots slots = default;
        var count = ScanParams(json, ref slots);
        if (count < 1)
            return Illegal("mining.suggest_difficulty needs the difficulty as its param");
        var slot = slots[0];
        var text = json.Slice(slot.Start, slot.Length);
        if (slot.Type is not (JsonTokenType.Number or JsonTokenType.String) || slot.Escaped
            || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            || !double.IsFinite(value) || value <= 0)
            return Illegal($"mining.suggest_difficulty difficulty must be a positive number, got {Describe(json, slot)}");
        difficulty = value;
        return default;
    }

    /// <summary>mining.suggest_target: <c>["hex target"]</c>, up to 64 hex digits; gives the matching difficulty.</summary>
    public static StratumParseError ParseSuggestTarget(this in StratumRequest request, out double difficulty)
    {
        difficulty = 0;
        var json = request.Params;
        ParamSlots slots = default;
        var count = ScanParams(json, ref slots);
        if (count < 1)
            return Illegal("mining.suggest_target needs the target as its param");
        var slot = slots[0];
        var hex = json.Slice(slot.Start, slot.Length);
        if (slot.Type != JsonTokenType.String || slot.Escaped || hex.Length is 0 or > 64 || !Hex.IsHex(hex))
            return Illegal($"mining.suggest_target target must be 1..64 hex characters, got {Describe(json, slot)}");
        double target = 0;
        foreach (var c in hex)
            target = target * 16 + Hex.Nibble(c);
        if (target == 0)
            return Illegal("mining.suggest_target target must not be zero");
        difficulty = StratumDifficulty.FromTarget(target);
        return default;
    }

    private static StratumParseError Illegal(string message) => new(StratumErrorCode.IllegalParams, message);

    private static bool TryHex8(ReadOnlySpan<byte> json, in ParamSlot slot, out uint value)
    {
        value = 0;
        return slot.Type == JsonTokenType.String && !slot.Escaped && slot.Length == 8
            && Hex.TryParseUInt32(json.Slice(slot.Start, 8), out value);
    }

    private static bool TryNumber(ref Utf8JsonReader reader, out double value)
    {
        value = 0;
        if (reader.TokenType == JsonTokenType.Number)
            return reader.TryGetDouble(out value) && double.IsFinite(value);
        if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped)
            return double.TryParse(reader.ValueSpan, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
        reader.Skip();
        return false;
    }

    // btcpool keeps only name characters of the agent and cuts it at 30, since it ends up in logs and the database.
    private static string FilterAgent(string agent)
    {
        var cut = agent.Length > SubscribeRequest.MaxAgentLength ? agent[..SubscribeRequest.MaxAgentLength] : agent;
        return StratumWorkerName.FilterName(cut);
    }

    /// <summary>Where one param sits in the params text: for strings the contents between the quotes.</summary>
    internal struct ParamSlot
    {
        public JsonTokenType Type;
        public int Start;
        public int Length;
        public bool Escaped;
    }

    [InlineArray(8)]
    internal struct ParamSlots
    {
        private ParamSlot _first;
    }

    /// <summary>Locates the first 8 params of an already validated params array; returns how many there are in all.</summary>
    internal static int ScanParams(ReadOnlySpan<byte> json, ref ParamSlots slots)
    {
        var reader = new Utf8JsonReader(json);
        reader.Read(); // StartArray
        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var start = (int)reader.TokenStartIndex;
            var slot = new ParamSlot { Type = reader.TokenType };
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    slot.Start = start + 1;
                    slot.Length = reader.ValueSpan.Length;
                    slot.Escaped = reader.ValueIsEscaped;
                    break;
                case JsonTokenType.StartArray:
                case JsonTokenType.StartObject:
                    reader.Skip();
                    slot.Start = start;
                    slot.Length = (int)reader.BytesConsumed - start;
                    break;
                default:
                    slot.Start = start;
                    slot.Length = reader.ValueSpan.Length;
                    break;
            }
            if (count < 8)
                slots[count] = slot;
            count++;
        }
        return count;
    }

    private static string StringOf(ReadOnlySpan<byte> json, in ParamSlot slot)
    {
        if (!slot.Escaped)
            return Encoding.UTF8.GetString(json.Slice(slot.Start, slot.Length));
        var quoted = new Utf8JsonReader(json.Slice(slot.Start - 1, slot.Length + 2));
        quoted.Read();
        return ReadString(ref quoted);
    }

    /// <summary>A string token's text; never throws, whatever bytes the miner sent.</summary>
    private static string ReadString(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // Invalid UTF-8 or a lone surrogate escape: keep the text as sent, undecodable bytes replaced.
            return Encoding.UTF8.GetString(reader.ValueSpan);
        }
    }

    // For error messages: what the miner actually sent, short enough to echo back.
    private static string Describe(ReadOnlySpan<byte> json, in ParamSlot slot)
    {
        var text = json.Slice(slot.Start, Math.Min(slot.Length, 40));
        var more = slot.Length > 40 ? "..." : "";
        return slot.Type switch
        {
            JsonTokenType.String => $"\"{Encoding.UTF8.GetString(text)}{more}\"",
            JsonTokenType.None => "nothing",
            _ => Encoding.UTF8.GetString(text) + more,
        };
    }
}
