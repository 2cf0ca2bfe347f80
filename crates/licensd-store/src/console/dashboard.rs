//! The dashboard: counts in one snapshot and activity per UTC day, read from `console_tally`
//! (migration 703: kept by triggers in each write's transaction) and `console_validation_days`
//! (migration 701: validation counts the server processes flush).

use crate::{PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::{LicenseStatus, Millis};

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

/// The dashboard's figures.
#[async_trait::async_trait]
pub trait DashboardStore: Send + Sync + 'static {
    async fn dashboard_counts(&self, now: Millis) -> Result<DashboardCounts>;
    /// Adds validation counts per UTC day (days since the epoch) to the dashboard's tally, in one
    /// transaction (a process flushes what it counted in memory).
    async fn add_validation_counts(&self, counts: &[(i64, i64)]) -> Result<()>;
    /// Activations, consumption records and validations per UTC day from `since` on (days without
    /// any are absent).
    async fn daily_activity(&self, since: Millis) -> Result<Vec<DailyActivity>>;
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

/// Implements `DashboardStore` for one backend (`$core`: `sqlite` or `postgres`, whose `shared`
/// module holds the write helpers of `sql/tx.rs` and the row getter).
macro_rules! impl_dashboard {
    ($store:ty, $core:ident, $fold:ident, $add_counts_unseen:ident) => {
        const _: () = {
            use crate::$core::shared::{begin_write, get};
            use crate::sql::db_err;

            #[async_trait::async_trait]
            impl DashboardStore for $store {
                async fn dashboard_counts(&self, now: Millis) -> Result<DashboardCounts> {
                    // The licence and device counts come from `console_tally` (migration 703), kept
                    // by triggers in each write's transaction; one transaction reads them all.
                    let mut tx = $fold(self).await?;
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
                    let mut tx = begin_write(self).await?;
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
                    let mut tx = $fold(self).await?;
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
            }
        };
    };
}

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

impl_dashboard!(SqliteStore, sqlite, fold_sqlite, add_counts_unseen_sqlite);
impl_dashboard!(PostgresStore, postgres, fold_postgres, add_counts_unseen_postgres);
