//! `licensd export` / `licensd import`: the whole dataset as versioned JSON lines, readable into an
//! empty database of either kind (the path from SQLite to PostgreSQL). The format is specified in
//! docs/export-format.md.
//!
//! Export reads every table inside one read transaction (a snapshot: SQLite's deferred read
//! transaction, PostgreSQL's `REPEATABLE READ READ ONLY`). Import refuses a database that holds
//! any row, applies the migrations the export was made with, inserts every row in one transaction,
//! moves the id counters past the imported ids, then applies the binary's newer migrations.
//!
//! Values travel as stored: integers, booleans (PostgreSQL `BOOLEAN`, SQLite 0/1), bytes (base64),
//! text (JSON documents stay the exact text stored). Sealed secrets and keyed digests are copied
//! as they are, so the target must run with the same master key.

mod db;
mod export;
mod import;

pub use export::export_to_file;
pub use import::import_from_file;

use serde::{Deserialize, Serialize};

/// The `format` field of the header line.
pub const FORMAT: &str = "licensd-export";
/// The version of the line format this binary writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Every table of the schema, in an order where a table comes after every table it references
/// (import inserts in this order, so foreign keys hold on PostgreSQL at each insert).
///
/// A migration that adds a table must add it here: export refuses a database holding a table
/// missing from this list, and the store test `transfer::every_table_is_exported` fails.
/// (`licensd_migrations` is not data: the header carries the applied migrations.)
pub const TABLES: &[&str] = &[
    // core (0001)
    "signing_keys",
    "admin_tokens",
    "products",
    "features",
    "policies",
    "customers",
    "license_users",
    "licenses",
    "license_features",
    "license_user_assignments",
    "devices",
    "activation_log",
    "blocked_devices",
    "floating_leases",
    "consumption_events",
    "credentials",
    "events",
    // Webhook deliveries (0600): pending ones are sent by the importing server
    "outbox_deliveries",
    // Webhook endpoints (0610)
    "webhook_endpoints",
    // Admin console sessions (0700; admin_tokens.read_only is in the core table above)
    "console_sessions",
    // Validations per day for the console's dashboard (0701)
    "console_validation_days",
    // Console bulk-issue jobs (0704)
    "console_bulk_jobs",
    // LicenseSpring (0100, 0101)
    "ls_product_versions",
    "ls_bundle_products",
    "ls_bundle_licenses",
    // Key Manager (0200)
    "km_api_key_settings",
    "km_access_blocks",
    "km_product_signing_keys",
    "km_license_meta",
    "km_product_meta",
    "km_generators",
    "km_contracts",
    "km_contract_licenses",
    "km_downloadables",
    "km_telemetry",
    // SLASCONE (0300, 0301)
    "slascone_tokens",
    "slascone_analytical_fields",
    "slascone_usage_features",
    "slascone_usage_modules",
    "slascone_analytical_reports",
    "slascone_usage_reports",
    "slascone_entries",
    "slascone_customers",
    "slascone_tag_assignments",
    "slascone_license_values",
    "slascone_legacy_keys",
    // SLASCONE floating sessions per session id (0520)
    "slascone_sessions",
    // The SLASCONE ISV id kept when none is configured (0530)
    "slascone_isv",
    // DNA (0400)
    "dna_licenses",
    "dna_ip_attempts",
    "dna_product_settings",
    "dna_info_tags",
    "dna_cleared_activations",
    // DNA credit pools per buyer e-mail (0540)
    "dna_credit_pools",
];

/// Tables derived from the others and kept by triggers (the console's tallies, migration 703):
/// never exported; importing the rows they are derived from rebuilds them.
pub const DERIVED: &[&str] = &["console_tally", "console_tally_deltas"];

/// The migrator's bookkeeping table: described by the header, never exported as rows.
pub const MIGRATIONS_TABLE: &str = "licensd_migrations";

/// A column's kind of value in the export, named after the source database's storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// A 64-bit signed integer: a JSON number.
    Integer,
    /// PostgreSQL `BOOLEAN`: JSON `true` / `false` (SQLite stores booleans as integers 0 / 1).
    Boolean,
    /// Bytes (`BLOB` / `BYTEA`): a base64 string (standard alphabet, padded).
    Bytes,
    /// Text: a JSON string, byte for byte the stored text.
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnHeader {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableHeader {
    pub name: String,
    /// Rows of the table in the file (checked on import).
    pub rows: u64,
    pub columns: Vec<ColumnHeader>,
    /// The last id the table's id counter handed out (SQLite `sqlite_sequence`, PostgreSQL the
    /// identity sequence), which may be above the highest remaining id; `None` for tables
    /// without an id counter or before their first id.
    pub last_id: Option<i64>,
}

/// The first line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The highest schema migration applied to the source database.
    pub schema_version: i64,
    /// Every schema migration applied to the source database, ascending.
    pub migrations: Vec<i64>,
    /// `sqlite` or `postgres`.
    pub source: String,
    /// When the snapshot was taken, milliseconds since the Unix epoch (UTC).
    pub exported_at: i64,
    /// The tables, in the order their rows follow.
    pub tables: Vec<TableHeader>,
}

/// What an export or import moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferSummary {
    pub tables: usize,
    pub rows: u64,
    pub schema_version: i64,
}

/// Why an export or import did not happen. Nothing is changed in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The output file exists already.
    #[error("{0} already exists; choose a new file (an export never overwrites)")]
    OutputExists(String),
    /// The target database holds data.
    #[error(
        "the target database is not empty (table {table} has rows); import only into an empty \
         database: nothing was changed"
    )]
    NotEmpty { table: String },
    /// The file is not an export this binary can read (unknown format or version, newer schema,
    /// malformed or truncated).
    #[error("{0}")]
    Format(String),
    /// The databases disagree (an unknown table, a column type that cannot hold the value, …).
    #[error("{0}")]
    Schema(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Database(String),
}

/// Progress of an export or import, for a progress bar (a no-op for `()`).
pub trait Progress: Send + Sync {
    /// The total number of rows to move, known before the first one.
    fn start(&self, _total_rows: u64) {}
    /// `rows` more rows moved.
    fn advance(&self, _rows: u64) {}
    /// Every row moved.
    fn finish(&self) {}
}

impl Progress for () {}

/// A row line: `{"table": …, "row": {column: value}}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowLine<'a, R> {
    #[serde(borrow)]
    table: std::borrow::Cow<'a, str>,
    row: R,
}

/// The last line: `{"end": {"rows": N}}`, so a truncated file is refused.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndLine {
    end: EndCount,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndCount {
    rows: u64,
}
