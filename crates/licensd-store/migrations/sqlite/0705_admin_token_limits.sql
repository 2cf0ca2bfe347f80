-- Admin token limits: an expiry and an IP allow-list, so a leaked CI or shop token is not a
-- permanent administrator usable from anywhere.
-- Keep in step with migrations/postgres/0705_admin_token_limits.sql.
--
-- `expires_at` (milliseconds since the epoch, like every instant) is the instant from which the
-- token no longer works; NULL never expires. `ip_allowlist` is a JSON array of addresses and
-- CIDR ranges (as `credentials.ip_allowlist`); empty allows any address. The rule is
-- `licensd_domain::access::admit_admin`; existing tokens (the bootstrap one too) get neither.
ALTER TABLE admin_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE admin_tokens ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '[]';
