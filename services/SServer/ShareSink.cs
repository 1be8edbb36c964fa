using System.Buffers.Binary;
using System.Collections.Concurrent;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using PoolCluster.Bitcoin;
using PoolCluster.Kafka;
using PoolCluster.Topics;

namespace PoolCluster.SServer;

/// <summary>
/// Everything SServer tells the rest of the pool, on its way to Kafka: Share (every submit, keyed by user id),
/// WorkerEvent (connect, authorize, disconnect; keyed by user id) and SolvedShare (a block).
/// <para>
/// Shares and worker events never block a socket: <see cref="Submit"/> and <see cref="Publish"/> put the message on a
/// bounded in-memory queue that one thread hands to the Kafka producers. While Kafka is slow or away the queue (and
/// librdkafka's own buffer behind it) holds the messages; what does not fit is counted
/// (<see cref="SServerCounters.OutputsDropped"/>) and logged, never dropped silently.
/// </para>
/// <para>
/// That thread serializes each message into one reused buffer and copies it into librdkafka with a
/// <see cref="NativeProducer"/> (one native call, no per-message objects); the same thread serves the delivery reports.
/// </para>
/// <para>
/// A SolvedShare goes straight to a durable producer (acks from all replicas, no batching delay) and
/// <see cref="PublishSolvedAsync"/> completes when Kafka has it: the session answers the miner only then.
/// </para>
/// </summary>
public sealed class ShareSink : IDisposable
{
    private readonly NativeProducer? _shares;
    private readonly NativeProducer? _events;
    private readonly PoolProducer<Null, SolvedShare>? _solved;
    private readonly ConcurrentQueue<IMessage> _queue = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly int _capacity;
    private readonly SServerCounters _counters;
    private readonly ILogger _logger;
    private readonly Thread? _thread;
    private volatile bool _stopping;
    private int _queued;
    private int _sleeping;
    private long _lastDropLogAt;
    private byte[] _valueBuffer = new byte[1024];

    /// <param name="kafka">Null for a server without Kafka (tests of the protocol alone): messages are only counted.</param>
    public ShareSink(KafkaOptions? kafka, int capacity, SServerCounters counters, ILogger logger, ILoggerFactory? loggerFactory = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _counters = counters;
        _logger = logger;
        if (kafka == null)
            return;
        _shares = new NativeProducer(kafka, TopicManifest.Share, loggerFactory?.CreateLogger("PoolCluster.SServer.ShareProducer"));
        _events = new NativeProducer(kafka, TopicManifest.WorkerEvent, loggerFactory?.CreateLogger("PoolCluster.SServer.WorkerEventProducer"));
        _solved = new PoolProducer<Null, SolvedShare>(kafka, TopicManifest.SolvedShare, ProducerMode.Durable,
            loggerFactory?.CreateLogger("PoolCluster.SServer.SolvedShareProducer"));
        _thread = new Thread(Run) { IsBackground = true, Name = "sserver-kafka-out" };
        _thread.Start();
    }

    /// <summary>Messages waiting for the producer thread.</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>Deliveries Kafka finally refused (after librdkafka's retries), as counted by the producers.</summary>
    public long DeliveryFailures => (_shares?.DeliveryFailures ?? 0) + (_events?.DeliveryFailures ?? 0) + (_solved?.DeliveryFailures ?? 0);

    /// <summary>Queues a share for Kafka. False when the queue is full (the share is counted and logged as dropped).</summary>
    public bool Submit(Share share) => Enqueue(share);

    /// <summary>Queues a worker event for Kafka. False when the queue is full (counted and logged as dropped).</summary>
    public bool Publish(WorkerEvent workerEvent) => Enqueue(workerEvent);

    /// <summary>
    /// Produces a solved share durably; true when Kafka acknowledged it within <paramref name="timeout"/>. On failure
    /// or timeout the block is logged in full (header and coinbase hex) so it can still be submitted by hand, and
    /// librdkafka keeps retrying in the background until its message timeout.
    /// </summary>
    public async Task<bool> PublishSolvedAsync(SolvedShare solved, TimeSpan timeout)
    {
        if (_solved == null)
            return true;
        var produce = _solved.ProduceAsync(null!, solved);
        try
        {
            await produce.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is TimeoutException or ProduceException<Null, SolvedShare> or KafkaException)
        {
            _logger.LogCritical("SOLVED BLOCK {Hash} height {Height} NOT CONFIRMED BY KAFKA ({Reason}); header {Header} coinbase {Coinbase}",
                Hash256.FromInternalBytes(solved.BlockHash.Span).ToDisplayHex(), solved.Height, e.Message,
                Convert.ToHexStringLower(solved.Header.Span), Convert.ToHexStringLower(solved.Coinbase.Span));
            // Observe the task's eventual outcome so it never surfaces as an unobserved exception.
            _ = produce.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
            return false;
        }
    }

    private bool Enqueue(IMessage message)
    {
        if (_thread == null)
            return true;
        if (Interlocked.Increment(ref _queued) > _capacity)
        {
            Interlocked.Decrement(ref _queued);
            Dropped(message, "the output queue is full (Kafka slow or unreachable)");
            return false;
        }
        _queue.Enqueue(message);
        if (Volatile.Read(ref _sleeping) == 1 && Interlocked.Exchange(ref _sleeping, 0) == 1)
            _wake.Set();
        return true;
    }

    private void Run()
    {
        while (true)
        {
            while (_queue.TryDequeue(out var message))
            {
                Interlocked.Decrement(ref _queued);
                Produce(message);
            }
            // Delivery reports (and librdkafka's log lines) are served here, between batches.
            _shares!.Poll(0);
            _events!.Poll(0);
            if (_stopping)
                return;
            _wake.Reset();
            Volatile.Write(ref _sleeping, 1);
            // A message enqueued between the drain and the flag would otherwise wait for the timeout.
            if (!_queue.IsEmpty)
            {
                Volatile.Write(ref _sleeping, 0);
                continue;
            }
            _wake.Wait(TimeSpan.FromMilliseconds(200));
            Volatile.Write(ref _sleeping, 0);
            // Let a batch gather: one wake-up per millisecond at most instead of one per share (librdkafka lingers
            // longer than this anyway before it sends).
            if (Volatile.Read(ref _queued) < 256 && !_stopping)
                Thread.Sleep(1);
        }
    }

    private void Produce(IMessage message)
    {
        var (producer, userId) = message switch
        {
            Share share => (_shares!, share.UserId),
            WorkerEvent workerEvent => (_events!, workerEvent.UserId),
            _ => (null, 0),
        };
        if (producer == null)
            return;
        var size = message.CalculateSize();
        if (size > _valueBuffer.Length)
            _valueBuffer = new byte[Math.Max(size, 2 * _valueBuffer.Length)];
        var value = _valueBuffer.AsSpan(0, size);
        message.WriteTo(value);
        // The bytes Confluent.Kafka's Int32 serializer writes for the other producers of these topics: the same key
        // goes to the same partition, so a user's shares stay in order.
        Span<byte> key = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(key, userId);
        // librdkafka's queue full (cluster away long enough to fill it): keep this message and retry, so the
        // messages behind it pile up in our bounded queue, where overflow is counted.
        var fullSince = 0L;
        try
        {
            while (producer.Produce(key, value) == ProduceResult.QueueFull)
            {
                var now = Environment.TickCount64;
                if (fullSince == 0)
                {
                    fullSince = now;
                }
                else if (now - fullSince >= 500)
                {
                    if (_stopping)
                    {
                        Dropped(message, "Kafka's queue stayed full while stopping");
                        return;
                    }
                    LogBackpressure($"librdkafka's queue for {producer.Topic} is full: is the cluster reachable?");
                    fullSince = now;
                }
                producer.Poll(10);
            }
        }
        catch (KafkaException e)
        {
            Dropped(message, e.Message);
        }
    }

    private void LogBackpressure(string reason)
    {
        var now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _lastDropLogAt) < 5000)
            return;
        Interlocked.Exchange(ref _lastDropLogAt, now);
        _logger.LogWarning("Kafka is not taking messages ({Reason}); holding {Queued} in memory (capacity {Capacity})", reason, Queued, _capacity);
    }

    private void Dropped(IMessage message, string reason)
    {
        _counters.OutputDropped();
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastDropLogAt);
        if (now - last >= 1000 && Interlocked.CompareExchange(ref _lastDropLogAt, now, last) == last)
            _logger.LogError("dropped a {Type} for Kafka: {Reason} ({Total} dropped so far)", message.Descriptor.Name, reason, _counters.OutputsDropped);
    }

    /// <summary>Hands over what is queued, then flushes and closes the producers (up to 10 s each).</summary>
    public void Dispose()
    {
        _stopping = true;
        _wake.Set();
        _thread?.Join(TimeSpan.FromSeconds(30));
        _shares?.Dispose();
        _events?.Dispose();
        _solved?.Dispose();
        _wake.Dispose();
    }
}
