//! The native client API our SDK speaks: validate, activate, deactivate, consume, checkout and
//! release, each naming a license by key. Every response body — errors included — is signed with
//! the active Ed25519 key over its exact bytes (`X-Licensd-Signature`, base64), so a client can
//! trust an answer that passed through any proxy. A request `nonce` is echoed inside the signed
//! body to defeat replays of older answers.
//!
//! Transfers (`TRANSFER_LIMIT_REACHED`): a transfer is an activation on a *different* device after
//! a deactivation; the device that left coming back is a reactivation and uses none
//! (`licensd_domain::rules::plan_activation`; `api::fidelity::native_reactivating_the_same_device_is_not_a_transfer`).

use crate::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::source_ip;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use licensd_domain::*;
use licensd_store::{LicenseRef, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const SIGNATURE_HEADER: &str = "x-licensd-signature";
pub const KEY_ID_HEADER: &str = "x-licensd-key-id";
pub const ALGORITHM_HEADER: &str = "x-licensd-signature-algorithm";

/// Serialises `body`, signs the bytes and answers with the signature headers.
pub(super) fn signed<T: Serialize>(state: &AppState, status: StatusCode, body: &T) -> Response {
    match sign_body(state, body) {
        Some(signed) => signed.response(status),
        None => ApiError::internal().into_response(),
    }
}

/// An answer body and its signature headers, ready to send (and cheap to clone: every part is
/// reference-counted).
#[derive(Clone)]
pub(crate) struct SignedBody {
    body: axum::body::Bytes,
    signature: HeaderValue,
    key_id: HeaderValue,
}

impl SignedBody {
    #[cfg(test)]
    pub(super) fn for_tests(body: &'static [u8], signature: &'static str, key_id: &'static str) -> Self {
        Self {
            body: axum::body::Bytes::from_static(body),
            signature: HeaderValue::from_static(signature),
            key_id: HeaderValue::from_static(key_id),
        }
    }

    /// The id of the key that signed it.
    pub(super) fn key_id(&self) -> Option<String> {
        self.key_id.to_str().ok().map(str::to_owned)
    }

    pub(super) fn response(&self, status: StatusCode) -> Response {
        let mut response = (status, self.body.clone()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(SIGNATURE_HEADER, self.signature.clone());
        headers.insert(KEY_ID_HEADER, self.key_id.clone());
        headers.insert(ALGORITHM_HEADER, HeaderValue::from_static("Ed25519"));
        response
    }
}

/// `body` serialised and signed with the active Ed25519 key; `None` if either fails.
pub(super) fn sign_body<T: Serialize>(state: &AppState, body: &T) -> Option<SignedBody> {
    let bytes = serde_json::to_vec(body).ok()?;
    let key = state.keys.ed25519();
    let signature = state.keys.sign_cached(&key, &bytes).ok()?;
    Some(SignedBody {
        signature: HeaderValue::from_str(&licensd_crypto::b64(&signature)).ok()?,
        key_id: HeaderValue::from_str(key.kid()).ok()?,
        body: bytes.into(),
    })
}

pub(super) fn signed_error(state: &AppState, error: ApiError) -> Response {
    signed(state, error.status, &error.body())
}

/// A client request's body: parsed as JSON and checked at the edge ([`ClientBody::check`]). A
/// body that fails either is answered in the native error shape, signed like every client answer,
/// before the handler runs.
pub struct ClientCall<T>(pub T);

/// The edge checks (lengths, ranges) of one client request body.
pub(super) trait ClientBody: DeserializeOwned {
    fn check(&self) -> Result<(), ApiError>;
}

impl<T: ClientBody + Send> FromRequest<AppState> for ClientCall<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let ApiJson(body) = ApiJson::<T>::from_request(req, state)
            .await
            .map_err(|error| signed_error(state, error))?;
        body.check().map_err(|error| signed_error(state, error))?;
        Ok(ClientCall(body))
    }
}

/// Denials of client commands: a missing license is 404, every other refusal 422.
pub(super) fn denial_error(denial: Denial) -> ApiError {
    crate::metrics::note_denial(denial);
    let status = if denial == Denial::LicenseNotFound {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    ApiError::new(status, denial.code(), denial.to_string())
}

/// A client command's answer: 200 with the body `body` makes of what the store did, or the
/// store's refusal as a client error; signed either way.
fn answer<T, B: Serialize>(state: &AppState, outcome: Result<T, StoreError>, body: impl FnOnce(T) -> B) -> Response {
    match outcome {
        Ok(done) => signed(state, StatusCode::OK, &body(done)),
        Err(error) => signed_error(state, store_error(error)),
    }
}

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Denied(denial) => denial_error(denial),
        StoreError::NotFound => denial_error(Denial::LicenseNotFound),
        other => ApiError::from_store(other, "license"),
    }
}

/// Who is calling, for the event log.
pub struct Caller {
    pub source_ip: Option<String>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Caller {
            source_ip: source_ip(parts, &state.settings.trusted_proxies),
        })
    }
}

impl Caller {
    fn event(&self, action: &str) -> EventDraft {
        EventDraft::new("client", action, "license").from_ip(self.source_ip.clone())
    }
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.trim().is_empty() || key.len() > 512 {
        return Err(ApiError::unprocessable("key must be 1 to 512 bytes"));
    }
    Ok(())
}

pub(super) fn check_fingerprint(fingerprint: &str) -> Result<(), ApiError> {
    if fingerprint.trim().is_empty() || fingerprint.len() > 512 {
        return Err(ApiError::unprocessable("fingerprint must be 1 to 512 bytes"));
    }
    Ok(())
}

fn check_nonce(nonce: &Option<String>) -> Result<(), ApiError> {
    match nonce {
        Some(nonce) if nonce.len() > 256 => Err(ApiError::unprocessable("nonce must be at most 256 bytes")),
        _ => Ok(()),
    }
}

/// The checks of a client request that names a license key and one of its devices (activate,
/// deactivate, checkout, release, checkout-file), in the order their errors are reported.
pub(super) fn check_device_call(key: &str, fingerprint: &str, nonce: &Option<String>) -> Result<(), ApiError> {
    check_key(key)
        .and_then(|_| check_fingerprint(fingerprint))
        .and_then(|_| check_nonce(nonce))
}

/// Lives in licensd-domain so the client SDK (`licensd_client::LicenseSummary`) reads the very type
/// the server writes.
pub use licensd_domain::LicenseSummary;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    pub key: String,
    /// When given, the device must be activated on the license.
    pub fingerprint: Option<String>,
    /// When given, the license must belong to this product code.
    pub product: Option<String>,
    pub nonce: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ValidateResponse {
    pub valid: bool,
    /// `VALID` or a denial code such as `LICENSE_EXPIRED`.
    pub code: String,
    pub detail: String,
    pub in_grace_period: bool,
    pub maintenance_active: bool,
    pub license: Option<LicenseSummary>,
    pub device: Option<Device>,
    /// When the check ran, to the second.
    pub checked_at: Millis,
    pub nonce: Option<String>,
}

/// Validation answers 200 for every verdict: the verdict is in `code`.
///
/// Where the store's read cache is exact (`Maintenance::read_generation`), a request whose body is
/// byte-identical to one answered before may be answered with the same signed bytes
/// (`native::answers`): only when a fresh computation would give exactly those bytes.
#[utoipa::path(post, path = "/v1/licenses/actions/validate", tag = "client", request_body = ValidateRequest,
    responses((status = 200, body = ValidateResponse), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "over --rate-limit-per-ip; Retry-After says when to try again")))]
pub async fn validate(State(state): State<AppState>, request: Request) -> Response {
    let now = state.now();
    // Reported to the second, so repeated checks of an unchanged license give identical bytes
    // whose signature can be reused (a request nonce still makes each answer unique).
    let checked_at = now - now.rem_euclid(1000);
    // Read before the store is: an answer computed from a read that a commit overtook is kept
    // under the older generation, never served.
    let generation = state.store.read_generation();
    let plain_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value == "application/json");
    let (request, raw) = match generation {
        // The body as bytes (what the JSON extractor reads, with the same limit and errors),
        // so that a repeated request is looked up before it is even parsed.
        Some(generation) if plain_json => {
            let bytes = match axum::body::Bytes::from_request(request, &state).await {
                Ok(bytes) => bytes,
                Err(rejection) => return signed_error(&state, crate::http::extract::json_rejection(rejection.into())),
            };
            let kid = state.keys.ed25519();
            if let Some(response) = state.answers.answer(&bytes, generation, checked_at, kid.kid(), now) {
                state.validations.note(now);
                return response;
            }
            match crate::http::extract::parse_json::<ValidateRequest>(&bytes)
                .and_then(|body| body.check().map(|_| body))
            {
                Ok(body) => (body, Some((bytes, generation))),
                Err(error) => return signed_error(&state, error),
            }
        }
        _ => match ClientCall::<ValidateRequest>::from_request(request, &state).await {
            Ok(ClientCall(body)) => (body, None),
            Err(response) => return response,
        },
    };
    let report = state
        .validate(
            LicenseRef::Key(request.key.clone()),
            request.fingerprint.as_deref(),
            now,
        )
        .await;
    let verdict = |denial: Denial, nonce: Option<String>| {
        crate::metrics::note_denial(denial);
        ValidateResponse {
            valid: false,
            code: denial.code().to_string(),
            detail: denial.to_string(),
            in_grace_period: false,
            maintenance_active: false,
            license: None,
            device: None,
            checked_at,
            nonce,
        }
    };
    let report = match report {
        Err(StoreError::Denied(denial)) => return signed(&state, StatusCode::OK, &verdict(denial, request.nonce)),
        Err(StoreError::NotFound) => {
            return signed(&state, StatusCode::OK, &verdict(Denial::LicenseNotFound, request.nonce));
        }
        Err(other) => return signed_error(&state, ApiError::from_store(other, "license")),
        Ok(report)
            if request
                .product
                .as_ref()
                .is_some_and(|code| *code != report.product.code) =>
        {
            return signed(&state, StatusCode::OK, &verdict(Denial::LicenseNotFound, request.nonce));
        }
        Ok(report) => report,
    };
    let mut report = report;
    let summary = LicenseSummary::at(
        &report.product,
        &report.license,
        &report.features,
        report.active_devices,
        now,
    );
    let (valid, code, detail, grace, maintenance) = match &report.outcome {
        Ok(validity) => (
            true,
            "VALID".to_string(),
            "license is valid".to_string(),
            validity.in_grace_period,
            validity.maintenance_active,
        ),
        Err(denial) => {
            crate::metrics::note_denial(*denial);
            (false, denial.code().to_string(), denial.to_string(), false, false)
        }
    };
    let keep = raw.filter(|_| request.nonce.is_none() && report.outcome.is_ok());
    // The device row goes into the answer; a kept answer keeps the report whole.
    let device = if keep.is_some() {
        report.device.clone()
    } else {
        report.device.take()
    };
    let response = ValidateResponse {
        valid,
        code,
        detail,
        in_grace_period: grace,
        maintenance_active: maintenance,
        license: Some(summary),
        device,
        checked_at,
        nonce: request.nonce,
    };
    let Some(answer) = sign_body(&state, &response) else {
        return ApiError::internal().into_response();
    };
    let reply = answer.response(StatusCode::OK);
    if let Some((bytes, generation)) = keep {
        let computed = super::answers::Computed {
            generation,
            checked_at,
            fingerprint: request.fingerprint,
            report,
            now,
        };
        state.answers.keep(bytes, computed, answer);
    }
    reply
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    pub key: String,
    pub fingerprint: String,
    pub name: Option<String>,
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub app_version: Option<String>,
    pub mac: Option<String>,
    #[serde(default)]
    pub is_vm: bool,
    /// Free-form device variables (a JSON object).
    pub variables: Option<serde_json::Value>,
    pub nonce: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivateResponse {
    /// `ACTIVATED` for a new activation, `ALREADY_ACTIVE` when the device was active already.
    pub code: String,
    pub license: LicenseSummary,
    pub device: Device,
    pub nonce: Option<String>,
}

fn check_optional_text(field: &str, value: &Option<String>) -> Result<(), ApiError> {
    match value {
        Some(text) if text.len() > 1024 => Err(ApiError::unprocessable(format!("{field} must be at most 1024 bytes"))),
        _ => Ok(()),
    }
}

#[utoipa::path(post, path = "/v1/licenses/actions/activate", tag = "client", request_body = ActivateRequest,
    responses((status = 201, body = ActivateResponse), (status = 200, body = ActivateResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "over --rate-limit-per-ip; Retry-After says when to try again")))]
pub async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    ClientCall(request): ClientCall<ActivateRequest>,
) -> Response {
    let now = state.now();
    let device = DeviceInfo {
        fingerprint: request.fingerprint,
        name: request.name,
        hostname: request.hostname,
        os: request.os,
        app_version: request.app_version,
        ip: caller.source_ip.clone(),
        mac: request.mac,
        is_vm: request.is_vm,
        variables: request.variables,
    };
    match state
        .store
        .activate(
            LicenseRef::Key(request.key),
            device,
            None,
            caller.event("license.activated"),
            now,
        )
        .await
    {
        Ok(mut activation) => {
            let features = match activation.known_features.take() {
                Some(features) => features,
                // The activation is committed; if its features cannot be read the client gets
                // the store's error rather than an answer claiming the license has none, and a
                // retry answers ALREADY_ACTIVE with the features.
                None => match state.store.license_features(activation.license.id).await {
                    Ok(features) => features,
                    Err(error) => return signed_error(&state, store_error(error)),
                },
            };
            let (status, code) = if activation.newly_activated {
                (StatusCode::CREATED, "ACTIVATED")
            } else {
                (StatusCode::OK, "ALREADY_ACTIVE")
            };
            let body = ActivateResponse {
                code: code.to_string(),
                license: LicenseSummary::at(
                    &activation.product,
                    &activation.license,
                    &features,
                    activation.active_devices,
                    now,
                ),
                device: activation.device,
                nonce: request.nonce,
            };
            signed(&state, status, &body)
        }
        Err(error) => signed_error(&state, store_error(error)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    pub key: String,
    pub fingerprint: String,
    pub nonce: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActionResponse {
    pub code: String,
    pub license_id: i64,
    pub nonce: Option<String>,
}

#[utoipa::path(post, path = "/v1/licenses/actions/deactivate", tag = "client", request_body = DeviceRequest,
    responses((status = 200, body = ActionResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "over --rate-limit-per-ip; Retry-After says when to try again")))]
pub async fn deactivate(
    State(state): State<AppState>,
    caller: Caller,
    ClientCall(request): ClientCall<DeviceRequest>,
) -> Response {
    let outcome = state
        .store
        .deactivate(
            LicenseRef::Key(request.key),
            &request.fingerprint,
            caller.event("license.deactivated"),
            state.now(),
        )
        .await;
    answer(&state, outcome, |license| ActionResponse {
        code: "DEACTIVATED".into(),
        license_id: license.id.get(),
        nonce: request.nonce,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumeRequest {
    pub key: String,
    /// Units to add (negative gives units back when the license allows it).
    #[schema(minimum = -1000000000, maximum = 1000000000)]
    pub amount: i64,
    /// Consume a feature's counter instead of the license's.
    pub feature: Option<String>,
    /// Retrying with the same key never counts twice.
    pub idempotency_key: Option<String>,
    pub nonce: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsumeResponse {
    pub code: String,
    pub license_id: i64,
    pub total: i64,
    pub replayed: bool,
    pub nonce: Option<String>,
}

#[utoipa::path(post, path = "/v1/licenses/actions/consume", tag = "client", request_body = ConsumeRequest,
    responses((status = 200, body = ConsumeResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "over --rate-limit-per-ip; Retry-After says when to try again")))]
pub async fn consume(
    State(state): State<AppState>,
    caller: Caller,
    ClientCall(request): ClientCall<ConsumeRequest>,
) -> Response {
    let license = LicenseRef::Key(request.key);
    let now = state.now();
    let outcome = match &request.feature {
        Some(feature) => {
            state
                .store
                .consume_feature(
                    license,
                    feature,
                    request.amount,
                    request.idempotency_key,
                    caller.event("license.feature_consumed"),
                    now,
                )
                .await
        }
        None => {
            state
                .store
                .consume(
                    license,
                    request.amount,
                    request.idempotency_key,
                    caller.event("license.consumed"),
                    now,
                )
                .await
        }
    };
    answer(&state, outcome, |outcome| ConsumeResponse {
        code: "CONSUMED".into(),
        license_id: outcome.license.id.get(),
        total: outcome.total,
        replayed: outcome.replayed,
        nonce: request.nonce,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub key: String,
    pub fingerprint: String,
    /// Borrow the seat until this instant (milliseconds since the epoch).
    pub borrow_until: Option<Millis>,
    pub nonce: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckoutResponse {
    pub code: String,
    pub lease: FloatingLease,
    pub nonce: Option<String>,
}

#[utoipa::path(post, path = "/v1/licenses/actions/checkout", tag = "client", request_body = CheckoutRequest,
    responses((status = 200, body = CheckoutResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "over --rate-limit-per-ip; Retry-After says when to try again")))]
pub async fn checkout(
    State(state): State<AppState>,
    caller: Caller,
    ClientCall(request): ClientCall<CheckoutRequest>,
) -> Response {
    let event = caller.event("license.lease_checked_out");
    let outcome = state
        .store
        .checkout_lease(
            LicenseRef::Key(request.key),
            &request.fingerprint,
            request.borrow_until,
            event,
            state.now(),
        )
        .await;
    answer(&state, outcome, |lease| CheckoutResponse {
        code: "CHECKED_OUT".into(),
        lease,
        nonce: request.nonce,
    })
}

#[utoipa::path(post, path = "/v1/licenses/actions/release", tag = "client", request_body = DeviceRequest,
    responses((status = 200, body = ActionResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "over --rate-limit-per-ip; Retry-After says when to try again")))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    ClientCall(request): ClientCall<DeviceRequest>,
) -> Response {
    let key = request.key.clone();
    let released = state
        .store
        .release_lease(
            LicenseRef::Key(key.clone()),
            &request.fingerprint,
            caller.event("license.lease_released"),
            state.now(),
        )
        .await;
    // The release does not return the license; the answer names it all the same.
    let outcome = match released {
        Ok(()) => Ok(state
            .store
            .find_license_by_key(&key)
            .await
            .ok()
            .flatten()
            .map_or(0, |l| l.id.get())),
        Err(error) => Err(error),
    };
    answer(&state, outcome, |license_id| ActionResponse {
        code: "RELEASED".into(),
        license_id,
        nonce: request.nonce,
    })
}

impl ClientBody for DeviceRequest {
    fn check(&self) -> Result<(), ApiError> {
        check_device_call(&self.key, &self.fingerprint, &self.nonce)
    }
}

impl ClientBody for CheckoutRequest {
    fn check(&self) -> Result<(), ApiError> {
        check_device_call(&self.key, &self.fingerprint, &self.nonce)
    }
}

impl ClientBody for ActivateRequest {
    fn check(&self) -> Result<(), ApiError> {
        check_device_call(&self.key, &self.fingerprint, &self.nonce)
            .and_then(|_| check_optional_text("name", &self.name))
            .and_then(|_| check_optional_text("hostname", &self.hostname))
            .and_then(|_| check_optional_text("os", &self.os))
            .and_then(|_| check_optional_text("app_version", &self.app_version))
            .and_then(|_| check_optional_text("mac", &self.mac))
            .and_then(|_| match &self.variables {
                None | Some(serde_json::Value::Object(_)) => Ok(()),
                Some(_) => Err(ApiError::unprocessable("variables must be a JSON object")),
            })
    }
}

impl ClientBody for ConsumeRequest {
    fn check(&self) -> Result<(), ApiError> {
        check_key(&self.key)
            .and_then(|_| check_nonce(&self.nonce))
            .and_then(|_| crate::http::validate::within(licensd_domain::limits::amount("amount", self.amount)))
            .and_then(|_| match &self.idempotency_key {
                Some(key) if key.is_empty() || key.len() > 256 => {
                    Err(ApiError::unprocessable("idempotency_key must be 1 to 256 bytes"))
                }
                _ => Ok(()),
            })
    }
}

impl ClientBody for ValidateRequest {
    fn check(&self) -> Result<(), ApiError> {
        check_key(&self.key).and_then(|_| check_nonce(&self.nonce))?;
        match &self.fingerprint {
            Some(fingerprint) if fingerprint.len() > 512 => {
                Err(ApiError::unprocessable("fingerprint must be at most 512 bytes"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_device_call;

    fn refusal(key: &str, fingerprint: &str, nonce: Option<&str>) -> Option<String> {
        check_device_call(key, fingerprint, &nonce.map(str::to_owned))
            .err()
            .map(|error| error.message)
    }

    #[test]
    fn a_device_call_is_checked_key_first_then_fingerprint_then_nonce() {
        let long_nonce = "n".repeat(257);
        assert_eq!(refusal("KEY-1", "fp-1", Some("n")), None);
        assert_eq!(refusal("KEY-1", "fp-1", None), None);
        assert_eq!(
            refusal(" ", "", Some(&long_nonce)).as_deref(),
            Some("key must be 1 to 512 bytes")
        );
        assert_eq!(
            refusal("KEY-1", " ", Some(&long_nonce)).as_deref(),
            Some("fingerprint must be 1 to 512 bytes")
        );
        assert_eq!(
            refusal("KEY-1", "fp-1", Some(&long_nonce)).as_deref(),
            Some("nonce must be at most 256 bytes")
        );
    }
}
