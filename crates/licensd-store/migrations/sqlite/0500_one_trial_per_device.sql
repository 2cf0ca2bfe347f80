-- One LicenseSpring trial per product and hardware id: the trial licence carries the marker
-- `licensespring-trial:<hardware id>` as its order reference, and this index makes a second
-- one impossible even when two requests race (check-then-insert alone oversold on PostgreSQL).
-- Duplicates issued before the index existed keep their licence; their marker gets the row id
-- appended so the index can be built.
UPDATE licenses
SET order_ref = order_ref || ':duplicate:' || CAST(id AS TEXT)
WHERE order_ref LIKE 'licensespring-trial:%'
  AND id NOT IN (
    SELECT MIN(id) FROM licenses
    WHERE order_ref LIKE 'licensespring-trial:%'
    GROUP BY product_id, order_ref
  );

CREATE UNIQUE INDEX licenses_one_trial_per_device
    ON licenses (product_id, order_ref)
    WHERE order_ref LIKE 'licensespring-trial:%';
