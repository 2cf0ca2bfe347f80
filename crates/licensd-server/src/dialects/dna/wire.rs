//! DNA's wire conventions: `{"Message": …}` errors with conventional status codes, HTTP Basic
//! `clientId:apiKey` authentication, PascalCase JSON bodies, and the one table that says every
//! domain `Denial` in DNA's terms.

use crate::ratelimit::RateDecision;
use crate::state::AppState;
use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use licensd_domain::access::{AccessRefusal, AccessRequest};
use licensd_domain::{Credential, Denial, Dialect};
use licensd_store::StoreError;
use serde::de::DeserializeOwned;
use std::net::IpAddr;

/// The challenge every DNA 401 carries.
pub const WWW_AUTHENTICATE: &str = "Basic realm=\"DNA\", charset=\"UTF-8\"";

/// A DNA error answer: status plus `{"Message": …}`; a 429 also carries the reset headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnaError {
    pub status: StatusCode,
    pub message: String,
    pub reset_seconds: Option<u64>,
}

impl DnaError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            reset_seconds: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An error occurred on the server - try again later",
        )
    }
    pub fn too_many(reset_seconds: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: format!("API request limit exceeded; the limit resets in {reset_seconds} seconds"),
            reset_seconds: Some(reset_seconds),
        }
    }

    /// Store errors: a refusal is said through `denial`; a missing row is the license's 404.
    pub fn from_store(error: StoreError) -> Self {
        match error {
            StoreError::Denied(denial) => denial_error(denial),
            StoreError::NotFound => Self::not_found("LicenseId not found"),
            StoreError::Conflict(message) => Self::new(StatusCode::CONFLICT, message),
            StoreError::Corrupt(message) => {
                tracing::error!(%message, "corrupt data");
                Self::internal()
            }
            StoreError::InvalidInput(message) => Self::bad_request(message),
            StoreError::Database(message) => {
                tracing::error!(%message, "database error");
                Self::internal()
            }
        }
    }
}

impl From<StoreError> for DnaError {
    fn from(error: StoreError) -> Self {
        Self::from_store(error)
    }
}

impl IntoResponse for DnaError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(serde_json::json!({ "Message": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §11.6.1: a 401 carries the challenge. .NET's HttpClient (with
            // `PreAuthenticate` or `CredentialCache`) sends Basic credentials only after it.
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(WWW_AUTHENTICATE));
        }
        if let Some(seconds) = self.reset_seconds {
            let value = HeaderValue::from(seconds);
            response.headers_mut().insert("x-ratelimit-reset", value.clone());
            // Generic HTTP clients understand Retry-After; DNA clients read X-RateLimit-Reset.
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Every domain refusal in DNA's terms. DNA documents 400 for a refused or invalid request and 404
/// for a missing product, license or device; it documents no other refusal codes.
pub fn denial_error(denial: Denial) -> DnaError {
    crate::metrics::note_denial(denial);
    use Denial::*;
    let (status, message) = match denial {
        LicenseNotFound => (StatusCode::NOT_FOUND, "LicenseId not found"),
        ProductNotFound => (StatusCode::NOT_FOUND, "ProductId not found"),
        DeviceNotActivated => (StatusCode::NOT_FOUND, "DeviceId not found"),
        FeatureNotFound => (StatusCode::NOT_FOUND, "Credit Name not found for this license"),
        LicenseUserNotFound => (StatusCode::NOT_FOUND, "License user not found"),
        ProductDisabled | ProductArchived => (StatusCode::BAD_REQUEST, "The product is BANNED"),
        LicenseDisabled | LicenseBlocked | LicenseSuspended => (StatusCode::BAD_REQUEST, "The License Code is BANNED"),
        LicenseNotAssigned => (
            StatusCode::BAD_REQUEST,
            "The License Code is AVAILABLE and not yet assigned",
        ),
        LicenseNotStarted => (StatusCode::BAD_REQUEST, "The License Code is not valid yet"),
        LicenseExpired | TrialExpired => (StatusCode::BAD_REQUEST, "The License Code is EXPIRED"),
        ReactivationLockout => (StatusCode::BAD_REQUEST, "The License Code is in REACTLOCKOUT"),
        IpLockout => (
            StatusCode::BAD_REQUEST,
            "IPLOCKOUT: too many invalid attempts from this UserIp; try again later",
        ),
        InvalidUserCredentials => (StatusCode::BAD_REQUEST, "Invalid LicensePassword"),
        FingerprintRequired => (StatusCode::BAD_REQUEST, "DeviceId is required"),
        DeviceBlocked => (StatusCode::BAD_REQUEST, "The device is banned"),
        VmNotAllowed => (
            StatusCode::BAD_REQUEST,
            "Virtual machines are not allowed for this License Code",
        ),
        ActivationLimitReached | UserActivationLimitReached | LicenseUserLimitReached => {
            (StatusCode::BAD_REQUEST, "The License Code has no free activations")
        }
        TransferLimitReached => (StatusCode::BAD_REQUEST, "The License Code has no re-activations left"),
        NotFloating | FeatureNotFloating => (StatusCode::BAD_REQUEST, "The License Code is not a floating license"),
        FloatingSeatsExhausted | FeatureSeatsExhausted => (StatusCode::BAD_REQUEST, "No floating seats are available"),
        BorrowNotAllowed | BorrowPeriodInvalid => (StatusCode::BAD_REQUEST, "Borrowing is not allowed"),
        FeatureNotInUse => (StatusCode::BAD_REQUEST, "The feature is not in use"),
        NotConsumption | FeatureNotConsumption => (StatusCode::BAD_REQUEST, "The License Code has no credits"),
        ConsumptionAmountInvalid => (StatusCode::BAD_REQUEST, "Invalid Count"),
        NegativeConsumptionNotAllowed => (StatusCode::BAD_REQUEST, "Invalid Count: must not be negative"),
        ConsumptionLimitReached | FeatureConsumptionLimitReached => (StatusCode::BAD_REQUEST, "Not enough credits"),
        FeatureExpired => (StatusCode::BAD_REQUEST, "The credit has expired"),
    };
    DnaError::new(status, message)
}

/// Answers a limited request in DNA's form.
pub fn rate_limited(decision: RateDecision) -> Result<(), DnaError> {
    match decision {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { reset_seconds } => Err(DnaError::too_many(reset_seconds)),
    }
}

/// Authenticates `Authorization: Basic base64(clientId:apiKey)` against the DNA credentials:
/// unknown, revoked, wrong key or a caller outside the credential's IP allow-list is 401.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    client_ip: Option<IpAddr>,
) -> Result<Credential, DnaError> {
    const HINT: &str = "Basic Authentication failed - verify the clientId and apiKey";
    let (client_id, api_key) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
        .ok_or_else(|| DnaError::unauthorized(HINT))?;
    let client_id = client_id.as_str();
    let api_key = api_key.as_str();
    let (credential, secret) = state
        .store
        .find_credential(Dialect::Dna, client_id)
        .await?
        .ok_or_else(|| DnaError::unauthorized(HINT))?;
    if !licensd_crypto::constant_time_eq(secret.as_bytes(), api_key.as_bytes()) {
        return Err(DnaError::unauthorized(HINT));
    }
    let request = AccessRequest {
        peer: client_ip,
        ..AccessRequest::default()
    };
    credential.admit(&request).map_err(refused)?;
    Ok(credential)
}

/// DNA's answer to a credential `access::admit` refused: always 401, the only authentication
/// error DNA documents, with a message saying which flag refused.
pub fn refused(refusal: AccessRefusal) -> DnaError {
    DnaError::unauthorized(match refusal {
        AccessRefusal::Revoked => "The apiKey was revoked",
        AccessRefusal::IpNotAllowed => "The apiKey may not be used from this address",
        AccessRefusal::ReadOnly => "The apiKey is read-only",
        AccessRefusal::WrongProduct => "The apiKey is not valid for this ProductId",
    })
}

/// The clientId and apiKey of an `Authorization: Basic` value; `None` when it is not Basic,
/// not base64 of UTF-8 `id:key`, or either part is empty. Pure (the fuzz target `dna` runs it).
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = licensd_crypto::b64_decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (client_id, api_key) = text.split_once(':')?;
    if client_id.is_empty() || api_key.is_empty() {
        return None;
    }
    Some((client_id.to_string(), api_key.to_string()))
}

/// A JSON object body; an empty body is the type's default (every DNA body field is optional on the
/// wire, and handlers say which ones they need).
pub fn parse_body<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, DnaError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    crate::http::json_object::from_slice(bytes).map_err(|e| DnaError::bad_request(format!("Invalid request body: {e}")))
}

/// `UserIp` as DNA sends it: the end user's address. Required by every call whose documented body
/// carries it (reference/dna-api.md §1.3: details POST, PATCH, the password and recovery calls,
/// DELETE device, credits query and consume), whether or not the call feeds the IP lockout.
pub fn user_ip(value: &Option<String>) -> Result<String, DnaError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Err(DnaError::bad_request("UserIp is required")),
        Some(text) => text
            .parse::<IpAddr>()
            .map(|ip| ip.to_string())
            .map_err(|_| DnaError::bad_request("Invalid UserIp format")),
    }
}

/// DNA ProductIDs and license codes: 1–64 letters, digits, `-`, `_` or `.`.
pub fn check_id(value: &str, what: &str) -> Result<(), DnaError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(DnaError::bad_request(format!("Invalid {what} format")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_user_ips_are_checked() {
        assert!(check_id("DNA-PROD_1.2", "ProductId").is_ok());
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65)] {
            assert_eq!(
                check_id(bad, "ProductId"),
                Err(DnaError::bad_request("Invalid ProductId format"))
            );
        }
        assert_eq!(user_ip(&Some(" 192.0.2.1 ".into())), Ok("192.0.2.1".into()));
        assert_eq!(user_ip(&None), Err(DnaError::bad_request("UserIp is required")));
        assert_eq!(
            user_ip(&Some("300.1.1.1".into())),
            Err(DnaError::bad_request("Invalid UserIp format"))
        );
    }

    #[test]
    fn every_denial_has_a_dna_answer() {
        for denial in Denial::ALL {
            let error = denial_error(denial);
            assert!(
                matches!(error.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
                "{denial:?}"
            );
            assert!(!error.message.is_empty());
        }
    }
}
