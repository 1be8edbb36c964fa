using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace PoolCluster.SServer.Tests;

/// <summary>
/// A miner's side of a stratum connection over a real socket: sends lines, reads every message the server sends,
/// and sorts them into responses (by id) and notifications. Every wait is bounded.
/// </summary>
internal sealed class StratumTestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly Channel<JsonElement?> _incoming = Channel.CreateUnbounded<JsonElement?>();
    private readonly List<JsonElement> _notifications = [];
    private readonly Task _reader;
    private int _nextId = 100;
    private bool _closed;

    private StratumTestClient(Socket socket, Stream stream)
    {
        _socket = socket;
        _stream = stream;
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>Notifications received so far (set_difficulty, notify, set_version_mask, ...), in order.</summary>
    public IReadOnlyList<JsonElement> Notifications => _notifications;

    /// <summary>Raw lines that were not JSON (never expected from the server).</summary>
    public List<string> Unparsable { get; } = [];

    public static async Task<StratumTestClient> ConnectAsync(int port, IPAddress? localAddress = null, bool tls = false, byte[]? preamble = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (localAddress != null)
            socket.Bind(new IPEndPoint(localAddress, 0));
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        if (preamble != null)
            await stream.WriteAsync(preamble, timeout.Token);
        if (tls)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, timeout.Token);
            stream = ssl;
        }
        return new StratumTestClient(socket, stream);
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            using var reader = new StreamReader(_stream, Encoding.UTF8, false, 1024, leaveOpen: true);
            while (await reader.ReadLineAsync() is { } line)
            {
                try
                {
                    await _incoming.Writer.WriteAsync(JsonDocument.Parse(line).RootElement.Clone());
                }
                catch (JsonException)
                {
                    lock (Unparsable)
                        Unparsable.Add(line);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
        }
        _incoming.Writer.TryWrite(null);
    }

    public Task SendAsync(string json) => SendRawAsync(Encoding.UTF8.GetBytes(json + "\n"));

    public async Task SendRawAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await _stream.WriteAsync(bytes, timeout.Token);
        await _stream.FlushAsync(timeout.Token);
    }

    /// <summary>The next message of any kind; null when the server closed the connection.</summary>
    public async Task<JsonElement?> NextAsync(TimeSpan? timeout = null)
    {
        if (_closed)
            return null;
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            var message = await _incoming.Reader.ReadAsync(cts.Token);
            if (message == null)
                _closed = true;
            return message;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no message from the server within {(timeout ?? DefaultTimeout).TotalSeconds} s");
        }
    }

    /// <summary>Reads until the response with <paramref name="id"/> (raw JSON of the id), keeping notifications on the way.</summary>
    public async Task<JsonElement> ResponseAsync(string id, TimeSpan? timeout = null)
    {
        while (true)
        {
            var message = await NextAsync(timeout) ?? throw new IOException($"connection closed before the response to id {id}");
            if (message.TryGetProperty("method", out _))
            {
                _notifications.Add(message);
                continue;
            }
            Assert.Equal(id, message.GetProperty("id").GetRawText());
            return message;
        }
    }

    /// <summary>The next notification with <paramref name="method"/> not yet taken (received before or arriving now).</summary>
    public async Task<JsonElement> NotificationAsync(string method, TimeSpan? timeout = null)
    {
        var taken = TakeNotification(method);
        if (taken != null)
            return taken.Value;
        while (true)
        {
            var message = await NextAsync(timeout) ?? throw new IOException($"connection closed before a {method}");
            if (message.TryGetProperty("method", out var m) && m.GetString() == method)
                return message;
            _notifications.Add(message);
        }
    }

    private readonly HashSet<int> _taken = [];

    private JsonElement? TakeNotification(string method)
    {
        for (var i = 0; i < _notifications.Count; i++)
        {
            if (_taken.Contains(i))
                continue;
            if (_notifications[i].GetProperty("method").GetString() == method)
            {
                _taken.Add(i);
                return _notifications[i];
            }
        }
        return null;
    }

    /// <summary>Sends a request with a fresh numeric id and returns its response.</summary>
    public async Task<JsonElement> RequestAsync(string method, string paramsJson, TimeSpan? timeout = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        await SendAsync($"{{\"id\":{id},\"method\":\"{method}\",\"params\":{paramsJson}}}");
        return await ResponseAsync(id.ToString(), timeout);
    }

    /// <summary>subscribe: returns (extranonce1 hex, extranonce2 size).</summary>
    public async Task<(string Extranonce1, int Extranonce2Size)> SubscribeAsync(string agent = "test-miner/1.0")
    {
        var response = await RequestAsync("mining.subscribe", $"[\"{agent}\"]");
        AssertNoError(response);
        var result = response.GetProperty("result");
        return (result[1].GetString()!, result[2].GetInt32());
    }

    public async Task<JsonElement> AuthorizeAsync(string login = "alice.rig1", string password = "x") =>
        await RequestAsync("mining.authorize", $"[\"{login}\",\"{password}\"]");

    /// <summary>Subscribe and authorize (asserting success); returns the extranonce1.</summary>
    public async Task<uint> LoginAsync(string login = "alice.rig1", string password = "x")
    {
        var (extranonce1, _) = await SubscribeAsync();
        var authorize = await AuthorizeAsync(login, password);
        AssertNoError(authorize);
        Assert.True(authorize.GetProperty("result").GetBoolean());
        return Convert.ToUInt32(extranonce1, 16);
    }

    public async Task<JsonElement> SubmitAsync(string jobId, string extranonce2, string ntime, string nonce, string? versionBits = null,
        string worker = "alice.rig1")
    {
        var extra = versionBits == null ? "" : $",\"{versionBits}\"";
        return await RequestAsync("mining.submit", $"[\"{worker}\",\"{jobId}\",\"{extranonce2}\",\"{ntime}\",\"{nonce}\"{extra}]");
    }

    /// <summary>Waits until the server closes the connection (reading and discarding what comes before).</summary>
    public async Task<bool> WaitClosedAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (DateTime.UtcNow < deadline)
        {
            JsonElement? message;
            try
            {
                message = await NextAsync(deadline - DateTime.UtcNow);
            }
            catch (TimeoutException)
            {
                return false;
            }
            if (message == null)
                return true;
            if (message.Value.TryGetProperty("method", out _))
                _notifications.Add(message.Value);
        }
        return false;
    }

    public static void AssertNoError(JsonElement response) =>
        Assert.True(response.GetProperty("error").ValueKind == JsonValueKind.Null, $"unexpected error: {response.GetRawText()}");

    public static void AssertError(JsonElement response, int code)
    {
        Assert.Equal(JsonValueKind.Null, response.GetProperty("result").ValueKind);
        var error = response.GetProperty("error");
        Assert.True(error.ValueKind == JsonValueKind.Array, $"expected error {code}, got {response.GetRawText()}");
        Assert.True(code == error[0].GetInt32(), $"expected error {code}, got {response.GetRawText()}");
        Assert.Equal(JsonValueKind.String, error[1].ValueKind);
        Assert.Equal(JsonValueKind.Null, error[2].ValueKind);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        await _stream.DisposeAsync();
        await _reader.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
    }
}
