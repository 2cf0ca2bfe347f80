//! Sign-in, sessions, CSRF and the read-only rule.
//!
//! The session cookie (`licensd_console`) holds a random secret; the database keeps its keyed
//! digest with the admin token it belongs to and the session's CSRF token (`ConsoleStore`). The
//! sign-in form is protected by a double-submit token (a short-lived cookie that must match the
//! form's hidden field), every later form by the session's CSRF token.

use crate::layout::{self, Flash};
use axum::body::Bytes;
use axum::extract::{Extension, FromRequest, FromRequestParts, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use licensd_domain::access::{AdminRefusal, admit_admin};
use licensd_server::AppState;
use licensd_server::http::{Admin, ClientIp, source_ip};
use licensd_server::ratelimit::{RateDecision, RateLimitSettings, RateLimiter};
use licensd_store::ConsoleSession;
use maud::html;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// The session cookie.
const COOKIE_NAME: &str = "licensd_console";
/// The sign-in form's double-submit cookie.
const LOGIN_COOKIE: &str = "licensd_console_login";
/// Longest admin token accepted at sign-in.
const MAX_TOKEN_BYTES: usize = 512;

/// The console's settings (`licensd serve --console-session-ttl`).
#[derive(Debug, Clone, Copy)]
pub struct ConsoleSettings {
    /// How long a session lasts after sign-in.
    pub session_ttl: Duration,
    /// Sign-in attempts allowed per client address (`http::client_ip`) per minute.
    pub sign_in_attempts_per_minute: u32,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            session_ttl: crate::DEFAULT_SESSION_TTL,
            sign_in_attempts_per_minute: 10,
        }
    }
}

/// What every console handler shares (an `Extension`).
pub struct Shared {
    pub settings: ConsoleSettings,
    /// Sign-in attempts per client address (the dialects' fixed-window limiter).
    pub sign_in_limiter: RateLimiter,
    /// Bulk-issue jobs of this process (`crate::bulk`).
    pub bulk_jobs: Arc<crate::bulk::Jobs>,
}

impl Shared {
    pub fn new(settings: ConsoleSettings) -> Self {
        Self {
            settings,
            sign_in_limiter: RateLimiter::new(RateLimitSettings {
                per_credential: None,
                per_ip: Some(settings.sign_in_attempts_per_minute.max(1)),
                window: Duration::from_secs(60),
            }),
            bulk_jobs: Arc::new(crate::bulk::Jobs::default()),
        }
    }
}

/// The signed-in administrator of a request. Without a valid session a page answers with a
/// redirect to the sign-in page.
#[derive(Debug, Clone)]
pub struct Session {
    pub session: ConsoleSession,
    pub source_ip: Option<String>,
}

impl Session {
    /// The administrator the `/v1` handlers see (the same event-log actor as the API's).
    pub fn admin(&self) -> Admin {
        Admin {
            token_id: self.session.admin_token_id,
            name: self.session.admin_name.clone(),
            source_ip: self.source_ip.clone(),
        }
    }
    pub fn read_only(&self) -> bool {
        self.session.read_only
    }
    pub fn csrf(&self) -> &str {
        &self.session.csrf
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// Whether the request reached us over TLS (through a proxy that says so).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(name: &str, value: &str, max_age: u64, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("licensd_console=; Max-Age=0"))
}

fn same(a: &str, b: &str) -> bool {
    licensd_crypto::constant_time_eq(a.as_bytes(), b.as_bytes())
}

/// A fresh random secret (cookie, CSRF and sign-in tokens); `None` when the system's random source fails.
fn random_secret() -> Option<String> {
    licensd_crypto::random_token("").ok()
}

fn no_randomness() -> Response {
    layout::error_page(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(secret) = cookie(&parts.headers, COOKIE_NAME).filter(|s| !s.is_empty() && s.len() <= 256) else {
            return Err(Redirect::to("/console/sign-in").into_response());
        };
        match state.store.console_session_find(&secret, state.now()).await {
            Ok(Some(session)) => Ok(Session {
                session,
                source_ip: source_ip(parts, &state.settings.trusted_proxies),
            }),
            Ok(None) => Err(Redirect::to("/console/sign-in?expired=1").into_response()),
            Err(error) => {
                tracing::warn!(%error, "console session lookup failed");
                Err(layout::error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable; retry later",
                ))
            }
        }
    }
}

/// A form POST of a signed-in administrator that may change something: the session is valid,
/// the form's `csrf` field matches the session's, and the admin token is not read-only. Anything
/// else is refused with 403 before the handler runs.
pub struct Write<T> {
    pub session: Session,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Write<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| layout::error_page(StatusCode::BAD_REQUEST, "the form could not be read"))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| layout::error_page(StatusCode::BAD_REQUEST, "the form could not be read"))?;
        let csrf = pairs
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if !same(csrf, session.csrf()) {
            return Err(layout::error_page(
                StatusCode::FORBIDDEN,
                "This form did not come from this console session (CSRF check failed); nothing was changed.",
            ));
        }
        if session.read_only() {
            return Err(layout::error_page(
                StatusCode::FORBIDDEN,
                "This admin token is read-only: it may not change anything; nothing was changed.",
            ));
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| layout::error_page(StatusCode::UNPROCESSABLE_ENTITY, &format!("invalid form: {e}")))?;
        Ok(Write { session, form })
    }
}

#[derive(serde::Deserialize)]
pub struct SignInQuery {
    expired: Option<String>,
}

pub async fn sign_in_page(
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<SignInQuery>,
) -> Response {
    let flash = query
        .expired
        .map(|_| Flash::Notice("Your session has ended; sign in again.".into()));
    render_sign_in(&headers, StatusCode::OK, flash)
}

fn render_sign_in(headers: &HeaderMap, status: StatusCode, flash: Option<Flash>) -> Response {
    let Some(login) = random_secret() else {
        return no_randomness();
    };
    let body = html! {
        main.narrow {
            h1 { "licensd console" }
            (layout::flash(&flash))
            form method="post" action="/console/sign-in" {
                input type="hidden" name="login" value=(login);
                label for="token" { "Admin token" }
                input #token type="password" name="token" required autocomplete="current-password" autofocus;
                button #sign-in type="submit" { "Sign in" }
            }
            p.hint { "Use an admin token (printed on the first start, or made with POST /v1/admin-tokens). A read-only token sees everything and changes nothing." }
        }
    };
    let mut response = layout::html_response(status, layout::document("Sign in", body));
    response
        .headers_mut()
        .append(SET_COOKIE, set_cookie(LOGIN_COOKIE, &login, 600, over_tls(headers)));
    response
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct SignInForm {
    token: String,
    login: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    Extension(shared): Extension<Arc<Shared>>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ip = client.map(|ip| ip.to_string()).unwrap_or_default();
    if let RateDecision::Limited { reset_seconds } = shared.sign_in_limiter.check_ip("console-sign-in", &ip) {
        let flash = Flash::Error(format!(
            "Too many sign-in attempts from your address; try again in {reset_seconds} s."
        ));
        return render_sign_in(&headers, StatusCode::TOO_MANY_REQUESTS, Some(flash));
    }
    let Ok(form) = serde_urlencoded::from_bytes::<SignInForm>(&body) else {
        return render_sign_in(
            &headers,
            StatusCode::BAD_REQUEST,
            Some(Flash::Error("The form could not be read.".into())),
        );
    };
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(&expected, &form.login) {
        return render_sign_in(
            &headers,
            StatusCode::FORBIDDEN,
            Some(Flash::Error(
                "The sign-in form expired or did not come from this console; try again.".into(),
            )),
        );
    }
    let token = form.token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return render_sign_in(
            &headers,
            StatusCode::UNAUTHORIZED,
            Some(Flash::Error("Invalid or revoked admin token.".into())),
        );
    }
    let found = match state.store.find_admin_token(token).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return render_sign_in(
                &headers,
                StatusCode::UNAUTHORIZED,
                Some(Flash::Error("Invalid or revoked admin token.".into())),
            );
        }
        Err(error) => {
            tracing::warn!(%error, "console sign-in failed");
            return layout::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable; retry later",
            );
        }
    };
    // The API's rule for admin tokens (`access::admit_admin`): an expired token, or one used from
    // an address outside its allow-list, opens no session. A session ends no later than its
    // token's expiry.
    let now = state.now();
    if let Err(refusal) = admit_admin(&found.flags(), now, client, false) {
        let (status, message) = match refusal {
            AdminRefusal::Expired => (StatusCode::UNAUTHORIZED, "This admin token has expired."),
            AdminRefusal::IpNotAllowed | AdminRefusal::ReadOnly => (
                StatusCode::FORBIDDEN,
                "This admin token may not be used from your address.",
            ),
        };
        return render_sign_in(&headers, status, Some(Flash::Error(message.into())));
    }
    let (Some(secret), Some(csrf)) = (random_secret(), random_secret()) else {
        return no_randomness();
    };
    let ttl = i64::try_from(shared.settings.session_ttl.as_millis()).unwrap_or(i64::MAX);
    let ends = found.expires_at.map_or(now.saturating_add(ttl), |expires_at| {
        expires_at.min(now.saturating_add(ttl))
    });
    if let Err(error) = state
        .store
        .console_session_open(found.id, &secret, &csrf, now, ends)
        .await
    {
        tracing::warn!(%error, "console session not opened");
        return layout::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable; retry later",
        );
    }
    let tls = over_tls(&headers);
    let mut response = Redirect::to("/console").into_response();
    let headers = response.headers_mut();
    headers.append(
        SET_COOKIE,
        set_cookie(COOKIE_NAME, &secret, shared.settings.session_ttl.as_secs(), tls),
    );
    headers.append(SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0, tls));
    response
}

/// Signing out needs the CSRF token too (but not a writable token: read-only ones sign out).
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let secret = cookie(&headers, COOKIE_NAME).unwrap_or_default();
    if let Ok(Some(session)) = state.store.console_session_find(&secret, state.now()).await {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        let csrf = pairs
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if !same(csrf, &session.csrf) {
            return layout::error_page(
                StatusCode::FORBIDDEN,
                "This form did not come from this console session (CSRF check failed).",
            );
        }
        if let Err(error) = state.store.console_session_close(&secret).await {
            tracing::warn!(%error, "console session not closed");
            return layout::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable; retry later",
            );
        }
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, set_cookie(COOKIE_NAME, "", 0, over_tls(&headers)));
    response
}
