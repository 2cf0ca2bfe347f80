//! What the admin web console (`licensd-console`) needs beyond the core store: browser sessions,
//! read-only admin tokens, the dashboard's counts and daily series, and the licence search with
//! keyset paging. Migration version 700 (range 700–719).
//!
//! Sessions live in the database (`console_sessions`), so several nodes on one PostgreSQL agree
//! on who is signed in. The cookie's secret is stored only as a keyed digest, like admin tokens; a
//! session ends at its expiry, at sign-out, or when its admin token is revoked.

use crate::EventFilter;
use crate::migrate::Migration;
use crate::{AdminToken, PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::{Event, EventDraft, LicenseStatus, Millis};

pub(crate) const SQLITE_MIGRATION: Migration = Migration {
    version: 700,
    name: "console",
    sql: include_str!("../migrations/sqlite/0700_console.sql"),
};
pub(crate) const POSTGRES_MIGRATION: Migration = Migration {
    version: 700,
    name: "console",
    sql: include_str!("../migrations/postgres/0700_console.sql"),
};

pub(crate) const SQLITE_SEARCH_INDEXES: Migration = Migration {
    version: 702,
    name: "console_search_indexes",
    sql: include_str!("../migrations/sqlite/0702_console_search_indexes.sql"),
};
pub(crate) const POSTGRES_SEARCH_INDEXES: Migration = Migration {
    version: 702,
    name: "console_search_indexes",
    sql: include_str!("../migrations/postgres/0702_console_search_indexes.sql"),
};
pub(crate) const SQLITE_VALIDATION_DAYS: Migration = Migration {
    version: 701,
    name: "console_validation_days",
    sql: include_str!("../migrations/sqlite/0701_console_validation_days.sql"),
};
pub(crate) const POSTGRES_VALIDATION_DAYS: Migration = Migration {
    version: 701,
    name: "console_validation_days",
    sql: include_str!("../migrations/postgres/0701_console_validation_days.sql"),
};

/// A signed-in console session, with what its admin token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub id: i64,
    pub admin_token_id: i64,
    pub admin_name: String,
    pub read_only: bool,
    /// The token every form of this session carries (checked on every POST).
    pub csrf: String,
    pub expires_at: Millis,
}

/// The dashboard's counts, read in one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DashboardCounts {
    pub products: i64,
    /// Licences per status (every status, zero included), in `LicenseStatus::ALL` order.
    pub licenses_by_status: Vec<(LicenseStatus, i64)>,
    pub active_devices: i64,
    /// Floating seats checked out and not yet expired.
    pub seats_in_use: i64,
}

/// Activity of one UTC day (`day` is days since the Unix epoch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyActivity {
    pub day: i64,
    pub activations: i64,
    pub consumptions: i64,
    /// Validations counted by the server processes (`add_validation_counts`).
    pub validations: i64,
}

/// A licence search: newest first, `before` is the last id of the previous page (keyset paging).
#[derive(Debug, Clone, Default)]
pub struct LicenseSearch {
    pub product_id: Option<i64>,
    pub status: Option<LicenseStatus>,
    /// Matches the order reference exactly, or a customer's e-mail exactly or name by prefix
    /// (both case-insensitive). Keys are looked up by digest (`CoreStore::find_license_by_key`).
    pub text: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// A customer with a SLASCONE profile, as the console's SLASCONE customer list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlasconeCustomerRow {
    pub customer_id: i64,
    pub email: Option<String>,
    pub company: Option<String>,
    pub customer_number: String,
    pub prospect_number: Option<String>,
    pub country: Option<String>,
    pub language: Option<String>,
    pub created_at: Millis,
}

/// The console's storage capability.
#[async_trait::async_trait]
pub trait ConsoleStore: Send + Sync + 'static {
    /// Opens a session for an admin token (removing expired sessions first).
    async fn console_session_open(
        &self,
        admin_token_id: i64,
        secret: &str,
        csrf: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()>;
    /// The unexpired session with this cookie secret whose admin token is not revoked.
    async fn console_session_find(&self, secret: &str, now: Millis) -> Result<Option<ConsoleSession>>;
    /// Ends the session with this cookie secret (nothing when there is none).
    async fn console_session_close(&self, secret: &str) -> Result<()>;
    /// Whether the admin token may only read.
    async fn admin_token_read_only(&self, id: i64) -> Result<bool>;
    /// Creates an admin token, read-only or not, and logs `event`, in one transaction.
    async fn create_scoped_admin_token(
        &self,
        name: &str,
        token: &str,
        read_only: bool,
        event: EventDraft,
        now: Millis,
    ) -> Result<AdminToken>;
    async fn dashboard_counts(&self, now: Millis) -> Result<DashboardCounts>;
    /// Adds validation counts per UTC day (days since the epoch) to the dashboard's tally, in one
    /// transaction (a process flushes what it counted in memory).
    async fn add_validation_counts(&self, counts: &[(i64, i64)]) -> Result<()>;
    /// Activations, consumption records and validations per UTC day from `since` on (days without
    /// any are absent).
    async fn daily_activity(&self, since: Millis) -> Result<Vec<DailyActivity>>;
    /// The ids of the licences matching `search`, newest first.
    async fn search_license_ids(&self, search: &LicenseSearch) -> Result<Vec<i64>>;
    /// Sets the licence's consumption counter and its features' counters back to zero and starts
    /// a new consumption period at `now`, logging `event`, in one transaction whose first
    /// statement locks the licence row. `NotFound` for an unknown licence.
    async fn reset_consumption(&self, license_id: i64, event: EventDraft, now: Millis) -> Result<()>;
    /// Customers with a SLASCONE profile, newest first, with ids below `before` (keyset paging).
    async fn slascone_customer_rows(&self, before: Option<i64>, limit: i64) -> Result<Vec<SlasconeCustomerRow>>;
    /// Events matching `filter`, newest first, with ids below `before` (keyset paging).
    async fn recent_events(&self, filter: &EventFilter, before: Option<i64>, limit: i64) -> Result<Vec<Event>>;
}

/// One day in milliseconds.
const DAY: i64 = 86_400_000;

macro_rules! impl_console {
    ($store:ty, $row:ty, $conn:ty, $begin:ident, $module:ident, $name:literal) => {
        pub(crate) mod $module {
            use super::*;

            /// A customer's name folded to lower case, compared byte-wise (as its index orders it).
            const NAME: &str = $name;
            use crate::sql::{db_err, from_json};
            use crate::$module::shared::{get, insert_event};

            #[async_trait::async_trait]
            impl ConsoleStore for $store {
                async fn console_session_open(
                    &self,
                    admin_token_id: i64,
                    secret: &str,
                    csrf: &str,
                    now: Millis,
                    expires_at: Millis,
                ) -> Result<()> {
                    let mut tx = $begin(self).await?;
                    sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    sqlx::query(
                        "INSERT INTO console_sessions (digest, admin_token_id, csrf, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(self.codec.digest(secret.as_bytes()))
                    .bind(admin_token_id)
                    .bind(csrf)
                    .bind(now)
                    .bind(expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn console_session_find(&self, secret: &str, now: Millis) -> Result<Option<ConsoleSession>> {
                    let row = sqlx::query(
                        "SELECT s.id, s.admin_token_id, t.name, t.read_only, s.csrf, s.expires_at \
                         FROM console_sessions s JOIN admin_tokens t ON t.id = s.admin_token_id \
                         WHERE s.digest = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL",
                    )
                    .bind(self.codec.digest(secret.as_bytes()))
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                    row.map(|row| {
                        Ok(ConsoleSession {
                            id: get(&row, "id")?,
                            admin_token_id: get(&row, "admin_token_id")?,
                            admin_name: get(&row, "name")?,
                            read_only: get(&row, "read_only")?,
                            csrf: get(&row, "csrf")?,
                            expires_at: get(&row, "expires_at")?,
                        })
                    })
                    .transpose()
                }

                async fn console_session_close(&self, secret: &str) -> Result<()> {
                    let mut tx = $begin(self).await?;
                    sqlx::query("DELETE FROM console_sessions WHERE digest = $1")
                        .bind(self.codec.digest(secret.as_bytes()))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn admin_token_read_only(&self, id: i64) -> Result<bool> {
                    sqlx::query_scalar("SELECT read_only FROM admin_tokens WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .ok_or(StoreError::NotFound)
                }

                async fn create_scoped_admin_token(
                    &self,
                    name: &str,
                    token: &str,
                    read_only: bool,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<AdminToken> {
                    let mut tx = $begin(self).await?;
                    let row = sqlx::query(
                        "INSERT INTO admin_tokens (name, digest, created_at, read_only) VALUES ($1, $2, $3, $4) \
                         RETURNING id, name, created_at, revoked_at",
                    )
                    .bind(name)
                    .bind(self.codec.digest(token.as_bytes()))
                    .bind(now)
                    .bind(read_only)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| match db_err(e) {
                        StoreError::Conflict(_) => StoreError::Conflict("admin token already exists".into()),
                        other => other,
                    })?;
                    let created = AdminToken {
                        id: get(&row, "id")?,
                        name: get(&row, "name")?,
                        created_at: get(&row, "created_at")?,
                        revoked_at: get(&row, "revoked_at")?,
                    };
                    insert_event(&mut tx, event, created.id, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(created)
                }

                async fn dashboard_counts(&self, now: Millis) -> Result<DashboardCounts> {
                    // One read transaction: the counts describe the same moment.
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let products: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM licenses GROUP BY status")
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let mut licenses_by_status: Vec<(LicenseStatus, i64)> =
                        LicenseStatus::ALL.iter().map(|s| (*s, 0)).collect();
                    for row in rows {
                        let status: String = get(&row, "status")?;
                        let n: i64 = get(&row, "n")?;
                        match licenses_by_status.iter_mut().find(|(s, _)| s.as_str() == status) {
                            Some(entry) => entry.1 = n,
                            None => return Err(StoreError::Corrupt(format!("unknown licence status {status:?}"))),
                        }
                    }
                    let active_devices: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE deactivated_at IS NULL")
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    let seats_in_use: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM floating_leases WHERE expires_at > $1")
                            .bind(now)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(DashboardCounts {
                        products,
                        licenses_by_status,
                        active_devices,
                        seats_in_use,
                    })
                }

                async fn add_validation_counts(&self, counts: &[(i64, i64)]) -> Result<()> {
                    if counts.is_empty() {
                        return Ok(());
                    }
                    let mut tx = $begin(self).await?;
                    for (day, n) in counts {
                        sqlx::query(
                            "INSERT INTO console_validation_days (day, validations) VALUES ($1, $2) \
                             ON CONFLICT (day) DO UPDATE \
                             SET validations = console_validation_days.validations + excluded.validations",
                        )
                        .bind(day)
                        .bind(n)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn daily_activity(&self, since: Millis) -> Result<Vec<DailyActivity>> {
                    let rows = sqlx::query(
                        "SELECT day, SUM(a) AS activations, SUM(c) AS consumptions, CAST(SUM(v) AS BIGINT) AS validations FROM ( \
                           SELECT at / $2 AS day, 1 AS a, 0 AS c, 0 AS v FROM activation_log WHERE at >= $1 \
                           UNION ALL \
                           SELECT at / $2 AS day, 0 AS a, 1 AS c, 0 AS v FROM consumption_events WHERE at >= $1 \
                           UNION ALL \
                           SELECT day, 0 AS a, 0 AS c, validations AS v FROM console_validation_days WHERE day >= $1 / $2 \
                         ) t GROUP BY day ORDER BY day",
                    )
                    .bind(since)
                    .bind(DAY)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter()
                        .map(|row| {
                            Ok(DailyActivity {
                                day: get(row, "day")?,
                                activations: get(row, "activations")?,
                                consumptions: get(row, "consumptions")?,
                                validations: get(row, "validations")?,
                            })
                        })
                        .collect()
                }

                async fn search_license_ids(&self, search: &LicenseSearch) -> Result<Vec<i64>> {
                    // The statement is assembled from fixed fragments, one shape per combination of
                    // filters (values are always bound), so each shape uses its index: keyset paging
                    // on `id` within (product_id, status, id), (product_id, id) or (status, id); a
                    // text search starts from the order reference and the customers' e-mail and
                    // name-prefix indexes (migration 702) and sorts only what they match.
                    let text = search.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
                    let mut sql = String::from("SELECT l.id FROM licenses l WHERE 1 = 1");
                    let mut n = 0;
                    let mut next = || {
                        n += 1;
                        format!("${n}")
                    };
                    if search.product_id.is_some() {
                        sql.push_str(&format!(" AND l.product_id = {}", next()));
                    }
                    if search.status.is_some() {
                        sql.push_str(&format!(" AND l.status = {}", next()));
                    }
                    if search.before.is_some() {
                        sql.push_str(&format!(" AND l.id < {}", next()));
                    }
                    if text.is_some() {
                        let (order_ref, email, low, high) = (next(), next(), next(), next());
                        sql.push_str(&format!(
                            " AND l.id IN ( \
                               SELECT o.id FROM licenses o WHERE o.order_ref = {order_ref} \
                               UNION SELECT m.id FROM licenses m JOIN customers c ON c.id = m.customer_id \
                                 WHERE LOWER(c.email) = LOWER({email}) \
                               UNION SELECT m.id FROM licenses m JOIN customers c ON c.id = m.customer_id \
                                 WHERE {NAME} >= {low} AND {NAME} < {high})"
                        ));
                    }
                    sql.push_str(&format!(" ORDER BY l.id DESC LIMIT {}", next()));
                    // Only the fixed fragments above make up `sql`; every value is bound.
                    let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
                    if let Some(product_id) = search.product_id {
                        query = query.bind(product_id);
                    }
                    if let Some(status) = search.status {
                        query = query.bind(status.as_str());
                    }
                    if let Some(before) = search.before {
                        query = query.bind(before);
                    }
                    if let Some(text) = text {
                        // A name prefix as a range: every string that starts with `low` sorts at or
                        // after it and before `low` followed by the highest code point.
                        let low = text.to_lowercase();
                        let high = format!("{low}\u{10FFFF}");
                        query = query.bind(text).bind(text).bind(low).bind(high);
                    }
                    // Not a cached prepared statement: PostgreSQL then plans each search with its
                    // values (a generic plan would guess a filter's selectivity and may walk the
                    // whole primary key for a rare product and status).
                    query
                        .bind(search.limit)
                        .persistent(false)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)
                }

                async fn reset_consumption(&self, license_id: i64, event: EventDraft, now: Millis) -> Result<()> {
                    let mut tx = $begin(self).await?;
                    let done = sqlx::query(
                        "UPDATE licenses SET lock_version = lock_version + 1, consumption_used = 0, \
                         consumption_period_start = $2, updated_at = $2 WHERE id = $1",
                    )
                    .bind(license_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    sqlx::query(
                        "UPDATE license_features SET consumption_used = 0, period_start = $2 WHERE license_id = $1",
                    )
                    .bind(license_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    insert_event(&mut tx, event, license_id, now).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn slascone_customer_rows(
                    &self,
                    before: Option<i64>,
                    limit: i64,
                ) -> Result<Vec<SlasconeCustomerRow>> {
                    let rows = sqlx::query(
                        "SELECT c.id, c.email, c.company, c.created_at, p.customer_number, p.prospect_number, \
                                p.country, p.language \
                         FROM slascone_customers p JOIN customers c ON c.id = p.customer_id \
                         WHERE ($1 IS NULL OR p.customer_id < $1) ORDER BY p.customer_id DESC LIMIT $2",
                    )
                    .bind(before)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter()
                        .map(|row| {
                            Ok(SlasconeCustomerRow {
                                customer_id: get(row, "id")?,
                                email: get(row, "email")?,
                                company: get(row, "company")?,
                                customer_number: get(row, "customer_number")?,
                                prospect_number: get(row, "prospect_number")?,
                                country: get(row, "country")?,
                                language: get(row, "language")?,
                                created_at: get(row, "created_at")?,
                            })
                        })
                        .collect()
                }

                async fn recent_events(
                    &self,
                    filter: &EventFilter,
                    before: Option<i64>,
                    limit: i64,
                ) -> Result<Vec<Event>> {
                    let rows = sqlx::query(
                        "SELECT id, at, actor, source_ip, action, subject_type, subject_id, data FROM events \
                         WHERE ($1 IS NULL OR subject_type = $1) AND ($2 IS NULL OR subject_id = $2) \
                           AND ($3 IS NULL OR action = $3) AND ($4 IS NULL OR id < $4) \
                         ORDER BY id DESC LIMIT $5",
                    )
                    .bind(filter.subject_type.as_deref())
                    .bind(filter.subject_id)
                    .bind(filter.action.as_deref())
                    .bind(before)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter()
                        .map(|row| {
                            let data: String = get(row, "data")?;
                            Ok(Event {
                                id: get(row, "id")?,
                                at: get(row, "at")?,
                                actor: get(row, "actor")?,
                                source_ip: get(row, "source_ip")?,
                                action: get(row, "action")?,
                                subject_type: get(row, "subject_type")?,
                                subject_id: get(row, "subject_id")?,
                                data: from_json(&data, "event data")?,
                            })
                        })
                        .collect()
                }
            }
        }
    };
}

use crate::postgres::shared::begin_write as begin_postgres;
use crate::sqlite::shared::begin_write as begin_sqlite;

impl_console!(
    SqliteStore,
    sqlx::sqlite::SqliteRow,
    sqlx::SqliteConnection,
    begin_sqlite,
    sqlite,
    "LOWER(c.name)"
);
impl_console!(
    PostgresStore,
    sqlx::postgres::PgRow,
    sqlx::PgConnection,
    begin_postgres,
    postgres,
    "(LOWER(c.name) COLLATE \"C\")"
);
