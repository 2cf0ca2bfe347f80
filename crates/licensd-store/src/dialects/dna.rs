//! Storage the dna dialect brings into the domain. Nothing yet: the dialect is not implemented.
//! Migrations use versions 400–499; files live in migrations/{sqlite,postgres}/.

use crate::migrate::Migration;
use crate::{PostgresStore, SqliteStore};

pub(crate) const SQLITE_MIGRATIONS: &[Migration] = &[];
pub(crate) const POSTGRES_MIGRATIONS: &[Migration] = &[];

#[async_trait::async_trait]
pub trait DnaStore: Send + Sync + 'static {}

#[async_trait::async_trait]
impl DnaStore for SqliteStore {}

#[async_trait::async_trait]
impl DnaStore for PostgresStore {}
