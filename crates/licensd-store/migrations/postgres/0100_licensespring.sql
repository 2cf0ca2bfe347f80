-- LicenseSpring: product versions and their installation files (the versions / installation_file
-- endpoints). Keep in step with migrations/sqlite/0100_licensespring.sql.
CREATE TABLE ls_product_versions (
    id BIGSERIAL PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    environment TEXT,
    channel TEXT,
    release_date BIGINT NOT NULL,
    download_url TEXT NOT NULL,
    hash_md5 TEXT,
    size BIGINT,
    eula_link TEXT,
    release_notes_link TEXT,
    requires_version TEXT,
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ls_product_versions_unique
    ON ls_product_versions (product_id, version, COALESCE(environment, ''), COALESCE(channel, ''));
