-- Key Manager dialect storage, SQLite. Keep in step with migrations/postgres/0200_keymanager.sql.

-- Capabilities and the on/off switch of Key Manager API keys (credentials of dialect keymanager).
CREATE TABLE km_api_key_settings (
    credential_id INTEGER PRIMARY KEY REFERENCES credentials (id) ON DELETE CASCADE,
    capabilities TEXT NOT NULL,
    active INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The access block list: IPs, domains and activation identifiers refused with code 150.
CREATE TABLE km_access_blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    reason TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (kind, value)
);

-- A product's own signing key (private part sealed); without one the global key signs.
CREATE TABLE km_product_signing_keys (
    product_id INTEGER PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    kid TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    public_der BLOB NOT NULL,
    private_sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- Key/value metadata of license keys and products.
CREATE TABLE km_license_meta (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    meta_key TEXT NOT NULL,
    meta_value TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (license_id, meta_key)
);

CREATE TABLE km_product_meta (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    meta_key TEXT NOT NULL,
    meta_value TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (product_id, meta_key)
);

-- Generators: key patterns of a product for minting keys in bulk.
CREATE TABLE km_generators (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    pattern TEXT NOT NULL,
    activation_limit INTEGER NOT NULL,
    validity_days INTEGER NOT NULL,
    active INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX km_generators_product ON km_generators (product_id, id);

-- Contracts: key quotas handed to third parties; the secret contract key is stored as a digest
-- (lookup) and sealed (shown to administrators).
CREATE TABLE km_contracts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    information TEXT,
    key_digest BLOB NOT NULL UNIQUE,
    key_sealed BLOB NOT NULL,
    license_keys_quantity INTEGER NOT NULL,
    active INTEGER NOT NULL,
    can_get_info INTEGER NOT NULL,
    can_generate INTEGER NOT NULL,
    can_destroy INTEGER NOT NULL,
    can_destroy_all INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Which keys a contract minted (its quota counts these).
CREATE TABLE km_contract_licenses (
    license_id INTEGER PRIMARY KEY REFERENCES licenses (id) ON DELETE CASCADE,
    contract_id INTEGER NOT NULL REFERENCES km_contracts (id) ON DELETE CASCADE
);
CREATE INDEX km_contract_licenses_contract ON km_contract_licenses (contract_id);

-- Released versions of a product and their files.
CREATE TABLE km_downloadables (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    numeric_version INTEGER NOT NULL,
    version TEXT NOT NULL,
    update_summary TEXT,
    changelog TEXT,
    published INTEGER NOT NULL,
    release_date INTEGER,
    download_counter INTEGER NOT NULL,
    file_name TEXT,
    file_content BLOB,
    created_at INTEGER NOT NULL,
    UNIQUE (product_id, numeric_version)
);

-- Telemetry records; the license key a client sent is kept sealed and as a digest for lookups.
CREATE TABLE km_telemetry (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_identifier TEXT,
    license_id INTEGER REFERENCES licenses (id) ON DELETE SET NULL,
    license_key_digest BLOB,
    license_key_sealed BLOB,
    activation_identifier TEXT,
    product_id INTEGER REFERENCES products (id) ON DELETE SET NULL,
    product_version TEXT,
    data_type TEXT NOT NULL,
    data_group TEXT NOT NULL,
    data TEXT NOT NULL,
    is_correct_format INTEGER NOT NULL,
    license_key_exists INTEGER NOT NULL,
    product_exists INTEGER NOT NULL,
    product_version_exists INTEGER NOT NULL,
    has_red_flags INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX km_telemetry_license_key ON km_telemetry (license_key_digest, id);
