using System.Runtime.InteropServices;

namespace PoolCluster.Kafka.Embedded;

/// <summary>
/// The mock-cluster part of librdkafka's C API (rdkafka_mock.h of librdkafka 2.0.2); handles and configuration are
/// in <see cref="Librdkafka"/>.
/// The import name is resolved to librdkafka.so.1 by <see cref="KafkaNative"/>.
/// </summary>
internal static partial class MockClusterNative
{
    /// <summary>rd_kafka_resp_err_t RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS.</summary>
    public const int ErrTopicAlreadyExists = 36;

    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_mock_cluster_new(nint rk, int brokerCount);

    /// <summary>Returns a string owned by the cluster ("127.0.0.1:port,..."), valid until the cluster is destroyed.</summary>
    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_mock_cluster_bootstraps(nint mcluster);

    [LibraryImport(KafkaNative.ImportName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_mock_topic_create(nint mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_mock_cluster_destroy(nint mcluster);
}
