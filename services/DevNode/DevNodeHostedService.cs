using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace PoolCluster.DevNode;

/// <summary>Runs a <see cref="DevNodeServer"/> inside the service host; the "stop" RPC stops the whole process.</summary>
public sealed class DevNodeHostedService(
    IOptions<DevNodeOptions> options,
    IOptions<RpcOptions> rpc,
    IOptions<ZmqOptions> zmq,
    IOptions<MempoolOptions> mempool,
    IOptions<SeedTipOptions> seedTip,
    DevNodeCommandLine commandLine,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggerFactory) : IHostedService
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("PoolCluster.DevNode");
    private DevNodeServer? _server;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // The sections are validated on their own (unknown keys, ranges); the node takes them as one object.
        var settings = options.Value;
        settings.Rpc = rpc.Value;
        settings.Zmq = zmq.Value;
        settings.Mempool = mempool.Value;
        settings.SeedTip = seedTip.Value;
        _server = await DevNodeServer.StartAsync(settings, loggerFactory, cancellationToken: cancellationToken).ConfigureAwait(false);
        _ = _server.Stopped.ContinueWith(_ => lifetime.StopApplication(), TaskScheduler.Default);
        if (commandLine.ReadyFile is { } readyFile)
            _server.WriteReadyFile(readyFile);
        _logger.LogInformation("ready: rpc {Url}{ReadyFile}", _server.RpcUrl, commandLine.ReadyFile is null ? "" : $", ready file {Path.GetFullPath(commandLine.ReadyFile)}");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
            await _server.DisposeAsync().ConfigureAwait(false);
        if (commandLine.ReadyFile is { } readyFile)
            File.Delete(readyFile);
    }
}

/// <summary>Command-line switches that are not configuration keys.</summary>
public sealed record DevNodeCommandLine(string? ReadyFile);
