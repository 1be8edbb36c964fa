using System.Buffers.Binary;

namespace PoolCluster.Bitcoin;

/// <summary>
/// Reads Bitcoin's wire serialization (little-endian integers, CompactSize lengths) from a span. Every failure throws a
/// <see cref="FormatException"/> saying what was being read, at which offset, and what was wrong.
/// </summary>
public ref struct BitcoinReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public BitcoinReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    /// <summary>Offset of the next byte to read.</summary>
    public readonly int Position => _position;

    /// <summary>Bytes not yet read.</summary>
    public readonly int Remaining => _data.Length - _position;

    /// <summary>The next byte without consuming it; throws at the end.</summary>
    public readonly byte PeekByte(string what)
    {
        if (_position >= _data.Length) throw Truncated(what, 1);
        return _data[_position];
    }

    public byte ReadByte(string what) => ReadSpan(1, what)[0];

    public ushort ReadUInt16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(ReadSpan(2, what));

    public uint ReadUInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(ReadSpan(4, what));

    public int ReadInt32(string what) => BinaryPrimitives.ReadInt32LittleEndian(ReadSpan(4, what));

    public ulong ReadUInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(ReadSpan(8, what));

    public long ReadInt64(string what) => BinaryPrimitives.ReadInt64LittleEndian(ReadSpan(8, what));

    /// <summary>32 bytes as a hash (internal order, as serialized).</summary>
    public Hash256 ReadHash256(string what) => Hash256.FromInternalBytes(ReadSpan(32, what));

    /// <summary>The next <paramref name="count"/> bytes (a view into the input, not a copy).</summary>
    public ReadOnlySpan<byte> ReadSpan(int count, string what)
    {
        if (count < 0 || count > Remaining) throw Truncated(what, count);
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }

    /// <summary>A CompactSize, canonical and at most <see cref="CompactSize.MaxValue"/>.</summary>
    public ulong ReadCompactSize(string what)
    {
        if (!CompactSize.TryRead(_data[_position..], out var value, out var read, out var error))
            throw new FormatException($"{what} at offset {_position}: {error}");
        if (value > CompactSize.MaxValue)
            throw new FormatException($"{what} at offset {_position}: {value} exceeds the maximum of {CompactSize.MaxValue}");
        _position += read;
        return value;
    }

    /// <summary>A CompactSize count that the remaining bytes could hold at <paramref name="minimumItemSize"/> bytes per item.</summary>
    public int ReadCount(string what, int minimumItemSize)
    {
        var at = _position;
        var count = ReadCompactSize(what);
        if (minimumItemSize > 0 && count > (ulong)(Remaining / minimumItemSize))
            throw new FormatException($"truncated or corrupt {what} at offset {at}: {count} items cannot fit in the {Remaining} bytes left");
        return (int)count;
    }

    /// <summary>CompactSize length then that many bytes (scripts, witness items).</summary>
    public ReadOnlySpan<byte> ReadVarBytes(string what)
    {
        var at = _position;
        var length = ReadCompactSize($"{what} length");
        if (length > (ulong)Remaining)
            throw new FormatException($"truncated {what} at offset {at}: length {length} exceeds the {Remaining} bytes left");
        return ReadSpan((int)length, what);
    }

    /// <summary>Throws unless every byte was consumed (trailing garbage is an error, not ignored).</summary>
    public readonly void EnsureEnd(string what)
    {
        if (Remaining != 0)
            throw new FormatException($"{what}: {Remaining} unexpected bytes after the end at offset {_position}");
    }

    private readonly FormatException Truncated(string what, int count) =>
        new($"truncated {what}: needs {count} bytes at offset {_position}, {Remaining} left");
}
