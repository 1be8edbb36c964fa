using PoolCluster.Zmq;

namespace PoolCluster.DevNode.Notifications;

/// <summary>
/// bitcoind's -zmqpubhashblock/-zmqpubrawblock/-zmqpubhashtx (src/zmq/zmqpublishnotifier.cpp): each message is three
/// frames — topic, body, and the topic's own 4-byte little-endian sequence number that starts at 0. Hashes are sent
/// in display order (bitcoind reverses the internal bytes). Topics configured on the same endpoint share one socket,
/// as in bitcoind.
/// </summary>
public sealed class ZmqNotifier : IDisposable
{
    private readonly ZmqContext? _context;
    private readonly Dictionary<string, Channel> _byEndpoint = new(StringComparer.Ordinal);
    private readonly Topic? _hashBlock;
    private readonly Topic? _rawBlock;
    private readonly Topic? _hashTx;

    public ZmqNotifier(ZmqOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.HashBlock) && string.IsNullOrWhiteSpace(options.RawBlock) && string.IsNullOrWhiteSpace(options.HashTx))
            return;
        _context = new ZmqContext();
        try
        {
            _hashBlock = Open("hashblock", options.HashBlock);
            _rawBlock = Open("rawblock", options.RawBlock);
            _hashTx = Open("hashtx", options.HashTx);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The endpoint actually bound for hashblock (a wildcard port resolved), or null when off.</summary>
    public string? HashBlockEndpoint => _hashBlock?.Channel.BoundEndpoint;

    public string? RawBlockEndpoint => _rawBlock?.Channel.BoundEndpoint;

    public string? HashTxEndpoint => _hashTx?.Channel.BoundEndpoint;

    /// <summary>A new tip: hashblock (display-order hash) and rawblock (the serialized block with witness).</summary>
    public void BlockConnected(ReadOnlySpan<byte> blockHashInternal, ReadOnlySpan<byte> rawBlock)
    {
        _hashBlock?.Publish(Reversed(blockHashInternal));
        _rawBlock?.Publish(rawBlock);
    }

    /// <summary>A transaction entered the mempool or was connected in a block (bitcoind notifies both).</summary>
    public void Transaction(ReadOnlySpan<byte> txidInternal) => _hashTx?.Publish(Reversed(txidInternal));

    public bool HasTransactionSubscribers => _hashTx is not null;

    private static byte[] Reversed(ReadOnlySpan<byte> hash)
    {
        var display = hash.ToArray();
        Array.Reverse(display);
        return display;
    }

    private Topic? Open(string name, string? endpoint)
    {
        if (string.IsNullOrWhiteSpace(endpoint))
            return null;
        if (!_byEndpoint.TryGetValue(endpoint, out var channel))
        {
            var publisher = new ZmqPublisher(_context!);
            try
            {
                channel = new Channel(publisher, publisher.Bind(endpoint));
            }
            catch (ZmqException e)
            {
                publisher.Dispose();
                throw new InvalidOperationException($"cannot bind ZMQ {name} publisher to {endpoint}: {e.Message}", e);
            }
            _byEndpoint.Add(endpoint, channel);
        }
        return new Topic(name, channel);
    }

    public void Dispose()
    {
        foreach (var channel in _byEndpoint.Values)
            channel.Dispose();
        _byEndpoint.Clear();
        _context?.Dispose();
    }

    private sealed class Channel(ZmqPublisher publisher, string boundEndpoint) : IDisposable
    {
        private readonly Lock _sendLock = new();
        private bool _disposed;

        public string BoundEndpoint { get; } = boundEndpoint;

        // A ZMQ socket is single-threaded; blocks and transactions are published from different threads.
        public void Send(string topic, ReadOnlySpan<byte> body, uint sequence)
        {
            lock (_sendLock)
            {
                if (!_disposed)
                    BitcoindZmq.Publish(publisher, topic, body, sequence);
            }
        }

        public void Dispose()
        {
            lock (_sendLock)
            {
                _disposed = true;
                publisher.Dispose();
            }
        }
    }

    private sealed class Topic(string name, Channel channel)
    {
        private readonly Lock _sequenceLock = new();
        private uint _sequence;

        public Channel Channel { get; } = channel;

        public void Publish(ReadOnlySpan<byte> body)
        {
            // Sequence numbers must go out in order, so numbering and sending happen under one lock.
            lock (_sequenceLock)
                Channel.Send(name, body, _sequence++);
        }
    }
}
