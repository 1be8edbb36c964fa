using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace PoolCluster.Stratum.Tests;

public class LineFramingTests
{
    private static ReadOnlySequence<byte> Sequence(params string[] segments)
    {
        // A real multi-segment sequence, as a pipe hands out when data arrives in pieces.
        Segment? first = null, last = null;
        foreach (var text in segments)
        {
            var segment = new Segment(Encoding.UTF8.GetBytes(text), last);
            first ??= segment;
            last = segment;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data, Segment? previous)
        {
            Memory = data;
            if (previous != null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    private static List<string> DrainFramer(ref ReadOnlySequence<byte> buffer, int max, out LineStatus last)
    {
        var lines = new List<string>();
        while ((last = StratumLineFramer.TryReadLine(ref buffer, max, out var line)) == LineStatus.Line)
            lines.Add(Encoding.UTF8.GetString(line));
        return lines;
    }

    [Theory]
    [InlineData("{\"a\":1}\r\n\n\r\n   \t\r\n{\"b\":2}\n{\"c\":3}\n{\"partial\"", 8192)]
    [InlineData("xxxxxxxxxx\r", 10)]
    [InlineData("xxxxxxxxxxy\n{\"next\":1}\n", 10)]
    [InlineData("xxxxxxxxxxxx", 10)]
    [InlineData("xxxxxxxxxx\r\nyy\n\n", 10)]
    [InlineData("", 10)]
    public void The_span_framer_agrees_with_the_sequence_framer(string input, int max)
    {
        var sequence = Sequence(input);
        var expected = DrainFramer(ref sequence, max, out var expectedStatus);

        ReadOnlySpan<byte> span = Encoding.UTF8.GetBytes(input);
        var lines = new List<string>();
        LineStatus status;
        while ((status = StratumLineFramer.TryReadLine(ref span, max, out var line)) == LineStatus.Line)
            lines.Add(Encoding.UTF8.GetString(line));

        Assert.Equal(expected, lines);
        Assert.Equal(expectedStatus, status);
        if (status == LineStatus.NeedMoreData)
            Assert.Equal(Encoding.UTF8.GetString(sequence), Encoding.UTF8.GetString(span));
    }

    [Fact]
    public void SplitsOnNewlineDropsCarriageReturnAndSkipsBlankLines()
    {
        var buffer = Sequence("{\"a\":1}\r\n\n\r\n   \t\r\n{\"b\":2}\n{\"c\"", ":3}\n{\"partial\"");
        var lines = DrainFramer(ref buffer, 8192, out var last);
        Assert.Equal(["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"], lines);
        Assert.Equal(LineStatus.NeedMoreData, last);
        Assert.Equal("{\"partial\"", Encoding.UTF8.GetString(buffer));
    }

    [Fact]
    public void LineOfExactlyTheCapPassesAndOneMoreByteIsTooLong()
    {
        var atCap = new string('x', 100);
        var buffer = Sequence(atCap + "\r\n");
        Assert.Equal([atCap], DrainFramer(ref buffer, 100, out _));

        buffer = Sequence(atCap + "y\n{\"next\":1}\n");
        Assert.Empty(DrainFramer(ref buffer, 100, out var status));
        Assert.Equal(LineStatus.LineTooLong, status);
    }

    [Fact]
    public void PartialLineBeyondTheCapIsTooLongWithoutWaitingForItsEnd()
    {
        // cap + '\r' may still be a legal line waiting for its '\n'; one byte more cannot be.
        var buffer = Sequence(new string('x', 100) + "\r");
        DrainFramer(ref buffer, 100, out var status);
        Assert.Equal(LineStatus.NeedMoreData, status);

        buffer = Sequence(new string('x', 60), new string('x', 42));
        DrainFramer(ref buffer, 100, out status);
        Assert.Equal(LineStatus.LineTooLong, status);
    }

    [Fact]
    public void CarriageReturnSplitFromItsNewlineAcrossSegmentsIsDropped()
    {
        var buffer = Sequence("{\"a\":1}\r", "\n{\"b\":2}\r", "\n");
        Assert.Equal(["{\"a\":1}", "{\"b\":2}"], DrainFramer(ref buffer, 8192, out _));
    }

    [Fact]
    public async Task ReaderYieldsEveryLineWhateverTheChunking()
    {
        var session = CapturedSession.Load(CapturedSession.Files[0]);
        var expected = session.Sent.Select(m => m.GetRawText()).ToList();
        var wire = Encoding.UTF8.GetBytes(string.Concat(expected.Select((l, i) => l + (i % 2 == 0 ? "\n" : "\r\n"))));

        foreach (var chunk in new[] { 1, 2, 3, 7, 64, 1000, wire.Length })
        {
            var pipe = new Pipe();
            var writing = Task.Run(async () =>
            {
                for (var offset = 0; offset < wire.Length; offset += chunk)
                    await pipe.Writer.WriteAsync(wire.AsMemory(offset, Math.Min(chunk, wire.Length - offset)));
                await pipe.Writer.CompleteAsync();
            });

            var lines = new List<string>();
            using (var reader = new StratumLineReader(pipe.Reader))
            {
                bool more;
                do
                {
                    more = await reader.ReadAsync();
                    LineStatus status;
                    while ((status = reader.TryReadLine(out var line)) == LineStatus.Line)
                        lines.Add(Encoding.UTF8.GetString(line));
                    Assert.Equal(LineStatus.NeedMoreData, status);
                } while (more);
            }
            await writing;
            Assert.Equal(expected, lines);
        }
    }

    [Fact]
    public async Task LineLongerThanAPipeSegmentComesBackWholeAndContiguous()
    {
        // 6000 bytes spans the pipe's 4 KB segments, so the reader must stitch it together.
        var pipe = new Pipe();
        var longLine = "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"" + new string('a', 5950) + "\"]}";
        var bytes = Encoding.UTF8.GetBytes(longLine + "\n{\"id\":2}\n");
        await pipe.Writer.WriteAsync(bytes.AsMemory(0, 3000));
        using var reader = new StratumLineReader(pipe.Reader);
        Assert.True(await reader.ReadAsync());
        Assert.Equal(LineStatus.NeedMoreData, reader.TryReadLine(out _));
        await pipe.Writer.WriteAsync(bytes.AsMemory(3000));
        await pipe.Writer.CompleteAsync();

        var lines = new List<string>();
        bool more;
        do
        {
            more = await reader.ReadAsync();
            while (reader.TryReadLine(out var line) == LineStatus.Line)
                lines.Add(Encoding.UTF8.GetString(line));
        } while (more);
        Assert.Equal([longLine, "{\"id\":2}"], lines);
    }

    [Fact]
    public async Task OverlongLineIsReportedAndNotBuffered()
    {
        var pipe = new Pipe();
        using var reader = new StratumLineReader(pipe.Reader, maxLineLength: 8192);
        // A peer streaming bytes with no newline: reported as soon as it passes the cap.
        var garbage = new byte[4096];
        Array.Fill(garbage, (byte)'x');
        LineStatus status = LineStatus.NeedMoreData;
        for (var sent = 0; sent < 5 && status != LineStatus.LineTooLong; sent++)
        {
            await pipe.Writer.WriteAsync(garbage);
            await reader.ReadAsync();
            status = reader.TryReadLine(out _);
        }
        Assert.Equal(LineStatus.LineTooLong, status);
    }

    [Fact]
    public async Task LinesNotTakenBeforeTheNextReadAreStillReturned()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync("{\"a\":1}\n{\"b\":2}\n"u8.ToArray());
        using var reader = new StratumLineReader(pipe.Reader);
        await reader.ReadAsync();
        Assert.Equal(LineStatus.Line, reader.TryReadLine(out var first));
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(first));

        // Reading again without draining must not wait for new bytes: the second line is already here.
        // (WaitAsync throws TimeoutException if ReadAsync waited although a complete line was buffered.)
        await reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(LineStatus.Line, reader.TryReadLine(out var second));
        Assert.Equal("{\"b\":2}", Encoding.UTF8.GetString(second));
    }

    [Fact]
    public async Task EndOfStreamDropsATrailingPartialLine()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync("{\"a\":1}\n{\"unfinished\""u8.ToArray());
        await pipe.Writer.CompleteAsync();
        using var reader = new StratumLineReader(pipe.Reader);
        Assert.False(await reader.ReadAsync());
        Assert.Equal(LineStatus.Line, reader.TryReadLine(out var line));
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(line));
        Assert.Equal(LineStatus.NeedMoreData, reader.TryReadLine(out _));
    }

    [Fact]
    public void RejectsANonPositiveCap()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StratumLineReader(new Pipe().Reader, 0));
    }
}
