using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PoolCluster.Networking;

namespace PoolCluster.SServer.LoadClient;

/// <summary>
/// One lightweight stratum connection: just enough parsing to mine and to time jobs. Reading runs on shared epoll
/// loops (one per core, as SServer's own), so 15,000 clients cost the measurement little CPU and the arrival times
/// of a job are taken the moment the bytes are read, not after a thread-pool hop.
/// </summary>
internal sealed class MinerClient : IEpollHandler
{
    private static readonly Lazy<EpollLoop[]> s_loops = new(() => Enumerable.Range(0, Environment.ProcessorCount)
        .Select(i => new EpollLoop($"client-io-{i}", 64 * 1024, e => Console.Error.WriteLine($"client loop: {e}"))).ToArray());
    private static int s_next;

    private readonly Socket _socket;
    private readonly EpollLoop _loop;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _count;
    private ulong _registration;
    private bool _closed;
    private readonly TaskCompletionSource _loggedIn = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public MinerClient(IPAddress source)
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socket.Bind(new IPEndPoint(source, 0));
        var loops = s_loops.Value;
        _loop = loops[(int)((uint)Interlocked.Increment(ref s_next) % loops.Length)];
    }

    private int Fd => (int)_socket.SafeHandle.DangerousGetHandle();

    public uint Extranonce1 { get; private set; }
    public int Extranonce2Size { get; private set; }
    public volatile string? JobId;
    public volatile string? NTime;
    public long Accepted;
    public long Rejected;

    /// <summary>Called (on a loop thread) for every mining.notify: the job id and the wall-clock arrival time in microseconds.</summary>
    public Action<string, long>? OnNotify { get; set; }

    public async Task ConnectAndLoginAsync(IPEndPoint server, string login, string password, TimeSpan timeout)
    {
        // A blocking connect (instant on loopback): .NET's own async socket engine never sees this socket.
        await Task.Run(() => _socket.Connect(server));
        _socket.Blocking = false;
        _loop.Post(static state =>
        {
            var client = (MinerClient)state!;
            client._registration = client._loop.Register(client.Fd, EpollEvents.Readable, client);
        }, this);
        await SendAsync($"{{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"loadclient/1.0\"]}}\n{{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"{login}\",\"{password}\"]}}\n");
        await _loggedIn.Task.WaitAsync(timeout);
    }

    /// <summary>Sends at once (the loopback socket buffer takes it; a full one is waited out).</summary>
    public Task SendAsync(string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        lock (this)
        {
            for (var sent = 0; sent < bytes.Length && !_closed;)
            {
                var n = LinuxSockets.Send(Fd, bytes.AsSpan(sent));
                if (n > 0)
                    sent += n;
                else if (n == -LinuxSockets.EAGAIN)
                    Thread.Yield();
                else
                    throw new IOException($"send failed: errno {-n}");
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops reading (the socket stays open and the kernel keeps taking what the server sends into its buffer): a
    /// broadcast then measures the server's sends alone, without these clients' reads competing for the same cores.
    /// </summary>
    public void StopReading() => _loop.Post(static state =>
    {
        var client = (MinerClient)state!;
        client._loop.Unregister(client._registration, client.Fd);
    }, this);

    public void Close()
    {
        lock (this)
        {
            if (_closed)
                return;
            _closed = true;
            LinuxSockets.Shutdown(Fd, LinuxSockets.SHUT_RDWR);
        }
    }

    public void OnEvents(EpollEvents events)
    {
        var read = LinuxSockets.Receive(Fd, _buffer.AsSpan(_count));
        if (read == -LinuxSockets.EAGAIN)
            return;
        if (read <= 0)
        {
            _loop.Unregister(_registration, Fd);
            lock (this)
            {
                _closed = true;
                _socket.Dispose();
            }
            _loggedIn.TrySetException(new IOException("connection closed"));
            return;
        }
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
