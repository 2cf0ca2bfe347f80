-- SLASCONE back office: vendor-defined named entries (customer types, reseller types, resellers,
-- reseller contacts, tags, webhooks, license types, heartbeat types, variables), the SLASCONE
-- master data of customers, tag assignments and per-license values (variable values, license type).
--
-- kind: what the entry is. scope_id: the product (license types, heartbeat types, variables), the
-- reseller (contacts) or 0 (global kinds), so one UNIQUE key gives every kind its "already exists".
-- name: the entry's unique key (the URL of a webhook, the email of a reseller contact).
-- detail: free text (a webhook's display name, a contact's name, a variable's description).
CREATE TABLE slascone_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    scope_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    detail TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (kind, scope_id, name)
);

-- The SLASCONE fields of a customer beyond the core ones (email, company, reference = number).
CREATE TABLE slascone_customers (
    customer_id INTEGER PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    customer_number TEXT NOT NULL UNIQUE,
    prospect_number TEXT UNIQUE,
    customer_type_id INTEGER REFERENCES slascone_entries (id),
    country TEXT,
    language TEXT
);

-- target_type: 'customer' or 'license'.
CREATE TABLE slascone_tag_assignments (
    tag_id INTEGER NOT NULL REFERENCES slascone_entries (id) ON DELETE CASCADE,
    target_type TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tag_id, target_type, target_id)
);

-- A license's value of a variable, or its license type (value empty; at most one per license).
CREATE TABLE slascone_license_values (
    license_id INTEGER NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    entry_id INTEGER NOT NULL REFERENCES slascone_entries (id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    PRIMARY KEY (license_id, entry_id)
);

-- Legacy license keys of migrated licenses (unique across licenses: 1005).
CREATE TABLE slascone_legacy_keys (
    legacy_key TEXT PRIMARY KEY,
    license_id INTEGER NOT NULL UNIQUE REFERENCES licenses (id) ON DELETE CASCADE
);
