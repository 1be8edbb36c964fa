using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace PoolCluster.SServer.LoadClient;

/// <summary>Many authorized, idle connections; times how each new job spreads over them.</summary>
internal static class IdleCommand
{
    public static async Task<int> RunAsync(Options options)
    {
        var server = new IPEndPoint(IPAddress.Parse(options.Get("host", "127.0.0.1")), options.Int("port"));
        if (!IPAddress.IsLoopback(server.Address))
            throw new ArgumentException($"--host {server.Address} is not a loopback address");
        var count = options.Int("connections");
        var sources = options.Sources();
        var seconds = options.Int("seconds", 60);
        var user = options.Get("user", "load");
        var password = options.Get("password", "x");
        var arrivals = new ConcurrentDictionary<string, ConcurrentQueue<long>>();
        var initialJobs = new ConcurrentDictionary<string, bool>();
        var ready = false;

        var clients = new MinerClient[count];
        var started = Stopwatch.StartNew();
        using var gate = new SemaphoreSlim(256);
        var logins = Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var client = new MinerClient(sources[i % sources.Length]);
                client.OnNotify = (job, at) =>
                {
                    if (!Volatile.Read(ref ready))
                        initialJobs.TryAdd(job, true);
                    else
                        arrivals.GetOrAdd(job, _ => new ConcurrentQueue<long>()).Enqueue(at);
                };
                clients[i] = client;
                await client.ConnectAndLoginAsync(server, $"{user}.w{i}", password, TimeSpan.FromSeconds(60));
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        await Task.WhenAll(logins);
        var readJobs = options.Get("read-jobs", "1") == "1";
        if (!readJobs)
            foreach (var client in clients)
                client.StopReading();
        Volatile.Write(ref ready, true);
        Console.WriteLine($"READY {count} connections authorized with a job in {started.Elapsed.TotalSeconds:0.0} s");
        Console.Out.Flush();

        var deadline = Stopwatch.StartNew();
        var stdinClosed = options.Get("stop-on-stdin-close", "0") == "1" ? Task.Run(() => Console.In.ReadToEnd()) : Task.Delay(Timeout.Infinite);
        await Task.WhenAny(Task.Delay(TimeSpan.FromSeconds(seconds)), stdinClosed);

        foreach (var (job, queue) in arrivals.OrderBy(a => a.Value.Min()))
        {
            if (initialJobs.ContainsKey(job))
                continue;
            var times = queue.ToList();
            times.Sort();
            var spread = times.Select(t => (t - times[0]) / 1000.0).ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"JOB {job} first_arrival_us={times[0]} received={times.Count}/{count} spread_ms p50={Stats.Percentile(spread, 50):0.0} p90={Stats.Percentile(spread, 90):0.0} p99={Stats.Percentile(spread, 99):0.0} max={spread[^1]:0.0}"));
        }
        foreach (var client in clients)
            client?.Close();
        return 0;
    }
}
