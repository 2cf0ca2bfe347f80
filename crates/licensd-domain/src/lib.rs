//! The licensd domain: what a product, license, device, lease and consumption *are*, and the pure
//! rules that decide every licensing outcome. Nothing here performs I/O: the store loads state,
//! calls a rule with the current instant, and persists what the rule decided, so every dialect
//! shares one behaviour and every rule can be unit-tested with a frozen clock.

pub mod access;
pub mod analytics;
pub mod backoffice;
pub mod clock;
pub mod consumption_rollback;
pub mod contact;
pub mod contract;
pub mod delivery;
pub mod denial;
pub mod dna_credits;
pub mod downloadable;
pub mod feature_borrow;
pub mod floating_sessions;
pub mod generator;
pub mod ids;
pub mod keygen;
pub mod licence_file;
pub mod license_summary;
pub mod limits;
pub mod lockout;
pub mod model;
pub mod product_deletion;
pub mod product_version;
pub mod rules;
pub mod status_keywords;
pub mod telemetry;
#[cfg(test)]
mod test_fixtures;
pub mod webhooks;

pub use clock::{Clock, FixedClock, Millis, SystemClock};
pub use denial::Denial;
pub use ids::{CustomerId, DeviceId, LicenseId, ProductId};
pub use license_summary::LicenseSummary;
pub use model::*;
pub use product_deletion::ProductDeletion;
