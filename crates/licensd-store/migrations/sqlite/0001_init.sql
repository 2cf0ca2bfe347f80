-- licensd schema, SQLite. Instants are INTEGER milliseconds UTC; JSON is TEXT.
-- Keep in step with migrations/postgres/0001_init.sql: a test compares the two schemas.

CREATE TABLE signing_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kid TEXT NOT NULL UNIQUE,
    algorithm TEXT NOT NULL,
    public_der BLOB NOT NULL,
    private_sealed BLOB NOT NULL,
    active INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);
-- At most one active key per algorithm, even when several nodes start at once.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (algorithm) WHERE active = 1;

CREATE TABLE admin_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    digest BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE products (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    status TEXT NOT NULL,
    trial_allowed INTEGER NOT NULL,
    trial_days INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE features (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    feature_type TEXT NOT NULL,
    max_consumptions INTEGER,
    allow_overages INTEGER NOT NULL,
    max_overages INTEGER,
    allow_negative INTEGER NOT NULL,
    reset_period TEXT NOT NULL,
    floating_seats INTEGER,
    floating_lease_seconds INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (product_id, code)
);

CREATE TABLE policies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    terms TEXT NOT NULL,
    duration_days INTEGER,
    maintenance_days INTEGER,
    features TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (product_id, code)
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT UNIQUE,
    name TEXT,
    company TEXT,
    reference TEXT,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE license_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER REFERENCES customers (id),
    email TEXT NOT NULL UNIQUE,
    name TEXT,
    password_hash TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE licenses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id),
    policy_id INTEGER REFERENCES policies (id),
    customer_id INTEGER REFERENCES customers (id),
    key_digest BLOB UNIQUE,
    key_sealed BLOB,
    status TEXT NOT NULL,
    assignment TEXT NOT NULL,
    terms TEXT NOT NULL,
    starts_at INTEGER,
    expires_at INTEGER,
    maintenance_expires_at INTEGER,
    trial_days INTEGER,
    transfer_count INTEGER NOT NULL DEFAULT 0,
    deactivation_count INTEGER NOT NULL DEFAULT 0,
    consumption_used INTEGER NOT NULL DEFAULT 0,
    consumption_period_start INTEGER NOT NULL DEFAULT 0,
    order_ref TEXT,
    metadata TEXT NOT NULL,
    lock_version INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX licenses_product ON licenses (product_id, id);
CREATE INDEX licenses_customer ON licenses (customer_id, id);

CREATE TABLE license_features (
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    feature_id INTEGER NOT NULL REFERENCES features (id),
    overrides TEXT NOT NULL,
    consumption_used INTEGER NOT NULL DEFAULT 0,
    period_start INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (license_id, feature_id)
);

CREATE TABLE license_user_assignments (
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES license_users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (license_id, user_id)
);

CREATE TABLE devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    name TEXT,
    hostname TEXT,
    os TEXT,
    app_version TEXT,
    ip TEXT,
    mac TEXT,
    is_vm INTEGER NOT NULL,
    user_id INTEGER REFERENCES license_users (id) ON DELETE SET NULL,
    variables TEXT NOT NULL,
    activated_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    deactivated_at INTEGER,
    UNIQUE (license_id, fingerprint)
);

-- Every new activation, kept for reactivation lockouts and audits.
CREATE TABLE activation_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX activation_log_license ON activation_log (license_id, at);

CREATE TABLE blocked_devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER REFERENCES products (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    reason TEXT,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX blocked_devices_unique ON blocked_devices (COALESCE(product_id, 0), fingerprint);

CREATE TABLE floating_leases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    feature_id INTEGER REFERENCES features (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    borrowed_until INTEGER,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX floating_leases_unique ON floating_leases (license_id, COALESCE(feature_id, 0), fingerprint);

CREATE TABLE consumption_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    feature_id INTEGER REFERENCES features (id) ON DELETE CASCADE,
    amount INTEGER NOT NULL,
    total_after INTEGER NOT NULL,
    idempotency_key TEXT,
    at INTEGER NOT NULL
);
CREATE UNIQUE INDEX consumption_events_idempotency ON consumption_events (license_id, idempotency_key);

CREATE TABLE credentials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dialect TEXT NOT NULL,
    name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    secret_digest BLOB NOT NULL,
    secret_sealed BLOB NOT NULL,
    product_id INTEGER REFERENCES products (id) ON DELETE CASCADE,
    read_only INTEGER NOT NULL,
    ip_allowlist TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    UNIQUE (dialect, key_id)
);

-- Append-only: the store never updates or deletes rows here.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    source_ip TEXT,
    action TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id INTEGER,
    data TEXT NOT NULL
);
CREATE INDEX events_subject ON events (subject_type, subject_id, id);
