using System.Collections.Concurrent;

namespace PoolCluster.StatsHttpd.Sinks;

internal enum RedisEventKind
{
    /// <summary>viabtc's newworker: a worker's first appearance, pushed at most once per worker (guarded by a Redis set).</summary>
    NewWorker,

    /// <summary>viabtc's newevent: "connected"/"disconnected", pushed once per WorkerEvent offset (guarded by a Redis hash).</summary>
    NewEvent,
}

internal readonly record struct PendingRedisEvent(
    RedisEventKind Kind, string User, string Worker, string Peer, string Event, int Partition, long Offset);

/// <summary>
/// newworker/newevent entries waiting for Redis, in the order they happened. Bounded: while Redis is down longer
/// than the queue lasts, the oldest entries are dropped (and counted) so memory stays flat.
/// </summary>
internal sealed class RedisEventQueue(int capacity)
{
    private readonly ConcurrentQueue<PendingRedisEvent> queue = new();
    private long dropped;

    public int Count => queue.Count;

    public long Dropped => Interlocked.Read(ref dropped);

    public void Enqueue(in PendingRedisEvent pending)
    {
        queue.Enqueue(pending);
        while (queue.Count > capacity && queue.TryDequeue(out _))
            Interlocked.Increment(ref dropped);
    }

    public bool TryPeek(out PendingRedisEvent pending) => queue.TryPeek(out pending);

    public void RemoveHead() => queue.TryDequeue(out _);
}
