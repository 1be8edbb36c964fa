-- Consumers that write to MySQL keep their Kafka position here rather than in Kafka, and update it in the same
-- transaction as the rows they derived from the messages: after a crash they resume exactly where the committed rows
-- end (ShareLogger's exactly-once). next_offset is the offset of the next message to read, Kafka's committed-offset
-- convention. Topic names are ASCII by Kafka's rules ([a-zA-Z0-9._-], at most 249 characters).
CREATE TABLE IF NOT EXISTS `kafka_positions` (
  `consumer_group` varchar(255) NOT NULL,
  `topic` varchar(249) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `partition` int(11) NOT NULL,
  `next_offset` bigint(20) NOT NULL,
  `updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`consumer_group`,`topic`,`partition`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
