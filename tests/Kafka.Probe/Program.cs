// Kafka probe: `produce` or `consume` N shares of the manifest topic btc.share (with a topic prefix) on a cluster
// given by --bootstrap. Each share i has user_id = i % 7, session_id = i, worker_name = "probe-i". Prints one line per
// consumed message ("SHARE user session worker") and a final "PRODUCED n" / "CONSUMED n"; exit code 0 only if all n.
using System.Globalization;
using Confluent.Kafka;
using PoolCluster.Kafka;
using PoolCluster.Topics;

if (args.Length < 1 || args[0] is not ("produce" or "consume"))
{
    Console.Error.WriteLine("usage: probe produce|consume --bootstrap B --topic-prefix P --count N [--group G] [--timeout-seconds S]");
    return 2;
}
var options = new Dictionary<string, string>();
for (var i = 1; i + 1 < args.Length; i += 2)
    options[args[i]] = args[i + 1];
string Required(string name) => options.TryGetValue(name, out var v) ? v : throw new ArgumentException($"missing {name}");
var count = int.Parse(Required("--count"), CultureInfo.InvariantCulture);
var timeout = TimeSpan.FromSeconds(options.TryGetValue("--timeout-seconds", out var t) ? double.Parse(t, CultureInfo.InvariantCulture) : 30);
var kafka = new KafkaOptions
{
    BootstrapServers = Required("--bootstrap"),
    ClientId = $"probe-{args[0]}",
    TopicPrefix = options.GetValueOrDefault("--topic-prefix", ""),
    SessionTimeoutMs = 3000,
    HeartbeatIntervalMs = 300,
    FetchWaitMaxMs = 50,
};

if (args[0] == "produce")
{
    using var producer = new PoolProducer<int, Share>(kafka, TopicManifest.Share);
    for (var i = 0; i < count; i++)
        producer.Produce(i % 7, new Share { UserId = i % 7, SessionId = (ulong)i, WorkerName = $"probe-{i}", Status = ShareStatus.Accepted });
    var left = producer.Flush(timeout);
    if (left > 0 || producer.DeliveryFailures > 0)
    {
        Console.Error.WriteLine($"probe: {left} undelivered, {producer.DeliveryFailures} failed");
        return 1;
    }
    Console.WriteLine($"PRODUCED {count}");
    return 0;
}

using var consumer = new PoolConsumer<int, Share>(kafka, TopicManifest.Share, new ConsumerSettings { GroupId = Required("--group") });
var received = 0;
var deadline = DateTime.UtcNow + timeout;
ConsumeResult<int, Share>? last = null;
while (received < count && DateTime.UtcNow < deadline)
{
    var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
    if (result == null)
        continue;
    received++;
    last = result;
    Console.WriteLine($"SHARE {result.Message.Key} {result.Message.Value.SessionId} {result.Message.Value.WorkerName}");
}
if (last != null)
    consumer.Commit(consumer.Assignment.Select(p => new TopicPartitionOffset(p, consumer.Position(p))).Where(o => o.Offset.Value >= 0));
Console.WriteLine($"CONSUMED {received}");
return received == count ? 0 : 1;
