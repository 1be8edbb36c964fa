using Microsoft.Extensions.Hosting;

namespace PoolCluster.SServer;

/// <summary>Runs the <see cref="StratumServer"/> inside the host: started with it, stopped gracefully on SIGTERM.</summary>
public sealed class SServerService(StratumServer server) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => server.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => server.StopAsync(cancellationToken);
}
