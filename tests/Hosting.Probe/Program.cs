using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PoolCluster.Hosting;

// Marker lines ("probe: ...") go straight to stdout so the tests can wait for them; everything else is logging.
return await PoolHost.RunAsync("hosting-probe", args, builder =>
{
    builder.AddValidatedOptions<ProbeOptions>("Probe");
    builder.Services.AddHostedService<ProbeService>();
    builder.Services.AddHostedService<CrashingService>();
});

internal sealed class ProbeOptions
{
    [Range(1, 65535)]
    public int Port { get; set; } = 1000;

    /// <summary>How long StopAsync takes (to test the shutdown timeout).</summary>
    [Range(0, 600_000)]
    public int StopDelayMilliseconds { get; set; }

    /// <summary>Whether StartAsync throws (to test the exit code of a failed start).</summary>
    public bool FailStart { get; set; }

    /// <summary>Whether a background service throws shortly after start (to test the crash exit code).</summary>
    public bool Crash { get; set; }
}

internal sealed class ProbeService(IOptions<ProbeOptions> options, ILogger<ProbeService> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.FailStart)
            throw new InvalidOperationException("probe start failure requested");
        logger.LogInformation("probe listening on port {Port}", options.Value.Port);
        Console.Out.WriteLine($"probe: started pid={Environment.ProcessId}");
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Console.Out.WriteLine("probe: stopping");
        try
        {
            await Task.Delay(options.Value.StopDelayMilliseconds, cancellationToken);
            Console.Out.WriteLine("probe: stopped");
        }
        catch (OperationCanceledException)
        {
            Console.Out.WriteLine("probe: stop cut short by the shutdown timeout");
        }
    }
}

internal sealed class CrashingService(IOptions<ProbeOptions> options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Crash)
            return;
        await Task.Delay(100, stoppingToken);
        throw new InvalidOperationException("probe crash requested");
    }
}
