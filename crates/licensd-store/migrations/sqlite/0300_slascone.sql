-- SLASCONE: token keys. An activation assigns one token of a license to a client; the client gets
-- a token key (a GUID) it can later unassign with. The key is a secret like a license key: stored
-- sealed (to hand it back on heartbeats) and looked up by its keyed digest.
CREATE TABLE slascone_tokens (
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    token_digest BLOB NOT NULL UNIQUE,
    token_sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (license_id, client_id)
);

CREATE INDEX slascone_tokens_client ON slascone_tokens (client_id);

-- Data gathering definitions (per product) and reports (per license and client).
CREATE TABLE slascone_analytical_fields (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    field_type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (product_id, name)
);

CREATE TABLE slascone_usage_features (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (product_id, name)
);

CREATE TABLE slascone_usage_modules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    usage_feature_id INTEGER NOT NULL REFERENCES slascone_usage_features (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (usage_feature_id, name)
);

-- value: the reported text, or a JSON array of texts for array reports.
CREATE TABLE slascone_analytical_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    field_id INTEGER NOT NULL REFERENCES slascone_analytical_fields (id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    reported_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX slascone_analytical_reports_license ON slascone_analytical_reports (license_id);

CREATE TABLE slascone_usage_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    usage_feature_id INTEGER NOT NULL REFERENCES slascone_usage_features (id) ON DELETE CASCADE,
    usage_module_id INTEGER REFERENCES slascone_usage_modules (id) ON DELETE CASCADE,
    value INTEGER NOT NULL,
    reported_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX slascone_usage_reports_license ON slascone_usage_reports (license_id);
