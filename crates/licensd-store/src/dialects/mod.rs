//! Storage that a dialect brought into the domain (e.g. Key Manager generators and contracts, DNA
//! lockouts). Each part is a trait of its own, implemented for both backends in its own module with
//! its own migrations, and joined into `Store` as a supertrait.

pub mod dna;
pub mod dna_credits;
pub mod keymanager;
pub mod licensespring;
pub mod slascone;
pub mod slascone_admin;
pub mod slascone_sessions;

use crate::migrate::Migration;

/// Dialect migrations after the core ones, in this order; versions must not collide
/// (LicenseSpring 100–199, Key Manager 200–299, SLASCONE 300–399, DNA 400–499; later ones take
/// a range of 500–599 each, e.g. DNA credit pools 540–549).
pub(crate) fn sqlite_migrations() -> impl Iterator<Item = &'static Migration> {
    licensespring::SQLITE_MIGRATIONS
        .iter()
        .chain(keymanager::SQLITE_MIGRATIONS)
        .chain(slascone::SQLITE_MIGRATIONS)
        .chain(slascone_sessions::SQLITE_MIGRATIONS)
        .chain(slascone_admin::SQLITE_MIGRATIONS)
        .chain(dna::SQLITE_MIGRATIONS)
        .chain(dna_credits::SQLITE_MIGRATIONS)
}

pub(crate) fn postgres_migrations() -> impl Iterator<Item = &'static Migration> {
    licensespring::POSTGRES_MIGRATIONS
        .iter()
        .chain(keymanager::POSTGRES_MIGRATIONS)
        .chain(slascone::POSTGRES_MIGRATIONS)
        .chain(slascone_sessions::POSTGRES_MIGRATIONS)
        .chain(slascone_admin::POSTGRES_MIGRATIONS)
        .chain(dna::POSTGRES_MIGRATIONS)
        .chain(dna_credits::POSTGRES_MIGRATIONS)
}
