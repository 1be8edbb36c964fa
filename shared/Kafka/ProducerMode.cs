namespace PoolCluster.Kafka;

/// <summary>How a <see cref="PoolProducer{TKey,TMessage}"/> trades latency and durability for throughput.</summary>
public enum ProducerMode
{
    /// <summary>
    /// For streams (shares, worker events, templates, jobs): batches up to <see cref="KafkaOptions.LingerMs"/> /
    /// <see cref="KafkaOptions.BatchSizeBytes"/>, the topic's compression (lz4), acks from the partition leader.
    /// </summary>
    Throughput,

    /// <summary>
    /// For solved blocks: acks from all in-sync replicas, no batching delay (linger 0), idempotent (retries never
    /// duplicate or reorder). Await <see cref="PoolProducer{TKey,TMessage}.ProduceAsync"/> before telling the miner.
    /// </summary>
    Durable,
}
