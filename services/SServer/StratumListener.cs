using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace PoolCluster.SServer;

/// <summary>
/// Accepts miners' TCP connections on one port (plain or TLS) and hands each socket to the server, which checks the
/// limits and bans (<see cref="ConnectionGate"/>) and starts a <see cref="MinerConnection"/>.
/// </summary>
public sealed class StratumListener : IDisposable
{
    private readonly StratumServer _server;
    private readonly Socket _socket;
    private readonly bool _tls;
    private Task? _accepting;
    private volatile bool _stopped;

    public StratumListener(StratumServer server, IPAddress address, int port, bool tls)
    {
        _server = server;
        _tls = tls;
        _socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (address.Equals(IPAddress.IPv6Any))
            _socket.DualMode = true;
        _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _socket.Bind(new IPEndPoint(address, port));
        // A reconnect storm (a server restart behind a load balancer) arrives all at once.
        _socket.Listen(4096);
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    /// <summary>The port actually bound (the configured one, or the kernel's pick for 0).</summary>
    public int Port { get; }

    public bool IsTls => _tls;

    public void Start() => _accepting = AcceptLoopAsync();

    private async Task AcceptLoopAsync()
    {
        while (!_stopped)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (!_stopped)
            {
                // Out of file descriptors, or a connection reset before it was accepted: keep listening.
                _server.Logger.LogWarning("accept on port {Port} failed: {Reason}", Port, e.Message);
                if (e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
                    await Task.Delay(100).ConfigureAwait(false);
                continue;
            }
            catch (SocketException)
            {
                return;
            }
            _server.Accept(client, _tls);
        }
    }

    /// <summary>Stops accepting (existing connections stay).</summary>
    public void Stop()
    {
        _stopped = true;
        _socket.Dispose();
    }

    public void Dispose()
    {
        Stop();
        try
        {
            _accepting?.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }
    }
}
