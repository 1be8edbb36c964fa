namespace PoolCluster.StatsHttpd.Ingest;

/// <summary>
/// Whether StatsHttpd has caught up with the history it replays at start. Until both topics are caught up the API
/// answers "warming up" (btcpool: err_no 2 "service is initializing...") rather than windows that are still filling,
/// and mining_workers is not written (its rows would show the hashrate dropping to almost nothing).
/// </summary>
public sealed class WarmupState
{
    public WarmupState(TimeProvider time) => StartedAt = time.GetUtcNow();

    public DateTimeOffset StartedAt { get; }

    public TopicProgress Shares { get; } = new("shares");

    public TopicProgress WorkerEvents { get; } = new("worker events");

    public bool IsWarm => Shares.CaughtUp && WorkerEvents.CaughtUp;

    /// <summary>Completes when both topics have caught up.</summary>
    public Task WarmTask => Task.WhenAll(Shares.CaughtUpTask, WorkerEvents.CaughtUpTask);
}

/// <summary>
/// One topic's replay: the end offset each partition had when it was assigned (the target) and how far the consumer
/// got. Caught up when every partition reached its target. Updated by the consumer thread, read by the API.
/// </summary>
public sealed class TopicProgress(string name)
{
    private readonly Lock gate = new();
    private readonly Dictionary<int, PartitionProgress> partitions = new();
    private readonly TaskCompletionSource caughtUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool isCaughtUp;
    private int remaining = -1;

    public string Name { get; } = name;

    public bool CaughtUp => isCaughtUp;

    public Task CaughtUpTask => caughtUp.Task;

    /// <summary>Messages still to read before caught up (as of the targets); -1 before the partitions are known.</summary>
    public long Backlog
    {
        get
        {
            lock (gate)
                return remaining < 0 ? -1 : partitions.Values.Sum(p => Math.Max(0, p.Target - p.Next));
        }
    }

    public IReadOnlyList<PartitionProgress> Partitions
    {
        get
        {
            lock (gate)
                return [.. partitions.Values.OrderBy(p => p.Partition)];
        }
    }

    /// <summary>The partitions were assigned: where each starts and the end offset it must reach.</summary>
    internal void Assigned(IEnumerable<(int Partition, long Start, long Target)> assigned)
    {
        lock (gate)
        {
            partitions.Clear();
            foreach (var (partition, start, target) in assigned)
                partitions[partition] = new PartitionProgress(partition, start, target, start);
            remaining = partitions.Values.Count(p => p.Next < p.Target);
        }
        CheckDone();
    }

    /// <summary>The message at <paramref name="offset"/> of <paramref name="partition"/> was processed.</summary>
    internal void Consumed(int partition, long offset)
    {
        if (isCaughtUp)
            return;
        lock (gate)
        {
            if (!partitions.TryGetValue(partition, out var progress) || offset + 1 <= progress.Next)
                return;
            var wasBehind = progress.Next < progress.Target;
            partitions[partition] = progress with { Next = offset + 1 };
            if (wasBehind && offset + 1 >= progress.Target)
                remaining--;
        }
        CheckDone();
    }

    /// <summary>For tests and services without history: caught up at once.</summary>
    internal void MarkCaughtUp()
    {
        lock (gate)
            remaining = 0;
        CheckDone();
    }

    private void CheckDone()
    {
        bool done;
        lock (gate)
            done = remaining == 0;
        if (done && !isCaughtUp)
        {
            isCaughtUp = true;
            caughtUp.TrySetResult();
        }
    }
}

public readonly record struct PartitionProgress(int Partition, long Start, long Target, long Next);
