-- The licence's active-device count, kept on the licence row (issue 18): validation and
-- activation read one column instead of counting the licence's devices on every request.
-- Triggers on `devices` keep it exact whichever code path (core, dialect, the writer thread,
-- import, a later one) activates, deactivates, reactivates, moves or deletes a device, inside the
-- same transaction. A device update that changes neither its licence nor whether it is active
-- (the touch of a check-in) fires nothing.
-- Keep in step with migrations/postgres/0003_license_active_devices.sql.
ALTER TABLE licenses ADD COLUMN active_devices INTEGER NOT NULL DEFAULT 0;
UPDATE licenses SET active_devices =
    (SELECT COUNT(*) FROM devices d WHERE d.license_id = licenses.id AND d.deactivated_at IS NULL);

CREATE TRIGGER devices_count_active_insert AFTER INSERT ON devices
    WHEN NEW.deactivated_at IS NULL
BEGIN
    UPDATE licenses SET active_devices = active_devices + 1 WHERE id = NEW.license_id;
END;
CREATE TRIGGER devices_count_active_delete AFTER DELETE ON devices
    WHEN OLD.deactivated_at IS NULL
BEGIN
    UPDATE licenses SET active_devices = active_devices - 1 WHERE id = OLD.license_id;
END;
CREATE TRIGGER devices_count_active_update AFTER UPDATE OF deactivated_at, license_id ON devices
    WHEN (OLD.deactivated_at IS NULL) <> (NEW.deactivated_at IS NULL) OR OLD.license_id <> NEW.license_id
BEGIN
    UPDATE licenses SET active_devices = active_devices - 1
        WHERE id = OLD.license_id AND OLD.deactivated_at IS NULL;
    UPDATE licenses SET active_devices = active_devices + 1
        WHERE id = NEW.license_id AND NEW.deactivated_at IS NULL;
END;
