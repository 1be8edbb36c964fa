-- What BlkMaker's submission of each found block came to, next to btcpool's columns of found_blocks (written by
-- BlkMaker, idempotent on `hash`: a block processed again after a restart updates its row, never adds one).
--
--   submit_status  accepted     a node has it on its main chain
--                  side-chain   a node stored it but follows another block at that height (a lost race; bitcoind's
--                               "inconclusive", or getblockheader's confirmations = -1)
--                  rejected     every node that answered refused it (submit_result says why)
--                  failed       it could not be built (its template never arrived) or no node could be reached
--                               within BlkMaker:SubmitRetrySeconds
--   submit_result  per node: "node1: accepted, main chain; node2: duplicate", or why it failed (up to 1024 characters)
--   submitted_at   when submitblock first went out (UTC), NULL when it never could
--   block_hex      the whole block for rejected and failed blocks only, so an operator can inspect or resubmit it
--                  (bitcoin-cli submitblock); NULL for accepted blocks, which the nodes keep
-- Rows of rejected and failed blocks also get is_orphaned = 1: they are not in the chain.
ALTER TABLE `found_blocks`
  ADD COLUMN IF NOT EXISTS `submit_status` varchar(16) NOT NULL DEFAULT '' AFTER `created_at`,
  ADD COLUMN IF NOT EXISTS `submit_result` varchar(1024) NOT NULL DEFAULT '' AFTER `submit_status`,
  ADD COLUMN IF NOT EXISTS `submitted_at` datetime(3) DEFAULT NULL AFTER `submit_result`,
  ADD COLUMN IF NOT EXISTS `block_hex` longtext DEFAULT NULL AFTER `submitted_at`;
