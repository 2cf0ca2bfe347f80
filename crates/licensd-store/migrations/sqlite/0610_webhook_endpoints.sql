-- Outbound webhook endpoints (/v1/webhooks): where events of the subscribed types are sent,
-- signed with the endpoint's secret (Standard Webhooks). Keep in step with
-- migrations/postgres/0610_webhook_endpoints.sql.
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    description TEXT,
    -- JSON array of event-log types (or "*").
    event_types TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    -- The signing secret (`whsec_...`), sealed like other secrets.
    secret_sealed BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
