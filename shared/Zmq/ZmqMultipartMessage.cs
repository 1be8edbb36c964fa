using System.Text;

namespace PoolCluster.Zmq;

/// <summary>
/// A received multipart message: its frames laid end to end in one growable buffer. Meant to be reused across
/// receives, so a receive loop allocates nothing once the buffer has grown to the largest message seen.
/// </summary>
public sealed class ZmqMultipartMessage
{
    private byte[] _buffer;
    private int _length;
    private (int Offset, int Length)[] _frames = new (int, int)[4];

    public ZmqMultipartMessage(int initialCapacity = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initialCapacity);
        _buffer = new byte[initialCapacity];
    }

    public int FrameCount { get; private set; }

    /// <summary>Frame <paramref name="index"/>; valid until the next receive into this message.</summary>
    public ReadOnlySpan<byte> this[int index] => FrameMemory(index).Span;

    /// <summary>Frame <paramref name="index"/> as memory; valid until the next receive into this message.</summary>
    public ReadOnlyMemory<byte> FrameMemory(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, FrameCount);
        var (offset, length) = _frames[index];
        return new ReadOnlyMemory<byte>(_buffer, offset, length);
    }

    /// <summary>Frame <paramref name="index"/> decoded as UTF-8 (topics are ASCII); allocates.</summary>
    public string FrameString(int index) => Encoding.UTF8.GetString(this[index]);

    internal void Clear()
    {
        FrameCount = 0;
        _length = 0;
    }

    internal void AddFrame(ReadOnlySpan<byte> frame)
    {
        if (_buffer.Length - _length < frame.Length)
            Array.Resize(ref _buffer, Math.Max(_length + frame.Length, _buffer.Length * 2));
        if (FrameCount == _frames.Length)
            Array.Resize(ref _frames, _frames.Length * 2);
        frame.CopyTo(_buffer.AsSpan(_length));
        _frames[FrameCount++] = (_length, frame.Length);
        _length += frame.Length;
    }
}
