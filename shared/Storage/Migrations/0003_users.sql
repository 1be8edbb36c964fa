-- Pool users: the stratum server resolves the `user` part of `user.worker` to puid here (btcpool's puid: the id every
-- btcpool table keys users by). puid is AUTO_INCREMENT but may be given explicitly (e.g. ids imported from an
-- account system). The case-insensitive collation makes `Alice` and `alice` one user: lookups by name ignore case,
-- and two accounts that differ only in case cannot be created; caches keyed by name should normalise case too.
CREATE TABLE IF NOT EXISTS `users` (
  `puid` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(64) COLLATE utf8mb4_general_ci NOT NULL,
  `created_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`puid`),
  UNIQUE KEY `name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
