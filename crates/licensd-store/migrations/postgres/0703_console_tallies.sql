-- Admin console (issue 15): the dashboard's counts stay exact and cheap at a million licences.
-- Keep in step with migrations/sqlite/0703_console_tallies.sql (which describes the kinds).
--
-- Concurrent writers must not queue on one counter row, so the triggers only append deltas to
-- `console_tally_deltas`; the dashboard folds them into `console_tally` (one transaction under an
-- advisory lock: DELETE ... RETURNING feeds the upsert, so every delta is counted exactly once)
-- and reads the folded rows. The tally is derived data: export leaves it out and import rebuilds
-- it through these triggers.
CREATE TABLE console_tally (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    day BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, key, day)
);
CREATE TABLE console_tally_deltas (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    day BIGINT NOT NULL,
    n BIGINT NOT NULL
);

INSERT INTO console_tally (kind, key, day, n)
SELECT 'license', status, COALESCE(expires_at / 86400000, 9223372036854775807), COUNT(*)
FROM licenses GROUP BY 2, 3;
INSERT INTO console_tally (kind, key, day, n)
SELECT 'device', '', 0, COUNT(*) FROM devices WHERE deactivated_at IS NULL HAVING COUNT(*) > 0;
INSERT INTO console_tally (kind, key, day, n)
SELECT 'activation', '', at / 86400000, COUNT(*) FROM activation_log GROUP BY 3;
INSERT INTO console_tally (kind, key, day, n)
SELECT 'consumption', '', at / 86400000, COUNT(*) FROM consumption_events GROUP BY 3;

-- Licences: inserts per statement (a bulk issue's multi-row INSERT appends one delta per bucket),
-- status or expiry changes and deletes per row.
CREATE FUNCTION console_tally_license_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO console_tally_deltas (kind, key, day, n)
    SELECT 'license', status, COALESCE(expires_at / 86400000, 9223372036854775807), COUNT(*)
    FROM console_tally_new_licenses GROUP BY 2, 3;
    RETURN NULL;
END $$;
CREATE TRIGGER console_tally_license_insert AFTER INSERT ON licenses
REFERENCING NEW TABLE AS console_tally_new_licenses
FOR EACH STATEMENT EXECUTE FUNCTION console_tally_license_inserted();

CREATE FUNCTION console_tally_license_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO console_tally_deltas (kind, key, day, n)
        VALUES ('license', OLD.status, COALESCE(OLD.expires_at / 86400000, 9223372036854775807), -1);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO console_tally_deltas (kind, key, day, n)
        VALUES ('license', NEW.status, COALESCE(NEW.expires_at / 86400000, 9223372036854775807), 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER console_tally_license_update AFTER UPDATE OF status, expires_at ON licenses
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
EXECUTE FUNCTION console_tally_license_changed();
CREATE TRIGGER console_tally_license_delete AFTER DELETE ON licenses
FOR EACH ROW EXECUTE FUNCTION console_tally_license_changed();

CREATE FUNCTION console_tally_device_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deactivated_at IS NULL THEN
        delta := delta - 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.deactivated_at IS NULL THEN
        delta := delta + 1;
    END IF;
    IF delta <> 0 THEN
        INSERT INTO console_tally_deltas (kind, key, day, n) VALUES ('device', '', 0, delta);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER console_tally_device_insert AFTER INSERT ON devices
FOR EACH ROW WHEN (NEW.deactivated_at IS NULL) EXECUTE FUNCTION console_tally_device_changed();
CREATE TRIGGER console_tally_device_update AFTER UPDATE OF deactivated_at ON devices
FOR EACH ROW WHEN ((OLD.deactivated_at IS NULL) IS DISTINCT FROM (NEW.deactivated_at IS NULL))
EXECUTE FUNCTION console_tally_device_changed();
CREATE TRIGGER console_tally_device_delete AFTER DELETE ON devices
FOR EACH ROW WHEN (OLD.deactivated_at IS NULL) EXECUTE FUNCTION console_tally_device_changed();

CREATE FUNCTION console_tally_day_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO console_tally_deltas (kind, key, day, n) VALUES (TG_ARGV[0], '', NEW.at / 86400000, 1);
    ELSE
        INSERT INTO console_tally_deltas (kind, key, day, n) VALUES (TG_ARGV[0], '', OLD.at / 86400000, -1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER console_tally_activation AFTER INSERT OR DELETE ON activation_log
FOR EACH ROW EXECUTE FUNCTION console_tally_day_changed('activation');
CREATE TRIGGER console_tally_consumption AFTER INSERT OR DELETE ON consumption_events
FOR EACH ROW EXECUTE FUNCTION console_tally_day_changed('consumption');

CREATE INDEX licenses_status_expiry ON licenses (status, expires_at);
CREATE INDEX floating_leases_expiry ON floating_leases (expires_at);
CREATE INDEX events_action ON events (action, id);
CREATE INDEX events_subject_type ON events (subject_type, id);
