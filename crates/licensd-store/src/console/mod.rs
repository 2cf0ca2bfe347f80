//! What the admin web console (`licensd-console`) needs beyond the core store, one capability
//! trait per concept, each in its own file with the SQL both backends share: `sessions`
//! (`ConsoleSessionStore`: browser sessions, read-only admin tokens), `dashboard`
//! (`DashboardStore`: the counts and daily series), `search` (`ConsoleSearchStore`: the licence
//! search, the event log and the SLASCONE customers with keyset paging), `reset`
//! (`ConsumptionResetStore`) and `bulk` (`BulkJobStore`: durable bulk-issue jobs);
//! `ConsoleStore` is their sum. Migration versions 700–719.

crate::migrate::migrations!(
    700 "0700_console",
    701 "0701_console_validation_days",
    702 "0702_console_search_indexes",
    703 "0703_console_tallies",
    704 "0704_console_bulk_jobs",
    705 "0705_admin_token_limits",
);

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

crate::sum_trait! {
    /// The console's storage: every part, implemented for any type that implements each.
    pub trait ConsoleStore:
        ConsoleSessionStore + DashboardStore + ConsoleSearchStore + ConsumptionResetStore + BulkJobStore;
}
