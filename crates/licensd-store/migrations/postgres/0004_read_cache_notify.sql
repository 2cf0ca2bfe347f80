-- The per-node read cache (issue 18; `read_cache.rs`, `postgres.rs`): every statement that writes
-- a table the cache reads notifies channel `licensd_read_cache` inside its transaction, so the
-- notification is delivered at commit, in commit order, to every node listening. The payload is
-- empty (a cache drops everything it holds on any write), so PostgreSQL folds the notifications
-- of one transaction into one. Statement triggers: whichever code path writes, it notifies.
-- Keep in step with migrations/sqlite/0004_read_cache_notify.sql (nothing there: SQLite's cache
-- is invalidated by its own commits).
CREATE FUNCTION licensd_read_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $notify$
BEGIN
    PERFORM pg_notify('licensd_read_cache', '');
    RETURN NULL;
END
$notify$;

CREATE TRIGGER products_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE TRIGGER features_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON features
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE TRIGGER customers_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE TRIGGER licenses_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON licenses
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE TRIGGER license_features_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON license_features
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE TRIGGER devices_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE TRIGGER blocked_devices_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON blocked_devices
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE TRIGGER floating_leases_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON floating_leases
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
CREATE TRIGGER credentials_read_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON credentials
    FOR EACH STATEMENT EXECUTE FUNCTION licensd_read_cache_notify();
