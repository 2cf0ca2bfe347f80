-- SLASCONE: an edition (policy) name is unique per product whichever API created it (conflict
-- 6013). Names that already repeat within a product keep their first holder; later ones get their
-- id appended so the unique index can be built.
UPDATE policies SET name = name || ' (' || CAST(id AS TEXT) || ')'
WHERE EXISTS (
    SELECT 1 FROM policies AS earlier
    WHERE earlier.product_id = policies.product_id AND earlier.name = policies.name AND earlier.id < policies.id
);

CREATE UNIQUE INDEX policies_product_name ON policies (product_id, name);
