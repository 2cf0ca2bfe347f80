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
pub(crate) const SQLITE_TALLIES: Migration = Migration {
    version: 703,
    name: "console_tallies",
    sql: include_str!("../migrations/sqlite/0703_console_tallies.sql"),
};
pub(crate) const POSTGRES_TALLIES: Migration = Migration {
    version: 703,
    name: "console_tallies",
    sql: include_str!("../migrations/postgres/0703_console_tallies.sql"),
};
pub(crate) const SQLITE_BULK_JOBS: Migration = Migration {
    version: 704,
    name: "console_bulk_jobs",
    sql: include_str!("../migrations/sqlite/0704_console_bulk_jobs.sql"),
};
pub(crate) const POSTGRES_BULK_JOBS: Migration = Migration {
    version: 704,
    name: "console_bulk_jobs",
    sql: include_str!("../migrations/postgres/0704_console_bulk_jobs.sql"),
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
    /// Active licences past their expiry (`expires_at <= now`).
    pub expired: i64,
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

/// Where a bulk-issue job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkJobStatus {
    Running,
    Done,
    Failed,
}

impl BulkJobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Corrupt(format!("unknown bulk job status {other:?}"))),
        }
    }
}

/// A console bulk-issue job (table `console_bulk_jobs`, migration 704).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkJob {
    pub id: String,
    pub admin_token_id: i64,
    pub status: BulkJobStatus,
    pub requested: i64,
    /// Licences issued: 0 until the job's one transaction commits, then `requested`.
    pub done: i64,
    /// Why it failed, and the HTTP status of the refusal (500 for an interruption).
    pub error: Option<String>,
    pub error_status: Option<i64>,
    /// The issued licences' ids as runs of consecutive ids `(first, last)`, ascending.
    pub license_ids: Vec<(i64, i64)>,
    pub created_at: Millis,
    pub heartbeat_at: Millis,
    pub finished_at: Option<Millis>,
}

/// Ids as runs of consecutive ids, ascending.
pub fn id_runs(ids: impl IntoIterator<Item = i64>) -> Vec<(i64, i64)> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for id in ids {
        match runs.last_mut() {
            Some(run) if run.1 + 1 == id => run.1 = id,
            _ => runs.push((id, id)),
        }
    }
    runs
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
    /// Records a running bulk-issue job, first removing jobs that finished before `forget_before`.
    async fn bulk_job_create(
        &self,
        id: &str,
        admin_token_id: i64,
        requested: i64,
        now: Millis,
        forget_before: Millis,
    ) -> Result<()>;
    /// The job `id`; a running job whose heartbeat is older than `stale_before` (its process
    /// ended) is first marked failed, in one transaction. `NotFound` when there is none.
    async fn bulk_job_get(&self, id: &str, stale_before: Millis) -> Result<BulkJob>;
    /// The runner's sign of life for a running job.
    async fn bulk_job_heartbeat(&self, id: &str, now: Millis) -> Result<()>;
    /// Marks a running job failed with the refusal (nothing was issued).
    async fn bulk_job_fail(&self, id: &str, error: &str, error_status: i64, now: Millis) -> Result<()>;
    /// Issues the job's licences and logs `event` like `LicenseStore::create_licenses` (the same
    /// insert, one transaction) and marks the job done with their ids in that transaction. When
    /// the job is no longer running (marked failed meanwhile) nothing is issued: `Conflict`.
    async fn create_licenses_for_bulk_job(
        &self,
        id: &str,
        new: Vec<crate::NewLicense>,
        event: EventDraft,
        now: Millis,
    ) -> Result<Vec<licensd_domain::License>>;
}

/// One day in milliseconds.
const DAY: i64 = 86_400_000;

/// PostgreSQL's triggers append deltas (no hot counter row for concurrent writers); this folds
/// them into `console_tally` exactly once: the rows one `DELETE ... RETURNING` removes feed the
/// upsert, in the caller's transaction, which holds an advisory lock so folds take turns.
const PG_FOLD: &str = "WITH moved AS (DELETE FROM console_tally_deltas RETURNING kind, key, day, n) \
    INSERT INTO console_tally (kind, key, day, n) \
    SELECT kind, key, day, SUM(n) FROM moved GROUP BY kind, key, day ORDER BY kind, key, day \
    ON CONFLICT (kind, key, day) DO UPDATE SET n = console_tally.n + excluded.n";
/// The advisory lock of the fold (the bytes of "ctally").
const PG_FOLD_LOCK: i64 = 0x6374_616c_6c79;

/// The first millisecond of the tally's day `day` (days are `at / DAY`, truncated toward zero like
/// SQL's integer division: day 0 holds the millisecond before the epoch too).
fn day_start(day: i64) -> Millis {
    if day > 0 { day * DAY } else { day * DAY - (DAY - 1) }
}

/// SQLite's triggers update `console_tally` itself: a read transaction sees it whole.
async fn fold_sqlite(store: &SqliteStore) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
    store.pool.begin().await.map_err(crate::sql::db_err)
}

/// PostgreSQL's triggers append deltas: folds them in first (`PG_FOLD`), in the transaction the
/// counts are then read in.
async fn fold_postgres(store: &PostgresStore) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    use crate::sql::db_err;
    let mut tx = store.pool.begin().await.map_err(db_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_FOLD_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    sqlx::query(PG_FOLD).execute(&mut *tx).await.map_err(db_err)?;
    Ok(tx)
}

macro_rules! impl_console {
    ($store:ty, $row:ty, $conn:ty, $begin:ident, $fold:ident, $add_counts_unseen:ident, $module:ident, $name:literal) => {
        pub(crate) mod $module {
            use super::*;

            /// A customer's name folded to lower case, compared byte-wise (as its index orders it).
            const NAME: &str = $name;
            use crate::sql::{db_err, from_json};
            use crate::$module::shared::{get, insert_event, insert_license};
            use super::$fold as fold_tallies;

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
                    // The licence and device counts come from `console_tally` (migration 703), kept
                    // by triggers in each write's transaction; one transaction reads them all.
                    let mut tx = fold_tallies(self).await?;
                    let products: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let today = now / DAY;
                    let rows = sqlx::query(
                        "SELECT kind, key, CAST(SUM(n) AS BIGINT) AS n, \
                                CAST(SUM(CASE WHEN day < $1 THEN n ELSE 0 END) AS BIGINT) AS past \
                         FROM console_tally WHERE kind IN ('license', 'device') GROUP BY kind, key",
                    )
                    .bind(today)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let mut licenses_by_status: Vec<(LicenseStatus, i64)> =
                        LicenseStatus::ALL.iter().map(|s| (*s, 0)).collect();
                    let (mut active_devices, mut expired) = (0, 0);
                    for row in rows {
                        let kind: String = get(&row, "kind")?;
                        let key: String = get(&row, "key")?;
                        let n: i64 = get(&row, "n")?;
                        if kind == "device" {
                            active_devices = n;
                            continue;
                        }
                        if key == LicenseStatus::Active.as_str() {
                            expired = get(&row, "past")?;
                        }
                        match licenses_by_status.iter_mut().find(|(s, _)| s.as_str() == key) {
                            Some(entry) => entry.1 = n,
                            None => return Err(StoreError::Corrupt(format!("unknown licence status {key:?}"))),
                        }
                    }
                    // Today's part of the expired: an index range on (status, expires_at).
                    let expired_today: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM licenses WHERE status = $1 AND expires_at >= $2 AND expires_at <= $3",
                    )
                    .bind(LicenseStatus::Active.as_str())
                    .bind(day_start(today))
                    .bind(now)
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
                        expired: expired + expired_today,
                        seats_in_use,
                    })
                }

                async fn add_validation_counts(&self, counts: &[(i64, i64)]) -> Result<()> {
                    if counts.is_empty() {
                        return Ok(());
                    }
                    if let Some(written) = $add_counts_unseen(self, counts).await {
                        return written;
                    }
                    let mut tx = $begin(self).await?;
                    for (day, n) in counts {
                        sqlx::query(ADD_VALIDATION_COUNT)
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
                    // Activations and consumption records per day come from `console_tally`
                    // (triggers count the rows); the whole days from `since`'s day on, plus an
                    // index range count of the rows of `since`'s own day before `since`, taken off.
                    let mut tx = fold_tallies(self).await?;
                    let first = since / DAY;
                    let rows = sqlx::query(
                        "SELECT day, CAST(SUM(a) AS BIGINT) AS activations, CAST(SUM(c) AS BIGINT) AS consumptions, \
                                CAST(SUM(v) AS BIGINT) AS validations FROM ( \
                           SELECT day, CASE WHEN kind = 'activation' THEN n ELSE 0 END AS a, \
                                  CASE WHEN kind = 'consumption' THEN n ELSE 0 END AS c, 0 AS v \
                           FROM console_tally WHERE kind IN ('activation', 'consumption') AND key = '' AND day >= $1 \
                           UNION ALL \
                           SELECT day, 0 AS a, 0 AS c, validations AS v FROM console_validation_days WHERE day >= $1 \
                         ) t GROUP BY day HAVING SUM(a) <> 0 OR SUM(c) <> 0 OR SUM(v) <> 0 ORDER BY day",
                    )
                    .bind(first)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let (before_a, before_c): (i64, i64) = if since != day_start(first) {
                        let a: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM activation_log WHERE at >= $1 AND at < $2",
                        )
                        .bind(day_start(first))
                        .bind(since)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                        let c: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM consumption_events WHERE at >= $1 AND at < $2",
                        )
                        .bind(day_start(first))
                        .bind(since)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                        (a, c)
                    } else {
                        (0, 0)
                    };
                    tx.commit().await.map_err(db_err)?;
                    let mut days = rows
                        .iter()
                        .map(|row| {
                            Ok(DailyActivity {
                                day: get(row, "day")?,
                                activations: get(row, "activations")?,
                                consumptions: get(row, "consumptions")?,
                                validations: get(row, "validations")?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    if let Some(day) = days.iter_mut().find(|d| d.day == first) {
                        day.activations -= before_a;
                        day.consumptions -= before_c;
                    }
                    days.retain(|d| d.activations != 0 || d.consumptions != 0 || d.validations != 0);
                    Ok(days)
                }

                async fn search_license_ids(&self, search: &LicenseSearch) -> Result<Vec<i64>> {
                    // The statement is assembled from fixed fragments, one shape per combination of
                    // filters (values are always bound), so each shape uses its index: keyset paging
                    // on `id` within (product_id, status, id), (product_id, id) or (status, id); a
                    // text search starts from the order reference and the customers' e-mail and
                    // name-prefix indexes (migration 702) and sorts only what they match.
                    let text = search.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
                    let mut n = 0;
                    let mut next = || {
                        n += 1;
                        format!("${n}")
                    };
                    // The product, status and keyset filters on the licences aliased `alias`.
                    let filters = |alias: &str, next: &mut dyn FnMut() -> String| {
                        let mut sql = String::new();
                        if search.product_id.is_some() {
                            sql.push_str(&format!(" AND {alias}.product_id = {}", next()));
                        }
                        if search.status.is_some() {
                            sql.push_str(&format!(" AND {alias}.status = {}", next()));
                        }
                        if search.before.is_some() {
                            sql.push_str(&format!(" AND {alias}.id < {}", next()));
                        }
                        sql
                    };
                    let mut sql = if text.is_some() {
                        // The ids come straight from the union of the text's matches (each branch
                        // filtered), and only they are sorted: joining them back to `licenses`
                        // let PostgreSQL walk the whole primary key backwards to find old matches.
                        // Placeholders numbered in the order they appear (and are bound below).
                        let p_ref = next();
                        let order_ref = filters("o", &mut next);
                        let p_email = next();
                        let email = filters("m", &mut next);
                        let (p_low, p_high) = (next(), next());
                        let name = filters("m", &mut next);
                        format!(
                            "SELECT id FROM ( \
                               SELECT o.id FROM licenses o WHERE o.order_ref = {p_ref}{order_ref} \
                               UNION SELECT m.id FROM licenses m JOIN customers c ON c.id = m.customer_id \
                                 WHERE LOWER(c.email) = LOWER({p_email}){email} \
                               UNION SELECT m.id FROM licenses m JOIN customers c ON c.id = m.customer_id \
                                 WHERE {NAME} >= {p_low} AND {NAME} < {p_high}{name}) s"
                        )
                    } else {
                        format!("SELECT l.id FROM licenses l WHERE 1 = 1{}", filters("l", &mut next))
                    };
                    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", next()));
                    // A name prefix as a range: every string that starts with `low` sorts at or
                    // after it and before `low` followed by the highest code point.
                    let low = text.map(str::to_lowercase).unwrap_or_default();
                    let high = format!("{low}\u{10FFFF}");
                    // Only the fixed fragments above make up `sql`; every value is bound.
                    let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
                    // Bound in the placeholders' order: per branch, its text value(s), then the
                    // filters.
                    for branch in 0..(if text.is_some() { 3 } else { 1 }) {
                        if let Some(text) = text {
                            match branch {
                                0 | 1 => query = query.bind(text),
                                _ => query = query.bind(low.clone()).bind(high.clone()),
                            }
                        }
                        if let Some(product_id) = search.product_id {
                            query = query.bind(product_id);
                        }
                        if let Some(status) = search.status {
                            query = query.bind(status.as_str());
                        }
                        if let Some(before) = search.before {
                            query = query.bind(before);
                        }
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
                    // One statement shape per combination of filters (values bound), so each
                    // walks its index newest first: (subject_type, subject_id, id), (action, id),
                    // (subject_type, id) or the primary key (migrations 0001 and 703).
                    let mut sql = String::from(
                        "SELECT id, at, actor, source_ip, action, subject_type, subject_id, data FROM events WHERE 1 = 1",
                    );
                    let mut n = 0;
                    let mut next = || {
                        n += 1;
                        format!("${n}")
                    };
                    if filter.subject_type.is_some() {
                        sql.push_str(&format!(" AND subject_type = {}", next()));
                    }
                    if filter.subject_id.is_some() {
                        sql.push_str(&format!(" AND subject_id = {}", next()));
                    }
                    if filter.action.is_some() {
                        sql.push_str(&format!(" AND action = {}", next()));
                    }
                    if before.is_some() {
                        sql.push_str(&format!(" AND id < {}", next()));
                    }
                    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", next()));
                    // Only the fixed fragments above make up `sql`; every value is bound.
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    if let Some(subject_type) = filter.subject_type.as_deref() {
                        query = query.bind(subject_type);
                    }
                    if let Some(subject_id) = filter.subject_id {
                        query = query.bind(subject_id);
                    }
                    if let Some(action) = filter.action.as_deref() {
                        query = query.bind(action);
                    }
                    if let Some(before) = before {
                        query = query.bind(before);
                    }
                    let rows = query
                        .bind(limit)
                        .persistent(false)
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

                async fn bulk_job_create(
                    &self,
                    id: &str,
                    admin_token_id: i64,
                    requested: i64,
                    now: Millis,
                    forget_before: Millis,
                ) -> Result<()> {
                    let mut tx = $begin(self).await?;
                    sqlx::query("DELETE FROM console_bulk_jobs WHERE finished_at < $1")
                        .bind(forget_before)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    sqlx::query(
                        "INSERT INTO console_bulk_jobs (id, admin_token_id, status, requested, done, created_at, heartbeat_at) \
                         VALUES ($1, $2, 'running', $3, 0, $4, $4)",
                    )
                    .bind(id)
                    .bind(admin_token_id)
                    .bind(requested)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn bulk_job_get(&self, id: &str, stale_before: Millis) -> Result<BulkJob> {
                    let stale: Option<i64> = sqlx::query_scalar(
                        "SELECT heartbeat_at FROM console_bulk_jobs WHERE id = $1 AND status = 'running' AND heartbeat_at < $2",
                    )
                    .bind(id)
                    .bind(stale_before)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                    if let Some(heartbeat_at) = stale {
                        let mut tx = $begin(self).await?;
                        sqlx::query(
                            "UPDATE console_bulk_jobs SET status = 'failed', finished_at = $3, error_status = 500, \
                             error = 'interrupted: the server running it stopped before it finished; no licence was issued' \
                             WHERE id = $1 AND status = 'running' AND heartbeat_at < $2",
                        )
                        .bind(id)
                        .bind(stale_before)
                        .bind(heartbeat_at.max(stale_before))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                        tx.commit().await.map_err(db_err)?;
                    }
                    let row = sqlx::query(
                        "SELECT id, admin_token_id, status, requested, done, error, error_status, license_ids, \
                                created_at, heartbeat_at, finished_at FROM console_bulk_jobs WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .ok_or(StoreError::NotFound)?;
                    let status: String = get(&row, "status")?;
                    let ids: Option<String> = get(&row, "license_ids")?;
                    Ok(BulkJob {
                        id: get(&row, "id")?,
                        admin_token_id: get(&row, "admin_token_id")?,
                        status: BulkJobStatus::parse(&status)?,
                        requested: get(&row, "requested")?,
                        done: get(&row, "done")?,
                        error: get(&row, "error")?,
                        error_status: get(&row, "error_status")?,
                        license_ids: match ids {
                            Some(ids) => from_json(&ids, "bulk job licence ids")?,
                            None => Vec::new(),
                        },
                        created_at: get(&row, "created_at")?,
                        heartbeat_at: get(&row, "heartbeat_at")?,
                        finished_at: get(&row, "finished_at")?,
                    })
                }

                async fn bulk_job_heartbeat(&self, id: &str, now: Millis) -> Result<()> {
                    let mut tx = $begin(self).await?;
                    sqlx::query("UPDATE console_bulk_jobs SET heartbeat_at = $2 WHERE id = $1 AND status = 'running'")
                        .bind(id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn bulk_job_fail(&self, id: &str, error: &str, error_status: i64, now: Millis) -> Result<()> {
                    let mut tx = $begin(self).await?;
                    sqlx::query(
                        "UPDATE console_bulk_jobs SET status = 'failed', error = $2, error_status = $3, finished_at = $4 \
                         WHERE id = $1 AND status = 'running'",
                    )
                    .bind(id)
                    .bind(error)
                    .bind(error_status)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn create_licenses_for_bulk_job(
                    &self,
                    id: &str,
                    new: Vec<crate::NewLicense>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<Vec<licensd_domain::License>> {
                    let mut tx = $begin(self).await?;
                    // The job row first: a job marked failed meanwhile issues nothing, and a
                    // concurrent heartbeat or failure waits for this transaction.
                    let running = sqlx::query(
                        "UPDATE console_bulk_jobs SET heartbeat_at = $2 WHERE id = $1 AND status = 'running'",
                    )
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if running.rows_affected() == 0 {
                        return Err(StoreError::Conflict("the bulk-issue job is no longer running".into()));
                    }
                    let mut codes = std::collections::HashMap::new();
                    let mut created = Vec::with_capacity(new.len());
                    for item in &new {
                        created.push(insert_license(&mut tx, &*self.codec, item, &mut codes, now).await?);
                    }
                    let subject = match created.as_slice() {
                        [only] => Some(only.id),
                        _ => None,
                    };
                    insert_event(&mut tx, event, subject, now).await?;
                    let runs = id_runs(created.iter().map(|l| l.id));
                    sqlx::query(
                        "UPDATE console_bulk_jobs SET status = 'done', done = $2, license_ids = $3, finished_at = $4, \
                         heartbeat_at = $4 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(created.len() as i64)
                    .bind(crate::sql::to_json(&runs)?)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(created)
                }
            }
        }
    };
}

use crate::postgres::shared::begin_write as begin_postgres;
use crate::sqlite::shared::begin_write as begin_sqlite;

/// Adds one day's validations to the console's series.
const ADD_VALIDATION_COUNT: &str = "INSERT INTO console_validation_days (day, validations) VALUES ($1, $2) \
     ON CONFLICT (day) DO UPDATE SET validations = console_validation_days.validations + excluded.validations";

/// SQLite: the counts are written on the writer thread without invalidating the read caches
/// (`SqliteStore::write_unseen`: no cache reads `console_validation_days`); `None` on an
/// in-memory database, which writes them through sqlx.
async fn add_counts_unseen_sqlite(store: &SqliteStore, counts: &[(i64, i64)]) -> Option<Result<()>> {
    let counts = counts.to_vec();
    store
        .write_unseen(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(crate::sql::lite_err)?;
            {
                let mut add = tx.prepare_cached(ADD_VALIDATION_COUNT).map_err(crate::sql::lite_err)?;
                for (day, n) in &counts {
                    add.execute::<&[(&str, &dyn rusqlite::ToSql)]>(&[("$1", day), ("$2", n)])
                        .map_err(crate::sql::lite_err)?;
                }
            }
            tx.commit().map_err(crate::sql::lite_err)
        })
        .await
}

/// PostgreSQL: its read cache hears only of writes to the tables it reads; the counts go
/// through sqlx.
async fn add_counts_unseen_postgres(_store: &PostgresStore, _counts: &[(i64, i64)]) -> Option<Result<()>> {
    None
}

impl_console!(
    SqliteStore,
    sqlx::sqlite::SqliteRow,
    sqlx::SqliteConnection,
    begin_sqlite,
    fold_sqlite,
    add_counts_unseen_sqlite,
    sqlite,
    "LOWER(c.name)"
);
impl_console!(
    PostgresStore,
    sqlx::postgres::PgRow,
    sqlx::PgConnection,
    begin_postgres,
    fold_postgres,
    add_counts_unseen_postgres,
    postgres,
    "(LOWER(c.name) COLLATE \"C\")"
);
