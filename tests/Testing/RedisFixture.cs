using PoolCluster.Storage;

namespace PoolCluster.Testing;

/// <summary>
/// xunit fixture for the test assembly's one shared Redis server (IClassFixture&lt;RedisFixture&gt;). The server starts
/// on first use and is killed when the test process exits. Tests isolate themselves by key prefix: every
/// <see cref="CreateOptions"/> call returns options with a fresh prefix. Tests that stop Redis start a private
/// <see cref="RedisServer"/> (the shared one refuses).
/// </summary>
public sealed class RedisFixture : IDisposable
{
    private static readonly Lazy<RedisServer> Shared = new(() =>
    {
        var server = RedisServer.StartNew(isShared: true);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAtProcessExit();
        return server;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    public RedisFixture() => Server = Shared.Value;

    public RedisServer Server { get; }

    /// <summary>Options for the shared server with a unique key prefix ("btc-&lt;random&gt;").</summary>
    public RedisOptions CreateOptions() => Server.CreateOptions(UniqueKeyPrefix());

    public static string UniqueKeyPrefix(string stem = "btc") => $"{stem}-{LocalTestServer.RandomToken(10).ToLowerInvariant()}";

    public void Dispose()
    {
        // The shared server outlives fixtures; the keys die with it.
    }
}
