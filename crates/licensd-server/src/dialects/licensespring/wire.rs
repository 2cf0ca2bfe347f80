//! The LicenseSpring wire format: the error body, request parameters (query string or JSON body,
//! read the same way), and response signing (the `LicenseSignature` header over the exact body
//! bytes, and the v1 `license_signature` body field).

use crate::ratelimit::RateDecision;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use licensd_domain::Denial;
use licensd_store::StoreError;
use serde_json::{Map, Value};

/// The `LicenseSignature` header both SDKs verify (RSA PKCS#1 v1.5, SHA-256, base64, over the raw
/// body bytes). Header names are case-insensitive; `http` requires the lowercase spelling here.
pub const SIGNATURE_HEADER: &str = "licensesignature";

/// A LicenseSpring error: `{"status": n, "code": "...", "message": "..."}` with HTTP status `n`.
/// Every business error is a JSON 4xx: the SDKs read any 5xx (or non-JSON 4xx) as "server
/// unreachable" and silently start their offline grace period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds until a rate-limit window resets: sent as `Retry-After` (429 only).
    pub retry_after: Option<u64>,
}

impl LsError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    /// Over a `--rate-limit-*` allowance: 429 `too_many_requests` with `Retry-After`. The SDKs
    /// read it as the API error it is (a JSON 4xx), not as "server unreachable".
    pub fn too_many(reset_seconds: u64) -> Self {
        Self {
            retry_after: Some(reset_seconds),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("too many requests; retry in {reset_seconds} s"),
            )
        }
    }
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal server error",
        )
    }
    pub fn missing(name: &str) -> Self {
        Self::bad("missing_parameters", format!("missing required parameter: {name}"))
    }
    pub fn invalid(name: &str, expected: &str) -> Self {
        Self::bad("validation_error", format!("parameter {name} must be {expected}"))
    }

    /// Maps a store error; denials go through the dialect's one table (`super::denial_error`).
    pub fn from_store(error: StoreError) -> Self {
        match error {
            StoreError::Denied(denial) => super::denial_error(denial),
            StoreError::NotFound => super::denial_error(Denial::LicenseNotFound),
            StoreError::Conflict(message) => Self::bad("validation_error", message),
            StoreError::Corrupt(message) => {
                tracing::error!(%message, "corrupt data");
                Self::internal()
            }
            StoreError::InvalidInput(message) => Self::bad("validation_error", message),
            StoreError::Database(message) => {
                tracing::error!(%message, "database error");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for LsError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
        });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// The dialect's namespace in the shared rate limiter.
const RATE_SCOPE: &str = "licensespring";

/// A rate-limit decision as the dialect answers it.
fn within(decision: RateDecision) -> Result<(), LsError> {
    match decision {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { reset_seconds } => Err(LsError::too_many(reset_seconds)),
    }
}

/// The per-IP allowance (`--rate-limit-per-ip`), counted for every License API request before
/// anything else runs (the SDKs' shared key is public, so the address bounds key guessing).
pub async fn within_ip_allowance(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let client = crate::http::request_client_ip(&request, &state.settings.trusted_proxies);
    if let Err(limited) = within(state.limiter.check_client(RATE_SCOPE, client)) {
        return limited.into_response();
    }
    next.run(request).await
}

/// The per-credential allowance (`--rate-limit-per-credential`), counted once a request has
/// authenticated with the credential.
pub fn within_credential_allowance(state: &AppState, key_id: &str) -> Result<(), LsError> {
    within(state.limiter.check_credential(RATE_SCOPE, key_id))
}

/// Request parameters as one flat object: the JSON body of a POST, or the query string of a GET
/// (whose values are all strings; the typed getters accept either form).
pub struct Params(pub Map<String, Value>);

impl Params {
    pub fn from_query(pairs: Vec<(String, String)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
    }

    /// Parses a JSON object body; anything else is `invalid_json`.
    pub fn from_json(body: &[u8]) -> Result<Self, LsError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(LsError::bad("invalid_json", "request body must be a JSON object")),
            Err(error) => Err(LsError::bad(
                "invalid_json",
                format!("request body is not valid JSON: {error}"),
            )),
        }
    }

    fn present(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    /// An optional string; absent and `null` mean the same (Python drops `None` values).
    pub fn opt_str(&self, name: &str) -> Result<Option<String>, LsError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(text)) if text.len() <= 4096 => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(_) => Err(LsError::invalid(name, "a string of at most 4096 bytes")),
        }
    }

    pub fn req_str(&self, name: &str) -> Result<String, LsError> {
        self.opt_str(name)?.ok_or_else(|| LsError::missing(name))
    }

    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, LsError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .map(Some)
                .ok_or_else(|| LsError::invalid(name, "an integer")),
            Some(Value::String(text)) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| LsError::invalid(name, "an integer")),
            Some(_) => Err(LsError::invalid(name, "an integer")),
        }
    }

    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, LsError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(Value::String(text)) => match text.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(LsError::invalid(name, "true or false")),
            },
            Some(_) => Err(LsError::invalid(name, "true or false")),
        }
    }

    pub fn opt_object(&self, name: &str) -> Result<Option<Value>, LsError> {
        match self.present(name) {
            None => Ok(None),
            Some(value @ Value::Object(_)) => Ok(Some(value.clone())),
            Some(_) => Err(LsError::invalid(name, "an object")),
        }
    }
}

/// The v1 `license_signature`: RSA over `lower(hardware_id#license_key_or_email#validity)`.
pub fn v1_signature(state: &AppState, hardware_id: &str, id: &str, validity: Option<&str>) -> Result<String, LsError> {
    let message = format!("{hardware_id}#{id}#{}", validity.unwrap_or("")).to_lowercase();
    // Cached: the message depends only on the license and device, so repeated checks reuse it.
    let key = state.keys.rsa();
    let signature = state
        .keys
        .sign_cached(&key, message.as_bytes())
        .map_err(|_| LsError::internal())?;
    Ok(licensd_crypto::b64(&signature))
}

/// Serialises `body` as compact JSON in the form JavaScript's `JSON.stringify(JSON.parse(…))`
/// writes it (`js_json`: the Node SDK verifies over that re-serialisation, Python over the raw
/// bytes, and both are these bytes) and marks the answer for [`sign_answers`], which signs the
/// exact bytes in the `LicenseSignature` header.
pub fn signed(body: &Value) -> Response {
    let bytes = super::js_json::to_vec(body);
    let mut response = (StatusCode::OK, bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.extensions_mut().insert(SignBody);
    response
}

/// Marks an answer whose body `sign_answers` signs.
#[derive(Clone, Copy)]
struct SignBody;

/// The layer over every License API route: the one place answers are signed. An answer made by
/// [`signed`] gets `LicenseSignature` = Base64 RSA PKCS#1 v1.5 SHA-256 over its exact body bytes;
/// errors and plain-text answers pass unsigned, as LicenseSpring's do.
pub async fn sign_answers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.extensions().get::<SignBody>().is_none() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Bodies here are built in memory by `signed`; the limit only guards against surprises.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return LsError::internal().into_response();
    };
    // Byte-identical answers (repeated checks of an unchanged license) reuse their signature.
    let key = state.keys.rsa();
    let signature = match state.keys.sign_cached(&key, &bytes) {
        Ok(signature) => licensd_crypto::b64(&signature),
        Err(_) => return LsError::internal().into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&signature) {
        parts.headers.insert(SIGNATURE_HEADER, value);
    }
    parts.extensions.remove::<SignBody>();
    Response::from_parts(parts, Body::from(bytes))
}

/// A plain-text 200 (`license_deactivated`, …); the SDKs compare the trimmed text and verify no
/// signature on these.
pub fn plain(text: &'static str) -> Response {
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
