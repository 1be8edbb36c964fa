using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace PoolCluster.SServer.Tests;

/// <summary>Whatever arrives on the socket, the server stays up and the limits hold; each over real sockets.</summary>
public class RobustnessTests
{
    [Theory]
    [InlineData(StratumIoEngine.Epoll)]
    [InlineData(StratumIoEngine.Sockets)]
    public async Task A_line_over_the_cap_disconnects(StratumIoEngine engine)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.IoEngine = engine;
            o.Limits.MaxLineBytes = 1024;
        });
        await using var complete = await server.ConnectAsync();
        await complete.SendAsync("{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"" + new string('a', 2000) + "\"]}");
        Assert.True(await complete.WaitClosedAsync());

        // A partial line that never ends is cut off too, without waiting for its end.
        await using var endless = await server.ConnectAsync();
        await endless.SendRawAsync(Encoding.ASCII.GetBytes("{\"id\":1," + new string(' ', 3000)));
        Assert.True(await endless.WaitClosedAsync());
        Assert.Equal(2, server.Server.Counters.GarbageDisconnects);

        // Lines up to the cap are fine.
        await using var fine = await server.ConnectAsync();
        Assert.True((await fine.RequestAsync("mining.extranonce.subscribe", "[\"" + new string('b', 900) + "\"]")).GetProperty("result").GetBoolean());
    }

    [Theory]
    [InlineData(StratumIoEngine.Epoll)]
    [InlineData(StratumIoEngine.Sockets)]
    public async Task Garbage_is_answered_with_illegal_params_then_disconnected_after_a_few(StratumIoEngine engine)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.IoEngine = engine;
            o.Limits.MaxInvalidLines = 3;
        });
        await using var client = await server.ConnectAsync();
        await client.SendRawAsync([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, (byte)'\n']); // a TLS hello's start
        StratumTestClient.AssertError((await client.NextAsync())!.Value, 27);
        await client.SendAsync("GET / HTTP/1.1");
        StratumTestClient.AssertError((await client.NextAsync())!.Value, 27);
        // A valid request in between is still answered.
        Assert.True((await client.RequestAsync("mining.extranonce.subscribe", "[]")).GetProperty("result").GetBoolean());
        await client.SendAsync("{\"id\":9,\"method\":\"mining.subscribe\",\"params\":[}");
        var third = (await client.NextAsync())!.Value;
        StratumTestClient.AssertError(third, 27);
        Assert.Contains("not valid JSON", third.GetProperty("error")[1].GetString());
        Assert.True(await client.WaitClosedAsync());
        Assert.Empty(client.Unparsable);
        Assert.Equal(1, server.Server.Counters.GarbageDisconnects);
    }

    [Fact]
    public async Task Silent_and_trickling_clients_time_out_before_authorize_and_idle_ones_after()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Limits.UnauthorizedTimeoutSeconds = 1;
            o.Limits.IdleTimeoutSeconds = 3;
        });
        server.Feed(TestJobs.Mainnet());
        await using var silent = await server.ConnectAsync();
        await using var trickling = await server.ConnectAsync();
        await using var miner = await server.ConnectAsync();
        await miner.LoginAsync();
        var trickle = Task.Run(async () =>
        {
            // One byte every 200 ms: never a complete line before the deadline.
            foreach (var b in "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}"u8.ToArray())
            {
                try
                {
                    await trickling.SendRawAsync([b]);
                }
                catch (IOException)
                {
                    return;
                }
                await Task.Delay(200);
            }
        });
        var started = DateTime.UtcNow;
        Assert.True(await silent.WaitClosedAsync(TimeSpan.FromSeconds(5)));
        Assert.True(await trickling.WaitClosedAsync(TimeSpan.FromSeconds(5)));
        Assert.InRange((DateTime.UtcNow - started).TotalSeconds, 0.5, 2.5);
        await trickle;

        // The authorized miner is still there after the short timeout, and goes after the idle one.
        Assert.Single(server.Server.Sessions);
        Assert.True(await miner.WaitClosedAsync(TimeSpan.FromSeconds(6)));
        Assert.InRange((DateTime.UtcNow - started).TotalSeconds, 2.5, 5);
        Assert.Equal(3, server.Server.Counters.Timeouts);
    }

    [Theory]
    [InlineData(StratumIoEngine.Epoll)]
    [InlineData(StratumIoEngine.Sockets)]
    public async Task A_client_that_does_not_read_is_dropped_not_buffered(StratumIoEngine engine)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.IoEngine = engine;
            o.Limits.MaxSendQueueBytes = 64 * 1024;
            o.Limits.MaxLineBytes = 16 * 1024;
        });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(IPAddress.Loopback, server.Port);
        // Each request's answer echoes its 15 KB method name: the answers pile up on a client that never reads.
        var request = Encoding.ASCII.GetBytes("{\"id\":1,\"method\":\"" + new string('m', 15_000) + "\",\"params\":[]}\n");
        var sent = 0;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (server.Server.Counters.SlowClientsDropped == 0 && sent < 5000)
            {
                await socket.SendAsync(request, SocketFlags.None, timeout.Token);
                sent++;
            }
        }
        catch (SocketException)
        {
            // The server closed the connection while we were still sending: that is the point.
        }
        await TestServer.WaitUntilAsync(() => server.Server.Counters.SlowClientsDropped == 1, "the slow client to be dropped");
        await TestServer.WaitUntilAsync(() => server.Server.Sessions.Count == 0, "the session to go");
        Assert.True(sent < 5000);
    }

    [Fact]
    public async Task Connection_limits_total_and_per_ip()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Limits.MaxConnections = 4;
            o.Limits.MaxConnectionsPerIp = 2;
        });
        var kept = new List<StratumTestClient>();
        kept.Add(await server.ConnectAsync());
        kept.Add(await StratumTestClient.ConnectAsync(server.Port));
        Assert.NotEmpty((await kept[1].SubscribeAsync()).Extranonce1);
        await using (var thirdFromSameIp = await server.ConnectAsync())
            Assert.True(await thirdFromSameIp.WaitClosedAsync());
        kept.Add(await StratumTestClient.ConnectAsync(server.Port, IPAddress.Parse("127.0.0.2")));
        kept.Add(await StratumTestClient.ConnectAsync(server.Port, IPAddress.Parse("127.0.0.3")));
        Assert.NotEmpty((await kept[3].SubscribeAsync()).Extranonce1);
        await using (var overTotal = await StratumTestClient.ConnectAsync(server.Port, IPAddress.Parse("127.0.0.4")))
            Assert.True(await overTotal.WaitClosedAsync());
        Assert.Equal(2, server.Server.Counters.ConnectionsRefused);

        // A slot freed is a slot available again.
        await kept[0].DisposeAsync();
        await TestServer.WaitUntilAsync(() => server.Server.Gate.Total == 3, "the closed connection to be released");
        await using var again = await server.ConnectAsync();
        Assert.NotEmpty((await again.SubscribeAsync()).Extranonce1);
        foreach (var client in kept.Skip(1))
            await client.DisposeAsync();
    }

    [Fact]
    public async Task Invalid_share_floods_ban_the_ip()
    {
        await using var server = await TestServer.StartAsync(o => o.Ban.MaxInvalidSharesPerMinute = 5);
        server.Feed(TestJobs.Mainnet());
        await using var flooder = await server.ConnectAsync();
        await flooder.LoginAsync();
        var wire = (await flooder.NotificationAsync("mining.notify")).GetProperty("params")[0].GetString()!;
        for (var i = 0; i < 5; i++)
            StratumTestClient.AssertError(await flooder.SubmitAsync(wire, "00000000", "59a70bb9", i.ToString("x8")), 23);
        StratumTestClient.AssertError(await flooder.SubmitAsync(wire, "00000000", "59a70bb9", "000000ff"), 23);
        Assert.True(await flooder.WaitClosedAsync());
        Assert.Equal(1, server.Server.Counters.Bans);

        await using (var sameIp = await server.ConnectAsync())
            Assert.True(await sameIp.WaitClosedAsync());
        await using var otherIp = await StratumTestClient.ConnectAsync(server.Port, IPAddress.Parse("127.0.0.5"));
        Assert.NotEmpty((await otherIp.SubscribeAsync()).Extranonce1);
    }

    [Fact]
    public async Task Repeated_garbage_bans_the_ip()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Limits.MaxInvalidLines = 1;
            o.Ban.StrikesToBan = 2;
        });
        var from = IPAddress.Parse("127.0.0.6");
        for (var i = 0; i < 2; i++)
        {
            await using var client = await StratumTestClient.ConnectAsync(server.Port, from);
            await client.SendAsync("garbage");
            Assert.True(await client.WaitClosedAsync());
        }
        Assert.Equal(1, server.Server.Counters.Bans);
        await using var banned = await StratumTestClient.ConnectAsync(server.Port, from);
        Assert.True(await banned.WaitClosedAsync());
        await TestServer.WaitUntilAsync(() => server.Server.Sessions.Count == 0, "the garbage connections to be cleaned up");
        Assert.Equal(3, server.Server.Counters.ConnectionsAccepted + server.Server.Counters.ConnectionsRefused);
        Assert.Equal(1, server.Server.Counters.ConnectionsRefused);
    }

    [Fact]
    public async Task Proxy_protocol_header_gives_the_real_client_address_for_limits()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ProxyProtocol = true;
            o.Limits.MaxConnectionsPerIp = 1;
        });
        server.Feed(TestJobs.Mainnet());
        await using var proxied = await StratumTestClient.ConnectAsync(server.Port,
            preamble: "PROXY TCP4 203.0.113.7 198.51.100.1 51234 3333\r\n"u8.ToArray());
        await proxied.LoginAsync();
        Assert.Equal(IPAddress.Parse("203.0.113.7"), server.Server.Sessions.Single().Connection.RemoteEndPoint.Address);

        // Same real client again: over its per-IP limit, though the balancer's address is the same for all.
        await using (var second = await StratumTestClient.ConnectAsync(server.Port,
                         preamble: "PROXY TCP4 203.0.113.7 198.51.100.1 51235 3333\r\n"u8.ToArray()))
            Assert.True(await second.WaitClosedAsync());
        await using var other = await StratumTestClient.ConnectAsync(server.Port,
            preamble: "PROXY TCP6 2001:db8::1 2001:db8::2 40000 3333\r\n"u8.ToArray());
        Assert.NotEmpty((await other.SubscribeAsync()).Extranonce1);

        // Without the header the connection is not stratum from a known client.
        await using var direct = await server.ConnectAsync();
        await direct.SendAsync("{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}");
        Assert.True(await direct.WaitClosedAsync());
    }

    [Fact]
    public async Task Tls_listener_speaks_stratum_with_a_certificate_from_a_file()
    {
        var directory = Directory.CreateTempSubdirectory("sserver-tls-");
        try
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            var path = Path.Combine(directory.FullName, "stratum.pfx");
            await File.WriteAllBytesAsync(path, certificate.Export(X509ContentType.Pfx, "secret"));

            await using var server = await TestServer.StartAsync(o =>
            {
                o.Port = -1;
                o.Tls.Port = FreePort();
                o.Tls.CertificatePath = path;
                o.Tls.CertificatePassword = "secret";
            });
            var job = TestJobs.Mainnet();
            server.Feed(job);
            Assert.Equal(-1, server.Server.Port);
            await using var client = await StratumTestClient.ConnectAsync(server.Server.TlsPort, tls: true);
            var extranonce1 = await client.LoginAsync("alice.tls", "d=0.000000001");
            var wire = (await client.NotificationAsync("mining.notify")).GetProperty("params")[0].GetString()!;
            var share = TestJobs.Mine(job, extranonce1, 1e-9, r => r.IsValid);
            Assert.True((await client.SubmitAsync(wire, share.Extranonce2, share.NTime, share.Nonce)).GetProperty("result").GetBoolean());
            Assert.True(server.Server.Sessions.Single().Connection.IsTls);

            // Plain text on the TLS port is a failed handshake, not a crash.
            await using var plain = await StratumTestClient.ConnectAsync(server.Server.TlsPort);
            await plain.SendAsync("{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}");
            Assert.True(await plain.WaitClosedAsync());
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Graceful_stop_asks_miners_to_reconnect_and_waits_for_them()
    {
        var server = await TestServer.StartAsync(o => o.DrainSeconds = 10);
        server.Feed(TestJobs.Mainnet());
        var miners = new List<StratumTestClient>();
        for (var i = 0; i < 3; i++)
        {
            var miner = await server.ConnectAsync();
            await miner.LoginAsync($"alice.m{i}");
            miners.Add(miner);
        }
        var port = server.Port;
        var started = DateTime.UtcNow;
        var stopping = server.Server.StopAsync();
        foreach (var miner in miners)
        {
            await miner.NotificationAsync("client.reconnect");
            await miner.DisposeAsync(); // a miner follows the request
        }
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "the drain did not end when the miners had gone");
        Assert.Empty(server.Server.Sessions);
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var late = await StratumTestClient.ConnectAsync(port);
            await late.SubscribeAsync();
        });
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Idle_connections_hold_no_receive_buffer()
    {
        await using var server = await TestServer.StartAsync();
        server.Feed(TestJobs.Mainnet());
        await using var client = await server.ConnectAsync();
        await client.LoginAsync();
        await client.NotificationAsync("mining.notify");
        var connection = server.Server.Sessions.Single().Connection;
        await TestServer.WaitUntilAsync(() => !connection.HoldsReceiveBuffer, "the receive buffer to be returned");
        // Half a line keeps it (the rest is still to come), the other half releases it again.
        await client.SendRawAsync("{\"id\":5,\"method\":\"mining.extra"u8.ToArray());
        await TestServer.WaitUntilAsync(() => connection.HoldsReceiveBuffer, "the partial line to be held");
        await client.SendRawAsync("nonce.subscribe\",\"params\":[]}\n"u8.ToArray());
        Assert.True((await client.ResponseAsync("5")).GetProperty("result").GetBoolean());
        await TestServer.WaitUntilAsync(() => !connection.HoldsReceiveBuffer, "the receive buffer to be returned");
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
