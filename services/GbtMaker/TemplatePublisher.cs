using Microsoft.Extensions.Logging;
using PoolCluster.Kafka;
using PoolCluster.Topics;

namespace PoolCluster.GbtMaker;

/// <summary>
/// Publishes templates to the RawGbt topic, dropping exact repeats (same identity hash) from any node: a timer, a long
/// poll and a ZMQ notification often fetch the same template, and JobMaker needs it once.
/// </summary>
public sealed class TemplatePublisher(PoolProducer<string, RawGbt> producer, ILogger<TemplatePublisher> logger) : IDisposable
{
    private const int RecentCapacity = 256;
    private readonly Lock _gate = new();
    private readonly Queue<string> _recent = new();
    private readonly HashSet<string> _recentSet = [];
    private long _published;
    private long _repeats;

    public long Published => Interlocked.Read(ref _published);
    public long Repeats => Interlocked.Read(ref _repeats);

    /// <summary>Publishes unless it is a repeat; returns whether it was sent. Completes when Kafka acknowledged it.</summary>
    public async Task<bool> PublishAsync(RawGbt gbt, string trigger, CancellationToken cancellationToken)
    {
        var identity = Convert.ToHexString(gbt.GbtHash.Span);
        lock (_gate)
        {
            if (!_recentSet.Add(identity))
            {
                Interlocked.Increment(ref _repeats);
                return false;
            }
            _recent.Enqueue(identity);
            if (_recent.Count > RecentCapacity)
                _recentSet.Remove(_recent.Dequeue());
        }
        try
        {
            await producer.ProduceAsync(gbt.NodeName, gbt, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Not sent: forget it, so the next fetch of the same template is published.
            lock (_gate)
                _recentSet.Remove(identity);
            throw;
        }
        Interlocked.Increment(ref _published);
        logger.LogInformation("published template height {Height} from {Node} ({Trigger}): {TxCount} txs, {HeaderOnly}",
            gbt.Height, gbt.NodeName, trigger, gbt.Transactions.Count, gbt.HeaderOnly ? "header only" : "full");
        return true;
    }

    public void Dispose() => producer.Dispose();
}
