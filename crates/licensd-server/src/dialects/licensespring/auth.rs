//! Request authentication exactly as the SDKs send it: a `Date` header and an `Authorization`
//! header of comma-separated `key="value"` pairs (`algorithm="hmac-sha256",headers="date",
//! signature="…",apiKey="…"`), where signature = base64(HMAC-SHA256(shared_key,
//! "licenseSpring\ndate: <Date>")). Key names compare case-insensitively (Python sends `apiKey`,
//! Node `apikey`), and the `Date` must lie within 15 minutes of the server clock.
//!
//! The API key is a native credential of dialect `licensespring` (key_id = api_key, secret =
//! shared_key); revoked, read-only, product-scoped and IP-restricted credentials are honoured.

use super::wire::LsError;
use crate::state::AppState;
use axum::http::HeaderMap;
use licensd_domain::ProductId;
use licensd_domain::access::{AccessRefusal, AccessRequest};
use licensd_domain::clock::MINUTE;
use licensd_domain::{Credential, Dialect, Millis, Product};
use std::net::IpAddr;

/// How far the `Date` header may be from the server clock, either way.
pub const MAX_SKEW: Millis = 15 * MINUTE;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub credential: Credential,
    /// Authenticated with an OAuth bearer token rather than the API-key HMAC.
    pub via_oauth: bool,
    /// The address the request came from (the credential's IP allow-list is checked against it).
    pub peer: Option<IpAddr>,
}

impl Caller {
    /// `access::admit` for this caller's request, refusals in LicenseSpring's codes.
    fn admit(&self, write: bool, product: Option<ProductId>) -> Result<(), LsError> {
        let request = AccessRequest {
            peer: self.peer,
            write,
            product,
        };
        self.credential
            .admit(&request)
            .map_err(|refusal| refused(refusal, self.via_oauth))
    }

    /// Writes (activation, deactivation, consumption, …) are refused for read-only keys.
    pub fn require_write(&self) -> Result<(), LsError> {
        self.admit(true, None)
    }

    /// A product-scoped key may only be used for its own product.
    pub fn require_product(&self, product_id: ProductId) -> Result<(), LsError> {
        self.admit(false, Some(product_id))
    }
}

/// LicenseSpring's answer to a credential `access::admit` refused (codes of the seed).
pub fn refused(refusal: AccessRefusal, via_oauth: bool) -> LsError {
    match refusal {
        AccessRefusal::Revoked => LsError::bad("revoked_api_key", "this API key has been revoked"),
        AccessRefusal::IpNotAllowed => LsError::unauthorized(
            "authentication_failure",
            "this API key may not be used from this address",
        ),
        AccessRefusal::ReadOnly => LsError::bad(
            "read_only_api_key",
            "this API key is read-only and cannot change licenses",
        ),
        AccessRefusal::WrongProduct if via_oauth => LsError::bad(
            "oauth_product_not_allowed",
            "this OAuth client is not allowed to use this product",
        ),
        AccessRefusal::WrongProduct => LsError::bad(
            "api_key_product_not_allowed",
            "this API key is not allowed to use this product",
        ),
    }
}

/// The parsed `Authorization` header.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AuthParams {
    pub algorithm: Option<String>,
    pub headers: Option<String>,
    pub signature: Option<String>,
    pub api_key: Option<String>,
}

/// Splits on `,`, trims, splits each pair on the first `=`, strips quotes; key names are
/// case-insensitive. A pair without `=` makes the header unparseable.
pub fn parse_authorization(value: &str) -> Result<AuthParams, LsError> {
    let mut params = AuthParams::default();
    for pair in value.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
        let Some((key, raw)) = pair.split_once('=') else {
            return Err(LsError::bad(
                "authorization_invalid_headers",
                "Authorization header is not a list of key=\"value\" pairs",
            ));
        };
        let value = raw.trim().trim_matches('"').to_string();
        match key.trim().to_ascii_lowercase().as_str() {
            "algorithm" => params.algorithm = Some(value),
            "headers" => params.headers = Some(value),
            "signature" => params.signature = Some(value),
            "apikey" => params.api_key = Some(value),
            // Unknown keys are ignored, as LicenseSpring does.
            _ => {}
        }
    }
    Ok(params)
}

/// Parses an RFC 7231 (IMF-fixdate) date such as `Sun, 22 Nov 2026 08:30:00 GMT`.
pub fn parse_http_date(text: &str) -> Option<Millis> {
    jiff::fmt::rfc2822::parse(text.trim())
        .ok()
        .map(|zoned| zoned.timestamp().as_millisecond())
}

/// An instant as an RFC 7231 date (`Sun, 22 Nov 2026 08:30:00 GMT`).
pub fn http_date(at: Millis) -> String {
    jiff::Timestamp::from_millisecond(at)
        .ok()
        .and_then(|ts| {
            jiff::fmt::rfc2822::DateTimePrinter::new()
                .timestamp_to_rfc9110_string(&ts)
                .ok()
        })
        .unwrap_or_default()
}

/// The string the HMAC covers: `licenseSpring` then one `\n<name>: <value>` line per signed header.
pub fn signing_string(names: &[&str], headers: &HeaderMap) -> Result<String, LsError> {
    let mut text = String::from("licenseSpring");
    for name in names {
        let value = headers
            .get(*name)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| LsError::bad("missing_headers", format!("signed header {name} is missing")))?;
        text.push('\n');
        text.push_str(name);
        text.push_str(": ");
        text.push_str(value);
    }
    Ok(text)
}

/// base64(HMAC-SHA256(shared_key, message)).
pub fn hmac_b64(shared_key: &str, message: &str) -> String {
    licensd_crypto::b64(&licensd_crypto::hmac_sha256(shared_key.as_bytes(), message.as_bytes()))
}

/// Authenticates a License API request. The order follows the seed's codes: missing headers,
/// malformed header, HMAC required, unknown key, signature, skew, revoked, IP allow-list.
pub async fn authenticate(state: &AppState, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<Caller, LsError> {
    authenticate_reading(state, headers, peer, None)
        .await
        .map(|(caller, _)| caller)
}

/// `authenticate`, also reading the product with code `product_code` when one is given: an
/// HMAC-signed request reads it with the credential (`find_credential_and_product`, one round
/// trip on PostgreSQL) and returns it as `Some(found)`, and so does a bearer request (with the
/// token's credential). The product is only returned, never judged: the caller
/// refuses an unknown product after authentication, as before, so each refusal keeps its order.
pub async fn authenticate_reading(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    product_code: Option<&str>,
) -> Result<(Caller, Option<Option<Product>>), LsError> {
    let (Some(authorization), Some(date)) = (headers.get("authorization"), headers.get("date")) else {
        return Err(LsError::bad(
            "missing_headers",
            "the Date and Authorization headers are required",
        ));
    };
    let authorization = authorization.to_str().map_err(|_| {
        LsError::bad(
            "authorization_invalid_headers",
            "Authorization header is not valid text",
        )
    })?;
    if let Some(token) = authorization
        .trim_start()
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        .and_then(|_| authorization.trim_start().get(7..))
    {
        let (credential, product) = super::oauth::verify_bearer_reading(state, token, product_code).await?;
        check_date(state, date)?;
        return Ok((admit(state, credential, peer, true)?, product));
    }
    let params = parse_authorization(authorization)?;
    let Some(api_key) = params.api_key.filter(|key| !key.is_empty()) else {
        return Err(LsError::bad(
            "authorization_missing_params",
            "Authorization header lacks apiKey",
        ));
    };
    if params
        .algorithm
        .as_deref()
        .is_some_and(|algorithm| !algorithm.eq_ignore_ascii_case("hmac-sha256"))
    {
        return Err(LsError::bad("hmac_required", "algorithm must be hmac-sha256"));
    }
    let Some(signature) = params.signature.filter(|signature| !signature.is_empty()) else {
        return Err(LsError::bad(
            "hmac_required",
            "Authorization header carries no HMAC signature",
        ));
    };
    let (Some(_), Some(signed_headers)) = (params.algorithm, params.headers) else {
        return Err(LsError::bad(
            "authorization_missing_params",
            "Authorization header lacks algorithm or headers",
        ));
    };
    let names: Vec<String> = signed_headers.split_whitespace().map(str::to_ascii_lowercase).collect();
    if !names.iter().any(|name| name == "date") {
        return Err(LsError::bad(
            "authorization_invalid_headers",
            "the signed headers must include date",
        ));
    }
    let date = date
        .to_str()
        .ok()
        .and_then(parse_http_date)
        .ok_or_else(|| LsError::bad("authorization_invalid_headers", "Date is not an RFC 7231 date"))?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let message = signing_string(&names, headers)?;
    let (found, product) = credential_and_product(state, &api_key, product_code).await?;
    let Some((credential, shared_key)) = found else {
        return Err(LsError::bad("invalid_api_key", "unknown API key"));
    };
    let expected = hmac_b64(&shared_key, &message);
    if !licensd_crypto::constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return Err(LsError::unauthorized(
            "signature_mismatch",
            "the Authorization signature does not match",
        ));
    }
    check_skew(state, date)?;
    Ok((admit(state, credential, peer, false)?, product))
}

/// The LicenseSpring credential with public id `key_id` (API key or OAuth client id) and, when
/// `product_code` is given, the product with that code as `Some(found)`, read together
/// (`find_credential_and_product`, one round trip on PostgreSQL). Neither is judged here: callers
/// refuse in their own order (credential first, an unknown product after authentication).
pub(super) async fn credential_and_product(
    state: &AppState,
    key_id: &str,
    product_code: Option<&str>,
) -> Result<(Option<(Credential, String)>, Option<Option<Product>>), LsError> {
    let store = &state.store;
    match product_code {
        Some(code) => {
            let (found, product) = store
                .find_credential_and_product(Dialect::LicenseSpring, key_id, code)
                .await
                .map_err(LsError::from_store)?;
            Ok((found, Some(product)))
        }
        None => Ok((
            store
                .find_credential(Dialect::LicenseSpring, key_id)
                .await
                .map_err(LsError::from_store)?,
            None,
        )),
    }
}

/// The `Date` header of a bearer request: RFC 7231 and inside the window.
fn check_date(state: &AppState, date: &axum::http::HeaderValue) -> Result<(), LsError> {
    let date = date
        .to_str()
        .ok()
        .and_then(parse_http_date)
        .ok_or_else(|| LsError::bad("authorization_invalid_headers", "Date is not an RFC 7231 date"))?;
    check_skew(state, date)
}

fn check_skew(state: &AppState, date: Millis) -> Result<(), LsError> {
    // The seed's closed code list has no date_header_diff; authentication_failure is its catch-all.
    if (state.now() - date).abs() > MAX_SKEW {
        return Err(LsError::unauthorized(
            "authentication_failure",
            "the Date header is more than 15 minutes away from the server clock",
        ));
    }
    Ok(())
}

/// The checks every authenticated credential passes (`access::admit`): not revoked, allowed from
/// this address; then the request counts against the credential's rate-limit allowance.
fn admit(state: &AppState, credential: Credential, peer: Option<IpAddr>, via_oauth: bool) -> Result<Caller, LsError> {
    let caller = Caller {
        credential,
        via_oauth,
        peer,
    };
    caller.admit(false, None)?;
    super::wire::within_credential_allowance(state, &caller.credential.key_id)?;
    Ok(caller)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented request-signature vector (testdata/vectors/licensespring).
    #[test]
    fn documented_hmac_vector() {
        let vector: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../../testdata/vectors/licensespring/hmac_request_signature.json"
        ))
        .unwrap();
        let key = vector["shared_key"].as_str().unwrap();
        let date = vector["date_header"].as_str().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("date", date.parse().unwrap());
        let message = signing_string(&["date"], &headers).unwrap();
        assert_eq!(message, vector["signing_string"].as_str().unwrap());
        assert_eq!(
            hmac_b64(key, &message),
            vector["expected_signature_base64"].as_str().unwrap()
        );
        // One changed character of the date changes the signature.
        assert_ne!(
            hmac_b64(key, &message.replace("35 GMT", "36 GMT")),
            vector["expected_signature_base64"].as_str().unwrap()
        );
        assert_eq!(parse_http_date(date), Some(1_307_479_895_000));
        assert_eq!(http_date(1_307_479_895_000), date);
    }

    #[test]
    fn authorization_keys_are_case_insensitive_and_spaces_tolerated() {
        let python =
            parse_authorization(r#"algorithm="hmac-sha256",headers="date",signature="c2ln",apiKey="k1""#).unwrap();
        let node =
            parse_authorization(r#"algorithm="hmac-sha256", headers="date", signature="c2ln", apikey="k1""#).unwrap();
        assert_eq!(python, node);
        assert_eq!(python.api_key.as_deref(), Some("k1"));
        assert_eq!(
            parse_authorization("garbage").unwrap_err().code,
            "authorization_invalid_headers"
        );
    }
}
