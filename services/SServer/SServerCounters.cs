using System.Diagnostics;
using System.Runtime.InteropServices;

namespace PoolCluster.SServer;

/// <summary>
/// What the server has done since it started, for the stats log line and for tests. Incremented with
/// Interlocked from any thread; read as a snapshot.
/// </summary>
public sealed class SServerCounters
{
    // One cache line per hot counter would be overkill at these rates; padding only the share counters matters.
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct Padded
    {
        [FieldOffset(64)] public long Value;
    }

    private Padded _accepted;
    private Padded _rejected;
    private long _solved;
    private long _connectionsAccepted;
    private long _connectionsRefused;
    private long _disconnects;
    private long _slowClientsDropped;
    private long _garbageDisconnects;
    private long _timeouts;
    private long _bans;
    private long _outputsDropped;
    private long _jobsReceived;
    private long _broadcasts;
    private int _connections;
    private int _authorized;

    public long SharesAccepted => Volatile.Read(ref _accepted.Value);
    public long SharesRejected => Volatile.Read(ref _rejected.Value);
    public long BlocksSolved => Volatile.Read(ref _solved);
    public long ConnectionsAccepted => Volatile.Read(ref _connectionsAccepted);
    public long ConnectionsRefused => Volatile.Read(ref _connectionsRefused);
    public long Disconnects => Volatile.Read(ref _disconnects);
    public long SlowClientsDropped => Volatile.Read(ref _slowClientsDropped);
    public long GarbageDisconnects => Volatile.Read(ref _garbageDisconnects);
    public long Timeouts => Volatile.Read(ref _timeouts);
    public long Bans => Volatile.Read(ref _bans);

    /// <summary>Shares and worker events that could not be held for Kafka (each one is also logged, rate-limited).</summary>
    public long OutputsDropped => Volatile.Read(ref _outputsDropped);

    public long JobsReceived => Volatile.Read(ref _jobsReceived);
    public long Broadcasts => Volatile.Read(ref _broadcasts);

    /// <summary>Open connections now.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Authorized sessions now.</summary>
    public int Authorized => Volatile.Read(ref _authorized);

    internal void ShareAccepted() => Interlocked.Increment(ref _accepted.Value);
    internal void ShareRejected() => Interlocked.Increment(ref _rejected.Value);
    internal void BlockSolved() => Interlocked.Increment(ref _solved);
    internal void ConnectionOpened()
    {
        Interlocked.Increment(ref _connectionsAccepted);
        Interlocked.Increment(ref _connections);
    }
    internal void ConnectionClosed()
    {
        Interlocked.Increment(ref _disconnects);
        Interlocked.Decrement(ref _connections);
    }
    internal void ConnectionRefused() => Interlocked.Increment(ref _connectionsRefused);
    internal void SlowClientDropped() => Interlocked.Increment(ref _slowClientsDropped);
    internal void GarbageDisconnect() => Interlocked.Increment(ref _garbageDisconnects);
    internal void Timeout() => Interlocked.Increment(ref _timeouts);
    internal void Banned() => Interlocked.Increment(ref _bans);
    internal void OutputDropped() => Interlocked.Increment(ref _outputsDropped);
    internal void JobReceived() => Interlocked.Increment(ref _jobsReceived);
    internal void Broadcast() => Interlocked.Increment(ref _broadcasts);
    internal void SessionAuthorized() => Interlocked.Increment(ref _authorized);
    internal void AuthorizedSessionClosed() => Interlocked.Decrement(ref _authorized);

    /// <summary>One log line's worth: counters plus the process's CPU time and memory.</summary>
    public string Describe()
    {
        using var process = Process.GetCurrentProcess();
        return $"connections={Connections} authorized={Authorized} accepted={SharesAccepted} rejected={SharesRejected} " +
               $"solved={BlocksSolved} jobs={JobsReceived} broadcasts={Broadcasts} refused={ConnectionsRefused} " +
               $"slow_dropped={SlowClientsDropped} garbage={GarbageDisconnects} timeouts={Timeouts} bans={Bans} " +
               $"outputs_dropped={OutputsDropped} cpu_ms={process.TotalProcessorTime.TotalMilliseconds:0} " +
               $"rss_mb={process.WorkingSet64 / 1048576.0:0.0} gc_heap_mb={GC.GetTotalMemory(false) / 1048576.0:0.0}";
    }
}
