-- Admin console (issue 15): the dashboard's counts stay exact and cheap at a million licences.
-- Keep in step with migrations/postgres/0703_console_tallies.sql.
--
-- Triggers keep `console_tally` in the same transaction as every write to the counted tables, so
-- no write path (the dialects' SQL, the direct writer thread, import) can forget them:
--   kind 'license':     licences per (status, expiry day); `day` is expires_at / 86400000 (days
--                       since the epoch, truncated like the activity chart's days), or
--                       9223372036854775807 for a licence without expiry. Licences past their expiry
--                       are the buckets before today plus an index range count within today.
--   kind 'device':      active devices (deactivated_at IS NULL); key '' and day 0.
--   kind 'activation':  activation_log rows per day of `at`.
--   kind 'consumption': consumption_events rows per day of `at`.
-- SQLite has one writer at a time, so the triggers update the tally rows directly (PostgreSQL
-- appends deltas instead, folded in by the dashboard: no hot row for concurrent writers).
-- The tally is derived data: export leaves it out and import rebuilds it through these triggers.
CREATE TABLE console_tally (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    day INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, key, day)
) WITHOUT ROWID;

INSERT INTO console_tally (kind, key, day, n)
SELECT 'license', status, COALESCE(expires_at / 86400000, 9223372036854775807), COUNT(*)
FROM licenses GROUP BY status, COALESCE(expires_at / 86400000, 9223372036854775807);
INSERT INTO console_tally (kind, key, day, n)
SELECT 'device', '', 0, COUNT(*) FROM devices WHERE deactivated_at IS NULL HAVING COUNT(*) > 0;
INSERT INTO console_tally (kind, key, day, n)
SELECT 'activation', '', at / 86400000, COUNT(*) FROM activation_log GROUP BY at / 86400000;
INSERT INTO console_tally (kind, key, day, n)
SELECT 'consumption', '', at / 86400000, COUNT(*) FROM consumption_events GROUP BY at / 86400000;

CREATE TRIGGER console_tally_license_insert AFTER INSERT ON licenses
BEGIN
    INSERT INTO console_tally (kind, key, day, n)
    VALUES ('license', NEW.status, COALESCE(NEW.expires_at / 86400000, 9223372036854775807), 1)
    ON CONFLICT (kind, key, day) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER console_tally_license_update AFTER UPDATE OF status, expires_at ON licenses
WHEN OLD.status IS NOT NEW.status OR OLD.expires_at IS NOT NEW.expires_at
BEGIN
    UPDATE console_tally SET n = n - 1
    WHERE kind = 'license' AND key = OLD.status
      AND day = COALESCE(OLD.expires_at / 86400000, 9223372036854775807);
    INSERT INTO console_tally (kind, key, day, n)
    VALUES ('license', NEW.status, COALESCE(NEW.expires_at / 86400000, 9223372036854775807), 1)
    ON CONFLICT (kind, key, day) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER console_tally_license_delete AFTER DELETE ON licenses
BEGIN
    UPDATE console_tally SET n = n - 1
    WHERE kind = 'license' AND key = OLD.status
      AND day = COALESCE(OLD.expires_at / 86400000, 9223372036854775807);
END;

CREATE TRIGGER console_tally_device_insert AFTER INSERT ON devices
WHEN NEW.deactivated_at IS NULL
BEGIN
    INSERT INTO console_tally (kind, key, day, n) VALUES ('device', '', 0, 1)
    ON CONFLICT (kind, key, day) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER console_tally_device_update AFTER UPDATE OF deactivated_at ON devices
WHEN (OLD.deactivated_at IS NULL) IS NOT (NEW.deactivated_at IS NULL)
BEGIN
    INSERT INTO console_tally (kind, key, day, n)
    VALUES ('device', '', 0, CASE WHEN NEW.deactivated_at IS NULL THEN 1 ELSE -1 END)
    ON CONFLICT (kind, key, day) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER console_tally_device_delete AFTER DELETE ON devices
WHEN OLD.deactivated_at IS NULL
BEGIN
    UPDATE console_tally SET n = n - 1 WHERE kind = 'device' AND key = '' AND day = 0;
END;

CREATE TRIGGER console_tally_activation_insert AFTER INSERT ON activation_log
BEGIN
    INSERT INTO console_tally (kind, key, day, n) VALUES ('activation', '', NEW.at / 86400000, 1)
    ON CONFLICT (kind, key, day) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER console_tally_activation_delete AFTER DELETE ON activation_log
BEGIN
    UPDATE console_tally SET n = n - 1 WHERE kind = 'activation' AND key = '' AND day = OLD.at / 86400000;
END;
CREATE TRIGGER console_tally_consumption_insert AFTER INSERT ON consumption_events
BEGIN
    INSERT INTO console_tally (kind, key, day, n) VALUES ('consumption', '', NEW.at / 86400000, 1)
    ON CONFLICT (kind, key, day) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER console_tally_consumption_delete AFTER DELETE ON consumption_events
BEGIN
    UPDATE console_tally SET n = n - 1 WHERE kind = 'consumption' AND key = '' AND day = OLD.at / 86400000;
END;

-- Active licences past their expiry within today: an index range.
CREATE INDEX licenses_status_expiry ON licenses (status, expires_at);
-- Floating seats in use: only the live leases are read.
CREATE INDEX floating_leases_expiry ON floating_leases (expires_at);
-- The event log's filters, newest first.
CREATE INDEX events_action ON events (action, id);
CREATE INDEX events_subject_type ON events (subject_type, id);
