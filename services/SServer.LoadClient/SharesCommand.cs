using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace PoolCluster.SServer.LoadClient;

/// <summary>Connections submitting shares at a fixed rate; with --server-pid, the server's CPU per accepted share.</summary>
internal static class SharesCommand
{
    public static async Task<int> RunAsync(Options options)
    {
        var server = new IPEndPoint(IPAddress.Loopback, options.Int("port"));
        var count = options.Int("connections");
        var rate = options.Double("rate", 10);
        var seconds = Math.Min(options.Int("seconds", 30), 600);
        var sources = options.Sources();
        var password = options.Get("password", "x");
        var serverPid = options.Int("server-pid", 0);

        var clients = new MinerClient[count];
        using (var gate = new SemaphoreSlim(256))
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    clients[i] = new MinerClient(sources[i % sources.Length]);
                    await clients[i].ConnectAndLoginAsync(server, $"load.s{i}", password, TimeSpan.FromSeconds(60));
                }
                finally
                {
                    gate.Release();
                }
            }));
        }
        Console.WriteLine($"READY {count} connections");
        // Warm-up at the same rate: tiered JIT and the pools settle before anything is measured.
        var warmup = options.Int("warmup-seconds", 15);
        if (warmup > 0)
            await SubmitAsync(clients, rate, warmup, new uint[count], nonceBase: 0x80000000);

        var (userBefore, systemBefore) = ServerCpuTicks(serverPid);
        var acceptedBefore = clients.Sum(c => Interlocked.Read(ref c.Accepted));
        var rejectedBefore = clients.Sum(c => Interlocked.Read(ref c.Rejected));
        var timer = Stopwatch.StartNew();
        var total = await SubmitAsync(clients, rate, seconds, new uint[count], nonceBase: 0);
        var elapsed = timer.Elapsed.TotalSeconds;
        var (userAfter, systemAfter) = ServerCpuTicks(serverPid);
        var accepted = clients.Sum(c => Interlocked.Read(ref c.Accepted)) - acceptedBefore;
        var rejected = clients.Sum(c => Interlocked.Read(ref c.Rejected)) - rejectedBefore;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"SHARES submitted={total} accepted={accepted} rejected={rejected} seconds={elapsed:0.0} rate={accepted / elapsed:0}/s"));
        if (serverPid > 0)
        {
            var userSeconds = (userAfter - userBefore) / 100.0; // USER_HZ
            var systemSeconds = (systemAfter - systemBefore) / 100.0;
            var cpuSeconds = userSeconds + systemSeconds;
            var perShare = 1e6 / Math.Max(1, accepted);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"SERVER cpu_seconds={cpuSeconds:0.00} cpu_us_per_accepted_share={cpuSeconds * perShare:0.0} (user {userSeconds * perShare:0.0}, kernel {systemSeconds * perShare:0.0}) cores_busy={cpuSeconds / elapsed:0.00}"));
        }
        foreach (var client in clients)
            client.Close();
        return 0;
    }

    /// <summary>Submits at <paramref name="rate"/> per connection for <paramref name="seconds"/> and waits for every answer.</summary>
    private static async Task<long> SubmitAsync(MinerClient[] clients, double rate, int seconds, uint[] nonces, uint nonceBase)
    {
        var count = clients.Length;
        var answeredBefore = clients.Sum(c => Interlocked.Read(ref c.Accepted) + Interlocked.Read(ref c.Rejected));
        var total = (long)(rate * count * seconds);
        var submitted = 0L;
        var timer = Stopwatch.StartNew();
        var sends = new List<Task>();
        while (submitted < total)
        {
            // Submit whatever is due by now, spread round-robin over the connections.
            var due = Math.Min(total, (long)(timer.Elapsed.TotalSeconds * rate * count));
            for (; submitted < due; submitted++)
            {
                var i = (int)(submitted % count);
                var client = clients[i];
                var nonce = nonceBase + nonces[i]++;
                var extranonce2 = new string('0', client.Extranonce2Size * 2);
                sends.Add(client.SendAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{{\"id\":{3 + nonce},\"method\":\"mining.submit\",\"params\":[\"load.s{i}\",\"{client.JobId}\",\"{extranonce2}\",\"{client.NTime}\",\"{nonce:x8}\"]}}\n")));
            }
            if (sends.Count > 10_000)
            {
                await Task.WhenAll(sends);
                sends.Clear();
            }
            await Task.Delay(5);
        }
        await Task.WhenAll(sends);
        var answerDeadline = Stopwatch.StartNew();
        while (clients.Sum(c => Interlocked.Read(ref c.Accepted) + Interlocked.Read(ref c.Rejected)) - answeredBefore < total
               && answerDeadline.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(20);
        return total;
    }

    /// <summary>utime and stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat).</summary>
    private static (long User, long System) ServerCpuTicks(int pid)
    {
        if (pid <= 0)
            return (0, 0);
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture), long.Parse(fields[12], CultureInfo.InvariantCulture));
    }
}
