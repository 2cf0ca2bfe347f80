//! Storage the LicenseSpring dialect brings into the domain, one capability trait per concept,
//! each in its own file: `seats` (`FeatureSeatStore`: floating feature seats), `variables`
//! (`DeviceVariableStore`), `versions` (`ProductVersionStore`: product versions and installation
//! files), `lookups` (`UserLookupStore`: what user-based licensing looks up), `bundles`
//! (`BundleStore`) and `offline` (`OfflineDeactivationStore`); `LicenseSpringStore` is their sum.
//! Migrations use versions 100–199; files live in migrations/{sqlite,postgres}/.

use crate::migrate::Migration;

pub(crate) const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 100,
        name: "licensespring",
        sql: include_str!("../../../migrations/sqlite/0100_licensespring.sql"),
    },
    Migration {
        version: 101,
        name: "licensespring_bundles",
        sql: include_str!("../../../migrations/sqlite/0101_licensespring_bundles.sql"),
    },
];
pub(crate) const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 100,
        name: "licensespring",
        sql: include_str!("../../../migrations/postgres/0100_licensespring.sql"),
    },
    Migration {
        version: 101,
        name: "licensespring_bundles",
        sql: include_str!("../../../migrations/postgres/0101_licensespring_bundles.sql"),
    },
];

mod bundles;
mod lookups;
mod offline;
mod seats;
mod variables;
mod versions;

pub use bundles::BundleStore;
pub use lookups::UserLookupStore;
pub use offline::OfflineDeactivationStore;
pub use seats::FeatureSeatStore;
pub use variables::DeviceVariableStore;
pub use versions::{NewProductVersion, ProductVersionStore};

/// The LicenseSpring dialect's storage: every part, implemented for any type that implements each.
pub trait LicenseSpringStore:
    FeatureSeatStore + DeviceVariableStore + ProductVersionStore + UserLookupStore + BundleStore + OfflineDeactivationStore
{
}

impl<T> LicenseSpringStore for T where
    T: FeatureSeatStore
        + DeviceVariableStore
        + ProductVersionStore
        + UserLookupStore
        + BundleStore
        + OfflineDeactivationStore
{
}
