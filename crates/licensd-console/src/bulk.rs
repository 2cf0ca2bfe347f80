//! Bulk issue as a job with a progress page, kept in the database (`console_bulk_jobs`).
//!
//! The form's POST records a running job and starts it in a task of this process, then answers
//! with a redirect to the job's page. The task runs the `/v1` bulk handler's checks
//! (`native::licenses::prepare_bulk`) and issues every licence in **one transaction that also
//! marks the job done** (`BulkJobStore::create_licenses_for_bulk_job`): all or none, and a job is
//! never shown done without its licences. Issuing is not chunked: a chunk committed on its own
//! would be a half-issued job if the process stopped, so the page shows an indeterminate
//! `<progress>`, the count asked for and the seconds elapsed, and reloads itself every second
//! (`<meta http-equiv="refresh">`, no JavaScript); then the result with the CSV download, or the
//! refusal.
//!
//! Any node reading the same database shows the job and serves its CSV (made again from the
//! issued licences' ids; the keys are stored once, sealed, in `licenses`). While it runs the task
//! writes a heartbeat every `HEARTBEAT`; a running job whose heartbeat is older than `STALE` (its
//! process stopped: the transaction was rolled back with the connection) is marked failed by the
//! node that shows it. Jobs are visible only to the admin token that started them; finished jobs
//! are removed `KEEP_FINISHED` after they end (when a new job starts).

use crate::layout::{self, Flash};
use crate::session::Session;
use licensd_domain::Millis;
use licensd_server::AppState;
use licensd_server::error::ApiError;
use licensd_server::http::Admin;
use licensd_server::native::licenses as api;
use licensd_store::{BulkJob, BulkJobStatus};
use maud::{Markup, html};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a finished job's page and CSV stay available.
pub const KEEP_FINISHED: Millis = 24 * 3_600_000;
/// How often a running job's task shows it is alive.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// A running job without a heartbeat for this long is shown failed.
pub const STALE: Millis = 15_000;

/// The jobs this process runs (their heartbeat may wait behind SQLite's single writer, which is
/// busy issuing them: this process never takes its own jobs for stale).
#[derive(Default)]
pub struct Jobs {
    running: Mutex<HashSet<String>>,
}

impl Jobs {
    fn running(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The job `id` if `admin_token_id` started it (`None` when unknown or another admin's).
    pub async fn get(&self, state: &AppState, id: &str, admin_token_id: i64) -> Result<Option<BulkJob>, ApiError> {
        let stale_before = if self.running().contains(id) {
            Millis::MIN
        } else {
            state.now() - STALE
        };
        match state.store.bulk_job_get(id, stale_before).await {
            Ok(job) if job.admin_token_id == admin_token_id => Ok(Some(job)),
            Ok(_) | Err(licensd_store::StoreError::NotFound) => Ok(None),
            Err(e) => Err(ApiError::from_store(e, "bulk job")),
        }
    }

    /// Records the job and starts it in a task; returns its id.
    pub async fn start(
        self: &Arc<Self>,
        state: &AppState,
        admin: Admin,
        body: api::BulkCreateLicenses,
    ) -> Result<String, ApiError> {
        let id = licensd_crypto::random_token("job_").map_err(|_| ApiError::internal())?;
        let now = state.now();
        let requested = i64::try_from(body.count).unwrap_or(i64::MAX);
        state
            .store
            .bulk_job_create(&id, admin.token_id, requested, now, now - KEEP_FINISHED)
            .await
            .map_err(|e| ApiError::from_store(e, "bulk job"))?;
        self.running().insert(id.clone());
        let jobs = Arc::clone(self);
        let state = state.clone();
        let job_id = id.clone();
        tokio::spawn(async move {
            let heartbeat = {
                let (state, id) = (state.clone(), job_id.clone());
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(HEARTBEAT);
                    loop {
                        tick.tick().await;
                        if let Err(error) = state.store.bulk_job_heartbeat(&id, state.now()).await {
                            tracing::warn!(%error, job = %id, "could not write a bulk job's heartbeat");
                        }
                    }
                })
            };
            let result = match api::prepare_bulk(&admin, &state, &body).await {
                Ok((batch, event)) => state
                    .store
                    .create_licenses_for_bulk_job(&job_id, batch, event, state.now())
                    .await
                    .map(|_| ())
                    .map_err(|e| ApiError::from_store(e, "license")),
                Err(refused) => Err(refused),
            };
            heartbeat.abort();
            if let Err(refused) = result {
                let text = match Flash::refused(&refused) {
                    Flash::Error(text) | Flash::Notice(text) => text,
                };
                let status = i64::from(refused.status.as_u16());
                if let Err(error) = state.store.bulk_job_fail(&job_id, &text, status, state.now()).await {
                    // Its heartbeat has stopped: it will be shown failed once stale.
                    tracing::warn!(%error, job = %job_id, "could not record a bulk job's refusal");
                }
            }
            jobs.running().remove(&job_id);
        });
        Ok(id)
    }
}

/// What the job's page shows (with `refresh` when it should reload).
pub fn render(job: &BulkJob, now: Millis) -> (Markup, Option<Flash>, bool) {
    match job.status {
        BulkJobStatus::Running => {
            let seconds = (now - job.created_at).max(0) / 1000;
            let markup = html! {
                section #bulk-running aria-live="polite" {
                    label for="bulk-progress" { "Issuing " (job.requested) " licences…" }
                    progress #bulk-progress { "working" }
                    p.hint { (seconds) " s so far. All the keys are written in one transaction: they appear together when it commits. This page reloads every second." }
                }
            };
            (markup, None, true)
        }
        BulkJobStatus::Done => {
            let first = job.license_ids.first().map(|r| r.0).unwrap_or(0);
            let last = job.license_ids.last().map(|r| r.1).unwrap_or(0);
            let markup = html! {
                section #bulk-result {
                    progress #bulk-progress max="1" value="1" { "done" }
                    p { (job.done) " licences issued (ids " (first) " to " (last) ")." }
                    p { a #download-keys href=(format!("/console/licenses/bulk/jobs/{}/keys.csv", job.id)) download { "Download the keys (CSV)" } }
                    p { a href="/console/licenses/bulk" { "Issue more" } }
                }
            };
            (markup, None, false)
        }
        BulkJobStatus::Failed => {
            let markup = html! { p { a href="/console/licenses/bulk" { "Back to the form" } } };
            let text = job.error.clone().unwrap_or_else(|| "the job failed".into());
            (markup, Some(Flash::Error(text)), false)
        }
    }
}

/// The HTTP status of the job's page: the refusal's own status, else 200.
pub fn status(job: &BulkJob) -> axum::http::StatusCode {
    match (job.status, job.error_status) {
        (BulkJobStatus::Failed, Some(code)) => u16::try_from(code)
            .ok()
            .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
        (BulkJobStatus::Failed, None) => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        _ => axum::http::StatusCode::OK,
    }
}

/// The job page for `session` (404 when it is not this admin's job or was removed).
pub async fn page(session: &Session, state: &AppState, jobs: &Jobs, id: &str) -> axum::response::Response {
    let job = match jobs.get(state, id, session.session.admin_token_id).await {
        Ok(Some(job)) => job,
        Ok(None) => {
            return layout::error_page(
                axum::http::StatusCode::NOT_FOUND,
                "no such bulk-issue job (finished jobs are kept for a day)",
            );
        }
        Err(e) => return layout::error_page(e.status, &e.message),
    };
    let (content, flash, refresh) = render(&job, state.now());
    layout::page_with_refresh(session, "Bulk issue", status(&job), flash, content, refresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: BulkJobStatus) -> BulkJob {
        BulkJob {
            id: "job_a".into(),
            admin_token_id: 1,
            status,
            requested: 500,
            done: 0,
            error: None,
            error_status: None,
            license_ids: Vec::new(),
            created_at: 10_000,
            heartbeat_at: 10_000,
            finished_at: None,
        }
    }

    #[test]
    fn a_running_job_shows_progress_and_reloads() {
        let (markup, flash, refresh) = render(&job(BulkJobStatus::Running), 13_500);
        let html = markup.into_string();
        assert!(html.contains("<progress id=\"bulk-progress\">"), "{html}");
        assert!(
            html.contains("Issuing 500 licences") && html.contains("3 s so far"),
            "{html}"
        );
        assert!(refresh && flash.is_none());
    }

    #[test]
    fn a_finished_job_shows_the_download_and_stops_reloading() {
        let done = BulkJob {
            done: 500,
            license_ids: vec![(7, 300), (302, 508)],
            ..job(BulkJobStatus::Done)
        };
        let (markup, _, refresh) = render(&done, 20_000);
        let html = markup.into_string();
        assert!(html.contains("500 licences issued (ids 7 to 508)"), "{html}");
        assert!(html.contains("/console/licenses/bulk/jobs/job_a/keys.csv"), "{html}");
        assert!(!refresh);
        let refused = BulkJob {
            error: Some("Refused (unprocessable): count must be 1 to 10".into()),
            error_status: Some(422),
            ..job(BulkJobStatus::Failed)
        };
        let (_, flash, refresh) = render(&refused, 20_000);
        assert!(matches!(flash, Some(Flash::Error(text)) if text.contains("count must be 1 to 10")));
        assert!(!refresh);
        assert_eq!(status(&refused), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
    }
}
