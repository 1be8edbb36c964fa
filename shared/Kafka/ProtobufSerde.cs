using Confluent.Kafka;
using Google.Protobuf;

namespace PoolCluster.Kafka;

/// <summary>
/// Kafka value (de)serializer for any protobuf message: the plain protobuf encoding, no schema-registry framing, so
/// any consumer that knows the .proto (topics/) can read it.
/// </summary>
public sealed class ProtobufSerde<T> : ISerializer<T>, IDeserializer<T> where T : class, IMessage<T>, new()
{
    public static readonly ProtobufSerde<T> Instance = new();

    private static readonly MessageParser<T> Parser = new(() => new T());

    public byte[] Serialize(T data, SerializationContext context)
    {
        if (data is null)
            throw new ArgumentNullException(nameof(data), $"a null {typeof(T).Name} cannot be produced to '{context.Topic}'");
        return data.ToByteArray();
    }

    public T Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context)
    {
        if (isNull)
            throw new InvalidDataException($"null {context.Component} in topic '{context.Topic}' where a {typeof(T).Name} was expected");
        try
        {
            return Parser.ParseFrom(data);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException(
                $"the {context.Component} in topic '{context.Topic}' is not a valid {typeof(T).Name} ({data.Length} bytes): {e.Message}", e);
        }
    }
}
