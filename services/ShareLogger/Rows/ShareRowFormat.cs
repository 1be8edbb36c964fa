using System.Net;
using System.Text;
using PoolCluster.Topics;

namespace PoolCluster.ShareLogger.Rows;

/// <summary>
/// Encodes one Share as one row of `shares` (shared/Storage/Migrations/0004_shares.sql), in the text a batch writer
/// sends. Values are made to fit their columns here (worker name cut to 50 characters, non-finite difficulties as 0,
/// over-long extranonces cut, unparseable IPs empty, a block hash that is not 32 bytes as NULL), so one odd share can
/// never make a whole batch fail forever under strict SQL mode; each adjustment is counted.
/// </summary>
internal abstract class ShareRowFormat
{
    /// <summary>The column list, in the order rows are encoded.</summary>
    public const string Columns =
        "`id`,`kafka_partition`,`kafka_offset`,`user_id`,`worker_id`,`worker_name`,`ip`,`server_id`,`session_id`,`job_id`," +
        "`share_diff`,`network_diff`,`status`,`height`,`created_at`,`nonce`,`ntime`,`version_bits`,`extranonce1`," +
        "`extranonce2`,`block_hash`";

    public const int WorkerNameMaxCharacters = 50;
    public const int Extranonce1MaxBytes = 16;
    public const int Extranonce2MaxBytes = 32;

    /// <summary>9999-12-31 23:59:59.999, DATETIME's last millisecond.</summary>
    private const long MaxUnixMs = 253_402_300_799_999;

    private readonly Dictionary<string, byte[]> ipCache = new(StringComparer.Ordinal);

    /// <summary>Values changed to fit their column since this format was made.</summary>
    public long Adjusted { get; private set; }

    public static ShareRowFormat For(ShareWriteMethod method) => method switch
    {
        ShareWriteMethod.LoadData => new LoadDataRowFormat(),
        ShareWriteMethod.Insert => new InsertRowFormat(),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "unknown write method"),
    };

    public abstract void Append(RowBuffer buffer, Share share, int partition, long offset);

    /// <summary>
    /// The share's `id`: its Kafka position in one number (migration 0007), the same however often it is replayed.
    /// 16 bits of partition, 48 of offset (2.8e14 messages a partition: 90 years at 100,000/s).
    /// </summary>
    public static ulong ShareId(int partition, long offset) => (ulong)(uint)partition << 48 | (ulong)offset;

    protected static readonly byte[] NoBytes = [];

    /// <summary>The worker name as UTF-8, at most 50 characters (MySQL counts code points, as Rune does).</summary>
    protected int WorkerNameUtf8(string name, Span<byte> destination)
    {
        var text = name.AsSpan();
        if (text.Length <= WorkerNameMaxCharacters)
            return Encoding.UTF8.GetBytes(text, destination);
        var runes = 0;
        var end = 0;
        while (end < text.Length && runes < WorkerNameMaxCharacters)
        {
            end += char.IsHighSurrogate(text[end]) && end + 1 < text.Length && char.IsLowSurrogate(text[end + 1]) ? 2 : 1;
            runes++;
        }
        if (end < text.Length)
            Adjusted++;
        return Encoding.UTF8.GetBytes(text[..end], destination);
    }

    /// <summary>4 bytes for IPv4 (also for IPv4-mapped IPv6), 16 for IPv6, empty when the text is no address.</summary>
    protected byte[] IpBytes(string ip)
    {
        if (ip.Length == 0)
            return NoBytes;
        if (ipCache.TryGetValue(ip, out var cached))
            return cached;
        byte[] bytes;
        if (IPAddress.TryParse(ip, out var address))
            bytes = (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).GetAddressBytes();
        else
        {
            bytes = NoBytes;
            Adjusted++;
        }
        // Miners' addresses repeat; the cache is bounded so a flood of distinct addresses cannot grow it forever.
        if (ipCache.Count >= 65_536)
            ipCache.Clear();
        ipCache[ip] = bytes;
        return bytes;
    }

    protected double Finite(double value)
    {
        if (double.IsFinite(value))
            return value;
        Adjusted++;
        return 0;
    }

    protected long CreatedAtMs(long unixMs)
    {
        if (unixMs is >= 0 and <= MaxUnixMs)
            return unixMs;
        Adjusted++;
        return Math.Clamp(unixMs, 0, MaxUnixMs);
    }

    protected int Status(ShareStatus status)
    {
        var value = (int)status;
        if (value is >= 0 and <= 255)
            return value;
        Adjusted++;
        return 0;
    }

    protected ReadOnlySpan<byte> Limit(ReadOnlySpan<byte> bytes, int max)
    {
        if (bytes.Length <= max)
            return bytes;
        Adjusted++;
        return bytes[..max];
    }

    /// <summary>The 32-byte hash, or empty for NULL (a share rejected before hashing has none).</summary>
    protected ReadOnlySpan<byte> BlockHash(ReadOnlySpan<byte> hash)
    {
        if (hash.Length == 32)
            return hash;
        if (!hash.IsEmpty)
            Adjusted++;
        return [];
    }
}

/// <summary>Tab-separated lines for LOAD DATA ... CHARACTER SET binary (binary columns as raw escaped bytes).</summary>
internal sealed class LoadDataRowFormat : ShareRowFormat
{
    /// <summary>The LOAD DATA statement for a file of these rows. IGNORE: a row already present is skipped and counted, never doubled.</summary>
    public static string Statement(string path) =>
        $"LOAD DATA LOCAL INFILE '{path}' IGNORE INTO TABLE `shares` CHARACTER SET binary " +
        @"FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' (" + Columns + ")";

    public override void Append(RowBuffer b, Share share, int partition, long offset)
    {
        Span<byte> name = stackalloc byte[WorkerNameMaxCharacters * 4];
        b.UInt64(ShareId(partition, offset));
        b.Byte((byte)'\t');
        b.Int64(partition);
        b.Byte((byte)'\t');
        b.Int64(offset);
        b.Byte((byte)'\t');
        b.Int64(share.UserId);
        b.Byte((byte)'\t');
        b.Int64(share.WorkerId);
        b.Byte((byte)'\t');
        b.TsvEscaped(name[..WorkerNameUtf8(share.WorkerName, name)]);
        b.Byte((byte)'\t');
        b.TsvEscaped(IpBytes(share.Ip));
        b.Byte((byte)'\t');
        b.UInt64(share.ServerId);
        b.Byte((byte)'\t');
        b.UInt64(share.SessionId);
        b.Byte((byte)'\t');
        b.UInt64(share.JobId);
        b.Byte((byte)'\t');
        b.Double(Finite(share.ShareDifficulty));
        b.Byte((byte)'\t');
        b.Double(Finite(share.NetworkDifficulty));
        b.Byte((byte)'\t');
        b.Int64(Status(share.Status));
        b.Byte((byte)'\t');
        b.UInt64(share.Height);
        b.Byte((byte)'\t');
        b.DateTimeMilliseconds(CreatedAtMs(share.TimestampUnixMs));
        b.Byte((byte)'\t');
        b.UInt64(share.Nonce);
        b.Byte((byte)'\t');
        b.UInt64(share.Ntime);
        b.Byte((byte)'\t');
        b.UInt64(share.VersionBits);
        b.Byte((byte)'\t');
        b.TsvEscaped(Limit(share.Extranonce1.Span, Extranonce1MaxBytes));
        b.Byte((byte)'\t');
        b.TsvEscaped(Limit(share.Extranonce2.Span, Extranonce2MaxBytes));
        b.Byte((byte)'\t');
        var hash = BlockHash(share.BlockHash.Span);
        if (hash.IsEmpty)
            b.Ascii(@"\N"u8);
        else
            b.TsvEscaped(hash);
        b.Byte((byte)'\n');
    }
}

/// <summary>"(v1,v2,...)" tuples for multi-row INSERTs; text as _utf8mb4 X'..' and bytes as X'..', so nothing needs escaping.</summary>
internal sealed class InsertRowFormat : ShareRowFormat
{
    /// <summary>The statement head; tuples follow, separated by commas. IGNORE: as LOAD DATA LOCAL does, a present row is skipped, never doubled.</summary>
    public const string StatementHead = "INSERT IGNORE INTO `shares` (" + Columns + ") VALUES ";

    public override void Append(RowBuffer b, Share share, int partition, long offset)
    {
        Span<byte> name = stackalloc byte[WorkerNameMaxCharacters * 4];
        b.Byte((byte)'(');
        b.UInt64(ShareId(partition, offset));
        b.Byte((byte)',');
        b.Int64(partition);
        b.Byte((byte)',');
        b.Int64(offset);
        b.Byte((byte)',');
        b.Int64(share.UserId);
        b.Byte((byte)',');
        b.Int64(share.WorkerId);
        b.Ascii(",_utf8mb4 X'"u8);
        b.Hex(name[..WorkerNameUtf8(share.WorkerName, name)]);
        b.Ascii("',X'"u8);
        b.Hex(IpBytes(share.Ip));
        b.Ascii("',"u8);
        b.UInt64(share.ServerId);
        b.Byte((byte)',');
        b.UInt64(share.SessionId);
        b.Byte((byte)',');
        b.UInt64(share.JobId);
        b.Byte((byte)',');
        b.Double(Finite(share.ShareDifficulty));
        b.Byte((byte)',');
        b.Double(Finite(share.NetworkDifficulty));
        b.Byte((byte)',');
        b.Int64(Status(share.Status));
        b.Byte((byte)',');
        b.UInt64(share.Height);
        b.Ascii(",'"u8);
        b.DateTimeMilliseconds(CreatedAtMs(share.TimestampUnixMs));
        b.Ascii("',"u8);
        b.UInt64(share.Nonce);
        b.Byte((byte)',');
        b.UInt64(share.Ntime);
        b.Byte((byte)',');
        b.UInt64(share.VersionBits);
        b.Ascii(",X'"u8);
        b.Hex(Limit(share.Extranonce1.Span, Extranonce1MaxBytes));
        b.Ascii("',X'"u8);
        b.Hex(Limit(share.Extranonce2.Span, Extranonce2MaxBytes));
        var hash = BlockHash(share.BlockHash.Span);
        if (hash.IsEmpty)
            b.Ascii("',NULL)"u8);
        else
        {
            b.Ascii("',X'"u8);
            b.Hex(hash);
            b.Ascii("')"u8);
        }
    }
}
