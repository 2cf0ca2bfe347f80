//! Storage the licensespring dialect brings into the domain. Nothing yet: the dialect is not implemented.
//! Migrations use versions 100–199; files live in migrations/{sqlite,postgres}/.

use crate::migrate::Migration;
use crate::{PostgresStore, SqliteStore};

pub(crate) const SQLITE_MIGRATIONS: &[Migration] = &[];
pub(crate) const POSTGRES_MIGRATIONS: &[Migration] = &[];

#[async_trait::async_trait]
pub trait LicenseSpringStore: Send + Sync + 'static {}

#[async_trait::async_trait]
impl LicenseSpringStore for SqliteStore {}

#[async_trait::async_trait]
impl LicenseSpringStore for PostgresStore {}
