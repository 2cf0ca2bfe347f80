//! The outbox: outbound HTTP deliveries (webhook callbacks), written in the same transaction as
//! the change that produces them, so a committed change is never without its delivery and a
//! refused or rolled-back one never sends. The delivery worker of `licensd serve`
//! (`licensd_server::outbox`) claims due rows, sends them, and records each attempt here.
//!
//! The producer computes the whole request (URL, body, headers); the store and the worker never
//! look inside, so a new kind of delivery needs no change here. On SQLite every write goes
//! through the single writer connection; on PostgreSQL several nodes claim rows with
//! `FOR UPDATE SKIP LOCKED` and a lease, so no two nodes hold the same row at once. Migration
//! version 600.

use crate::{Page, PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::Millis;
use serde::{Deserialize, Serialize};

crate::migrate::migrations!(600 "0600_outbox");

/// The longest stored error text of an attempt, in bytes.
pub const MAX_ERROR_BYTES: usize = 1024;
/// The longest stored start of a receiver's answer, in bytes.
pub const MAX_RESPONSE_EXCERPT_BYTES: usize = 4096;

/// A delivery to queue: the producer's complete request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// What produced it (e.g. `keymanager.random_assign`), for the delivery log.
    pub kind: String,
    /// An absolute http(s) URL; the worker checks where it resolves at each attempt.
    pub target_url: String,
    /// Sent as the POST body.
    pub body: String,
    /// Sent as request headers, in order.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Given up after the retry window.
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "dead" => Some(DeliveryStatus::Dead),
            _ => None,
        }
    }
}

/// A delivery as stored, with the record of its last attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: i64,
    pub kind: String,
    pub target_url: String,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub last_attempt_at: Option<Millis>,
    /// The HTTP status of the last answer; `None` when the last attempt got none.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub response_excerpt: Option<String>,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
    /// Held by a worker until then.
    pub claimed_until: Option<Millis>,
    /// The webhook endpoint (`/v1/webhooks`) an event delivery goes to; the worker signs such
    /// deliveries with the endpoint's secret at each attempt (Standard Webhooks).
    pub webhook_id: Option<i64>,
}

/// What one attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Failed; try again at this instant.
    RetryAt(Millis),
    /// Failed for the last time.
    Dead,
}

/// One attempt, as the worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub outcome: AttemptOutcome,
    /// The receiver's HTTP status, if it answered.
    pub response_status: Option<i64>,
    /// Why it failed (cut to `MAX_ERROR_BYTES`).
    pub error: Option<String>,
    /// The start of the answer's body (cut to `MAX_RESPONSE_EXCERPT_BYTES`).
    pub response_excerpt: Option<String>,
}

/// `text` cut to at most `max` bytes on a character boundary.
pub fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The outbox capability of a store.
#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Queues a delivery in a transaction of its own, due at `now`. For producers with nothing
    /// else to write (a refusal reported to a callback); producers that change state write
    /// their delivery inside that change's transaction instead (e.g. `assign_stock_delivering`).
    async fn outbox_enqueue(&self, new: NewDelivery, now: Millis) -> Result<Delivery>;

    /// Claims up to `limit` pending deliveries due at `now` (oldest due first) that no unexpired
    /// claim holds, for the claimer `claim` until `lease_until`. Concurrent claimers (other
    /// nodes) get disjoint rows; a row whose lease ran out (its claimer died) can be claimed
    /// again.
    async fn outbox_claim(&self, claim: &str, now: Millis, lease_until: Millis, limit: i64) -> Result<Vec<Delivery>>;

    /// Records one attempt of a delivery `claim` holds and releases it. `NotFound` when the
    /// claim is no longer held (its lease ran out and another claimer took the row), so a late
    /// result never overwrites a newer one.
    async fn outbox_record(&self, id: i64, claim: &str, attempt: Attempt, now: Millis) -> Result<Delivery>;

    /// The earliest instant a pending delivery can be claimed, if any is pending: a read, so an
    /// idle worker looks without writing.
    async fn outbox_next_due(&self) -> Result<Option<Millis>>;

    async fn outbox_get(&self, id: i64) -> Result<Delivery>;

    /// By id, optionally of one status.
    async fn outbox_list(&self, status: Option<DeliveryStatus>, page: Page) -> Result<Vec<Delivery>>;

    /// The deliveries to one webhook endpoint (its delivery log), by id.
    async fn outbox_list_for_webhook(&self, webhook_id: i64, page: Page) -> Result<Vec<Delivery>>;

    /// Sends a webhook-endpoint delivery again (on request): pending and due at `now`, whatever
    /// its status; its attempts and last answer are kept. `NotFound` for no such delivery or one
    /// that is not to an endpoint, `Conflict` while a worker holds it or when its endpoint is
    /// gone or disabled.
    async fn outbox_redeliver(&self, id: i64, now: Millis) -> Result<Delivery>;

    /// How many deliveries wait (`pending`) or were given up (`dead`), by kind: the queue depth
    /// `/metrics` reports. Delivered ones are not counted.
    async fn outbox_depth(&self) -> Result<Vec<QueueDepth>>;
}

/// The number of deliveries of one kind in one status (see `OutboxStore::outbox_depth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub kind: String,
    pub status: DeliveryStatus,
    pub count: i64,
}

const COLS: &str = "id, kind, target_url, body, headers, status, attempts, next_attempt_at, last_attempt_at, \
     last_status, last_error, response_excerpt, created_at, delivered_at, claimed_until, webhook_id";

macro_rules! impl_outbox {
    ($store:ty, $row:ty, $conn:ty, $writer:ident, $skip_locked:literal, $greatest:literal, $module:ident) => {
        pub(crate) mod $module {
            use super::*;
            use crate::sql::{db_err, from_json, to_json};
            use crate::$module::shared::get;

            fn delivery_from_row(row: &$row) -> Result<Delivery> {
                let status: String = get(row, "status")?;
                let headers: String = get(row, "headers")?;
                Ok(crate::sql::rows::columns!(row => Delivery {
                    id, kind, target_url, body, attempts, next_attempt_at, last_attempt_at, last_status, last_error,
                    response_excerpt, created_at, delivered_at, claimed_until, webhook_id;
                    headers: from_json(&headers, "delivery headers")?,
                    status: DeliveryStatus::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown delivery status {status:?}")))?,
                }))
            }

            /// Queues `new` on the caller's open transaction, due at `now`; returns its id.
            pub(crate) async fn insert_delivery(conn: &mut $conn, new: &NewDelivery, now: Millis) -> Result<i64> {
                sqlx::query_scalar(
                    "INSERT INTO outbox_deliveries (kind, target_url, body, headers, status, attempts, \
                     next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) RETURNING id",
                )
                .bind(&new.kind)
                .bind(&new.target_url)
                .bind(&new.body)
                .bind(to_json(&new.headers)?)
                .bind(now)
                .fetch_one(conn)
                .await
                .map_err(db_err)
            }

            #[async_trait::async_trait]
            impl OutboxStore for $store {
                async fn outbox_enqueue(&self, new: NewDelivery, now: Millis) -> Result<Delivery> {
                    let mut tx = $writer(self).await?;
                    let id = insert_delivery(&mut tx, &new, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    self.outbox_get(id).await
                }

                async fn outbox_claim(
                    &self,
                    claim: &str,
                    now: Millis,
                    lease_until: Millis,
                    limit: i64,
                ) -> Result<Vec<Delivery>> {
                    let mut tx = $writer(self).await?;
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE outbox_deliveries SET claimed_until = $3, claim_token = $2 WHERE id IN (\
                         SELECT id FROM outbox_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
                         AND (claimed_until IS NULL OR claimed_until <= $1) \
                         ORDER BY next_attempt_at, id LIMIT $4{}) RETURNING {COLS}",
                        $skip_locked
                    )))
                    .bind(now)
                    .bind(claim)
                    .bind(lease_until)
                    .bind(limit.max(0))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    let mut claimed = rows.iter().map(delivery_from_row).collect::<Result<Vec<_>>>()?;
                    claimed.sort_by_key(|d| (d.next_attempt_at, d.id));
                    Ok(claimed)
                }

                async fn outbox_record(&self, id: i64, claim: &str, attempt: Attempt, now: Millis) -> Result<Delivery> {
                    let (status, next_attempt_at, delivered_at) = match attempt.outcome {
                        AttemptOutcome::Delivered => (DeliveryStatus::Delivered, None, Some(now)),
                        AttemptOutcome::RetryAt(at) => (DeliveryStatus::Pending, Some(at), None),
                        AttemptOutcome::Dead => (DeliveryStatus::Dead, None, None),
                    };
                    let error = attempt.error.as_deref().map(|e| truncate_utf8(e, MAX_ERROR_BYTES));
                    let excerpt = attempt
                        .response_excerpt
                        .as_deref()
                        .map(|e| truncate_utf8(e, MAX_RESPONSE_EXCERPT_BYTES));
                    let mut tx = $writer(self).await?;
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE outbox_deliveries SET status = $3, attempts = attempts + 1, \
                         next_attempt_at = COALESCE($4, next_attempt_at), last_attempt_at = $5, last_status = $6, \
                         last_error = $7, response_excerpt = $8, delivered_at = $9, claimed_until = NULL, \
                         claim_token = NULL WHERE id = $1 AND claim_token = $2 AND status = 'pending' RETURNING {COLS}"
                    )))
                    .bind(id)
                    .bind(claim)
                    .bind(status.as_str())
                    .bind(next_attempt_at)
                    .bind(now)
                    .bind(attempt.response_status)
                    .bind(error)
                    .bind(excerpt)
                    .bind(delivered_at)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .ok_or(StoreError::NotFound)?;
                    tx.commit().await.map_err(db_err)?;
                    delivery_from_row(&row)
                }

                async fn outbox_next_due(&self) -> Result<Option<Millis>> {
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT MIN({}(next_attempt_at, COALESCE(claimed_until, 0))) FROM outbox_deliveries \
                         WHERE status = 'pending'",
                        $greatest
                    )))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)
                }

                async fn outbox_get(&self, id: i64) -> Result<Delivery> {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {COLS} FROM outbox_deliveries WHERE id = $1"
                    )))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .ok_or(StoreError::NotFound)?;
                    delivery_from_row(&row)
                }

                async fn outbox_list_for_webhook(&self, webhook_id: i64, page: Page) -> Result<Vec<Delivery>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {COLS} FROM outbox_deliveries WHERE webhook_id = $1 AND id > $2 ORDER BY id LIMIT $3"
                    )))
                    .bind(webhook_id)
                    .bind(page.after.unwrap_or(i64::MIN))
                    .bind(page.limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter().map(delivery_from_row).collect()
                }

                async fn outbox_redeliver(&self, id: i64, now: Millis) -> Result<Delivery> {
                    let mut tx = $writer(self).await?;
                    let current: Option<(Option<i64>, Option<Millis>, Option<bool>)> = sqlx::query_as(
                        "SELECT d.webhook_id, d.claimed_until, w.enabled FROM outbox_deliveries d \
                         LEFT JOIN webhook_endpoints w ON w.id = d.webhook_id WHERE d.id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let Some((Some(_), claimed_until, enabled)) = current else {
                        return Err(StoreError::NotFound);
                    };
                    if enabled != Some(true) {
                        return Err(StoreError::Conflict("the webhook endpoint is deleted or disabled".into()));
                    }
                    if claimed_until.is_some_and(|until| until > now) {
                        return Err(StoreError::Conflict("the delivery is being sent".into()));
                    }
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE outbox_deliveries SET status = 'pending', next_attempt_at = $2, delivered_at = NULL, \
                         claimed_until = NULL, claim_token = NULL WHERE id = $1 RETURNING {COLS}"
                    )))
                    .bind(id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    delivery_from_row(&row)
                }

                async fn outbox_depth(&self) -> Result<Vec<QueueDepth>> {
                    let rows: Vec<(String, String, i64)> = sqlx::query_as(
                        "SELECT kind, status, COUNT(*) FROM outbox_deliveries WHERE status <> 'delivered' \
                         GROUP BY kind, status ORDER BY kind, status",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.into_iter()
                        .map(|(kind, status, count)| {
                            let status = DeliveryStatus::parse(&status)
                                .ok_or_else(|| StoreError::Corrupt(format!("unknown delivery status {status:?}")))?;
                            Ok(QueueDepth { kind, status, count })
                        })
                        .collect()
                }

                async fn outbox_list(&self, status: Option<DeliveryStatus>, page: Page) -> Result<Vec<Delivery>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {COLS} FROM outbox_deliveries WHERE id > $1 AND ($2 IS NULL OR status = $2) \
                         ORDER BY id LIMIT $3"
                    )))
                    .bind(page.after.unwrap_or(i64::MIN))
                    .bind(status.map(DeliveryStatus::as_str))
                    .bind(page.limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter().map(delivery_from_row).collect()
                }
            }
        }
    };
}

/// SQLite: every outbox write takes the single writer connection (`BEGIN IMMEDIATE`).
use crate::postgres::shared::begin_write as begin_postgres;
use crate::sqlite::shared::begin_write as begin_sqlite;

// SQLite serializes claimers with BEGIN IMMEDIATE and has two-argument MAX; PostgreSQL skips
// rows another node's claim transaction holds and spells it GREATEST.
impl_outbox!(
    SqliteStore,
    sqlx::sqlite::SqliteRow,
    sqlx::SqliteConnection,
    begin_sqlite,
    "",
    "MAX",
    sqlite
);
impl_outbox!(
    PostgresStore,
    sqlx::postgres::PgRow,
    sqlx::PgConnection,
    begin_postgres,
    " FOR UPDATE SKIP LOCKED",
    "GREATEST",
    postgres
);
