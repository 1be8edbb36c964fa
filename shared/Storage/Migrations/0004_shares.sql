-- One row per share (accepted or rejected), written by ShareLogger from the Kafka share topic (topics/share.proto
-- Share). Read by analysts and payouts: "shares of user U between T1 and T2" and "shares at block height H".
--
-- Sizing and retention (docs/storage.md): at 100k shares/s this is ~8.6 billion rows a day, so the table is RANGE
-- partitioned on created_at from day one; a maintenance job adds daily partitions ahead of time and drops expired ones
-- (DROP PARTITION is instant, DELETE is not). It starts with a single catch-all partition, which the job splits while
-- it is still empty. Partitioning requires every unique key to contain created_at, hence the key shapes below.
--
-- Columns:
--   created_at   DATETIME(3), UTC, the share's timestamp_unix_ms (the time the stratum server saw it, not the time
--                it was written), so a share lands in the same partition however late it is logged.
--   status       topics/share.proto ShareStatus: 1 accepted, 2 solved (a block), >= 21 rejected (btcpool codes).
--   ip           the miner's address as 4 or 16 bytes: INET6_NTOA(ip) prints it, INET6_ATON('1.2.3.4') finds it.
--   block_hash   the share's header hash in internal byte order (HEX(REVERSE(block_hash)) gives the explorer form);
--                NULL when the share was rejected before being hashed.
--   kafka_partition, kafka_offset: where the share sits in the share topic.
--
-- Exactly-once: ShareLogger writes a batch of rows and its next offset (kafka_positions) in one transaction, which is
-- what makes delivery exactly-once. The unique key on (kafka_partition, kafka_offset, created_at) is the cheap safety
-- net behind it: a second writer replaying a batch (a zombie consumer after a rebalance, a bug) fails with a
-- duplicate-key error instead of double-counting a miner's work. It is cheap because offsets only grow within a
-- partition, so inserts land at the right edge of the index in pages that stay in memory. created_at is part of it
-- because partitioning demands it, and it also keeps a recreated topic (offsets restarting at 0) from colliding with
-- old rows: the same (partition, offset) with the same millisecond timestamp is the same share.
CREATE TABLE IF NOT EXISTS `shares` (
  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `kafka_partition` int(11) NOT NULL,
  `kafka_offset` bigint(20) NOT NULL,
  `user_id` int(11) NOT NULL,
  `worker_id` bigint(20) NOT NULL,
  `worker_name` varchar(50) NOT NULL DEFAULT '',
  `ip` varbinary(16) NOT NULL,
  `server_id` int(10) unsigned NOT NULL,
  `session_id` bigint(20) unsigned NOT NULL,
  `job_id` bigint(20) unsigned NOT NULL,
  `share_diff` double NOT NULL,
  `network_diff` double NOT NULL,
  `status` tinyint(3) unsigned NOT NULL,
  `height` int(10) unsigned NOT NULL,
  `created_at` datetime(3) NOT NULL,
  `nonce` int(10) unsigned NOT NULL,
  `ntime` int(10) unsigned NOT NULL,
  `version_bits` int(10) unsigned NOT NULL DEFAULT '0',
  `extranonce1` varbinary(16) NOT NULL,
  `extranonce2` varbinary(32) NOT NULL,
  `block_hash` binary(32) DEFAULT NULL,
  PRIMARY KEY (`id`,`created_at`),
  UNIQUE KEY `kafka_partition_offset` (`kafka_partition`,`kafka_offset`,`created_at`),
  KEY `user_id_created_at` (`user_id`,`created_at`),
  KEY `height` (`height`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
  PARTITION BY RANGE COLUMNS(`created_at`) (PARTITION `p_max` VALUES LESS THAN (MAXVALUE));
