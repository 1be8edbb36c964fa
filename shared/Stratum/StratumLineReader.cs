using System.Buffers;
using System.IO.Pipelines;

namespace PoolCluster.Stratum;

public enum LineStatus
{
    /// <summary>A complete, non-empty line was taken off the buffer.</summary>
    Line,
    /// <summary>No complete line is buffered yet; read more.</summary>
    NeedMoreData,
    /// <summary>A line is longer than the cap (or a partial line already is): the peer is broken or hostile; disconnect.</summary>
    LineTooLong,
}

/// <summary>
/// Newline framing of stratum's JSON lines over a byte sequence (what a <see cref="PipeReader"/> hands out).
/// A line ends at '\n'; a '\r' before it is dropped; blank lines are skipped. Lines longer than the cap are
/// reported, never buffered without bound.
/// </summary>
public static class StratumLineFramer
{
    public const int DefaultMaxLineLength = 8 * 1024;

    /// <summary>
    /// Takes the next line (without its terminator) off the front of <paramref name="buffer"/>.
    /// On <see cref="LineStatus.NeedMoreData"/> the buffer holds the unconsumed partial line.
    /// </summary>
    public static LineStatus TryReadLine(ref ReadOnlySequence<byte> buffer, int maxLineLength, out ReadOnlySequence<byte> line)
    {
        while (true)
        {
            var newline = buffer.PositionOf((byte)'\n');
            if (newline == null)
            {
                line = default;
                // A partial line may legitimately end with the '\r' of a "\r\n" still in flight.
                return buffer.Length > maxLineLength + 1 ? LineStatus.LineTooLong : LineStatus.NeedMoreData;
            }

            var candidate = buffer.Slice(0, newline.Value);
            buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));

            if (candidate.Length > 0 && LastByte(candidate) == (byte)'\r')
                candidate = candidate.Slice(0, candidate.Length - 1);
            if (candidate.Length > maxLineLength)
            {
                line = default;
                return LineStatus.LineTooLong;
            }
            if (IsBlank(candidate))
                continue;

            line = candidate;
            return LineStatus.Line;
        }
    }

    /// <summary>
    /// The same framing over one contiguous buffer (a socket's receive buffer): takes the next line off the front of
    /// <paramref name="buffer"/>; on <see cref="LineStatus.NeedMoreData"/> the buffer holds the unconsumed partial line.
    /// </summary>
    public static LineStatus TryReadLine(ref ReadOnlySpan<byte> buffer, int maxLineLength, out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            var newline = buffer.IndexOf((byte)'\n');
            if (newline < 0)
            {
                line = default;
                return buffer.Length > maxLineLength + 1 ? LineStatus.LineTooLong : LineStatus.NeedMoreData;
            }

            var candidate = buffer[..newline];
            buffer = buffer[(newline + 1)..];
            if (candidate.Length > 0 && candidate[^1] == (byte)'\r')
                candidate = candidate[..^1];
            if (candidate.Length > maxLineLength)
            {
                line = default;
                return LineStatus.LineTooLong;
            }
            if (candidate.IndexOfAnyExcept(" \t\r"u8) < 0)
                continue;

            line = candidate;
            return LineStatus.Line;
        }
    }

    private static byte LastByte(in ReadOnlySequence<byte> sequence)
    {
        if (sequence.IsSingleSegment)
            return sequence.FirstSpan[^1];
        return sequence.Slice(sequence.Length - 1).FirstSpan[0];
    }

    private static bool IsBlank(in ReadOnlySequence<byte> sequence)
    {
        foreach (var segment in sequence)
            foreach (var b in segment.Span)
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r'))
                    return false;
        return true;
    }
}

/// <summary>
/// Reads stratum lines from a <see cref="PipeReader"/> as contiguous spans without allocating per line.
/// <code>
/// while (await reader.ReadAsync(ct)) {
///     LineStatus status;
///     while ((status = reader.TryReadLine(out var line)) == LineStatus.Line) Handle(line);
///     if (status == LineStatus.LineTooLong) { Disconnect(); break; }
///     await output.FlushAsync(ct);
/// }
/// </code>
/// A line is valid until the next call to <see cref="TryReadLine"/> or <see cref="ReadAsync"/>.
/// Not thread-safe: one reader per connection, used by one loop.
/// </summary>
public sealed class StratumLineReader : IDisposable
{
    private readonly PipeReader _reader;
    private readonly int _maxLineLength;
    private byte[]? _scratch;
    private ReadOnlySequence<byte> _buffer;
    private bool _holdingBuffer;
    private bool _drained;

    public StratumLineReader(PipeReader reader, int maxLineLength = StratumLineFramer.DefaultMaxLineLength)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineLength, 1);
        _reader = reader;
        _maxLineLength = maxLineLength;
    }

    public int MaxLineLength => _maxLineLength;

    /// <summary>
    /// Releases the lines already taken and waits for more bytes. Returns false when the peer has finished sending
    /// (a trailing partial line is then dropped) or the pending read was cancelled with
    /// <see cref="PipeReader.CancelPendingRead"/>; lines buffered before that are still returned by
    /// <see cref="TryReadLine"/>.
    /// </summary>
    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken = default)
    {
        ReleaseBuffer();
        var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        _buffer = result.Buffer;
        _holdingBuffer = true;
        _drained = false;
        return !result.IsCompleted && !result.IsCanceled;
    }

    /// <summary>The next complete line of the bytes read so far, as one contiguous span.</summary>
    public LineStatus TryReadLine(out ReadOnlySpan<byte> line)
    {
        line = default;
        if (!_holdingBuffer)
            return LineStatus.NeedMoreData;

        var status = StratumLineFramer.TryReadLine(ref _buffer, _maxLineLength, out var sequence);
        if (status != LineStatus.Line)
        {
            _drained = status == LineStatus.NeedMoreData;
            return status;
        }

        if (sequence.IsSingleSegment)
        {
            line = sequence.FirstSpan;
        }
        else
        {
            // A line split across pipe segments is copied once into a per-connection buffer.
            _scratch ??= ArrayPool<byte>.Shared.Rent(_maxLineLength);
            sequence.CopyTo(_scratch);
            line = _scratch.AsSpan(0, (int)sequence.Length);
        }
        return LineStatus.Line;
    }

    private void ReleaseBuffer()
    {
        if (!_holdingBuffer)
            return;
        // Consumed up to the first unread byte. Only when every complete line was taken is the rest "examined",
        // so the next read waits for new bytes; otherwise it returns the remaining lines at once.
        if (_drained)
            _reader.AdvanceTo(_buffer.Start, _buffer.End);
        else
            _reader.AdvanceTo(_buffer.Start);
        _holdingBuffer = false;
        _buffer = default;
    }

    /// <summary>Returns the line buffer. The <see cref="PipeReader"/> is the caller's to complete.</summary>
    public void Dispose()
    {
        _holdingBuffer = false;
        _buffer = default;
        if (_scratch != null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }
    }
}
