using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PoolCluster.DevNode.Chain;
using PoolCluster.DevNode.Notifications;
using PoolCluster.DevNode.Rpc;

namespace PoolCluster.DevNode;

/// <summary>
/// A running DevNode: the JSON-RPC endpoint on 127.0.0.1 (Kestrel), ZMQ publishers, the mempool feeder and the
/// optional foreign miner around one <see cref="RegtestNode"/>. Start it with <see cref="StartAsync"/>; stop it
/// with <see cref="StopAsync"/>/<see cref="DisposeAsync"/> or the "stop" RPC (<see cref="Stopped"/> completes then).
/// </summary>
public sealed class DevNodeServer : IAsyncDisposable
{
    private readonly WebApplication _web;
    private readonly RpcAuthenticator _authenticator;
    private readonly ZmqNotifier _notifier;
    private readonly BlockStore? _store;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private readonly List<Task> _background = [];
    private readonly SemaphoreSlim _stopOnce = new(1, 1);
    private bool _isStopped;

    private DevNodeServer(DevNodeOptions options, string dataDir, RegtestNode node, WebApplication web, RpcAuthenticator authenticator,
        ZmqNotifier notifier, BlockStore? store, ILogger logger)
    {
        Options = options;
        DataDir = dataDir;
        Node = node;
        _web = web;
        _authenticator = authenticator;
        _notifier = notifier;
        _store = store;
        _logger = logger;
    }

    public DevNodeOptions Options { get; }

    /// <summary>The node (chain, mempool, mining) behind the RPC endpoint.</summary>
    public RegtestNode Node { get; }

    /// <summary>Absolute data directory; the chain network's files are under &lt;DataDir&gt;/regtest.</summary>
    public string DataDir { get; }

    /// <summary>The JSON-RPC URL, e.g. http://127.0.0.1:18443/ (the actual port when Rpc:Port was 0).</summary>
    public string RpcUrl { get; private set; } = "";

    public int RpcPort { get; private set; }

    /// <summary>&lt;DataDir&gt;/regtest/.cookie while the node runs (null when cookie auth is off).</summary>
    public string? CookieFile => _authenticator.CookieFile;

    /// <summary>Bound ZMQ endpoints (wildcard ports resolved), null for topics that are off.</summary>
    public string? ZmqHashBlock => _notifier.HashBlockEndpoint;

    public string? ZmqRawBlock => _notifier.RawBlockEndpoint;

    public string? ZmqHashTx => _notifier.HashTxEndpoint;

    /// <summary>Completes once the node has stopped (after <see cref="StopAsync"/> or the "stop" RPC).</summary>
    public Task Stopped => _stopped.Task;

    /// <summary>Starts a node: cookie, chain (replayed from DataDir when PersistChain), ZMQ, RPC, feeder, foreign miner.</summary>
    public static async Task<DevNodeServer> StartAsync(DevNodeOptions options, ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggerFactory ??= NullLoggerFactory.Instance;
        timeProvider ??= TimeProvider.System;
        var logger = loggerFactory.CreateLogger("PoolCluster.DevNode");
        var dataDir = Path.GetFullPath(options.DataDir);
        var networkDir = Path.Combine(dataDir, "regtest");
        Directory.CreateDirectory(networkDir);

        var disposables = new Stack<IDisposable>();
        WebApplication? web = null;
        try
        {
            var store = options.PersistChain && string.IsNullOrWhiteSpace(options.SeedTip.Hash)
                ? new BlockStore(Path.Combine(networkDir, "devnode-blocks.dat"))
                : null;
            if (store is not null)
                disposables.Push(store);
            var notifier = new ZmqNotifier(options.Zmq);
            disposables.Push(notifier);
            var node = new RegtestNode(options, notifier, store, timeProvider, logger);
            disposables.Push(node);
            var authenticator = new RpcAuthenticator(options.Rpc.User, options.Rpc.Password,
                options.Rpc.Cookie ? Path.Combine(networkDir, ".cookie") : null);
            disposables.Push(authenticator);

            DevNodeServer? server = null;
            // The "stop" reply goes out first; the shutdown starts a moment later, as bitcoind's StartShutdown does.
            var methods = new NodeRpcMethods(node, () => _ = Task.Run(async () =>
            {
                await Task.Delay(100).ConfigureAwait(false);
                if (server is not null)
                    await server.StopAsync().ConfigureAwait(false);
            })).Build();
            var handler = new JsonRpcHttpHandler(methods, authenticator, logger);

            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "PoolCluster.DevNode" });
            builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
            {
                kestrel.Listen(IPAddress.Loopback, options.Rpc.Port);
                kestrel.AddServerHeader = false;
                // A 4 MB-weight block is at most 8 MB of hex; leave room for JSON around it and batches.
                kestrel.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
            });
            builder.Services.AddSingleton(loggerFactory);
            builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(5));
            web = builder.Build();
            web.Run(context => Route(context, handler));
            server = new DevNodeServer(options, dataDir, node, web, authenticator, notifier, store, logger);
            handler.ShutdownToken = server._shutdown.Token;

            await web.StartAsync(cancellationToken).ConfigureAwait(false);
            var bound = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            server.RpcPort = new Uri(bound).Port;
            server.RpcUrl = $"http://127.0.0.1:{server.RpcPort}/";
            server.StartBackgroundWork(timeProvider);
            logger.LogInformation("DevNode (regtest) RPC on {Url}, tip {Height} {Hash}; ZMQ hashblock={HashBlock} rawblock={RawBlock} hashtx={HashTx}",
                server.RpcUrl, node.Tip.Height, node.Tip.Hash, server.ZmqHashBlock ?? "off", server.ZmqRawBlock ?? "off", server.ZmqHashTx ?? "off");
            return server;
        }
        catch
        {
            if (web is not null)
                await web.DisposeAsync().ConfigureAwait(false);
            while (disposables.Count > 0)
                disposables.Pop().Dispose();
            throw;
        }
    }

    /// <summary>bitcoind serves JSON-RPC at "/" and wallet endpoints at "/wallet/&lt;name&gt;" (DevNode has no wallet: same methods).</summary>
    private static Task Route(HttpContext context, JsonRpcHttpHandler handler)
    {
        var path = context.Request.Path.Value ?? "/";
        if (path is "" or "/" || path.StartsWith("/wallet/", StringComparison.Ordinal) || path == "/wallet")
            return handler.HandleAsync(context);
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    private void StartBackgroundWork(TimeProvider time)
    {
        if (Options.Mempool.TxPerSecond > 0)
            _background.Add(Task.Run(() => FeedMempoolAsync(time, _shutdown.Token)));
        if (Options.ForeignBlockIntervalSeconds > 0)
            _background.Add(Task.Run(() => MineForeignBlocksAsync(time, _shutdown.Token)));
    }

    /// <summary>Synthetic transactions at Mempool:TxPerSecond, in ticks of 100 ms (fractional rates accumulate).</summary>
    private async Task FeedMempoolAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        var tick = TimeSpan.FromMilliseconds(100);
        var owed = 0.0;
        var last = time.GetTimestamp();
        using var timer = new PeriodicTimer(tick, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var now = time.GetTimestamp();
                owed += Options.Mempool.TxPerSecond * time.GetElapsedTime(last, now).TotalSeconds;
                last = now;
                var count = (int)Math.Min(owed, 10_000);
                if (count > 0)
                {
                    owed -= count;
                    Node.AddSyntheticTransactions(count);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _logger.LogError(e, "mempool feeder stopped");
        }
    }

    /// <summary>Another "pool" finds a block on the tip every ForeignBlockIntervalSeconds.</summary>
    private async Task MineForeignBlocksAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        var payout = PoolCluster.Bitcoin.BitcoinAddress.Parse(Options.ForeignPayoutAddress, Regtest.Network).ScriptPubKey;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Options.ForeignBlockIntervalSeconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
                Node.Generate(1, payout, NodeRpcMethods.DefaultMaxTries, source: "foreign miner", cancellationToken: cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _logger.LogError(e, "foreign miner stopped");
        }
    }

    /// <summary>What scripts and tests need to reach this node.</summary>
    public DevNodeReadyInfo ReadyInfo => new()
    {
        RpcUrl = RpcUrl,
        RpcPort = RpcPort,
        RpcUser = Options.Rpc.User,
        CookieFile = CookieFile,
        ZmqHashBlock = ZmqHashBlock,
        ZmqRawBlock = ZmqRawBlock,
        ZmqHashTx = ZmqHashTx,
        DataDir = DataDir,
        Chain = "regtest",
        Pid = Environment.ProcessId,
    };

    /// <summary>Writes <see cref="ReadyInfo"/> as JSON to <paramref name="path"/> atomically (temporary file, then rename).</summary>
    public void WriteReadyFile(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = full + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(ReadyInfo, DevNodeReadyInfo.JsonOptions) + "\n");
        File.Move(temporary, full, overwrite: true);
    }

    /// <summary>Stops RPC (long polls answer -9 "Shutting down"), background work, ZMQ; deletes the cookie.</summary>
    public async Task StopAsync()
    {
        await _stopOnce.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_isStopped)
                return;
            _isStopped = true;
            _logger.LogInformation("DevNode stopping");
            await _shutdown.CancelAsync().ConfigureAwait(false);
            try
            {
                await _web.StopAsync().ConfigureAwait(false);
            }
            finally
            {
                await Task.WhenAll(_background).ConfigureAwait(false);
                await _web.DisposeAsync().ConfigureAwait(false);
                Node.Dispose();
                _notifier.Dispose();
                _store?.Dispose();
                _authenticator.Dispose();
                _stopped.TrySetResult();
            }
        }
        finally
        {
            _stopOnce.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _shutdown.Dispose();
    }
}

/// <summary>The ready file's content (JSON, camelCase keys; absent topics are null).</summary>
public sealed class DevNodeReadyInfo
{
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
    };

    public string RpcUrl { get; init; } = "";
    public int RpcPort { get; init; }
    public string? RpcUser { get; init; }
    public string? CookieFile { get; init; }
    public string? ZmqHashBlock { get; init; }
    public string? ZmqRawBlock { get; init; }
    public string? ZmqHashTx { get; init; }
    public string DataDir { get; init; } = "";
    public string Chain { get; init; } = "regtest";
    public int Pid { get; init; }
}
