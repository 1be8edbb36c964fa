using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace PoolCluster.Stratum.Tests;

/// <summary>
/// The protocol layer end to end over a real loopback TCP connection: the recorded cpuminer requests go over the
/// wire in odd-sized pieces, a minimal server loop frames, parses and answers them, and the client checks the answers.
/// </summary>
public class SocketSessionTests
{
    [Fact]
    public async Task RecordedCpuminerSessionIsAnsweredOverTcp()
    {
        var session = CapturedSession.Load(CapturedSession.Files[1]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var serving = ServeOneAsync(listener, session.Extranonce2Size, Convert.FromHexString(session.Extranonce1Hex), timeout.Token);

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        var stream = client.GetStream();
        var wire = Encoding.UTF8.GetBytes(string.Concat(session.Sent.Select(m => m.GetRawText() + "\r\n")) + "\x16\x03\x01 not json\n");
        var random = new Random(7);
        for (var offset = 0; offset < wire.Length;)
        {
            var take = Math.Min(random.Next(1, 200), wire.Length - offset);
            await stream.WriteAsync(wire.AsMemory(offset, take), timeout.Token);
            offset += take;
        }
        client.Client.Shutdown(SocketShutdown.Send);

        var answers = new List<JsonElement>();
        using (var reader = new StreamReader(stream, Encoding.UTF8))
        {
            while (await reader.ReadLineAsync(timeout.Token) is { } line)
                answers.Add(JsonDocument.Parse(line).RootElement.Clone());
        }
        await serving;

        // subscribe, authorize, every submit, then the garbage line.
        Assert.Equal(session.Sent.Count + 1, answers.Count);
        for (var i = 0; i < session.Sent.Count; i++)
            Assert.Equal(session.Sent[i].GetProperty("id").GetRawText(), answers[i].GetProperty("id").GetRawText());
        Assert.Equal(JsonValueKind.Array, answers[0].GetProperty("result").ValueKind);
        Assert.All(answers.Skip(1).Take(session.Sent.Count - 1), a => Assert.True(a.GetProperty("result").GetBoolean()));
        var garbage = answers[^1];
        Assert.Equal(JsonValueKind.Null, garbage.GetProperty("id").ValueKind);
        Assert.Equal(27, garbage.GetProperty("error")[0].GetInt32());
    }

    private static async Task ServeOneAsync(TcpListener listener, int extranonce2Size, byte[] extranonce1, CancellationToken ct)
    {
        using var socket = await listener.AcceptSocketAsync(ct);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var input = PipeReader.Create(stream);
        var output = PipeWriter.Create(stream);
        using var lines = new StratumLineReader(input);
        bool more;
        do
        {
            more = await lines.ReadAsync(ct);
            LineStatus status;
            while ((status = lines.TryReadLine(out var line)) == LineStatus.Line)
                Answer(line, output, extranonce2Size, extranonce1);
            Assert.NotEqual(LineStatus.LineTooLong, status);
            await output.FlushAsync(ct);
        } while (more);
        await output.CompleteAsync();
        await input.CompleteAsync();
        socket.Shutdown(SocketShutdown.Send);
    }

    private static void Answer(ReadOnlySpan<byte> line, PipeWriter output, int extranonce2Size, byte[] extranonce1)
    {
        var request = StratumRequest.Parse(line);
        if (!request.IsValid)
        {
            StratumWriter.WriteError(output, request.Id, request.Error);
            return;
        }
        switch (request.Method)
        {
            case StratumMethod.Subscribe:
                StratumWriter.WriteSubscribeResult(output, request.Id, "0000000a"u8, extranonce1, extranonce2Size);
                break;
            case StratumMethod.Authorize:
                var authorizeError = request.ParseAuthorize(out _);
                WriteOutcome(output, request.Id, authorizeError);
                break;
            case StratumMethod.Submit:
                var submitError = request.ParseSubmit(extranonce2Size, out _);
                WriteOutcome(output, request.Id, submitError);
                break;
            default:
                StratumWriter.WriteError(output, request.Id, StratumErrorCode.IllegalMethod);
                break;
        }
    }

    private static void WriteOutcome(PipeWriter output, ReadOnlySpan<byte> id, StratumParseError error)
    {
        if (error.IsError)
            StratumWriter.WriteError(output, id, error);
        else
            StratumWriter.WriteResult(output, id, true);
    }
}
