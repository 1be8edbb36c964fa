using System.Buffers.Binary;

namespace PoolCluster.Bitcoin;

/// <summary>
/// Bitcoin's variable-length integer for counts and lengths: below 0xfd one byte; 0xfd + uint16; 0xfe + uint32;
/// 0xff + uint64 (all little-endian). Decoding rejects non-canonical (longer than needed) encodings, as Bitcoin Core does.
/// </summary>
public static class CompactSize
{
    /// <summary>Bitcoin Core's MAX_SIZE: no count or length in a valid message exceeds 32 MiB.</summary>
    public const ulong MaxValue = 0x02000000;

    /// <summary>Bytes needed to encode <paramref name="value"/>.</summary>
    public static int GetSize(ulong value) => value switch
    {
        < 0xfd => 1,
        <= 0xffff => 3,
        <= 0xffffffff => 5,
        _ => 9,
    };

    /// <summary>Writes <paramref name="value"/> and returns the bytes written.</summary>
    public static int Write(Span<byte> destination, ulong value)
    {
        var size = GetSize(value);
        if (destination.Length < size)
            throw new ArgumentException($"CompactSize {value} needs {size} bytes, destination has {destination.Length}", nameof(destination));
        switch (size)
        {
            case 1:
                destination[0] = (byte)value;
                break;
            case 3:
                destination[0] = 0xfd;
                BinaryPrimitives.WriteUInt16LittleEndian(destination[1..], (ushort)value);
                break;
            case 5:
                destination[0] = 0xfe;
                BinaryPrimitives.WriteUInt32LittleEndian(destination[1..], (uint)value);
                break;
            default:
                destination[0] = 0xff;
                BinaryPrimitives.WriteUInt64LittleEndian(destination[1..], value);
                break;
        }
        return size;
    }

    /// <summary>The encoding of <paramref name="value"/> as a new array.</summary>
    public static byte[] Encode(ulong value)
    {
        var bytes = new byte[GetSize(value)];
        Write(bytes, value);
        return bytes;
    }

    /// <summary>Reads one CompactSize from the start of <paramref name="source"/>; false with the reason when truncated or non-canonical.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int bytesRead, out string? error)
    {
        value = 0;
        bytesRead = 0;
        if (source.IsEmpty)
        {
            error = "CompactSize: no bytes left";
            return false;
        }
        var first = source[0];
        var size = first switch { < 0xfd => 1, 0xfd => 3, 0xfe => 5, _ => 9 };
        if (source.Length < size)
        {
            error = $"CompactSize: prefix 0x{first:x2} needs {size} bytes, {source.Length} left";
            return false;
        }
        ulong minimum;
        switch (size)
        {
            case 1: value = first; minimum = 0; break;
            case 3: value = BinaryPrimitives.ReadUInt16LittleEndian(source[1..]); minimum = 0xfd; break;
            case 5: value = BinaryPrimitives.ReadUInt32LittleEndian(source[1..]); minimum = 0x10000; break;
            default: value = BinaryPrimitives.ReadUInt64LittleEndian(source[1..]); minimum = 0x100000000; break;
        }
        if (value < minimum)
        {
            error = $"CompactSize: non-canonical encoding of {value} in {size} bytes";
            return false;
        }
        bytesRead = size;
        error = null;
        return true;
    }
}
