//! Offline licence files (docs/licence-file.md): `POST /v1/licenses/actions/checkout-file` for
//! the client (licence key + fingerprint of an activated device; the answer is signed like every
//! client answer) and `POST /v1/licenses/{id}/license-file` for an administrator. What a file
//! holds and whether it may be issued is `licensd_domain::licence_file::plan_licence_file`; the
//! bytes, the signature and the encryption are `licensd_crypto::issue_licence_file`.

use super::client::{ClientBody, ClientCall, check_device_call, check_fingerprint, denial_error, signed, signed_error};
use crate::error::{ApiError, ErrorBody};
use crate::http::Admin;
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use licensd_domain::licence_file::{LicenceFileState, MAX_TTL_SECONDS, MIN_TTL_SECONDS, plan_licence_file};
use licensd_domain::*;
use licensd_store::{LicenseRef, StoreError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutFileRequest {
    pub key: String,
    /// The activated device the file is bound to.
    pub fingerprint: String,
    /// Time-to-live, 60 to 31 622 400 seconds (366 days); default 30 days. Never past the
    /// licence's expiry plus grace.
    pub ttl_seconds: Option<i64>,
    /// Encrypt the payload under a key derived from the licence key (AES-256-GCM).
    #[serde(default)]
    pub encrypt: bool,
    pub nonce: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueFileRequest {
    /// The activated device the file is bound to.
    pub fingerprint: String,
    /// Time-to-live in seconds, 60 to 31 622 400; default 30 days.
    pub ttl_seconds: Option<i64>,
    /// Encrypt the payload under a key derived from the licence key (the licence needs a key).
    #[serde(default)]
    pub encrypt: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LicenceFileResponse {
    /// `ISSUED`.
    pub code: String,
    pub license_id: i64,
    /// Id of the Ed25519 key that signed the file.
    pub kid: String,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub encrypted: bool,
    /// The licence file, ready to be written to disk as is.
    pub file: String,
    pub nonce: Option<String>,
}

fn check_ttl(ttl_seconds: Option<i64>) -> Result<(), ApiError> {
    match ttl_seconds {
        Some(ttl) if !(MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&ttl) => Err(ApiError::unprocessable(format!(
            "ttl_seconds must be between {MIN_TTL_SECONDS} and {MAX_TTL_SECONDS}"
        ))),
        _ => Ok(()),
    }
}

/// Validates the licence for the device, plans the file and issues it.
async fn issue(
    state: &AppState,
    license: LicenseRef,
    fingerprint: &str,
    ttl_seconds: Option<i64>,
    encrypt: bool,
    nonce: Option<String>,
) -> Result<LicenceFileResponse, ApiError> {
    let now = state.now();
    let report = match state.validate(license, Some(fingerprint), now).await {
        Ok(report) => report,
        Err(StoreError::Denied(denial)) => return Err(denial_error(denial)),
        Err(StoreError::NotFound) => return Err(denial_error(Denial::LicenseNotFound)),
        Err(other) => return Err(ApiError::from_store(other, "license")),
    };
    let contents = plan_licence_file(
        &LicenceFileState {
            product: &report.product,
            license: &report.license,
            device: report.device.as_ref(),
            features: &report.features,
            validity: &report.outcome,
            fingerprint,
        },
        ttl_seconds,
        now,
    )
    .map_err(denial_error)?;
    let licence_key = match (encrypt, report.license.key.as_deref()) {
        (false, _) => None,
        (true, Some(key)) => Some(key),
        (true, None) => {
            return Err(ApiError::unprocessable(
                "encrypt needs a licence key, and this licence has none",
            ));
        }
    };
    let payload = serde_json::to_vec(&contents).map_err(|_| ApiError::internal())?;
    let key = state.keys.ed25519();
    let file = licensd_crypto::issue_licence_file(&key, &payload, licence_key).map_err(|_| ApiError::internal())?;
    Ok(LicenceFileResponse {
        code: "ISSUED".into(),
        license_id: report.license.id.get(),
        kid: key.kid().to_string(),
        issued_at: contents.issued_at,
        expires_at: contents.expires_at,
        encrypted: licence_key.is_some(),
        file,
        nonce,
    })
}

/// A licence file for an activated device, signed like every client answer.
#[utoipa::path(post, path = "/v1/licenses/actions/checkout-file", tag = "client", request_body = CheckoutFileRequest,
    responses((status = 200, body = LicenceFileResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "over --rate-limit-per-ip; Retry-After says when to try again")))]
pub async fn checkout_file(
    State(state): State<AppState>,
    ClientCall(request): ClientCall<CheckoutFileRequest>,
) -> Response {
    match issue(
        &state,
        LicenseRef::Key(request.key),
        &request.fingerprint,
        request.ttl_seconds,
        request.encrypt,
        request.nonce,
    )
    .await
    {
        Ok(response) => signed(&state, StatusCode::OK, &response),
        Err(error) => signed_error(&state, error),
    }
}

/// An administrator issues a licence file for one of the licence's activated devices (for
/// example to hand to an air-gapped machine).
#[utoipa::path(post, path = "/v1/licenses/{id}/license-file", tag = "licenses", params(("id" = i64, Path)), request_body = IssueFileRequest,
    responses((status = 201, body = LicenceFileResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn issue_license_file(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
    ApiJson(request): ApiJson<IssueFileRequest>,
) -> Result<(StatusCode, Json<LicenceFileResponse>), ApiError> {
    check_fingerprint(&request.fingerprint)?;
    check_ttl(request.ttl_seconds)?;
    let response = issue(
        &state,
        LicenseRef::Id(id),
        &request.fingerprint,
        request.ttl_seconds,
        request.encrypt,
        None,
    )
    .await
    .map_err(|error| {
        if error.code == Denial::LicenseNotFound.code() {
            ApiError::not_found("license")
        } else {
            error
        }
    })?;
    Ok((StatusCode::CREATED, Json(response)))
}

impl ClientBody for CheckoutFileRequest {
    fn check(&self) -> Result<(), ApiError> {
        check_device_call(&self.key, &self.fingerprint, &self.nonce).and_then(|_| check_ttl(self.ttl_seconds))
    }
}
