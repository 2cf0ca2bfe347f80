//! Outbound webhook endpoints (`/v1/webhooks`): a URL, the event-log types it subscribes to and a
//! signing secret, sealed at rest like every other secret. Migration version 610.
//!
//! Fan-out (migration 611): a trigger on `events` queues, in the inserting transaction, one
//! `outbox_deliveries` row (kind `webhook`, `webhook_id` set) per enabled endpoint subscribed to
//! the event's type, with the body `{"type": action, "timestamp": RFC 3339 UTC, "data": {id, at,
//! actor, source_ip, action, subject_type, subject_id, data}}`. Disabling or deleting an endpoint
//! gives up its pending deliveries.
//!
//! SLASCONE fan-out (migration 612): a second trigger on `events` queues one delivery (kind
//! `slascone.webhook`, no `webhook_id`, unsigned) per webhook registered through the SLASCONE
//! dialect, with SLASCONE's payload form: `{"id": event GUID, "webhook_id", "webhook_name",
//! "event": action, "created_date_utc", "entity_type", "entity_id": GUID or null, "created_by",
//! "data"}` (GUIDs as the dialect's `id_guid` renders ids).

use crate::{PostgresStore, Result, SqliteStore, StoreError};
pub use licensd_domain::webhooks::WebhookEndpoint;
use licensd_domain::{EventDraft, Millis};

// 611: events fan out to subscribed endpoints through the outbox (a trigger on `events`, so every
// code path that logs an event queues its deliveries in the same transaction).
// 612: SLASCONE's registered webhooks (`list_entries` of kind `webhook`) hear about every event
// through the outbox too (kind `slascone.webhook`, SLASCONE-shaped body, unsigned: SLASCONE's
// registration carries no secret).
crate::migrate::migrations!(
    610 "0610_webhook_endpoints",
    611 "0611_webhook_fan_out",
    612 "0612_slascone_webhook_fan_out",
);

/// The outbox kind of a delivery to a SLASCONE-registered webhook.
pub const SLASCONE_DELIVERY_KIND: &str = "slascone.webhook";

/// The sealing context of endpoint secrets.
const WEBHOOK_SECRET: &str = "webhook-secret";

/// An endpoint to create; the caller generated and checked everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookEndpoint {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// `whsec_…`; sealed before it is written.
    pub secret: String,
}

/// A change to an endpoint: `None` keeps the field (`description: Some(None)` clears it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEndpointPatch {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// The webhook-endpoint capability of a store.
#[async_trait::async_trait]
///
/// Each change logs its `event` (`webhook_endpoint.created` / `.updated` / `.deleted`, about the
/// endpoint; its data is the endpoint without the secret) in the change's transaction.
pub trait WebhookStore: Send + Sync + 'static {
    async fn webhook_create(&self, new: NewWebhookEndpoint, event: EventDraft, now: Millis) -> Result<WebhookEndpoint>;
    async fn webhook_get(&self, id: i64) -> Result<WebhookEndpoint>;
    /// Every endpoint, by id.
    async fn webhook_list(&self) -> Result<Vec<WebhookEndpoint>>;
    async fn webhook_update(
        &self,
        id: i64,
        patch: WebhookEndpointPatch,
        event: EventDraft,
        now: Millis,
    ) -> Result<WebhookEndpoint>;
    /// Deletes the endpoint and gives up its pending deliveries.
    async fn webhook_delete(&self, id: i64, event: EventDraft, now: Millis) -> Result<()>;
    /// The endpoint's signing secret (`whsec_…`), opened.
    async fn webhook_secret(&self, id: i64) -> Result<String>;
}

const COLS: &str = "id, url, description, event_types, enabled, created_at, updated_at";

macro_rules! impl_webhooks {
    ($store:ty, $row:ty, $conn:ty, $begin:ident, $module:ident) => {
        pub(crate) mod $module {
            use super::*;
            use crate::sql::{db_err, from_json, open_text, to_json};
            use crate::$module::shared::get;

            fn endpoint_from_row(row: &$row) -> Result<WebhookEndpoint> {
                let types: String = get(row, "event_types")?;
                Ok(WebhookEndpoint {
                    id: get(row, "id")?,
                    url: get(row, "url")?,
                    description: get(row, "description")?,
                    event_types: from_json(&types, "webhook event types")?,
                    enabled: get(row, "enabled")?,
                    created_at: get(row, "created_at")?,
                    updated_at: get(row, "updated_at")?,
                })
            }

            /// Logs `event` about endpoint `id` in the caller's transaction; `data` (the endpoint,
            /// never its secret) is added when the draft has none.
            async fn log_event(
                conn: &mut $conn,
                mut event: EventDraft,
                id: i64,
                data: Option<&WebhookEndpoint>,
                now: Millis,
            ) -> Result<()> {
                if event.data.is_null()
                    && let Some(endpoint) = data
                {
                    event.data = serde_json::to_value(endpoint)
                        .map_err(|e| StoreError::Corrupt(format!("webhook endpoint: {e}")))?;
                }
                sqlx::query(
                    "INSERT INTO events (at, actor, source_ip, action, subject_type, subject_id, data) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(now)
                .bind(&event.actor)
                .bind(&event.source_ip)
                .bind(&event.action)
                .bind(&event.subject_type)
                .bind(event.subject_id.or(Some(id)))
                .bind(to_json(&event.data)?)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            /// Marks the endpoint's pending deliveries dead (they are no longer wanted).
            async fn give_up_pending(conn: &mut $conn, id: i64, why: &str, now: Millis) -> Result<()> {
                sqlx::query(
                    "UPDATE outbox_deliveries SET status = 'dead', last_error = $2, claimed_until = NULL, \
                     claim_token = NULL, next_attempt_at = $3 WHERE webhook_id = $1 AND status = 'pending'",
                )
                .bind(id)
                .bind(why)
                .bind(now)
                .execute(conn)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            #[async_trait::async_trait]
            impl WebhookStore for $store {
                async fn webhook_create(
                    &self,
                    new: NewWebhookEndpoint,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<WebhookEndpoint> {
                    let mut tx = $begin(self).await?;
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO webhook_endpoints (url, description, event_types, enabled, secret_sealed, \
                         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLS}"
                    )))
                    .bind(&new.url)
                    .bind(&new.description)
                    .bind(to_json(&new.event_types)?)
                    .bind(false)
                    .bind(self.codec.seal(new.secret.as_bytes(), WEBHOOK_SECRET))
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let mut endpoint = endpoint_from_row(&row)?;
                    // Logged while the row is still disabled, so an endpoint does not hear about
                    // its own creation (nor, below, its own deletion); then enabled as asked.
                    endpoint.enabled = new.enabled;
                    log_event(&mut *tx, event, endpoint.id, Some(&endpoint), now).await?;
                    if new.enabled {
                        sqlx::query("UPDATE webhook_endpoints SET enabled = $2 WHERE id = $1")
                            .bind(endpoint.id)
                            .bind(true)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(endpoint)
                }

                async fn webhook_get(&self, id: i64) -> Result<WebhookEndpoint> {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {COLS} FROM webhook_endpoints WHERE id = $1"
                    )))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .ok_or(StoreError::NotFound)?;
                    endpoint_from_row(&row)
                }

                async fn webhook_list(&self) -> Result<Vec<WebhookEndpoint>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {COLS} FROM webhook_endpoints ORDER BY id"
                    )))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter().map(endpoint_from_row).collect()
                }

                async fn webhook_update(
                    &self,
                    id: i64,
                    patch: WebhookEndpointPatch,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<WebhookEndpoint> {
                    let types = patch.event_types.as_ref().map(to_json).transpose()?;
                    let mut tx = $begin(self).await?;
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE webhook_endpoints SET url = COALESCE($2, url), \
                         description = CASE WHEN $3 THEN $4 ELSE description END, \
                         event_types = COALESCE($5, event_types), enabled = COALESCE($6, enabled), \
                         updated_at = $7 WHERE id = $1 RETURNING {COLS}"
                    )))
                    .bind(id)
                    .bind(patch.url)
                    .bind(patch.description.is_some())
                    .bind(patch.description.flatten())
                    .bind(types)
                    .bind(patch.enabled)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .ok_or(StoreError::NotFound)?;
                    let endpoint = endpoint_from_row(&row)?;
                    if !endpoint.enabled {
                        give_up_pending(&mut *tx, id, "webhook endpoint disabled", now).await?;
                    }
                    log_event(&mut *tx, event, id, Some(&endpoint), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(endpoint)
                }

                async fn webhook_delete(&self, id: i64, event: EventDraft, now: Millis) -> Result<()> {
                    let mut tx = $begin(self).await?;
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM webhook_endpoints WHERE id = $1 RETURNING {COLS}"
                    )))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .ok_or(StoreError::NotFound)?;
                    let endpoint = endpoint_from_row(&row)?;
                    give_up_pending(&mut *tx, id, "webhook endpoint deleted", now).await?;
                    // After the delete: the endpoint does not hear about its own deletion.
                    log_event(&mut *tx, event, id, Some(&endpoint), now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn webhook_secret(&self, id: i64) -> Result<String> {
                    let sealed: Vec<u8> =
                        sqlx::query_scalar("SELECT secret_sealed FROM webhook_endpoints WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(db_err)?
                            .ok_or(StoreError::NotFound)?;
                    open_text(&*self.codec, &sealed, WEBHOOK_SECRET)
                }
            }
        }
    };
}

use crate::postgres::shared::begin_write as begin_postgres;
use crate::sqlite::shared::begin_write as begin_sqlite;

impl_webhooks!(
    SqliteStore,
    sqlx::sqlite::SqliteRow,
    sqlx::SqliteConnection,
    begin_sqlite,
    sqlite
);
impl_webhooks!(
    PostgresStore,
    sqlx::postgres::PgRow,
    sqlx::PgConnection,
    begin_postgres,
    postgres
);
