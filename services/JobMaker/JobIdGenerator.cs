namespace PoolCluster.JobMaker;

/// <summary>
/// Job ids unique across restarts and across several JobMakers: 41 bits of Unix milliseconds, 8 bits of the JobMaker's
/// configured instance id, 15 bits of a counter within the millisecond. A restart cannot reuse an id because the clock
/// has moved on; two instances differ in the instance bits. Ids also increase over time, which SServer relies on to
/// tell a newer job from an older one.
/// </summary>
public sealed class JobIdGenerator
{
    private const int CounterBits = 15;
    private const int InstanceBits = 8;
    private readonly ulong _instance;
    private long _lastMs;
    private ulong _counter;

    public JobIdGenerator(int instanceId)
    {
        if (instanceId is < 0 or >= 1 << InstanceBits)
            throw new ArgumentOutOfRangeException(nameof(instanceId), instanceId, "JobMaker:InstanceId must be 0..255");
        _instance = (ulong)instanceId;
    }

    public ulong Next(long nowUnixMs)
    {
        if (nowUnixMs > _lastMs)
        {
            _lastMs = nowUnixMs;
            _counter = 0;
        }
        else if (++_counter >= 1UL << CounterBits)
        {
            // More ids in one millisecond than the counter holds (or the clock stepped back): borrow the next one.
            _lastMs++;
            _counter = 0;
        }
        return ((ulong)_lastMs << (CounterBits + InstanceBits)) | (_instance << CounterBits) | _counter;
    }

    /// <summary>The Unix milliseconds a job id was made at.</summary>
    public static long CreatedAtMs(ulong jobId) => (long)(jobId >> (CounterBits + InstanceBits));
}
