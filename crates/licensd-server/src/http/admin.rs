//! The administrator bearer token, shared by the native management API and every dialect's admin
//! routes.

use super::source_ip;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use licensd_domain::EventDraft;

/// An authenticated administrator (bearer token from `/v1/admin-tokens` or bootstrap). A
/// read-only token (`"read_only": true` at creation) is refused with 403 `read_only_token` on
/// every method but GET and HEAD.
pub struct Admin {
    pub token_id: i64,
    pub name: String,
    pub source_ip: Option<String>,
}

impl Admin {
    /// Starts an event-log entry attributed to this administrator.
    pub fn event(&self, action: &str, subject_type: &str) -> EventDraft {
        EventDraft::new(format!("admin:{}", self.name), action, subject_type).from_ip(self.source_ip.clone())
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <admin token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| ApiError::unauthorized("malformed Authorization header; expected Bearer <admin token>"))?;
        let found = match state.store.find_admin_token(token).await? {
            Some(found) => found,
            None => return Err(ApiError::unauthorized("invalid or revoked admin token")),
        };
        // A read-only token reads (GET, HEAD) and nothing else; every other method may change
        // something, so it is refused before any handler runs.
        if !matches!(parts.method, Method::GET | Method::HEAD) && state.store.admin_token_read_only(found.id).await? {
            return Err(ApiError::read_only());
        }
        Ok(Admin {
            token_id: found.id,
            name: found.name,
            source_ip: source_ip(parts, &state.settings.trusted_proxies),
        })
    }
}
