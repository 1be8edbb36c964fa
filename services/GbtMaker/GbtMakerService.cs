using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace PoolCluster.GbtMaker;

/// <summary>
/// Runs every node's sources: the timer polls the preferred healthy node (lowest Priority; on failure the next one at
/// once), each node long-polls and listens to its own ZMQ hashblock, and dead nodes are probed until they answer.
/// </summary>
public sealed class GbtMakerService(IOptions<GbtMakerOptions> options, TemplatePublisher publisher, TimeProvider time,
    ILoggerFactory loggerFactory) : BackgroundService
{
    private readonly GbtMakerOptions _options = options.Value;
    private readonly ILogger _logger = loggerFactory.CreateLogger<GbtMakerService>();
    private List<NodeTemplateSource> _sources = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _sources = _options.Nodes
            .OrderBy(n => n.Priority)
            .Select(n => new NodeTemplateSource(n, publisher, _options, time, loggerFactory.CreateLogger($"PoolCluster.GbtMaker.Node.{n.Name}")))
            .ToList();

        // Startup check: every node is asked once, and the ones that do not answer are named.
        var answers = await Task.WhenAll(_sources.Select(s => s.ProbeAsync(stoppingToken))).ConfigureAwait(false);
        for (var i = 0; i < _sources.Count; i++)
            if (answers[i])
                _logger.LogInformation("node {Node} at {Url} answers", _sources[i].Name, _sources[i].Endpoint.RpcUrl);
            else
                _logger.LogError("node {Node} at {Url} does not answer; it will be retried every {RetryMs} ms",
                    _sources[i].Name, _sources[i].Endpoint.RpcUrl, _options.RetryDeadNodeMs);

        var loops = new List<Task> { PollLoopAsync(stoppingToken), ProbeDeadNodesAsync(stoppingToken) };
        foreach (var source in _sources)
        {
            loops.Add(source.RunLongPollAsync(stoppingToken));
            loops.Add(source.RunZmqAsync(stoppingToken));
        }
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task PollLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.PollIntervalMs), time);
        do
        {
            var fetched = false;
            foreach (var source in _sources.Where(s => s.Healthy))
            {
                if (await source.FetchAndPublishAsync("timer", stoppingToken).ConfigureAwait(false) != null)
                {
                    fetched = true;
                    break;
                }
            }
            if (!fetched)
                _logger.LogWarning("no node gave a template this round ({Count} configured)", _sources.Count);
        } while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task ProbeDeadNodesAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.RetryDeadNodeMs), time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            foreach (var source in _sources.Where(s => !s.Healthy))
                await source.ProbeAsync(stoppingToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        foreach (var source in _sources)
            source.Dispose();
        base.Dispose();
    }
}
