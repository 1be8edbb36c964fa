using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using PoolCluster.Topics;
using static PoolCluster.Kafka.Librdkafka;

namespace PoolCluster.Kafka;

/// <summary>What <see cref="NativeProducer.Produce"/> did with a message.</summary>
public enum ProduceResult
{
    /// <summary>Copied into librdkafka's queue; its delivery is reported through <see cref="NativeProducer.Poll"/>.</summary>
    Queued,

    /// <summary>librdkafka's queue is full (the cluster is slow or away): poll, then try again.</summary>
    QueueFull,
}

/// <summary>
/// A producer for the share path: bytes in, copied into librdkafka's queue by one native call. It has none of
/// Confluent.Kafka's per-message costs: no Message object or serializer arrays, no GCHandle per delivery handler, no
/// DeliveryReport per acknowledgement, no poll thread of its own. It uses the same configuration as
/// <see cref="PoolProducer{TKey,TMessage}"/> in <see cref="ProducerMode.Throughput"/> (<see cref="KafkaClientConfig.Producer"/>)
/// and librdkafka's partitioner, so equal key bytes land in the partition PoolProducer picks.
/// <para>
/// Delivery reports, client errors and librdkafka's log lines are all served on the thread that calls
/// <see cref="Poll"/> (log.queue is on), never on librdkafka's own threads. Failed deliveries are counted and logged.
/// One thread produces and polls; <see cref="DeliveryFailures"/> and <see cref="Delivered"/> may be read from any.
/// </para>
/// </summary>
public sealed unsafe class NativeProducer : IDisposable
{
    private readonly ILogger? logger;
    private readonly Action<object?, LogMessage> log;
    // The client's name in log lines; the topic until librdkafka has named the client.
    private string name;
    private GCHandle self;
    private nint rk;
    private nint rkt;
    private long delivered;
    private long deliveryFailures;
    private long lastFailureLogAt;

    /// <summary>A producer for a topic of topics/topics.json (the deployed name gets <see cref="KafkaOptions.TopicPrefix"/>).</summary>
    public NativeProducer(KafkaOptions options, string manifestTopic, ILogger? logger = null)
        : this(options, TopicManifest.Load()[manifestTopic], logger)
    {
    }

    /// <summary>A producer for <paramref name="topic"/> (its Name gets <see cref="KafkaOptions.TopicPrefix"/>).</summary>
    public NativeProducer(KafkaOptions options, TopicSpec topic, ILogger? logger = null)
    {
        KafkaNative.EnsureInitialized();
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(topic);
        Topic = options.TopicName(topic.Name);
        name = Topic;
        this.logger = logger;
        log = KafkaLogging.Handler<object?>(logger);
        var config = KafkaClientConfig.Producer(options, topic, ProducerMode.Throughput);

        self = GCHandle.Alloc(this);
        var conf = rd_kafka_conf_new();
        try
        {
            foreach (var (key, value) in config)
            {
                // Confluent.Kafka's own settings ("dotnet.producer.*") are not librdkafka's.
                if (!key.StartsWith("dotnet.", StringComparison.Ordinal) && value != null)
                    SetConf(conf, key, value);
            }
            SetConf(conf, "log.queue", "true");
            rd_kafka_conf_set_opaque(conf, GCHandle.ToIntPtr(self));
            rd_kafka_conf_set_dr_msg_cb(conf, &OnDelivery);
            rd_kafka_conf_set_error_cb(conf, &OnError);
            rd_kafka_conf_set_log_cb(conf, &OnLog);
            var errstr = new byte[512];
            rk = rd_kafka_new(RdKafkaProducer, conf, errstr, (nuint)errstr.Length);
            if (rk == 0)
                throw new InvalidOperationException($"cannot build a producer for '{Topic}': {CString(errstr)}");
        }
        catch
        {
            rd_kafka_conf_destroy(conf);
            self.Free();
            throw;
        }

        name = Marshal.PtrToStringUTF8(rd_kafka_name(rk)) ?? Topic;
        rd_kafka_set_log_queue(rk, 0);
        rkt = rd_kafka_topic_new(rk, Topic, 0);
        if (rkt == 0)
        {
            var err = rd_kafka_last_error();
            Destroy();
            throw new InvalidOperationException($"cannot open topic '{Topic}' for producing: {ErrorText(err)}");
        }
        WarmUpMetadata();
    }

    /// <summary>The deployed topic name (with prefix).</summary>
    public string Topic { get; }

    /// <summary>Messages the cluster acknowledged.</summary>
    public long Delivered => Volatile.Read(ref delivered);

    /// <summary>Messages that failed delivery (after librdkafka's retries) since this producer was made.</summary>
    public long DeliveryFailures => Volatile.Read(ref deliveryFailures);

    /// <summary>Messages not yet acknowledged, plus reports and log lines not yet served by <see cref="Poll"/>.</summary>
    public int QueueLength => rd_kafka_outq_len(Handle);

    /// <summary>
    /// Copies <paramref name="key"/> and <paramref name="value"/> into librdkafka's queue and returns; an empty key
    /// means no key. <see cref="ProduceResult.QueueFull"/> when the queue is full; any other refusal (a message over
    /// the topic's size limit, an unknown topic) throws a <see cref="KafkaException"/> saying why.
    /// </summary>
    public ProduceResult Produce(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var topic = rkt;
        ObjectDisposedException.ThrowIf(topic == 0, this);
        byte empty = 0;
        int queued;
        fixed (byte* keyBytes = key)
        fixed (byte* valueBytes = value)
        {
            // A null payload would be a tombstone; an empty message is an empty (not null) value.
            queued = rd_kafka_produce(topic, PartitionUnassigned, MessageFlagCopy, value.IsEmpty ? &empty : valueBytes, (nuint)value.Length,
                keyBytes, (nuint)key.Length, 0);
        }
        if (queued == 0)
            return ProduceResult.Queued;
        var err = rd_kafka_last_error();
        if (err == ErrQueueFull)
            return ProduceResult.QueueFull;
        throw new KafkaException(new Error((ErrorCode)err,
            $"a {value.Length}-byte message cannot be produced to '{Topic}': {ErrorText(err)}"));
    }

    /// <summary>
    /// Serves delivery reports, errors and log lines on this thread, waiting up to <paramref name="timeoutMs"/> for the
    /// first; returns how many were served.
    /// </summary>
    public int Poll(int timeoutMs) => rd_kafka_poll(Handle, timeoutMs);

    /// <summary>Waits until every queued message is delivered or failed; returns how many are still queued.</summary>
    public int Flush(TimeSpan timeout)
    {
        // rd_kafka_flush serves reports while it waits, so what is left is messages.
        rd_kafka_flush(Handle, (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue));
        return rd_kafka_outq_len(Handle);
    }

    /// <summary>Flushes (up to 10 s) then closes.</summary>
    public void Dispose()
    {
        if (rk == 0)
            return;
        var left = Flush(TimeSpan.FromSeconds(10));
        if (left > 0)
            logger?.LogWarning("Kafka producer for {Topic} closed with {Count} messages undelivered", Topic, left);
        Destroy();
    }

    private nint Handle
    {
        get
        {
            var handle = rk;
            ObjectDisposedException.ThrowIf(handle == 0, this);
            return handle;
        }
    }

    private void Destroy()
    {
        if (rkt != 0)
            rd_kafka_topic_destroy(rkt);
        rkt = 0;
        rd_kafka_destroy(rk);
        rk = 0;
        // Only now: librdkafka may call back until it is destroyed.
        self.Free();
    }

    /// <summary>
    /// Fetches the topic's metadata now. librdkafka otherwise parks the first message for a topic whose partitions it
    /// does not know yet until its once-a-second topic scan. Best effort: producing works once the cluster is up.
    /// </summary>
    private void WarmUpMetadata()
    {
        var err = rd_kafka_metadata(rk, 0, rkt, out var metadata, 5000);
        if (err == 0)
            rd_kafka_metadata_destroy(metadata);
        else
            logger?.LogWarning("Kafka metadata for {Topic} not available yet: {Reason}", Topic, ErrorText(err));
    }

    private static NativeProducer? From(nint opaque) => opaque == 0 ? null : GCHandle.FromIntPtr(opaque).Target as NativeProducer;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnDelivery(nint client, nint message, nint opaque)
    {
        // rd_kafka_message_t begins with its rd_kafka_resp_err_t err.
        var err = *(int*)message;
        if (From(opaque) is not { } producer)
            return;
        if (err == 0)
        {
            Volatile.Write(ref producer.delivered, producer.delivered + 1);
            return;
        }
        try
        {
            producer.DeliveryFailed(err);
        }
        catch (Exception)
        {
            // Nothing may cross back into librdkafka; the failure is already counted.
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnError(nint client, int err, nint reason, nint opaque)
    {
        try
        {
            if (From(opaque) is { logger: { } logger } producer)
            {
                // RD_KAFKA_RESP_ERR__FATAL: the client cannot go on (only idempotent producers have such errors).
                logger.Log(err == -150 ? LogLevel.Critical : LogLevel.Warning, "Kafka producer for {Topic}: {Reason} ({Code})",
                    producer.Topic, Marshal.PtrToStringUTF8(reason), (ErrorCode)err);
            }
        }
        catch (Exception)
        {
            // Logging must not throw into librdkafka.
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(nint client, int level, nint facility, nint text)
    {
        try
        {
            if (From(rd_kafka_opaque(client)) is { } producer)
            {
                producer.log(null, new LogMessage(producer.name, (SyslogLevel)level, Marshal.PtrToStringUTF8(facility) ?? "",
                    Marshal.PtrToStringUTF8(text) ?? ""));
            }
        }
        catch (Exception)
        {
            // Logging must not throw into librdkafka.
        }
    }

    private void DeliveryFailed(int err)
    {
        var failures = Interlocked.Increment(ref deliveryFailures);
        // At most one line a second: a cluster that is away fails every queued message at its timeout at once.
        var now = Environment.TickCount64;
        if (now - lastFailureLogAt < 1000)
            return;
        lastFailureLogAt = now;
        logger?.LogError("Kafka delivery to {Topic} failed: {Reason} ({Code}); {Failures} failed so far", Topic, ErrorText(err), (ErrorCode)err, failures);
    }
}
