-- Admin console (issue 15): validations per UTC day for the dashboard's chart.
-- Keep in step with migrations/postgres/0701_console_validation_days.sql.
--
-- Validation itself stays read-only: each server process counts its validations in memory and
-- adds them here in one small upsert every few seconds (licensd_server::validations), so a
-- validation never waits for a write. `day` is days since the Unix epoch (UTC).
CREATE TABLE console_validation_days (
    day INTEGER PRIMARY KEY,
    validations INTEGER NOT NULL
);
