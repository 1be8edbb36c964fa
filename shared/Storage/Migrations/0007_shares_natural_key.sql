-- `shares` keyed by where the share sits in Kafka: PRIMARY KEY (kafka_partition, kafka_offset, created_at) replaces the
-- surrogate AUTO_INCREMENT `id` (nothing reads it) and the UNIQUE KEY `kafka_partition_offset` that duplicated it.
--
-- Why: every share row is written at 100k/s scale, and each index is work per row. With the Kafka position as the
-- clustered key a row costs one index fewer (the old unique key was a second copy of the same columns), and bulk
-- loads no longer take InnoDB's table-level AUTO-INC lock, which serialized the LOAD DATA statements of several
-- ShareLoggers writing the same table. Measured on the 2-core test machine (docs/sharelogger.md): LOAD DATA of
-- 20,000-row transactions goes from about 54,000 to about 80,000 rows/s.
--
-- The primary key keeps the unique key's duties: a replayed row is the same (partition, offset, created_at) and is
-- skipped by INSERT IGNORE / LOAD DATA IGNORE (or fails with a duplicate-key error without IGNORE), never doubled.
-- Offsets only grow within a partition, so inserts land at the right edge of 8 (the topic's partitions) runs of the
-- clustered index, in pages that stay in memory. created_at stays in the key because partitioning requires it.
--
-- On a table that already holds shares this rebuilds it (a copy, minutes per hundred million rows): run it before the
-- pool takes traffic, or with pt-online-schema-change on a busy server. Re-runnable (a migration interrupted before it
-- was recorded runs again): on the new shape it drops and re-adds the same primary key, and the IF EXISTS parts do nothing.
ALTER TABLE `shares`
  DROP PRIMARY KEY,
  DROP INDEX IF EXISTS `kafka_partition_offset`,
  DROP COLUMN IF EXISTS `id`,
  ADD PRIMARY KEY (`kafka_partition`, `kafka_offset`, `created_at`);
