using System.Text.Json;
using Google.Protobuf;
using PoolCluster.Bitcoin;
using PoolCluster.Kafka;
using PoolCluster.Topics;

namespace PoolCluster.SServer.LoadClient;

/// <summary>Publishes a clean StratumJob built from a recorded cpuminer session's notify (a real mainnet block's job).</summary>
internal static class JobCommand
{
    public static int Run(Options options)
    {
        var file = options.Get("notify-file", DefaultNotifyFile());
        var offset = (uint)options.Int("height-offset", 1);
        JsonElement? notify = null;
        foreach (var line in File.ReadLines(file))
        {
            var record = JsonDocument.Parse(line).RootElement;
            var msg = record.GetProperty("msg");
            if (record.GetProperty("dir").GetString() == "out" && msg.TryGetProperty("method", out var m) && m.GetString() == "mining.notify")
                notify = msg.Clone();
        }
        var p = notify?.GetProperty("params") ?? throw new ArgumentException($"{file} has no mining.notify");
        var previous = StratumEncoding.ParsePreviousBlockHash(p[1].GetString()).ToInternalBytes();
        previous[0] ^= (byte)offset;
        previous[1] ^= (byte)(offset >> 8);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var curTime = Convert.ToUInt32(p[7].GetString(), 16);
        var job = new StratumJob
        {
            JobId = (ulong)now << 23,
            Height = 482683 + offset,
            PreviousBlockHash = ByteString.CopyFrom(previous),
            Coinbase1 = ByteString.CopyFrom(Convert.FromHexString(p[2].GetString()!)),
            Coinbase2 = ByteString.CopyFrom(Convert.FromHexString(p[3].GetString()!)),
            Version = Convert.ToUInt32(p[5].GetString(), 16),
            Bits = Convert.ToUInt32(p[6].GetString(), 16),
            CurTime = curTime,
            MinTime = curTime - 600,
            Clean = true,
            CreatedAtUnixMs = now,
            Extranonce1Size = 4,
            Extranonce2Size = 4,
            GbtHash = ByteString.CopyFrom(new byte[32]),
            NodeName = "loadclient",
        };
        foreach (var branch in p[4].EnumerateArray())
            job.MerkleBranch.Add(ByteString.CopyFrom(Convert.FromHexString(branch.GetString()!)));

        var kafka = new KafkaOptions
        {
            BootstrapServers = options.Get("bootstrap", ""),
            BootstrapFile = options.Get("bootstrap-file", "") is { Length: > 0 } f ? f : null,
            TopicPrefix = options.Get("prefix", ""),
            ClientId = "loadclient",
        };
        using var producer = new PoolProducer<string, StratumJob>(kafka, TopicManifest.StratumJob, ProducerMode.Durable);
        producer.ProduceAsync("", job).GetAwaiter().GetResult();
        Console.WriteLine($"PRODUCED job {job.JobId} height {job.Height} acked_at_us={Stats.UnixMicros()}");
        return 0;
    }

    private static string DefaultNotifyFile()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PoolCluster.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "testdata", "stratum", "cpuminer-mainnet-block482683.jsonl"));
        throw new ArgumentException("--notify-file is required (the repository was not found above this program)");
    }
}
