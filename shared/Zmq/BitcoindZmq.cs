using System.Buffers.Binary;
using System.Text;

namespace PoolCluster.Zmq;

/// <summary>
/// bitcoind's ZMQ notification format (doc/zmq.md, src/zmq/zmqpublishnotifier.cpp): a 3-frame message
/// [topic, body, sequence] where the sequence is a uint32 little-endian counter kept per topic (per notifier),
/// starting at 0 and incremented after each send, so a subscriber can detect lost notifications.
/// The hash topics carry the 32-byte hash byte-reversed from its internal order, i.e. in RPC display order.
/// </summary>
public static class BitcoindZmq
{
    public const string HashBlock = "hashblock";
    public const string RawBlock = "rawblock";
    public const string HashTx = "hashtx";
    public const string RawTx = "rawtx";

    /// <summary>Publishes one notification exactly as bitcoind frames it.</summary>
    public static void Publish(ZmqPublisher publisher, string topic, ReadOnlySpan<byte> body, uint sequence)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        Span<byte> topicBytes = stackalloc byte[32];
        if (!Encoding.ASCII.TryGetBytes(topic, topicBytes, out var topicLength))
            throw new ArgumentException($"topic '{topic}' is longer than 32 characters", nameof(topic));
        Span<byte> sequenceBytes = stackalloc byte[sizeof(uint)];
        BinaryPrimitives.WriteUInt32LittleEndian(sequenceBytes, sequence);
        publisher.Send(topicBytes[..topicLength], more: true);
        publisher.Send(body, more: true);
        publisher.Send(sequenceBytes);
    }

    /// <summary>Reads a received message as a bitcoind notification; false when it does not have that shape.</summary>
    public static bool TryParse(ZmqMultipartMessage message, out BitcoindNotification notification)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.FrameCount != 3 || message[2].Length != sizeof(uint))
        {
            notification = default;
            return false;
        }
        notification = new BitcoindNotification(message[0], message[1], BinaryPrimitives.ReadUInt32LittleEndian(message[2]));
        return true;
    }
}

/// <summary>A parsed bitcoind notification; its spans point into the message it was parsed from.</summary>
public readonly ref struct BitcoindNotification(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> body, uint sequence)
{
    public ReadOnlySpan<byte> Topic { get; } = topic;
    public ReadOnlySpan<byte> Body { get; } = body;
    public uint Sequence { get; } = sequence;

    /// <summary>Whether the topic is <paramref name="topic"/> (e.g. <see cref="BitcoindZmq.HashBlock"/>); no allocation.</summary>
    public bool IsTopic(string topic) => Ascii.Equals(Topic, topic);
}
