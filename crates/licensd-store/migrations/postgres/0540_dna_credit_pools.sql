-- Softworkz DNA credit pools per buyer e-mail (`Target: EMAIL`): every License Code of a product
-- whose activation e-mail is `email` (trimmed, lowercased) shares these credits. One row per credit
-- name; `balance` is what is left, `consumed` what was used over the pool's life.
-- The texts sort bytewise (COLLATE "C"), as SQLite sorts them.
CREATE TABLE dna_credit_pools (
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    email TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    balance BIGINT NOT NULL CHECK (balance >= 0),
    consumed BIGINT NOT NULL CHECK (consumed >= 0),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (product_id, email, name)
);
