//! What the admin web console (`licensd-console`) needs beyond the core store, one capability
//! trait per concept, each in its own file with the SQL both backends share: `sessions`
//! (`ConsoleSessionStore`: browser sessions, read-only admin tokens), `dashboard`
//! (`DashboardStore`: the counts and daily series), `search` (`ConsoleSearchStore`: the licence
//! search, the event log and the SLASCONE customers with keyset paging), `reset`
//! (`ConsumptionResetStore`) and `bulk` (`BulkJobStore`: durable bulk-issue jobs);
//! `ConsoleStore` is their sum. Migration versions 700–719.

use crate::migrate::Migration;

pub(crate) const SQLITE_MIGRATION: Migration = Migration {
    version: 700,
    name: "console",
    sql: include_str!("../../migrations/sqlite/0700_console.sql"),
};
pub(crate) const POSTGRES_MIGRATION: Migration = Migration {
    version: 700,
    name: "console",
    sql: include_str!("../../migrations/postgres/0700_console.sql"),
};

pub(crate) const SQLITE_SEARCH_INDEXES: Migration = Migration {
    version: 702,
    name: "console_search_indexes",
    sql: include_str!("../../migrations/sqlite/0702_console_search_indexes.sql"),
};
pub(crate) const POSTGRES_SEARCH_INDEXES: Migration = Migration {
    version: 702,
    name: "console_search_indexes",
    sql: include_str!("../../migrations/postgres/0702_console_search_indexes.sql"),
};
pub(crate) const SQLITE_TALLIES: Migration = Migration {
    version: 703,
    name: "console_tallies",
    sql: include_str!("../../migrations/sqlite/0703_console_tallies.sql"),
};
pub(crate) const POSTGRES_TALLIES: Migration = Migration {
    version: 703,
    name: "console_tallies",
    sql: include_str!("../../migrations/postgres/0703_console_tallies.sql"),
};
pub(crate) const SQLITE_BULK_JOBS: Migration = Migration {
    version: 704,
    name: "console_bulk_jobs",
    sql: include_str!("../../migrations/sqlite/0704_console_bulk_jobs.sql"),
};
pub(crate) const POSTGRES_BULK_JOBS: Migration = Migration {
    version: 704,
    name: "console_bulk_jobs",
    sql: include_str!("../../migrations/postgres/0704_console_bulk_jobs.sql"),
};
pub(crate) const SQLITE_VALIDATION_DAYS: Migration = Migration {
    version: 701,
    name: "console_validation_days",
    sql: include_str!("../../migrations/sqlite/0701_console_validation_days.sql"),
};
pub(crate) const POSTGRES_VALIDATION_DAYS: Migration = Migration {
    version: 701,
    name: "console_validation_days",
    sql: include_str!("../../migrations/postgres/0701_console_validation_days.sql"),
};

mod bulk;
mod dashboard;
mod reset;
mod search;
mod sessions;

pub use bulk::{BulkJob, BulkJobStatus, BulkJobStore, id_runs};
pub use dashboard::{DailyActivity, DashboardCounts, DashboardStore};
pub use reset::ConsumptionResetStore;
pub use search::{ConsoleSearchStore, LicenseSearch, SlasconeCustomerRow};
pub use sessions::{ConsoleSession, ConsoleSessionStore};

/// The console's storage: every part, implemented for any type that implements each.
pub trait ConsoleStore:
    ConsoleSessionStore + DashboardStore + ConsoleSearchStore + ConsumptionResetStore + BulkJobStore
{
}

impl<T> ConsoleStore for T where
    T: ConsoleSessionStore + DashboardStore + ConsoleSearchStore + ConsumptionResetStore + BulkJobStore
{
}
