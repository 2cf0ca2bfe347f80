//! The administrator bearer token, shared by the native management API and every dialect's admin
//! routes.

use super::client_ip;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use licensd_domain::EventDraft;
use licensd_domain::access::admit_admin;

/// An authenticated administrator (bearer token from `/v1/admin-tokens` or bootstrap), admitted by
/// `access::admit_admin` in this order: a token past its `expires_at` is refused with 401
/// (`unauthorized`, "this admin token has expired"); a request whose client address
/// (`http::client_ip`, which honours `--trusted-proxy`) is outside the token's non-empty
/// `ip_allowlist` with 403 `ip_not_allowed`; a read-only token (`"read_only": true` at creation)
/// with 403 `read_only_token` on every method but GET and HEAD.
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
        // One lookup reads the token with its limits (read-only, expiry, allow-list).
        let found = match state.store.find_admin_token(token).await? {
            Some(found) => found,
            None => return Err(ApiError::unauthorized("invalid or revoked admin token")),
        };
        // The one rule (`access::admit_admin`): expired (401), then the client address outside
        // the allow-list (403 `ip_not_allowed`), then a read-only token on anything but GET and
        // HEAD (403 `read_only_token`; every other method may change something). All before any
        // handler runs, so a refused request changes nothing.
        let peer = client_ip(parts, &state.settings.trusted_proxies);
        admit_admin(&found.flags(), state.now(), peer, is_write(&parts.method)).map_err(ApiError::admin_refused)?;
        Ok(Admin {
            token_id: found.id,
            name: found.name,
            source_ip: peer.map(|ip| ip.to_string()),
        })
    }
}

/// Whether a request may change something: every method but GET and HEAD (what a read-only admin
/// token is refused).
pub fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
}
