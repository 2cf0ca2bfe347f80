-- LicenseSpring bundles (issue 3): a bundle product lists its member products, and each member
-- license is linked to one bundle license (at most one member license per member product).
-- Keep in step with migrations/sqlite/0101_licensespring_bundles.sql.
CREATE TABLE ls_bundle_products (
    bundle_product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    member_product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    PRIMARY KEY (bundle_product_id, member_product_id)
);
CREATE INDEX ls_bundle_products_member ON ls_bundle_products (member_product_id);
CREATE TABLE ls_bundle_licenses (
    member_license_id BIGINT PRIMARY KEY REFERENCES licenses (id) ON DELETE CASCADE,
    bundle_license_id BIGINT NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    member_product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ls_bundle_licenses_one_per_product ON ls_bundle_licenses (bundle_license_id, member_product_id);
