-- SLASCONE floating sessions: a client may hold several sessions of a floating license, each named
-- by its session_id and each a floating lease (a seat) of its own. This table says which client,
-- session and (for user-type products) user a lease belongs to; the lease row carries the expiry.
-- user_id: the license user's email (lowercase), NULL when the product is not user-type.
CREATE TABLE slascone_sessions (
    lease_id INTEGER PRIMARY KEY REFERENCES floating_leases (id) ON DELETE CASCADE,
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id TEXT,
    UNIQUE (license_id, client_id, session_id)
);

CREATE INDEX slascone_sessions_user ON slascone_sessions (license_id, user_id);
