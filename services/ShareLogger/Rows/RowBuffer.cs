using System.Buffers;
using System.Buffers.Text;
using System.Globalization;

namespace PoolCluster.ShareLogger.Rows;

/// <summary>A growable byte buffer that rows are encoded into (UTF-8 text), reused from batch to batch.</summary>
internal sealed class RowBuffer
{
    private static readonly SearchValues<byte> TsvSpecials = SearchValues.Create([0x00, 0x09, 0x0A, 0x0D, 0x1A, 0x5C]);
    private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

    private byte[] data;

    public RowBuffer(int initialCapacity = 1 << 16) => data = new byte[Math.Max(initialCapacity, 256)];

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Written => data.AsSpan(0, Length);

    public ReadOnlyMemory<byte> WrittenMemory => data.AsMemory(0, Length);

    public int Capacity => data.Length;

    public void Clear() => Length = 0;

    /// <summary>Drops what was written after <paramref name="length"/> (a row that could not be completed).</summary>
    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);
        Length = length;
    }

    public Span<byte> GetSpan(int sizeHint)
    {
        if (data.Length - Length < sizeHint)
            Grow(sizeHint);
        return data.AsSpan(Length);
    }

    public void Advance(int count) => Length += count;

    public void Byte(byte value)
    {
        if (Length == data.Length)
            Grow(1);
        data[Length++] = value;
    }

    public void Ascii(ReadOnlySpan<byte> text)
    {
        text.CopyTo(GetSpan(text.Length));
        Length += text.Length;
    }

    public void Int64(long value)
    {
        Utf8Formatter.TryFormat(value, GetSpan(20), out var written);
        Length += written;
    }

    public void UInt64(ulong value)
    {
        Utf8Formatter.TryFormat(value, GetSpan(20), out var written);
        Length += written;
    }

    /// <summary>
    /// A form MySQL parses back to the same double: whole numbers (share difficulties mostly are) as integers, which is
    /// much cheaper to format, anything else in the shortest round-trip form ("1.2345E+15").
    /// </summary>
    public void Double(double value)
    {
        if (value == Math.Floor(value) && Math.Abs(value) < 9e15)
        {
            Int64((long)value);
            return;
        }
        value.TryFormat(GetSpan(32), out var written, default, CultureInfo.InvariantCulture);
        Length += written;
    }

    /// <summary>'yyyy-MM-dd HH:mm:ss.fff' (UTC) of a Unix time in milliseconds, for DATETIME(3).</summary>
    public void DateTimeMilliseconds(long unixMs)
    {
        var span = GetSpan(23);
        var second = Math.DivRem(unixMs, 1000, out var millisecond);
        // Shares of a batch share few seconds: the date and time part is formatted once per second.
        if (second != cachedSecond)
        {
            var time = DateTime.UnixEpoch.AddSeconds(second);
            time.Deconstruct(out var date, out var clock);
            Digits(cachedPrefix.AsSpan(0, 4), date.Year);
            cachedPrefix[4] = (byte)'-';
            Digits(cachedPrefix.AsSpan(5, 2), date.Month);
            cachedPrefix[7] = (byte)'-';
            Digits(cachedPrefix.AsSpan(8, 2), date.Day);
            cachedPrefix[10] = (byte)' ';
            Digits(cachedPrefix.AsSpan(11, 2), clock.Hour);
            cachedPrefix[13] = (byte)':';
            Digits(cachedPrefix.AsSpan(14, 2), clock.Minute);
            cachedPrefix[16] = (byte)':';
            Digits(cachedPrefix.AsSpan(17, 2), clock.Second);
            cachedPrefix[19] = (byte)'.';
            cachedSecond = second;
        }
        cachedPrefix.CopyTo(span);
        Digits(span.Slice(20, 3), (int)millisecond);
        Length += 23;
    }

    private readonly byte[] cachedPrefix = new byte[20];
    private long cachedSecond = long.MinValue;

    /// <summary>Bytes escaped for LOAD DATA's default FIELDS ESCAPED BY '\\' (NUL, tab, newline, CR, ^Z, backslash).</summary>
    public void TsvEscaped(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var special = bytes.IndexOfAny(TsvSpecials);
            if (special < 0)
            {
                Ascii(bytes);
                return;
            }
            Ascii(bytes[..special]);
            var escape = GetSpan(2);
            escape[0] = (byte)'\\';
            escape[1] = bytes[special] switch
            {
                0x00 => (byte)'0',
                0x09 => (byte)'t',
                0x0A => (byte)'n',
                0x0D => (byte)'r',
                0x1A => (byte)'Z',
                _ => (byte)'\\',
            };
            Length += 2;
            bytes = bytes[(special + 1)..];
        }
    }

    /// <summary>Lowercase hex digits of <paramref name="bytes"/> (no prefix).</summary>
    public void Hex(ReadOnlySpan<byte> bytes)
    {
        var span = GetSpan(bytes.Length * 2);
        for (var i = 0; i < bytes.Length; i++)
        {
            span[2 * i] = HexDigits[bytes[i] >> 4];
            span[2 * i + 1] = HexDigits[bytes[i] & 0xF];
        }
        Length += bytes.Length * 2;
    }

    private static void Digits(Span<byte> destination, int value)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }

    private void Grow(int sizeHint)
    {
        var size = Math.Max(data.Length * 2, Length + sizeHint);
        Array.Resize(ref data, size);
    }
}
