//! Durable bulk-issue jobs (`console_bulk_jobs`, migration 704): a job is recorded running, its
//! runner beats a heartbeat, and its licences are issued in one transaction that marks it done;
//! a job whose heartbeat stopped is marked failed when next read.

use crate::{PostgresStore, Result, SqliteStore, StoreError};
use licensd_domain::{EventDraft, Millis};

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

/// Bulk-issue jobs.
#[async_trait::async_trait]
pub trait BulkJobStore: Send + Sync + 'static {
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

/// Implements `BulkJobStore` for one backend (`$core`: `sqlite` or `postgres`, whose `shared`
/// module holds the write helpers of `sql/tx.rs` and the row getter).
macro_rules! impl_bulk_jobs {
    ($store:ty, $core:ident) => {
        const _: () = {
            use crate::$core::shared::{begin_write, execute_in_write, get, insert_event, insert_license};
            use crate::sql::{db_err, from_json};

            #[async_trait::async_trait]
            impl BulkJobStore for $store {
                async fn bulk_job_create(
                    &self,
                    id: &str,
                    admin_token_id: i64,
                    requested: i64,
                    now: Millis,
                    forget_before: Millis,
                ) -> Result<()> {
                    let forget = sqlx::query("DELETE FROM console_bulk_jobs WHERE finished_at < $1").bind(forget_before);
                    let insert = sqlx::query(
                        "INSERT INTO console_bulk_jobs (id, admin_token_id, status, requested, done, created_at, heartbeat_at) \
                         VALUES ($1, $2, 'running', $3, 0, $4, $4)",
                    )
                    .bind(id)
                    .bind(admin_token_id)
                    .bind(requested)
                    .bind(now);
                    execute_in_write(self, [forget, insert], db_err).await
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
                        let mut tx = begin_write(self).await?;
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
                    let beat = sqlx::query("UPDATE console_bulk_jobs SET heartbeat_at = $2 WHERE id = $1 AND status = 'running'")
                        .bind(id)
                        .bind(now);
                    execute_in_write(self, [beat], db_err).await
                }

                async fn bulk_job_fail(&self, id: &str, error: &str, error_status: i64, now: Millis) -> Result<()> {
                    let fail = sqlx::query(
                        "UPDATE console_bulk_jobs SET status = 'failed', error = $2, error_status = $3, finished_at = $4 \
                         WHERE id = $1 AND status = 'running'",
                    )
                    .bind(id)
                    .bind(error)
                    .bind(error_status)
                    .bind(now);
                    execute_in_write(self, [fail], db_err).await
                }

                async fn create_licenses_for_bulk_job(
                    &self,
                    id: &str,
                    new: Vec<crate::NewLicense>,
                    event: EventDraft,
                    now: Millis,
                ) -> Result<Vec<licensd_domain::License>> {
                    let mut tx = begin_write(self).await?;
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
                    let runs = id_runs(created.iter().map(|l| l.id.get()));
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
        };
    };
}

impl_bulk_jobs!(SqliteStore, sqlite);
impl_bulk_jobs!(PostgresStore, postgres);
