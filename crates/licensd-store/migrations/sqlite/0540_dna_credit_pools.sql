-- Softworkz DNA credit pools per buyer e-mail (`Target: EMAIL`): every License Code of a product
-- whose activation e-mail is `email` (trimmed, lowercased) shares these credits. One row per credit
-- name; `balance` is what is left, `consumed` what was used over the pool's life.
CREATE TABLE dna_credit_pools (
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    balance INTEGER NOT NULL CHECK (balance >= 0),
    consumed INTEGER NOT NULL CHECK (consumed >= 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (product_id, email, name)
);
