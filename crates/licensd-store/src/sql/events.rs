//! The event log every write appends to.

use crate::*;
use licensd_domain::*;

/// The event log.
#[async_trait::async_trait]
pub trait EventStore: Send + Sync + 'static {
    // --- event log ---
    async fn list_events(&self, filter: EventFilter, page: Page) -> Result<Vec<Event>>;
}

/// Expands the helpers and the `EventStore` implementation for one backend inside
/// `impl_store!`'s `shared` module (see `sql/mod.rs`).
macro_rules! impl_events {
    ($store:ty, $backend:ident) => {
        #[async_trait::async_trait]
        impl $crate::EventStore for $store {
            // --- event log ---

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_events(&self, filter: EventFilter, page: Page) -> Result<Vec<Event>> {
                let mut query =
                    sqlx::QueryBuilder::<Db>::new(concat!("SELECT ", event_cols!(), " FROM events WHERE id > "));
                query.push_bind(after(&page));
                if let Some(subject_type) = filter.subject_type {
                    query.push(" AND subject_type = ").push_bind(subject_type);
                }
                if let Some(subject_id) = filter.subject_id {
                    query.push(" AND subject_id = ").push_bind(subject_id);
                }
                if let Some(action) = filter.action {
                    query.push(" AND action = ").push_bind(action);
                }
                query.push(" ORDER BY id LIMIT ").push_bind(page.clamped_limit());
                fetch_rows(&self.pool, query.build(), event_from_row).await
            }
        }
    };
}

pub(crate) use impl_events;
