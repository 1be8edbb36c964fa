using System.Runtime.InteropServices;

namespace PoolCluster.Kafka;

/// <summary>
/// The parts of librdkafka's C API (rdkafka.h of librdkafka 2.0.2) our own code calls: client handles and
/// configuration (for the embedded cluster and <see cref="NativeProducer"/>) and the produce path. The import name is
/// resolved to librdkafka.so.1 by <see cref="KafkaNative"/>.
/// </summary>
internal static unsafe partial class Librdkafka
{
    /// <summary>rd_kafka_type_t RD_KAFKA_PRODUCER.</summary>
    public const int RdKafkaProducer = 0;

    /// <summary>rd_kafka_conf_res_t RD_KAFKA_CONF_OK.</summary>
    public const int ConfOk = 0;

    /// <summary>RD_KAFKA_PARTITION_UA: let the configured partitioner choose from the key.</summary>
    public const int PartitionUnassigned = -1;

    /// <summary>RD_KAFKA_MSG_F_COPY: librdkafka copies payload and key before rd_kafka_produce returns.</summary>
    public const int MessageFlagCopy = 0x2;

    /// <summary>rd_kafka_resp_err_t RD_KAFKA_RESP_ERR__QUEUE_FULL.</summary>
    public const int ErrQueueFull = -184;

    /// <summary>rd_kafka_resp_err_t RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE.</summary>
    public const int ErrMessageSizeTooLarge = 10;

    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_conf_new();

    [LibraryImport(KafkaNative.ImportName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_conf_set(nint conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_conf_destroy(nint conf);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_conf_set_opaque(nint conf, nint opaque);

    /// <summary>void (*dr_msg_cb)(rd_kafka_t *rk, const rd_kafka_message_t *rkmessage, void *opaque), served by rd_kafka_poll.</summary>
    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_conf_set_dr_msg_cb(nint conf, delegate* unmanaged[Cdecl]<nint, nint, nint, void> callback);

    /// <summary>void (*error_cb)(rd_kafka_t *rk, int err, const char *reason, void *opaque), served by rd_kafka_poll.</summary>
    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_conf_set_error_cb(nint conf, delegate* unmanaged[Cdecl]<nint, int, nint, nint, void> callback);

    /// <summary>void (*log_cb)(const rd_kafka_t *rk, int level, const char *fac, const char *buf).</summary>
    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_conf_set_log_cb(nint conf, delegate* unmanaged[Cdecl]<nint, int, nint, nint, void> callback);

    /// <summary>Takes ownership of conf on success only.</summary>
    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_new(int type, nint conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_destroy(nint rk);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_opaque(nint rk);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_name(nint rk);

    /// <summary>Forwards log lines to a queue (null: the main queue, served by rd_kafka_poll); needs log.queue=true.</summary>
    [LibraryImport(KafkaNative.ImportName)]
    public static partial int rd_kafka_set_log_queue(nint rk, nint rkqu);

    [LibraryImport(KafkaNative.ImportName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint rd_kafka_topic_new(nint rk, string topic, nint conf);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_topic_destroy(nint rkt);

    /// <summary>0 when queued; -1 with the reason in <see cref="rd_kafka_last_error"/>.</summary>
    [LibraryImport(KafkaNative.ImportName)]
    public static partial int rd_kafka_produce(nint rkt, int partition, int msgflags, byte* payload, nuint len, byte* key, nuint keylen, nint msgOpaque);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial int rd_kafka_last_error();

    [LibraryImport(KafkaNative.ImportName)]
    public static partial int rd_kafka_poll(nint rk, int timeoutMs);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial int rd_kafka_flush(nint rk, int timeoutMs);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial int rd_kafka_outq_len(nint rk);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial int rd_kafka_metadata(nint rk, int allTopics, nint onlyRkt, out nint metadata, int timeoutMs);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial void rd_kafka_metadata_destroy(nint metadata);

    [LibraryImport(KafkaNative.ImportName)]
    public static partial nint rd_kafka_err2str(int err);

    public static string ErrorText(int err) => Marshal.PtrToStringUTF8(rd_kafka_err2str(err)) ?? $"error {err}";

    public static string CString(byte[] buffer)
    {
        var end = Array.IndexOf(buffer, (byte)0);
        return System.Text.Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end);
    }

    /// <summary>Sets one property; throws naming it when librdkafka refuses.</summary>
    public static void SetConf(nint conf, string name, string value)
    {
        var errstr = new byte[512];
        if (rd_kafka_conf_set(conf, name, value, errstr, (nuint)errstr.Length) != ConfOk)
            throw new InvalidOperationException($"librdkafka rejected {name}={value}: {CString(errstr)}");
    }
}
