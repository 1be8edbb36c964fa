using BenchmarkDotNet.Attributes;
using PoolCluster.StatsHttpd.Aggregation;
using PoolCluster.Topics;

namespace PoolCluster.Benchmarks;

/// <summary>
/// StatsHttpd's aggregation core: shares per second one instance applies to its windows (worker, user, server and
/// pool rings), and the cost of reading one entity's windows for the API.
///   dotnet run -c Release --project tests/Benchmarks -- --filter '*StatsBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class StatsBenchmarks
{
    private const int SharesPerInvoke = 100_000;

    private Share[] _shares = null!;
    private StatsStore _store = null!;
    private ShareStats _worker = null!;
    private EntitySnapshot _snapshot = null!;

    /// <summary>Distinct workers the shares come from (1000 users × 10 or 100 workers each).</summary>
    [Params(10_000, 100_000)]
    public int Workers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var users = 1000;
        _shares = new Share[SharesPerInvoke];
        for (var i = 0; i < _shares.Length; i++)
        {
            var user = 1 + random.Next(users);
            var worker = 1 + random.Next(Workers / users);
            _shares[i] = new Share
            {
                UserId = user,
                WorkerId = (long)user << 20 | (uint)worker,
                UserName = $"user{user}",
                WorkerName = $"rig{worker}",
                Ip = "10.0.0.1",
                ServerId = (uint)(1 + random.Next(4)),
                ShareDifficulty = 1 << random.Next(10, 17),
                NetworkDifficulty = 1e14,
                Status = random.Next(100) < 97 ? ShareStatus.Accepted : ShareStatus.LowDifficulty,
                Height = 900_000,
                // The last ten minutes, in arrival order: the buckets roll as they do live.
                TimestampUnixMs = now - 600_000 + 600_000L * i / SharesPerInvoke,
            };
        }
        _store = new StatsStore(new StatsStoreSettings(), TimeProvider.System);
        // Every worker exists before measuring: the steady state, where applying a share allocates nothing.
        for (var user = 1; user <= users; user++)
        {
            for (var worker = 1; worker <= Workers / users; worker++)
            {
                _store.Apply(new Share
                {
                    UserId = user, WorkerId = (long)user << 20 | (uint)worker, UserName = $"user{user}", WorkerName = $"rig{worker}",
                    Ip = "10.0.0.1", ServerId = 1, ShareDifficulty = 1024, NetworkDifficulty = 1e14, Status = ShareStatus.Accepted,
                    Height = 900_000, TimestampUnixMs = now - 600_000,
                });
            }
        }
        foreach (var share in _shares)
            _store.Apply(share);
        _store.TryGetWorker(_shares[0].UserId, _shares[0].WorkerId, out _worker);
        _snapshot = new EntitySnapshot();
    }

    /// <summary>One share applied to its worker, user, server and the pool (ns per share; shares/s = 1e9 / mean).</summary>
    [Benchmark(OperationsPerInvoke = SharesPerInvoke)]
    public int ApplyShare()
    {
        var applied = 0;
        foreach (var share in _shares)
            applied += _store.Apply(share) == ShareApplyResult.Applied ? 1 : 0;
        return applied;
    }

    /// <summary>All five windows, reject reasons and last share of one worker: what one API answer reads.</summary>
    [Benchmark]
    public long SnapshotWorker()
    {
        _worker.Snapshot(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), _snapshot);
        return _snapshot.AcceptCountDay;
    }
}
