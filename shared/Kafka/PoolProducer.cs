using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using PoolCluster.Topics;

namespace PoolCluster.Kafka;

/// <summary>
/// Produces protobuf messages of type <typeparamref name="TMessage"/> to one topic.
/// <typeparamref name="TKey"/> is the manifest's key: <c>string</c> (node name), <c>int</c> (user id; same user, same
/// partition) or <see cref="Null"/> (unkeyed); Confluent.Kafka's built-in serializers encode it.
/// Thread-safe: one instance per topic per process is the intended use.
/// </summary>
public sealed class PoolProducer<TKey, TMessage> : IDisposable where TMessage : class, IMessage<TMessage>, new()
{
    private readonly IProducer<TKey, TMessage> producer;
    private readonly ILogger? logger;
    private readonly Action<DeliveryReport<TKey, TMessage>> countFailure;
    private long deliveryFailures;
    private int disposed;

    /// <summary>A producer for a topic of topics/topics.json (the deployed name gets <see cref="KafkaOptions.TopicPrefix"/>).</summary>
    public PoolProducer(KafkaOptions options, string manifestTopic, ProducerMode mode = ProducerMode.Throughput, ILogger? logger = null)
        : this(options, TopicManifest.Load()[manifestTopic], mode, logger)
    {
    }

    /// <summary>A producer for <paramref name="topic"/> (its Name gets <see cref="KafkaOptions.TopicPrefix"/>).</summary>
    public PoolProducer(KafkaOptions options, TopicSpec topic, ProducerMode mode = ProducerMode.Throughput, ILogger? logger = null)
    {
        KafkaNative.EnsureInitialized();
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(topic);
        Topic = options.TopicName(topic.Name);
        Spec = topic;
        Mode = mode;
        this.logger = logger;
        var builder = new ProducerBuilder<TKey, TMessage>(KafkaClientConfig.Producer(options, topic, mode))
            .SetValueSerializer(ProtobufSerde<TMessage>.Instance);
        builder.SetLogHandler(KafkaLogging.Handler<IProducer<TKey, TMessage>>(logger));
        if (logger != null)
            builder.SetErrorHandler((_, e) => logger.Log(e.IsFatal ? LogLevel.Critical : LogLevel.Warning,
                "Kafka producer for {Topic}: {Reason} ({Code})", Topic, e.Reason, e.Code));
        try
        {
            producer = builder.Build();
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException(
                $"cannot build a producer for '{Topic}' with key type {typeof(TKey).Name}: use string, int, long, byte[] or Confluent.Kafka.Null ({e.Message})", e);
        }
        countFailure = CountFailure;
        WarmUpMetadata();
    }

    /// <summary>The deployed topic name (with prefix).</summary>
    public string Topic { get; }

    /// <summary>The topic's manifest entry.</summary>
    public TopicSpec Spec { get; }

    public ProducerMode Mode { get; }

    /// <summary>Messages that failed delivery (after librdkafka's retries) since this producer was made.</summary>
    public long DeliveryFailures => Interlocked.Read(ref deliveryFailures);

    /// <summary>The underlying Confluent producer, for what this wrapper does not cover.</summary>
    public IProducer<TKey, TMessage> Inner => producer;

    /// <summary>
    /// Queues a message and returns at once; <paramref name="onDelivered"/> runs on librdkafka's delivery thread when
    /// the broker acknowledged it (or it failed: check <c>report.Error.IsError</c>). Throws only when the message cannot
    /// even be queued (too large, or the local queue stayed full for <paramref name="queueFullWait"/>, default 5 s).
    /// </summary>
    public void Produce(TKey key, TMessage message, Action<DeliveryReport<TKey, TMessage>>? onDelivered = null, TimeSpan? queueFullWait = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        var kafkaMessage = new Message<TKey, TMessage> { Key = key, Value = message };
        var handler = onDelivered == null ? countFailure : report =>
        {
            countFailure(report);
            onDelivered(report);
        };
        var deadline = 0L;
        while (true)
        {
            try
            {
                producer.Produce(Topic, kafkaMessage, handler);
                return;
            }
            catch (ProduceException<TKey, TMessage> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                // The local queue drains as the broker acknowledges; waiting briefly beats losing a share.
                var now = Environment.TickCount64;
                if (deadline == 0)
                    deadline = now + (long)(queueFullWait ?? TimeSpan.FromSeconds(5)).TotalMilliseconds;
                else if (now >= deadline)
                    throw new ProduceException<TKey, TMessage>(new Error(ErrorCode.Local_QueueFull,
                        $"producer queue for '{Topic}' stayed full: is the cluster reachable?"), e.DeliveryResult, e);
                producer.Poll(TimeSpan.FromMilliseconds(10));
            }
        }
    }

    /// <summary>Produces and completes when the broker acknowledged (per <see cref="Mode"/>); throws ProduceException on failure.</summary>
    public async Task<DeliveryResult<TKey, TMessage>> ProduceAsync(TKey key, TMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        try
        {
            return await producer.ProduceAsync(Topic, new Message<TKey, TMessage> { Key = key, Value = message }, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (ProduceException<TKey, TMessage>)
        {
            Interlocked.Increment(ref deliveryFailures);
            throw;
        }
    }

    /// <summary>Waits until every queued message is delivered or failed; returns how many are still queued.</summary>
    public int Flush(TimeSpan timeout) => producer.Flush(timeout);

    /// <summary>Flushes (up to 10 s) then closes.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        try
        {
            var left = producer.Flush(TimeSpan.FromSeconds(10));
            if (left > 0)
                logger?.LogWarning("Kafka producer for {Topic} closed with {Count} messages undelivered", Topic, left);
        }
        finally
        {
            producer.Dispose();
        }
    }

    /// <summary>
    /// Fetches the topic's metadata now. librdkafka otherwise parks the first message for a topic whose partitions it
    /// does not know yet until its once-a-second topic scan: a ~1 s delay on the first job or solved block.
    /// Best effort: a cluster that is not up yet costs up to 5 s here, and producing still works once it is.
    /// </summary>
    private void WarmUpMetadata()
    {
        try
        {
            using var admin = new DependentAdminClientBuilder(producer.Handle).Build();
            admin.GetMetadata(Topic, TimeSpan.FromSeconds(5));
        }
        catch (KafkaException e)
        {
            logger?.LogWarning("Kafka metadata for {Topic} not available yet: {Reason}", Topic, e.Error.Reason);
        }
    }

    private void CountFailure(DeliveryReport<TKey, TMessage> report)
    {
        if (!report.Error.IsError)
            return;
        Interlocked.Increment(ref deliveryFailures);
        logger?.LogError("Kafka delivery to {Topic} failed: {Reason} ({Code})", Topic, report.Error.Reason, report.Error.Code);
    }
}
