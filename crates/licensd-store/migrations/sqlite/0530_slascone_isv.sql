-- SLASCONE: the ISV id this licensd answers to when `--slascone-isv-id` is not set. One row,
-- generated on the first start and kept for good, so a fresh install works at once and the id
-- the shipped software is built with stays valid across restarts (and across nodes).
CREATE TABLE slascone_isv (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    isv_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
