using System.Buffers;
using System.Globalization;
using System.Text;

namespace PoolCluster.Stratum;

/// <summary>How the server answers mining.configure, per extension (BIP310).</summary>
/// <param name="VersionRollingMask">The granted mask, or null to answer <c>"version-rolling":false</c>.</param>
/// <param name="MinimumDifficulty">Whether "minimum-difficulty" was accepted.</param>
/// <param name="SubscribeExtranonce">Whether "subscribe-extranonce" was accepted.</param>
public readonly record struct ConfigureResponse(uint? VersionRollingMask, bool MinimumDifficulty, bool SubscribeExtranonce);

/// <summary>
/// Writes server messages, each a JSON object and '\n', straight into an <see cref="IBufferWriter{T}"/> (a PipeWriter,
/// a pooled buffer) with no allocation. Ids are echoed as the raw JSON text <see cref="StratumRequest.Id"/> gives.
/// </summary>
public static class StratumWriter
{
    /// <summary><c>{"id":4,"result":true,"error":null}</c></summary>
    public static void WriteResult(IBufferWriter<byte> output, ReadOnlySpan<byte> id, bool result)
    {
        var line = new LineBuilder(output, id.Length + 40);
        line.Literal("{\"id\":"u8);
        line.Literal(id);
        line.Literal(result ? ",\"result\":true,\"error\":null}\n"u8 : ",\"result\":false,\"error\":null}\n"u8);
        line.Commit();
    }

    /// <summary><c>{"id":4,"result":&lt;resultJson&gt;,"error":null}</c>; <paramref name="resultJson"/> must be valid JSON.</summary>
    public static void WriteRawResult(IBufferWriter<byte> output, ReadOnlySpan<byte> id, ReadOnlySpan<byte> resultJson)
    {
        var line = new LineBuilder(output, id.Length + resultJson.Length + 40);
        line.Literal("{\"id\":"u8);
        line.Literal(id);
        line.Literal(",\"result\":"u8);
        line.Literal(resultJson);
        line.Literal(",\"error\":null}\n"u8);
        line.Commit();
    }

    /// <summary><c>{"id":4,"result":null,"error":[23,"Low difficulty",null]}</c> with btcpool's message for the code.</summary>
    public static void WriteError(IBufferWriter<byte> output, ReadOnlySpan<byte> id, StratumErrorCode code)
    {
        var message = StratumErrors.Utf8MessageOf(code);
        var line = new LineBuilder(output, id.Length + message.Length + 64);
        StartError(ref line, id, code);
        line.Literal(message);
        line.Literal("\",null]}\n"u8);
        line.Commit();
    }

    /// <summary>An error with a specific message (JSON-escaped here), e.g. a <see cref="StratumParseError"/>'s.</summary>
    public static void WriteError(IBufferWriter<byte> output, ReadOnlySpan<byte> id, StratumErrorCode code, string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var line = new LineBuilder(output, id.Length + message.Length * 6 + 64);
        StartError(ref line, id, code);
        line.EscapedString(message);
        line.Literal("\",null]}\n"u8);
        line.Commit();
    }

    public static void WriteError(IBufferWriter<byte> output, ReadOnlySpan<byte> id, in StratumParseError error)
    {
        if (!error.IsError)
            throw new ArgumentException("there is no error to write", nameof(error));
        WriteError(output, id, error.Code, error.Message!);
    }

    private static void StartError(ref LineBuilder line, ReadOnlySpan<byte> id, StratumErrorCode code)
    {
        line.Literal("{\"id\":"u8);
        line.Literal(id);
        line.Literal(",\"result\":null,\"error\":["u8);
        line.Integer((int)code);
        line.Literal(",\""u8);
    }

    /// <summary>
    /// The mining.subscribe result: <c>[[["mining.set_difficulty","&lt;id&gt;"],["mining.notify","&lt;id&gt;"]],"&lt;extranonce1 hex&gt;",&lt;extranonce2 size&gt;]</c>.
    /// Subscription ids are opaque text to the miner (cpuminer sends the notify one back to resume a session).
    /// </summary>
    public static void WriteSubscribeResult(IBufferWriter<byte> output, ReadOnlySpan<byte> id,
        ReadOnlySpan<byte> setDifficultySubscriptionId, ReadOnlySpan<byte> notifySubscriptionId,
        ReadOnlySpan<byte> extranonce1, int extranonce2Size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(extranonce2Size);
        var line = new LineBuilder(output,
            id.Length + 6 * (setDifficultySubscriptionId.Length + notifySubscriptionId.Length) + 2 * extranonce1.Length + 120);
        line.Literal("{\"id\":"u8);
        line.Literal(id);
        line.Literal(",\"result\":[[[\"mining.set_difficulty\",\""u8);
        line.EscapedUtf8(setDifficultySubscriptionId);
        line.Literal("\"],[\"mining.notify\",\""u8);
        line.EscapedUtf8(notifySubscriptionId);
        line.Literal("\"]],\""u8);
        line.Hex(extranonce1);
        line.Literal("\","u8);
        line.Integer(extranonce2Size);
        line.Literal("],\"error\":null}\n"u8);
        line.Commit();
    }

    /// <summary>The same, with one subscription id for both subscriptions (btcpool sends its session id twice).</summary>
    public static void WriteSubscribeResult(IBufferWriter<byte> output, ReadOnlySpan<byte> id,
        ReadOnlySpan<byte> subscriptionId, ReadOnlySpan<byte> extranonce1, int extranonce2Size) =>
        WriteSubscribeResult(output, id, subscriptionId, subscriptionId, extranonce1, extranonce2Size);

    /// <summary><c>{"id":null,"method":"mining.set_difficulty","params":[0.001]}</c>, the number in plain decimal.</summary>
    public static void WriteSetDifficulty(IBufferWriter<byte> output, double difficulty)
    {
        var line = new LineBuilder(output, StratumDifficulty.MaxFormattedLength + 64);
        line.Literal("{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":["u8);
        line.Difficulty(difficulty);
        line.Literal("]}\n"u8);
        line.Commit();
    }

    /// <summary><c>{"id":null,"method":"mining.set_version_mask","params":["1fffe000"]}</c> (BIP310).</summary>
    public static void WriteSetVersionMask(IBufferWriter<byte> output, uint mask)
    {
        var line = new LineBuilder(output, 72);
        line.Literal("{\"id\":null,\"method\":\"mining.set_version_mask\",\"params\":[\""u8);
        line.HexUInt32(mask);
        line.Literal("\"]}\n"u8);
        line.Commit();
    }

    /// <summary><c>{"id":null,"method":"mining.set_extranonce","params":["f000000a",4]}</c></summary>
    public static void WriteSetExtranonce(IBufferWriter<byte> output, ReadOnlySpan<byte> extranonce1, int extranonce2Size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(extranonce2Size);
        var line = new LineBuilder(output, 2 * extranonce1.Length + 80);
        line.Literal("{\"id\":null,\"method\":\"mining.set_extranonce\",\"params\":[\""u8);
        line.Hex(extranonce1);
        line.Literal("\","u8);
        line.Integer(extranonce2Size);
        line.Literal("]}\n"u8);
        line.Commit();
    }

    /// <summary><c>{"id":null,"method":"client.reconnect","params":[]}</c>: reconnect to the same server.</summary>
    public static void WriteReconnect(IBufferWriter<byte> output)
    {
        var line = new LineBuilder(output, 56);
        line.Literal("{\"id\":null,\"method\":\"client.reconnect\",\"params\":[]}\n"u8);
        line.Commit();
    }

    /// <summary><c>{"id":null,"method":"client.reconnect","params":["host",3333,0]}</c>: move to another server.</summary>
    public static void WriteReconnect(IBufferWriter<byte> output, string host, int port, int waitSeconds = 0)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfNegative(waitSeconds);
        var line = new LineBuilder(output, host.Length * 6 + 96);
        line.Literal("{\"id\":null,\"method\":\"client.reconnect\",\"params\":[\""u8);
        line.EscapedString(host);
        line.Literal("\","u8);
        line.Integer(port);
        line.Literal(","u8);
        line.Integer(waitSeconds);
        line.Literal("]}\n"u8);
        line.Commit();
    }

    /// <summary>
    /// The mining.configure result: every requested extension answered in request order, e.g.
    /// <c>{"version-rolling":true,"version-rolling.mask":"1fffe000","minimum-difficulty":false}</c>; extensions the
    /// server does not know are answered false (BIP310).
    /// </summary>
    public static void WriteConfigureResult(IBufferWriter<byte> output, ReadOnlySpan<byte> id, ConfigureRequest request,
        ConfigureResponse response)
    {
        ArgumentNullException.ThrowIfNull(request);
        var size = id.Length + 64;
        foreach (var extension in request.Extensions)
            size += extension.Length * 6 + 56;
        var line = new LineBuilder(output, size);
        line.Literal("{\"id\":"u8);
        line.Literal(id);
        line.Literal(",\"result\":{"u8);
        var first = true;
        foreach (var extension in request.Extensions)
        {
            if (!first) line.Literal(","u8);
            first = false;
            line.Literal("\""u8);
            line.EscapedString(extension);
            line.Literal("\":"u8);
            switch (extension)
            {
                case ConfigureRequest.VersionRolling when response.VersionRollingMask is { } mask:
                    line.Literal("true,\"version-rolling.mask\":\""u8);
                    line.HexUInt32(mask);
                    line.Literal("\""u8);
                    break;
                case ConfigureRequest.MinimumDifficulty:
                    line.Literal(response.MinimumDifficulty ? "true"u8 : "false"u8);
                    break;
                case ConfigureRequest.SubscribeExtranonce:
                    line.Literal(response.SubscribeExtranonce ? "true"u8 : "false"u8);
                    break;
                default:
                    line.Literal("false"u8);
                    break;
            }
        }
        line.Literal("},\"error\":null}\n"u8);
        line.Commit();
    }

    /// <summary>
    /// A mining.notify line. Prefer <see cref="MiningNotify"/>, which serializes a job once for all sessions.
    /// Hashes are taken in Bitcoin's internal byte order, as in blocks and the StratumJob topic.
    /// </summary>
    public static void WriteNotify(IBufferWriter<byte> output, string jobId, ReadOnlySpan<byte> previousBlockHash,
        ReadOnlySpan<byte> coinbase1, ReadOnlySpan<byte> coinbase2, IReadOnlyList<ReadOnlyMemory<byte>> merkleBranch,
        uint version, uint bits, uint time, bool cleanJobs)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        ArgumentNullException.ThrowIfNull(merkleBranch);
        if (jobId.Length == 0)
            throw new ArgumentException("job id is empty", nameof(jobId));
        if (previousBlockHash.Length != 32)
            throw new ArgumentException($"previous block hash must be 32 bytes, got {previousBlockHash.Length}", nameof(previousBlockHash));
        for (var i = 0; i < merkleBranch.Count; i++)
            if (merkleBranch[i].Length != 32)
                throw new ArgumentException($"merkle branch hash {i} must be 32 bytes, got {merkleBranch[i].Length}", nameof(merkleBranch));

        var size = 160 + jobId.Length * 6 + 64 + 2 * (coinbase1.Length + coinbase2.Length) + merkleBranch.Count * 67;
        var line = new LineBuilder(output, size);
        line.Literal("{\"id\":null,\"method\":\"mining.notify\",\"params\":[\""u8);
        line.EscapedString(jobId);
        line.Literal("\",\""u8);
        // Stratum's prevhash is the internal-order hash with each 4-byte word byte-swapped (an artefact of
        // the original getwork byte order that every miner expects).
        Span<byte> swapped = stackalloc byte[4];
        for (var word = 0; word < 8; word++)
        {
            var source = previousBlockHash.Slice(word * 4, 4);
            swapped[0] = source[3]; swapped[1] = source[2]; swapped[2] = source[1]; swapped[3] = source[0];
            line.Hex(swapped);
        }
        line.Literal("\",\""u8);
        line.Hex(coinbase1);
        line.Literal("\",\""u8);
        line.Hex(coinbase2);
        line.Literal("\",["u8);
        for (var i = 0; i < merkleBranch.Count; i++)
        {
            line.Literal(i == 0 ? "\""u8 : ",\""u8);
            line.Hex(merkleBranch[i].Span);
            line.Literal("\""u8);
        }
        line.Literal("],\""u8);
        line.HexUInt32(version);
        line.Literal("\",\""u8);
        line.HexUInt32(bits);
        line.Literal("\",\""u8);
        line.HexUInt32(time);
        line.Literal(cleanJobs ? "\",true]}\n"u8 : "\",false]}\n"u8);
        line.Commit();
    }

    /// <summary>Writes into one span obtained up front with a size bound, then advances the output once.</summary>
    private ref struct LineBuilder
    {
        private readonly IBufferWriter<byte> _output;
        private readonly Span<byte> _span;
        private int _position;

        public LineBuilder(IBufferWriter<byte> output, int sizeHint)
        {
            ArgumentNullException.ThrowIfNull(output);
            _output = output;
            _span = output.GetSpan(sizeHint);
            _position = 0;
        }

        public void Literal(scoped ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_span[_position..]);
            _position += bytes.Length;
        }

        public void Hex(scoped ReadOnlySpan<byte> bytes) => _position += PoolCluster.Stratum.Hex.Encode(bytes, _span[_position..]);

        public void HexUInt32(uint value)
        {
            PoolCluster.Stratum.Hex.EncodeUInt32(value, _span[_position..]);
            _position += 8;
        }

        public void Integer(int value)
        {
            value.TryFormat(_span[_position..], out var written, default, CultureInfo.InvariantCulture);
            _position += written;
        }

        public void Difficulty(double value) => _position += StratumDifficulty.Format(value, _span[_position..]);

        /// <summary>UTF-8 text as the inside of a JSON string: quote, backslash and control characters escaped.</summary>
        public void EscapedUtf8(scoped ReadOnlySpan<byte> utf8)
        {
            foreach (var b in utf8)
                EscapedByte(b);
        }

        public void EscapedString(string text)
        {
            Span<byte> encoded = stackalloc byte[4];
            foreach (var rune in text.EnumerateRunes())
            {
                if (rune.IsAscii)
                {
                    EscapedByte((byte)rune.Value);
                    continue;
                }
                var length = rune.EncodeToUtf8(encoded);
                Literal(encoded[..length]);
            }
        }

        private void EscapedByte(byte b)
        {
            switch (b)
            {
                case (byte)'"': Literal("\\\""u8); break;
                case (byte)'\\': Literal("\\\\"u8); break;
                case < 0x20:
                    Literal("\\u00"u8);
                    Span<byte> code = [b];
                    Hex(code);
                    break;
                default:
                    _span[_position++] = b;
                    break;
            }
        }

        public readonly void Commit() => _output.Advance(_position);
    }
}
