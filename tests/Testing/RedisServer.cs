using System.Net;
using System.Net.Sockets;
using System.Text;
using PoolCluster.Storage;
using PoolCluster.Testing.ServerProcesses;

namespace PoolCluster.Testing;

/// <summary>
/// A real redis-server for tests: a free port on 127.0.0.1, a random password, no persistence (--save "",
/// --appendonly no), a temp dir under /tmp. Stop/Kill and Start simulate a Redis outage on the same port (the data
/// is gone after a restart, as with the pool's real no-persistence Redis). Dispose kills it and deletes the dir; a
/// killed test process takes the server with it. Most tests want <see cref="RedisFixture"/> (one shared server per
/// test assembly, isolated by key prefix).
/// </summary>
public sealed class RedisServer : LocalTestServer
{
    private RedisServer(string rootDirectory, bool isShared)
        : base(rootDirectory, isShared)
    {
    }

    public string LogPath => Path.Combine(RootDirectory, "redis.log");

    /// <summary>StackExchange.Redis configuration string without the password ("127.0.0.1:port").</summary>
    public string Configuration => $"{Host}:{Port}";

    private protected override string Kind => "Redis";
    private protected override string Executable => "redis-server";
    private protected override string DebianPackage => "redis-server";
    private protected override string LogFile => LogPath;
    private protected override TimeSpan StartTimeout => TimeSpan.FromSeconds(30);
    private protected override TimeSpan StopTimeout => TimeSpan.FromSeconds(30);
    private protected override string ReadyMeans => "answer PING";

    /// <summary>Starts a private server; use it for tests that stop or kill Redis.</summary>
    public static RedisServer StartNew() => StartNew(isShared: false);

    internal static RedisServer StartNew(bool isShared) => StartOnFreePort(new RedisServer(ServerDirectories.Create("redis"), isShared));

    /// <summary>The options a service would bind from its "Redis" section, with the given key prefix.</summary>
    public RedisOptions CreateOptions(string keyPrefix = "btc") => new()
    {
        Configuration = Configuration,
        Password = Password,
        KeyPrefix = keyPrefix,
        ConnectTimeoutMilliseconds = 2000,
        SyncTimeoutMilliseconds = 2000,
    };

    private protected override IReadOnlyList<string> Arguments() =>
    [
        "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--bind", Host,
        "--requirepass", Password,
        // The pool's Redis holds derived, rebuildable state: no RDB snapshots, no AOF.
        "--save", "",
        "--appendonly", "no",
        "--dir", RootDirectory,
        "--logfile", LogPath,
        "--daemonize", "no",
    ];

    /// <summary>Authenticates and PINGs over the wire protocol, so "ready" means ready for a client with the password.</summary>
    private protected override bool IsReady()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            client.ReceiveTimeout = 2000;
            using var stream = client.GetStream();
            stream.Write(Encoding.ASCII.GetBytes($"AUTH {Password}\r\nPING\r\n"));
            var reply = new StringBuilder();
            var buffer = new byte[256];
            while (!reply.ToString().Contains("\r\n+PONG\r\n", StringComparison.Ordinal) && !reply.ToString().StartsWith('-'))
            {
                var n = stream.Read(buffer);
                if (n == 0)
                    return false;
                reply.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
            return reply.ToString() == "+OK\r\n+PONG\r\n";
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return false;
        }
    }
}
