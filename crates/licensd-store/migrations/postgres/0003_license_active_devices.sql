-- The licence's active-device count, kept on the licence row (issue 18): validation and
-- activation read one column instead of counting the licence's devices on every request.
-- Triggers on `devices` keep it exact whichever code path (core, dialect, import, a later one)
-- activates, deactivates, reactivates, moves or deletes a device, inside the same transaction;
-- their UPDATE of the licence row takes that row's lock, which every device-changing command
-- holds already (it locks the licence first). A device update that changes neither its licence
-- nor whether it is active (the touch of a check-in) fires nothing.
-- Keep in step with migrations/sqlite/0003_license_active_devices.sql.
ALTER TABLE licenses ADD COLUMN active_devices BIGINT NOT NULL DEFAULT 0;
UPDATE licenses l SET active_devices = c.n
FROM (SELECT license_id, COUNT(*) AS n FROM devices WHERE deactivated_at IS NULL GROUP BY license_id) c
WHERE c.license_id = l.id;

CREATE FUNCTION devices_count_active() RETURNS trigger LANGUAGE plpgsql AS $count$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.deactivated_at IS NULL THEN
        UPDATE licenses SET active_devices = active_devices - 1 WHERE id = OLD.license_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.deactivated_at IS NULL THEN
        UPDATE licenses SET active_devices = active_devices + 1 WHERE id = NEW.license_id;
    END IF;
    RETURN NULL;
END
$count$;

CREATE TRIGGER devices_count_active_insert AFTER INSERT ON devices
    FOR EACH ROW WHEN (NEW.deactivated_at IS NULL) EXECUTE FUNCTION devices_count_active();
CREATE TRIGGER devices_count_active_delete AFTER DELETE ON devices
    FOR EACH ROW WHEN (OLD.deactivated_at IS NULL) EXECUTE FUNCTION devices_count_active();
CREATE TRIGGER devices_count_active_update AFTER UPDATE OF deactivated_at, license_id ON devices
    FOR EACH ROW WHEN ((OLD.deactivated_at IS NULL) <> (NEW.deactivated_at IS NULL)
                       OR OLD.license_id <> NEW.license_id)
    EXECUTE FUNCTION devices_count_active();
