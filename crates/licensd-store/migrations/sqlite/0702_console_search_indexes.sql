-- Admin console (issue 15): the licence search stays an index walk at a million licences.
-- Keep in step with migrations/postgres/0702_console_search_indexes.sql.

-- Product and status together, newest first (keyset paging on id).
CREATE INDEX licenses_product_status ON licenses (product_id, status, id);
-- A customer by e-mail, case-insensitively, and by name prefix (a range on the folded name).
CREATE INDEX customers_lower_email ON customers (LOWER(email));
CREATE INDEX customers_lower_name ON customers (LOWER(name));
