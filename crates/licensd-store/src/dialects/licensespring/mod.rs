//! Storage the LicenseSpring dialect brings into the domain, one capability trait per concept,
//! each in its own file: `seats` (`FeatureSeatStore`: floating feature seats), `variables`
//! (`DeviceVariableStore`), `versions` (`ProductVersionStore`: product versions and installation
//! files), `lookups` (`UserLookupStore`: what user-based licensing looks up), `bundles`
//! (`BundleStore`) and `offline` (`OfflineDeactivationStore`); `LicenseSpringStore` is their sum.
//! Migrations use versions 100–199; files live in migrations/{sqlite,postgres}/.

crate::migrate::migrations!(100 "0100_licensespring", 101 "0101_licensespring_bundles");

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
pub use versions::ProductVersionStore;

crate::sum_trait! {
    /// The LicenseSpring dialect's storage: every part, implemented for any type that implements each.
    pub trait LicenseSpringStore:
        FeatureSeatStore
        + DeviceVariableStore
        + ProductVersionStore
        + UserLookupStore
        + BundleStore
        + OfflineDeactivationStore;
}
