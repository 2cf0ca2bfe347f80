-- Softworkz DNA: what the DNA dialect adds to a license and a product.

-- End-user data of a DNA license: the license password (argon2id), the multi-user admin password,
-- pending password reset codes (keyed digests, with expiry), the activation email and the
-- vendor's free-form license data. A license without a row has none of them.
CREATE TABLE dna_licenses (
    license_id INTEGER PRIMARY KEY REFERENCES licenses (id) ON DELETE CASCADE,
    password_hash TEXT,
    admin_password_hash TEXT,
    reset_digest BLOB,
    reset_expires_at INTEGER,
    admin_reset_digest BLOB,
    admin_reset_expires_at INTEGER,
    activation_email TEXT,
    license_data TEXT,
    updated_at INTEGER NOT NULL
);

-- Failed end-user password attempts per license and end-user IP (the IP lockout).
CREATE TABLE dna_ip_attempts (
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER,
    PRIMARY KEY (license_id, ip)
);

-- Per-product DNA settings (the IP lockout policy, JSON); products without a row use defaults.
CREATE TABLE dna_product_settings (
    product_id INTEGER PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    ip_lockout TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- InfoTags an application reported for a license (registration and usage information).
CREATE TABLE dna_info_tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX dna_info_tags_license ON dna_info_tags (license_id, id);

-- Activations an administrator took out of the reactivation lockout count (DNA's "reset
-- REACTLOCKOUT"), moved here from activation_log so the audit trail keeps them.
CREATE TABLE dna_cleared_activations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    at INTEGER NOT NULL,
    cleared_at INTEGER NOT NULL
);
CREATE INDEX dna_cleared_activations_license ON dna_cleared_activations (license_id);
