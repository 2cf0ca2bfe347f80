-- LicenseSpring: product versions and their installation files (the versions / installation_file
-- endpoints). Keep in step with migrations/postgres/0100_licensespring.sql.
CREATE TABLE ls_product_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    environment TEXT,
    channel TEXT,
    release_date INTEGER NOT NULL,
    download_url TEXT NOT NULL,
    hash_md5 TEXT,
    size INTEGER,
    eula_link TEXT,
    release_notes_link TEXT,
    requires_version TEXT,
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX ls_product_versions_unique
    ON ls_product_versions (product_id, version, COALESCE(environment, ''), COALESCE(channel, ''));
