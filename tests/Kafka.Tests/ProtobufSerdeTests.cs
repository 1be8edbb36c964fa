using Confluent.Kafka;
using PoolCluster.Topics;

namespace PoolCluster.Kafka.Tests;

public class ProtobufSerdeTests
{
    private static readonly SerializationContext Value = new(MessageComponentType.Value, "btc.share");

    [Fact]
    public void Serializes_as_plain_protobuf_that_any_reader_of_the_proto_can_parse()
    {
        var share = TestMessages.Share(3);
        var bytes = ProtobufSerde<Share>.Instance.Serialize(share, Value);
        Assert.Equal(Share.Parser.ParseFrom(bytes), share);
        Assert.Equal(share, ProtobufSerde<Share>.Instance.Deserialize(bytes, isNull: false, Value));
    }

    [Fact]
    public void Garbage_and_null_values_are_reported_with_topic_and_type()
    {
        var garbage = Assert.Throws<InvalidDataException>(() => ProtobufSerde<Share>.Instance.Deserialize(new byte[] { 0xff, 0xff, 0xff }, false, Value));
        Assert.Contains("btc.share", garbage.Message);
        Assert.Contains(nameof(Share), garbage.Message);

        var nullValue = Assert.Throws<InvalidDataException>(() => ProtobufSerde<Share>.Instance.Deserialize([], true, Value));
        Assert.Contains("null", nullValue.Message);
    }
}
