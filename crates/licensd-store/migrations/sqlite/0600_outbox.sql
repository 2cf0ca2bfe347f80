-- The outbox: outbound HTTP deliveries (webhook callbacks) written in the same transaction as
-- the change that produces them, then sent by the delivery worker of `licensd serve`, retried
-- with backoff until delivered or given up ("dead"). Keep in step with
-- migrations/postgres/0600_outbox.sql.
CREATE TABLE outbox_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- What produced the delivery (e.g. `keymanager.random_assign`); the worker does not look.
    kind TEXT NOT NULL,
    target_url TEXT NOT NULL,
    body TEXT NOT NULL,
    -- JSON array of [name, value] pairs sent with the body.
    headers TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    -- The HTTP status of the last answer (none when the last attempt got no answer).
    last_status BIGINT,
    last_error TEXT,
    -- The start of the last answer's body (at most 4 KiB).
    response_excerpt TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    -- A worker sending the delivery holds it until then; after that (the worker died) another
    -- may take it.
    claimed_until BIGINT,
    claim_token TEXT
);

CREATE INDEX outbox_deliveries_due ON outbox_deliveries (next_attempt_at) WHERE status = 'pending';
