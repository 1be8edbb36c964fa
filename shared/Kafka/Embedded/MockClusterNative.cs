using System.Runtime.InteropServices;

namespace PoolCluster.Kafka.Embedded;

/// <summary>
/// The parts of librdkafka's C API (rdkafka.h, rdkafka_mock.h of librdkafka 2.0.2) the embedded cluster needs.
/// The import name is resolved to librdkafka.so.1 by <see cref="KafkaNative"/>.
/// </summary>
internal static partial class MockClusterNative
{
    /// <summary>rd_kafka_type_t RD_KAFKA_PRODUCER: the mock cluster only needs a handle for logging and its config.</summary>
    public const int RdKafkaProducer = 0;

    /// <summary>rd_kafka_conf_res_t RD_KAFKA_CONF_OK.</summary>
    public const int ConfOk = 0;

    /// <summary>rd_kafka_resp_err_t RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS.</summary>
    public const int ErrTopicAlreadyExists = 36;

    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_conf_new();

    [LibraryImport(KafkaNative.ImportName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_conf_set(nint conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_conf_destroy(nint conf);

    /// <summary>Takes ownership of conf on success only.</summary>
    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_new(int type, nint conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_destroy(nint rk);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_mock_cluster_new(nint rk, int brokerCount);

    /// <summary>Returns a string owned by the cluster ("127.0.0.1:port,..."), valid until the cluster is destroyed.</summary>
    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_mock_cluster_bootstraps(nint mcluster);

    [LibraryImport(KafkaNative.ImportName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_mock_topic_create(nint mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_mock_cluster_destroy(nint mcluster);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_err2str(int err);

    public static string ErrorText(int err) => Marshal.PtrToStringUTF8(rd_kafka_err2str(err)) ?? $"error {err}";

    public static string CString(byte[] buffer)
    {
        var end = Array.IndexOf(buffer, (byte)0);
        return System.Text.Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end);
    }
}
