-- Admin console (issue 15): read-only admin tokens and browser sessions.
-- Keep in step with migrations/postgres/0700_console.sql.

-- A read-only admin token sees everything and changes nothing (every /v1 write and every
-- console action refuses it).
ALTER TABLE admin_tokens ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;

-- A signed-in console session: the cookie's secret is stored only as a keyed digest; every node
-- reading the same database knows the same sessions. Expired rows are removed at each sign-in.
CREATE TABLE console_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    digest BLOB NOT NULL UNIQUE,
    admin_token_id INTEGER NOT NULL REFERENCES admin_tokens (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- The console's licence list filters by status and searches by order reference, newest first.
CREATE INDEX licenses_status ON licenses (status, id);
CREATE INDEX licenses_order_ref ON licenses (order_ref);
