-- Admin console (issue 15): bulk-issue jobs in the database, so any node shows a job's progress
-- and result and a job cut short by a restart shows as failed.
-- Keep in step with migrations/sqlite/0704_console_bulk_jobs.sql.
--
-- `status` is 'running', 'done' or 'failed'. The licences are issued in one transaction that also
-- marks the job done (only while it is still 'running'): all or none, and never "done" without
-- its licences. The runner refreshes `heartbeat_at`; a running job whose heartbeat stopped (its
-- process ended) is marked failed by whichever node shows it. `license_ids` is the issued ids as
-- JSON runs [[first, last], ...], from which the keys' CSV is made again on any node: the keys
-- are stored once, sealed in `licenses`.
CREATE TABLE console_bulk_jobs (
    id TEXT PRIMARY KEY,
    admin_token_id BIGINT NOT NULL REFERENCES admin_tokens (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    requested BIGINT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    error_status BIGINT,
    license_ids TEXT,
    created_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX console_bulk_jobs_finished ON console_bulk_jobs (finished_at);
