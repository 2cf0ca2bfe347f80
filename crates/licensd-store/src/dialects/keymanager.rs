//! Storage the keymanager dialect brings into the domain. Nothing yet: the dialect is not implemented.
//! Migrations use versions 200–299; files live in migrations/{sqlite,postgres}/.

use crate::migrate::Migration;
use crate::{PostgresStore, SqliteStore};

pub(crate) const SQLITE_MIGRATIONS: &[Migration] = &[];
pub(crate) const POSTGRES_MIGRATIONS: &[Migration] = &[];

#[async_trait::async_trait]
pub trait KeyManagerStore: Send + Sync + 'static {}

#[async_trait::async_trait]
impl KeyManagerStore for SqliteStore {}

#[async_trait::async_trait]
impl KeyManagerStore for PostgresStore {}
