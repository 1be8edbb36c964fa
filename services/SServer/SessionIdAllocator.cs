namespace PoolCluster.SServer;

/// <summary>
/// Hands out session ids, which are also the sessions' extranonce1: the server id in the top byte, a 24-bit counter
/// below it (btcpool's SessionIDManager). Ids go round-robin and skip those in use, so an id comes back only after
/// 16.7 million others: long after any job its old owner could have submitted to has expired. Two SServers with
/// different server ids can never hand out the same extranonce1.
/// </summary>
public sealed class SessionIdAllocator
{
    public const int CounterBits = 24;
    private const uint CounterMask = (1u << CounterBits) - 1;

    private readonly HashSet<uint> _inUse = [];
    private readonly uint _serverPrefix;
    private uint _next;

    public SessionIdAllocator(int serverId)
    {
        if (serverId is < 1 or > 255)
            throw new ArgumentOutOfRangeException(nameof(serverId), serverId, "Stratum:ServerId must be 1..255");
        _serverPrefix = (uint)serverId << CounterBits;
        // Start anywhere: a restarted server should not hand out the ids of its previous life in the same order.
        _next = (uint)Random.Shared.Next(1 << CounterBits);
    }

    public int InUse
    {
        get
        {
            lock (_inUse)
                return _inUse.Count;
        }
    }

    /// <summary>A free id, or false when all 2^24 are taken.</summary>
    public bool TryAllocate(out uint sessionId)
    {
        lock (_inUse)
        {
            for (var tries = 0; tries <= CounterMask; tries++)
            {
                var candidate = _serverPrefix | (_next & CounterMask);
                _next = (_next + 1) & CounterMask;
                if (_inUse.Add(candidate))
                {
                    sessionId = candidate;
                    return true;
                }
            }
        }
        sessionId = 0;
        return false;
    }

    public void Release(uint sessionId)
    {
        lock (_inUse)
            _inUse.Remove(sessionId);
    }

    /// <summary>Test hook: the counter part of the next id (to give a replayed session its recorded extranonce1).</summary>
    internal void SetNextCounter(uint counter)
    {
        lock (_inUse)
            _next = counter & CounterMask;
    }
}
