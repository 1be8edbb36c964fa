using PoolCluster.Hosting;

namespace PoolCluster.StatsHttpd;

/// <summary>
/// StatsHttpd: Share + WorkerEvent topics → hashrate windows → HTTP API (btcpool's statshttpd shapes + REST),
/// MySQL (mining_workers, stats_*_hour/day) and Redis (viabtc's per-minute keys and event lists).
/// </summary>
internal static class Program
{
    // Not top-level statements: those make a global "Program" type, which clashes in assemblies that reference this one.
    public static Task<int> Main(string[] args) =>
        PoolHost.RunAsync(StatsHttpdServices.ServiceName, args, builder => builder.AddStatsHttpd());
}
