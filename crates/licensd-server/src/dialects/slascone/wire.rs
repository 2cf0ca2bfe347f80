//! SLASCONE wire plumbing: the error answers (401, 400, 404 and 409 `{id, message, help}`), the
//! response signatures (`x-slascone-signature`, `X-Nonce-Signature`), key authentication and the
//! GUID forms of licensd's integer ids.

use super::codes::Conflict;
use crate::ratelimit::RateDecision;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use licensd_domain::ProductId;
use licensd_domain::access::{AccessRefusal, AccessRequest, AdminRefusal, admit_admin};
use licensd_domain::{Credential, Denial, Dialect};
use licensd_store::StoreError;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::net::IpAddr;

/// The header the signature of the body travels in.
pub const SIGNATURE_HEADER: &str = "x-slascone-signature";
/// The request header carrying Base64 of client-chosen random bytes, and its answer.
pub const NONCE_HEADER: &str = "x-nonce";
pub const NONCE_SIGNATURE_HEADER: &str = "x-nonce-signature";

/// Everything a SLASCONE endpoint can answer instead of success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlError {
    /// 409 with the seed's id and message.
    #[error("conflict {}", .0.id())]
    Conflict(Conflict),
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// A technical 400 (malformed JSON, a field of the wrong type, a malformed GUID).
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// 405: the path exists under the mount, the method does not (the `Allow` header lists them).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: the request body is over the server's limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 429: the credential's request allowance is used up; retry after the seconds given.
    #[error("rate limited for {0} s")]
    RateLimited(u64),
    /// 503: the database did not answer; a retry is likely to succeed.
    #[error("service unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

impl From<Conflict> for SlError {
    fn from(conflict: Conflict) -> Self {
        SlError::Conflict(conflict)
    }
}

impl From<Denial> for SlError {
    fn from(denial: Denial) -> Self {
        crate::metrics::note_denial(denial);
        SlError::Conflict(super::codes::denial_conflict(denial))
    }
}

impl SlError {
    /// The HTTP status this error answers with and a sentence for a person (the admin console
    /// shows back-office refusals with it).
    pub fn explain(&self) -> (StatusCode, String) {
        match self {
            SlError::Conflict(conflict) => (
                StatusCode::CONFLICT,
                format!("conflict {}: {}", conflict.id(), conflict.message()),
            ),
            SlError::Unauthorized(detail) => (StatusCode::UNAUTHORIZED, (*detail).to_string()),
            SlError::BadRequest(detail) => (StatusCode::BAD_REQUEST, detail.clone()),
            SlError::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found")),
            SlError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method not allowed".into()),
            SlError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "the request is too large".into()),
            SlError::RateLimited(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("rate limited; retry in {seconds} s"),
            ),
            SlError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable; retry later".into(),
            ),
            SlError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into()),
        }
    }

    /// Maps a store error: denials through the one table, everything else technical.
    pub fn from_store(error: StoreError) -> Self {
        match error {
            StoreError::Denied(denial) => denial.into(),
            StoreError::NotFound => SlError::NotFound("record"),
            StoreError::InvalidInput(message) => SlError::BadRequest(message),
            StoreError::Database(message) => {
                tracing::error!(error = %message, "slascone: database unavailable");
                SlError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "slascone: store error");
                SlError::Internal
            }
        }
    }

    /// `from_store`, except that "not found" is `conflict`: the id or key the client sent names
    /// nothing (for `map_err`).
    pub fn not_found_as(conflict: Conflict) -> impl FnOnce(StoreError) -> SlError {
        move |error| match error {
            StoreError::NotFound => conflict.into(),
            other => SlError::from_store(other),
        }
    }

    /// `from_store`, except that a uniqueness conflict of the store is `conflict`, the dialect's
    /// "already exists" (for `map_err`).
    pub fn exists_as(conflict: Conflict) -> impl FnOnce(StoreError) -> SlError {
        move |error| match error {
            StoreError::Conflict(_) => conflict.into(),
            other => SlError::from_store(other),
        }
    }
}

impl IntoResponse for SlError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            SlError::Conflict(conflict) => (
                StatusCode::CONFLICT,
                json!({"id": conflict.id(), "message": conflict.message(), "help": conflict.help()}),
            ),
            // Technical errors use the ProblemDetails shape ASP.NET (SLASCONE's stack) answers with.
            SlError::Unauthorized(detail) => (
                StatusCode::UNAUTHORIZED,
                json!({"title": "Unauthorized", "status": 401, "detail": detail}),
            ),
            SlError::BadRequest(detail) => (
                StatusCode::BAD_REQUEST,
                json!({"title": "Bad Request", "status": 400, "detail": detail}),
            ),
            SlError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                json!({"title": "Not Found", "status": 404, "detail": format!("{what} not found")}),
            ),
            SlError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"title": "Method Not Allowed", "status": 405}),
            ),
            SlError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"title": "Payload Too Large", "status": 413, "detail": "the request body is too large"}),
            ),
            SlError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"title": "Internal Server Error", "status": 500}),
            ),
            SlError::RateLimited(seconds) => {
                let body = json!({"title": "Too Many Requests", "status": 429});
                return retry_after(StatusCode::TOO_MANY_REQUESTS, *seconds, body);
            }
            SlError::Unavailable => {
                let body = json!({"title": "Service Unavailable", "status": 503});
                return retry_after(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE_RETRY_SECONDS, body);
            }
        };
        (status, axum::Json(body)).into_response()
    }
}

/// How long a client should wait after a 503 (the database was briefly unreachable).
pub const UNAVAILABLE_RETRY_SECONDS: u64 = 5;

/// 429 and 503 tell the client when to retry, as SLASCONE's do (its guidance: one retry at most).
fn retry_after(status: StatusCode, seconds: u64, body: serde_json::Value) -> Response {
    (status, [(header::RETRY_AFTER, seconds.to_string())], axum::Json(body)).into_response()
}

pub type SlResult<T> = Result<T, SlError>;

/// Parses a JSON request body; a malformed body (or a request struct sent as anything but a JSON
/// object: `json_object`) is a technical 400.
/// Every string is bounded first (`bounds.rs`: a longer one is a 400 naming its field).
pub fn parse_body<T: DeserializeOwned>(bytes: &Bytes) -> SlResult<T> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| SlError::BadRequest(format!("invalid JSON body: {e}")))?;
    super::bounds::check(&value)?;
    crate::http::json_object::from_value(value).map_err(|e| SlError::BadRequest(format!("invalid JSON body: {e}")))
}

/// A 200 JSON answer (the signing middleware adds the signature over these exact bytes).
pub fn json_ok<T: serde::Serialize>(value: &T) -> SlResult<Response> {
    let body = serde_json::to_vec(value).map_err(|_| SlError::Internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response())
}

/// A 200 plain-text answer, as SLASCONE gives for unassign, session close and data gathering.
pub fn text_ok(text: &str) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.to_owned()).into_response()
}

/// A 200 XML answer (an offline file).
pub fn xml_ok(xml: String, file_name: &str) -> Response {
    // The file name is sanitised: it ends up inside a header value.
    let safe: String = file_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    let disposition = format!(
        "attachment; filename=\"{}\"",
        if safe.is_empty() { "file.xml" } else { &safe }
    );
    (
        [
            (header::CONTENT_TYPE, "application/xml; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        xml,
    )
        .into_response()
}

/// The layer over every route of the mount (and its 404 / 405 fallbacks): signs each answer,
/// success or error, once. `x-slascone-signature` = Base64 RSA PKCS#1 v1.5 SHA-256 over the exact
/// body bytes sent; with a request `X-Nonce`, also `X-Nonce-Signature` over the decoded nonce
/// bytes. A nonce that is not Base64 is a (signed) 400 before the handler runs.
pub async fn sign_answers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let nonce = match request_nonce(request.headers()) {
        Ok(nonce) => nonce,
        Err(error) => return sign(&state, None, error.into_response()).await,
    };
    let response = next.run(request).await;
    sign(&state, nonce.as_deref(), response).await
}

/// The decoded `X-Nonce` of a request, if it sent one.
fn request_nonce(headers: &HeaderMap) -> SlResult<Option<Vec<u8>>> {
    let Some(value) = headers.get(NONCE_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| licensd_crypto::b64_decode(text.trim()).ok())
        .filter(|bytes| !bytes.is_empty())
        .map(Some)
        .ok_or_else(|| SlError::BadRequest("X-Nonce must be Base64 of random bytes".into()))
}

async fn sign(state: &AppState, nonce: Option<&[u8]>, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    // Bodies here are built in memory by the handlers; the limit only guards against surprises.
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return SlError::Internal.into_response();
    };
    let key = state.keys.rsa();
    let Ok(signature) = key.sign(&bytes) else {
        return SlError::Internal.into_response();
    };
    insert_b64(&mut parts.headers, SIGNATURE_HEADER, &signature);
    if let Some(nonce) = nonce {
        let Ok(signature) = key.sign(nonce) else {
            return SlError::Internal.into_response();
        };
        insert_b64(&mut parts.headers, NONCE_SIGNATURE_HEADER, &signature);
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn insert_b64(headers: &mut HeaderMap, name: &'static str, signature: &[u8]) {
    // Base64 is always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&licensd_crypto::b64(signature)) {
        headers.insert(name, value);
    }
}

/// The per-IP allowance of the dialect (`--rate-limit-per-ip`), counted before anything else a
/// handler does: every route of the dialect takes it as its first extractor. Over the allowance the
/// request is refused with a signed 429 carrying `Retry-After`. Then the path's ISV id is checked
/// (`isv.rs`): another ISV's is a signed 401, a malformed one a signed 404. It carries the client
/// address (`http::client_ip`), which `authenticate` checks the ProvisioningKey's IP allow-list
/// against.
pub struct IpGate(pub Option<IpAddr>);

impl FromRequestParts<AppState> for IpGate {
    type Rejection = SlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = crate::http::client_ip(parts, &state.settings.trusted_proxies);
        if let RateDecision::Limited { reset_seconds } = state.limiter.check_client("slascone", peer) {
            return Err(SlError::RateLimited(reset_seconds));
        }
        // Then the ISV id of the path: another tenant's is refused here (isv.rs).
        super::isv::check_request(&state.settings.slascone_isv_id, parts)?;
        Ok(IpGate(peer))
    }
}

/// The request body of a dialect route. Reading it fails only when it is over the server's limit
/// (`MAX_BODY_BYTES`, 413) or breaks off (400); either way the answer is SLASCONE-shaped (and
/// signed by `sign_answers`, like every other answer of the dialect).
pub struct SlBody(pub Bytes);

impl FromRequest<AppState> for SlBody {
    type Rejection = SlError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(SlBody(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(SlError::PayloadTooLarge),
            Err(rejection) => Err(SlError::BadRequest(rejection.body_text())),
        }
    }
}

/// A `ProvisioningKey` call with a JSON body, checked in SLASCONE's order before the handler runs:
/// the per-IP allowance and the ISV id (`IpGate`), the body read (413), the key (`authenticate`;
/// `WRITE` says whether the call changes state, which a read-only key may not) and the body
/// parsed and bounded (`parse_body`). Use [`ReadCall`] and [`WriteCall`].
pub struct Call<T, const WRITE: bool>(pub Caller, pub T);

/// A `ProvisioningKey` call that only reads.
pub type ReadCall<T> = Call<T, false>;
/// A `ProvisioningKey` call that changes state (refused for a read-only key).
pub type WriteCall<T> = Call<T, true>;

const fn usage(write: bool) -> Use {
    if write { Use::Write } else { Use::Read }
}

impl<T: DeserializeOwned, const WRITE: bool> FromRequest<AppState> for Call<T, WRITE> {
    type Rejection = SlError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let IpGate(peer) = IpGate::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let SlBody(bytes) = SlBody::from_request(Request::from_parts(parts, body), state).await?;
        let caller = authenticate(state, &headers, peer, usage(WRITE)).await?;
        Ok(Call(caller, parse_body(&bytes)?))
    }
}

/// A `ProvisioningKey` call without a body (the GET routes): `IpGate`, then the key.
pub struct Key<const WRITE: bool>(pub Caller);

impl<const WRITE: bool> FromRequestParts<AppState> for Key<WRITE> {
    type Rejection = SlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let IpGate(peer) = IpGate::from_request_parts(parts, state).await?;
        authenticate(state, &parts.headers, peer, usage(WRITE)).await.map(Key)
    }
}

/// A back-office (`AdminKey`) call with a body: `IpGate`, the body read (413), then the key; holds
/// the event actor (`slascone-admin:<token name>`) and the raw body. The handler parses the body
/// (`parse_body`) after finding the records the path names, which is SLASCONE's order (an unknown
/// record is its conflict whatever the body).
pub struct AdminCall(pub String, pub Bytes);

impl FromRequest<AppState> for AdminCall {
    type Rejection = SlError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        IpGate::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let (peer, write) = admin_request(&parts, state);
        let SlBody(bytes) = SlBody::from_request(Request::from_parts(parts, body), state).await?;
        let actor = authenticate_admin(state, &headers, peer, write).await?;
        Ok(AdminCall(actor, bytes))
    }
}

/// A back-office (`AdminKey`) call without a body: `IpGate`, then the key; holds the actor.
pub struct AdminKey(pub String);

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = SlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        IpGate::from_request_parts(parts, state).await?;
        let (peer, write) = admin_request(parts, state);
        authenticate_admin(state, &parts.headers, peer, write)
            .await
            .map(AdminKey)
    }
}

/// A path's parameters; one that does not parse is a technical 400.
pub struct SlPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for SlPath<T> {
    type Rejection = SlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(SlPath(value)),
            Err(rejection) => Err(SlError::BadRequest(rejection.body_text())),
        }
    }
}

/// The fallback of the mount: a path below `/api/v2/isv/{isv_id}` that is no route of the dialect
/// is a SLASCONE 404, not licensd's native error.
pub async fn route_not_found(_ip: IpGate) -> SlError {
    SlError::NotFound("route")
}

/// A known path of the dialect with a method it does not serve: a SLASCONE 405 (axum adds the
/// `Allow` header).
pub async fn method_not_allowed(_ip: IpGate) -> SlError {
    SlError::MethodNotAllowed
}

/// An application authenticated with a `ProvisioningKey`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub credential: Credential,
    /// The address the request came from (`http::client_ip`).
    pub peer: Option<IpAddr>,
}

/// Whether a ProvisioningKey call reads or changes state (a read-only key may only read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Read,
    Write,
}

impl Caller {
    /// A product-scoped key used for another product is a bad key for that call: 401
    /// (`access::admit`).
    pub fn require_product(&self, product_id: ProductId) -> SlResult<()> {
        let request = AccessRequest {
            peer: self.peer,
            write: false,
            product: Some(product_id),
        };
        self.credential.admit(&request).map_err(refused)
    }

    /// Whether the key may act on `product_id` (lookups skip the licences of other products).
    pub fn in_scope(&self, product_id: ProductId) -> bool {
        self.require_product(product_id).is_ok()
    }

    pub fn actor(&self) -> String {
        format!("slascone:{}", self.credential.key_id)
    }
}

/// SLASCONE's answer to a ProvisioningKey `access::admit` refused: 401 ProblemDetails, what
/// SLASCONE answers for a bad key (reference §1.2; decision in the module documentation). A
/// revoked key is indistinguishable from an unknown one.
pub fn refused(refusal: AccessRefusal) -> SlError {
    SlError::Unauthorized(match refusal {
        AccessRefusal::Revoked => "invalid ProvisioningKey",
        AccessRefusal::IpNotAllowed => "the ProvisioningKey may not be used from this address",
        AccessRefusal::ReadOnly => "the ProvisioningKey is read-only",
        AccessRefusal::WrongProduct => "the ProvisioningKey is not valid for this product",
    })
}

/// Authenticates the `ProvisioningKey` header. Its value is `<key_id>.<secret>` of a licensd
/// credential of dialect `slascone` (what `POST /v1/credentials` returns), so the software ships
/// one opaque string as it does with SLASCONE. Unknown, malformed or revoked keys, a key used from
/// outside its IP allow-list and a read-only key on a `Use::Write` call are 401
/// (`access::admit` decides).
pub async fn authenticate(state: &AppState, headers: &HeaderMap, peer: Option<IpAddr>, usage: Use) -> SlResult<Caller> {
    let value = headers
        .get("provisioningkey")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or(SlError::Unauthorized("missing ProvisioningKey header"))?;
    let (key_id, secret) = value
        .split_once('.')
        .ok_or(SlError::Unauthorized("invalid ProvisioningKey"))?;
    let found = state
        .store
        .find_credential(Dialect::Slascone, key_id)
        .await
        .map_err(SlError::from_store)?;
    let credential = match found {
        Some((credential, stored)) if licensd_crypto::constant_time_eq(stored.as_bytes(), secret.as_bytes()) => {
            credential
        }
        _ => return Err(SlError::Unauthorized("invalid ProvisioningKey")),
    };
    let request = AccessRequest {
        peer,
        write: usage == Use::Write,
        product: None,
    };
    credential.admit(&request).map_err(refused)?;
    // The shared limiter counts the credential's requests (off unless configured).
    match state.limiter.check_credential("slascone", &credential.key_id) {
        RateDecision::Allowed => Ok(Caller { credential, peer }),
        RateDecision::Limited { reset_seconds } => Err(SlError::RateLimited(reset_seconds)),
    }
}

/// The client address of a back-office call and whether it may change something (any method but
/// GET and HEAD), for `access::admit_admin`.
fn admin_request(parts: &Parts, state: &AppState) -> (Option<IpAddr>, bool) {
    let peer = crate::http::client_ip(parts, &state.settings.trusted_proxies);
    (peer, crate::http::admin::is_write(&parts.method))
}

/// Authenticates the back-office `AdminKey` header: a licensd admin token, admitted by the same
/// rule as `/v1` (`access::admit_admin`: expiry, IP allow-list, read-only on a write). Every
/// refusal is SLASCONE's 401, as for a ProvisioningKey.
pub async fn authenticate_admin(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    write: bool,
) -> SlResult<String> {
    let token = headers
        .get("adminkey")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or(SlError::Unauthorized("missing AdminKey header"))?;
    let Some(found) = state.store.find_admin_token(token).await.map_err(SlError::from_store)? else {
        return Err(SlError::Unauthorized("invalid AdminKey"));
    };
    admit_admin(&found.flags(), state.now(), peer, write).map_err(|refusal| {
        SlError::Unauthorized(match refusal {
            AdminRefusal::Expired => "the AdminKey has expired",
            AdminRefusal::IpNotAllowed => "the AdminKey may not be used from this address",
            AdminRefusal::ReadOnly => "the AdminKey is read-only",
        })
    })?;
    Ok(format!("slascone-admin:{}", found.name))
}

/// The ISV id in every path is well-formed (404 otherwise). Whether it is this server's ISV is
/// checked before any handler runs, in `IpGate` (`isv.rs`).
pub fn check_isv(isv_id: &str) -> SlResult<()> {
    parse_guid(isv_id).map(|_| ()).ok_or(SlError::NotFound("ISV"))
}

/// Parses a GUID in its 8-4-4-4-12 hex form (any case) into its 16 bytes. Only that form: the
/// `uuid` crate's other spellings (32 bare digits, braces, `urn:uuid:`) are not SLASCONE's.
pub fn parse_guid(text: &str) -> Option<[u8; 16]> {
    let text = text.trim();
    if text.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(text).ok().map(uuid::Uuid::into_bytes)
}

/// licensd's integer ids travel as GUIDs, as SLASCONE's do: `00000000-0000-8000-8000-<12 hex>`
/// (a version-8, custom-layout UUID holding the id), so they are reversible without a table.
pub fn id_guid(id: i64) -> String {
    format!("00000000-0000-8000-8000-{:012x}", id.max(0))
}

/// A required text field, trimmed: missing or blank is `missing`.
pub fn required<S: AsRef<str>>(value: Option<S>, missing: Conflict) -> SlResult<String> {
    match value.as_ref().map(|value| value.as_ref().trim()) {
        Some(value) if !value.is_empty() => Ok(value.to_owned()),
        _ => Err(missing.into()),
    }
}

/// The id a GUID from `id_guid` holds; `None` for any other GUID.
pub fn guid_id(text: &str) -> Option<i64> {
    let bytes = parse_guid(text)?;
    if bytes[..10] != [0, 0, 0, 0, 0, 0, 0x80, 0, 0x80, 0] {
        return None;
    }
    let mut id: i64 = 0;
    for byte in &bytes[10..] {
        id = (id << 8) | i64::from(*byte);
    }
    Some(id)
}

/// A fresh random GUID (version 4, lower case) for token keys; the randomness is AWS-LC's.
pub fn random_guid() -> SlResult<String> {
    let mut bytes = [0u8; 16];
    licensd_crypto::random_bytes(&mut bytes).map_err(|_| SlError::Internal)?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_answers_carry_retry_after() {
        let limited = SlError::RateLimited(17).into_response();
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            limited.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()),
            Some("17")
        );
        let unavailable = SlError::from_store(StoreError::Database("connection refused".into())).into_response();
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            unavailable
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("5")
        );
    }

    #[test]
    fn required_text_is_trimmed_and_blank_is_the_conflict() {
        let missing = Conflict::MissingClientId;
        assert_eq!(required(Some(" client-1 "), missing), Ok("client-1".to_owned()));
        assert_eq!(required(Some("c".to_owned()), missing), Ok("c".to_owned()));
        for blank in [None, Some(""), Some("  ")] {
            assert_eq!(required(blank, missing), Err(missing.into()));
        }
    }

    #[test]
    fn store_errors_become_the_given_conflict_only_for_their_case() {
        let unknown = Conflict::InvalidLicenseKey;
        assert_eq!(SlError::not_found_as(unknown)(StoreError::NotFound), unknown.into());
        assert_eq!(
            SlError::not_found_as(unknown)(StoreError::Conflict("taken".into())),
            SlError::from_store(StoreError::Conflict("taken".into()))
        );
        let taken = Conflict::TemplateExists;
        assert_eq!(
            SlError::exists_as(taken)(StoreError::Conflict("taken".into())),
            taken.into()
        );
        assert_eq!(
            SlError::exists_as(taken)(StoreError::NotFound),
            SlError::NotFound("record")
        );
    }

    #[test]
    fn guid_ids_round_trip() {
        for id in [0, 1, 42, 0xffff_ffff, 1 << 40] {
            assert_eq!(guid_id(&id_guid(id)), Some(id));
        }
        assert_eq!(id_guid(255), "00000000-0000-8000-8000-0000000000ff");
        assert_eq!(guid_id("27180460-29df-4a5a-a0a1-78c85ab6cee0"), None);
        assert_eq!(guid_id("not-a-guid"), None);
        assert!(parse_guid("27180460-29DF-4a5a-a0a1-78c85ab6cee0").is_some());
        assert!(parse_guid("2718046029df4a5aa0a178c85ab6cee0").is_none());
        let random = random_guid().unwrap_or_default();
        assert!(parse_guid(&random).is_some());
        assert_eq!(random.as_bytes()[14], b'4');
    }
}
