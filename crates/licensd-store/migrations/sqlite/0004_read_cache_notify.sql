-- Nothing to do on SQLite: PostgreSQL's migration 4 makes writes notify the per-node read cache
-- (migrations/postgres/0004_read_cache_notify.sql); SQLite's cache is invalidated by this
-- process's own commits (its WAL hook). The version exists on both so exports move between them.
SELECT 1;
