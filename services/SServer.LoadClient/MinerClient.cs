using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PoolCluster.SServer.LoadClient;

/// <summary>One lightweight stratum connection: line reading with a small buffer, just enough parsing to mine and to time jobs.</summary>
internal sealed class MinerClient
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _count;
    private readonly TaskCompletionSource _loggedIn = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public MinerClient(IPAddress source)
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socket.Bind(new IPEndPoint(source, 0));
    }

    public uint Extranonce1 { get; private set; }
    public int Extranonce2Size { get; private set; }
    public volatile string? JobId;
    public volatile string? NTime;
    public long Accepted;
    public long Rejected;

    /// <summary>Called for every mining.notify: the job id and the wall-clock arrival time in microseconds.</summary>
    public Action<string, long>? OnNotify { get; set; }

    public async Task ConnectAndLoginAsync(IPEndPoint server, string login, string password, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _socket.ConnectAsync(server, cts.Token);
        _ = ReadLoopAsync();
        await SendAsync($"{{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"loadclient/1.0\"]}}\n{{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"{login}\",\"{password}\"]}}\n");
        await _loggedIn.Task.WaitAsync(cts.Token);
    }

    public async Task SendAsync(string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        for (var sent = 0; sent < bytes.Length;)
            sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
    }

    public void Close()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        _socket.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var read = await _socket.ReceiveAsync(_buffer.AsMemory(_count), SocketFlags.None);
                if (read == 0)
                    break;
                _count += read;
                var start = 0;
                int newline;
                while ((newline = Array.IndexOf(_buffer, (byte)'\n', start, _count - start)) >= 0)
                {
                    HandleLine(_buffer.AsSpan(start, newline - start));
                    start = newline + 1;
                }
                Buffer.BlockCopy(_buffer, start, _buffer, 0, _count - start);
                _count -= start;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        _loggedIn.TrySetException(new IOException("connection closed"));
    }

    private void HandleLine(ReadOnlySpan<byte> line)
    {
        if (line.IndexOf("\"method\":\"mining.notify\""u8) >= 0)
        {
            var arrived = Stats.UnixMicros();
            var paramsAt = line.IndexOf("\"params\":[\""u8) + 11;
            var jobId = Encoding.ASCII.GetString(line[paramsAt..][..line[paramsAt..].IndexOf((byte)'"')]);
            // ntime: the 8th param, the 3rd quoted string from the end ("version","nbits","ntime",clean]).
            var end = line.LastIndexOf((byte)'"');
            var ntimeEnd = end;
            var ntimeStart = line[..ntimeEnd].LastIndexOf((byte)'"') + 1;
            NTime = Encoding.ASCII.GetString(line[ntimeStart..ntimeEnd]);
            JobId = jobId;
            OnNotify?.Invoke(jobId, arrived);
            _loggedIn.TrySetResult();
            return;
        }
        if (line.IndexOf("\"method\""u8) >= 0)
            return; // set_difficulty and other notifications
        if (line.StartsWith("{\"id\":1,"u8))
        {
            // [[["mining.set_difficulty","id"],["mining.notify","id"]],"extranonce1",size]
            var tail = line[line.IndexOf("]],\""u8)..];
            var extranonce1 = tail.Slice(4, 8);
            Extranonce1 = Convert.ToUInt32(Encoding.ASCII.GetString(extranonce1), 16);
            Utf8Parser.TryParse(tail[14..], out int size, out _);
            Extranonce2Size = size;
            return;
        }
        if (line.StartsWith("{\"id\":2,"u8))
        {
            if (line.IndexOf("\"result\":true"u8) < 0)
                _loggedIn.TrySetException(new InvalidOperationException("authorize refused: " + Encoding.ASCII.GetString(line)));
            return;
        }
        if (line.IndexOf("\"result\":true"u8) >= 0)
            Interlocked.Increment(ref Accepted);
        else
            Interlocked.Increment(ref Rejected);
    }
}
