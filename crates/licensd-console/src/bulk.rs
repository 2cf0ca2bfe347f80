//! Bulk issue as a job with a progress page.
//!
//! The form's POST starts the `/v1` bulk handler (`POST /v1/licenses/bulk`: every key in one
//! transaction, all or none) in a task of this process and answers with a redirect to the job's
//! page. Until the job ends that page shows an indeterminate `<progress>` (the transaction commits
//! every licence at once, so there is no honest percentage to show), the count asked for and the
//! seconds elapsed, and reloads itself every second (`<meta http-equiv="refresh">`, no
//! JavaScript); then it shows the result with the CSV download, or the refusal.
//!
//! Jobs live in the memory of the process that runs them (behind a load balancer, keep a console
//! user on one node) and are visible only to the admin token that started them. Finished jobs are
//! forgotten after `KEEP_FINISHED`; at most `MAX_JOBS` are kept.

use crate::layout::{self, Flash};
use crate::session::Session;
use licensd_domain::Millis;
use licensd_server::AppState;
use licensd_server::error::ApiError;
use licensd_server::http::Admin;
use licensd_server::http::extract::ApiJson;
use licensd_server::native::licenses as api;
use maud::{Markup, html};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a finished job's page stays available.
const KEEP_FINISHED: Millis = 3_600_000;
/// Most jobs kept at once (running ones are never dropped).
const MAX_JOBS: usize = 256;

/// Where a job is.
#[derive(Debug, Clone)]
pub enum JobState {
    Running,
    /// Issued licences' ids `first..=last`.
    Done {
        created: usize,
        first: i64,
        last: i64,
    },
    Refused(ApiError),
}

#[derive(Debug, Clone)]
pub struct Job {
    pub admin_token_id: i64,
    pub count: usize,
    pub started_at: Millis,
    pub finished_at: Option<Millis>,
    pub state: JobState,
}

/// The jobs of this process.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Job>>,
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The job `id` if `admin_token_id` started it.
    pub fn get(&self, id: &str, admin_token_id: i64) -> Option<Job> {
        self.lock()
            .get(id)
            .filter(|job| job.admin_token_id == admin_token_id)
            .cloned()
    }

    /// Starts the bulk handler in a task; returns the job's id, or `None` when too many jobs run.
    pub fn start(self: &Arc<Self>, state: &AppState, admin: Admin, body: api::BulkCreateLicenses) -> Option<String> {
        let id = licensd_crypto::random_token("job_").ok()?;
        let now = state.now();
        {
            let mut jobs = self.lock();
            jobs.retain(|_, job| job.finished_at.is_none_or(|at| now - at < KEEP_FINISHED));
            if jobs.len() >= MAX_JOBS {
                return None;
            }
            jobs.insert(
                id.clone(),
                Job {
                    admin_token_id: admin.token_id,
                    count: body.count,
                    started_at: now,
                    finished_at: None,
                    state: JobState::Running,
                },
            );
        }
        let jobs = Arc::clone(self);
        let state = state.clone();
        let job_id = id.clone();
        tokio::spawn(async move {
            let result = api::bulk_create_licenses(admin, axum::extract::State(state.clone()), ApiJson(body)).await;
            let outcome = match result {
                Ok((_, created)) => {
                    let ids = created.0.licenses.iter().map(|k| k.id);
                    JobState::Done {
                        created: created.0.created,
                        first: ids.clone().min().unwrap_or(0),
                        last: ids.max().unwrap_or(0),
                    }
                }
                Err(error) => JobState::Refused(error),
            };
            if let Some(job) = jobs.lock().get_mut(&job_id) {
                job.state = outcome;
                job.finished_at = Some(state.now());
            }
        });
        Some(id)
    }
}

/// What the job's page shows (with `refresh` when it should reload).
pub fn render(job: &Job, now: Millis) -> (Markup, Option<Flash>, bool) {
    match &job.state {
        JobState::Running => {
            let seconds = (now - job.started_at).max(0) / 1000;
            let markup = html! {
                section #bulk-running aria-live="polite" {
                    label for="bulk-progress" { "Issuing " (job.count) " licences…" }
                    progress #bulk-progress { "working" }
                    p.hint { (seconds) " s so far. All the keys are written in one transaction: they appear together when it commits. This page reloads every second." }
                }
            };
            (markup, None, true)
        }
        JobState::Done { created, first, last } => {
            let markup = html! {
                section #bulk-result {
                    progress #bulk-progress max="1" value="1" { "done" }
                    p { (created) " licences issued (ids " (first) " to " (last) ")." }
                    p { a #download-keys href=(format!("/console/licenses/keys.csv?first={first}&last={last}")) download { "Download the keys (CSV)" } }
                    p { a href="/console/licenses/bulk" { "Issue more" } }
                }
            };
            (markup, None, false)
        }
        JobState::Refused(error) => {
            let markup = html! { p { a href="/console/licenses/bulk" { "Back to the form" } } };
            (markup, Some(Flash::refused(error)), false)
        }
    }
}

/// The HTTP status of the job's page: the refusal's own status, else 200.
pub fn status(job: &Job) -> axum::http::StatusCode {
    match &job.state {
        JobState::Refused(error) => error.status,
        _ => axum::http::StatusCode::OK,
    }
}

/// The job page for `session` (404 when it is not this admin's job or was forgotten).
pub fn page(session: &Session, jobs: &Jobs, id: &str, now: Millis) -> axum::response::Response {
    let Some(job) = jobs.get(id, session.session.admin_token_id) else {
        return layout::error_page(
            axum::http::StatusCode::NOT_FOUND,
            "no such bulk-issue job (jobs are kept for an hour)",
        );
    };
    let (content, flash, refresh) = render(&job, now);
    layout::page_with_refresh(session, "Bulk issue", status(&job), flash, content, refresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: JobState) -> Job {
        Job {
            admin_token_id: 1,
            count: 500,
            started_at: 10_000,
            finished_at: None,
            state,
        }
    }

    #[test]
    fn a_running_job_shows_progress_and_reloads() {
        let (markup, flash, refresh) = render(&job(JobState::Running), 13_500);
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
        let done = JobState::Done {
            created: 500,
            first: 7,
            last: 506,
        };
        let (markup, _, refresh) = render(&job(done), 20_000);
        let html = markup.into_string();
        assert!(
            html.contains("/console/licenses/keys.csv?first=7&amp;last=506"),
            "{html}"
        );
        assert!(!refresh);
        let refused = job(JobState::Refused(ApiError::unprocessable("count must be 1 to 10")));
        let (_, flash, refresh) = render(&refused, 20_000);
        assert!(matches!(flash, Some(Flash::Error(text)) if text.contains("count must be 1 to 10")));
        assert!(!refresh);
        assert_eq!(status(&refused), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn jobs_are_seen_only_by_their_admin() {
        let jobs = Jobs::default();
        jobs.lock().insert("job_a".into(), job(JobState::Running));
        assert!(jobs.get("job_a", 1).is_some());
        assert!(jobs.get("job_a", 2).is_none());
        assert!(jobs.get("job_b", 1).is_none());
    }
}
