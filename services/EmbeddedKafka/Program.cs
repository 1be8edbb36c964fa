using System.Diagnostics;
using System.Runtime.InteropServices;
using PoolCluster.EmbeddedKafka;
using PoolCluster.Kafka;
using PoolCluster.Kafka.Embedded;

EmbeddedKafkaArguments arguments;
try
{
    arguments = EmbeddedKafkaArguments.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"EmbeddedKafka: {e.Message}");
    return 2;
}
if (arguments.Help)
{
    Console.WriteLine(EmbeddedKafkaArguments.Usage);
    return 0;
}

using var stop = new ManualResetEventSlim();
// Handle SIGTERM/SIGINT ourselves (Cancel = true) so the cluster is torn down before the process exits.
using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var onQuit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Stop);

EmbeddedKafkaCluster cluster;
try
{
    cluster = EmbeddedKafkaCluster.StartWithManifestTopics(arguments.Brokers, arguments.TopicPrefix, arguments.LogLevel);
}
catch (Exception e) when (e is DllNotFoundException or InvalidOperationException)
{
    Console.Error.WriteLine($"EmbeddedKafka: {e.Message}");
    return 1;
}

using (cluster)
{
    if (arguments.BootstrapFile != null)
        cluster.WriteBootstrapFile(arguments.BootstrapFile);
    Console.WriteLine($"KAFKA_BOOTSTRAP={cluster.BootstrapServers}");
    Console.Out.Flush();
    Console.Error.WriteLine(
        $"EmbeddedKafka: {cluster.BrokerCount} broker(s) at {cluster.BootstrapServers}, librdkafka {KafkaNative.LibrdkafkaVersion}, " +
        $"topics of topics.json{(arguments.TopicPrefix.Length > 0 ? $" prefixed '{arguments.TopicPrefix}'" : "")}; stop with SIGTERM/SIGINT");

    if (arguments.ParentPid is { } parentPid)
        WatchParent(parentPid, stop);

    stop.Wait();

    if (arguments.BootstrapFile != null)
        DeleteOwnBootstrapFile(arguments.BootstrapFile, cluster.BootstrapServers);
}
Console.Error.WriteLine("EmbeddedKafka: stopped");
return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Set();
}

static void WatchParent(int pid, ManualResetEventSlim stop)
{
    Process parent;
    try
    {
        parent = Process.GetProcessById(pid);
    }
    catch (ArgumentException)
    {
        Console.Error.WriteLine($"EmbeddedKafka: parent process {pid} is already gone; stopping");
        stop.Set();
        return;
    }
    var watcher = new Thread(() =>
    {
        parent.WaitForExit();
        Console.Error.WriteLine($"EmbeddedKafka: parent process {pid} exited; stopping");
        stop.Set();
    }) { IsBackground = true, Name = "parent-watch" };
    watcher.Start();
}

// Another instance may have replaced the file since (a restart): only remove our own address.
static void DeleteOwnBootstrapFile(string path, string bootstrap)
{
    try
    {
        if (File.Exists(path) && File.ReadAllText(path).Trim() == bootstrap)
            File.Delete(path);
    }
    catch (IOException e)
    {
        Console.Error.WriteLine($"EmbeddedKafka: could not remove {path}: {e.Message}");
    }
}
