-- Validation and activation ask "is this fingerprint blocked for this product or everywhere?" by
-- fingerprint. The unique index leads with COALESCE(product_id, 0), so that question scanned the
-- whole block-list on every check; this index answers it by fingerprint.
CREATE INDEX blocked_devices_fingerprint ON blocked_devices (fingerprint);
