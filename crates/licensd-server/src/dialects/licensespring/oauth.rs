//! OAuth client credentials, as the SDKs use them: `GET /api/v4/oauth_url` (unauthenticated) names
//! the token endpoint, `POST /api/v4/oauth/token` (form `grant_type=client_credentials`,
//! `client_id`, `client_secret`) issues a bearer token, and License API calls then send
//! `Authorization: Bearer <token>` with a `Date` header.
//!
//! An OAuth client is a LicenseSpring credential: `client_id` is its API key and `client_secret`
//! its shared key, so revocation, read-only, product scope and IP allow-lists apply unchanged.
//! Tokens are stateless: `lsat.<client_id>.<expires_at_ms>.<mac>` with mac =
//! base64url(HMAC-SHA256(client_secret, "licensd-oauth\n<client_id>\n<expires_at_ms>")), so a token
//! dies with its credential and no token table is needed.

use super::wire::LsError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use licensd_domain::clock::SECOND;
use licensd_domain::{Credential, Dialect, Millis, Product};
use serde_json::json;

/// How long an issued token lives.
pub const TOKEN_SECONDS: i64 = 3600;
const PREFIX: &str = "lsat";

fn mac(client_secret: &str, client_id: &str, expires_at: Millis) -> String {
    let message = format!("licensd-oauth\n{client_id}\n{expires_at}");
    licensd_crypto::b64url(&licensd_crypto::hmac_sha256(
        client_secret.as_bytes(),
        message.as_bytes(),
    ))
}

pub fn issue(client_id: &str, client_secret: &str, expires_at: Millis) -> String {
    format!(
        "{PREFIX}.{}.{expires_at}.{}",
        licensd_crypto::b64url(client_id.as_bytes()),
        mac(client_secret, client_id, expires_at)
    )
}

fn malformed() -> LsError {
    LsError::bad("oauth_token_malformed", "the bearer token is malformed or not ours")
}

/// The credential a bearer token was issued to. A token that does not parse or verify is
/// `oauth_token_malformed`; a verified but expired one `oauth_token_expired` (both make the Python
/// SDK fetch a new token and retry, which succeeds for a live credential). With `product_code`
/// it also reads that product with the credential (`find_credential_and_product`, one round trip
/// on PostgreSQL) and returns it as `Some(found)`; it only returns it, and the caller refuses an
/// unknown product after authentication.
pub async fn verify_bearer_reading(
    state: &AppState,
    token: &str,
    product_code: Option<&str>,
) -> Result<(Credential, Option<Option<Product>>), LsError> {
    let mut parts = token.trim().split('.');
    let (Some(PREFIX), Some(id), Some(expires), Some(given), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let client_id = base64_url_nopad(id)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(malformed)?;
    let expires_at: Millis = expires.parse().map_err(|_| malformed())?;
    let (found, product) = super::auth::credential_and_product(state, &client_id, product_code).await?;
    let (credential, secret) = found.ok_or_else(malformed)?;
    let expected = mac(&secret, &client_id, expires_at);
    if !licensd_crypto::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(malformed());
    }
    if state.now() >= expires_at {
        return Err(LsError::bad("oauth_token_expired", "the bearer token has expired"));
    }
    Ok((credential, product))
}

/// Decodes unpadded base64url.
fn base64_url_nopad(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}

/// `GET /api/v4/oauth_url`: the token endpoint on this server, as the client reached it.
pub async fn oauth_url(headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .filter(|proto| *proto == "https")
        .unwrap_or("http");
    json_response(
        StatusCode::OK,
        &json!({"url": format!("{scheme}://{host}/api/v4/oauth/token"), "login_type": "client_credentials"}),
    )
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, serde_json::to_vec(body).unwrap_or_default()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A token-endpoint error in the Keycloak shape the Python SDK reads (`error`), with the License
/// API fields (`status`, `code`, `message`) too.
fn token_error(status: StatusCode, error: &str, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": message, "status": status.as_u16(), "code": code, "message": message}),
    )
}

/// Decodes an `application/x-www-form-urlencoded` body.
fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// `POST /api/v4/oauth/token`: the client-credentials grant. A client whose credential
/// `access::admit` refuses (revoked, or outside its IP allow-list) gets no token: 401
/// `invalid_client`, as for a wrong secret.
pub async fn token(State(state): State<AppState>, peer: super::handlers::Peer, body: Bytes) -> Response {
    let fields = form(&body);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "validation_error",
            "only grant_type=client_credentials is supported",
        );
    }
    let (Some(client_id), Some(client_secret)) = (field("client_id"), field("client_secret")) else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing_parameters",
            "client_id and client_secret are required",
        );
    };
    let found = match state.store.find_credential(Dialect::LicenseSpring, client_id).await {
        Ok(found) => found,
        Err(error) => return LsError::from_store(error).into_response(),
    };
    let valid = found.as_ref().is_some_and(|(credential, secret)| {
        let access = licensd_domain::access::AccessRequest {
            peer: peer.0,
            ..Default::default()
        };
        credential.admit(&access).is_ok()
            && licensd_crypto::constant_time_eq(secret.as_bytes(), client_secret.as_bytes())
    });
    let Some((_, secret)) = found.filter(|_| valid) else {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "invalid_client_credentials",
            "invalid client credentials",
        );
    };
    let expires_at = state.now().saturating_add(TOKEN_SECONDS * SECOND);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": issue(client_id, &secret, expires_at),
            "expires_in": TOKEN_SECONDS,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "scope": "",
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode() {
        assert_eq!(
            form(b"grant_type=client_credentials&client_id=a%2Bb&client_secret=x+y%3D"),
            vec![
                ("grant_type".to_string(), "client_credentials".to_string()),
                ("client_id".to_string(), "a+b".to_string()),
                ("client_secret".to_string(), "x y=".to_string()),
            ]
        );
        assert_eq!(
            form(b"a=%zz&b=%4"),
            vec![("a".into(), "%zz".into()), ("b".into(), "%4".into())]
        );
    }

    #[test]
    fn tokens_carry_client_and_expiry() {
        let token = issue("client-1", "secret", 1_000);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts[0], "lsat");
        assert_eq!(base64_url_nopad(parts[1]), Some(b"client-1".to_vec()));
        assert_eq!(parts[2], "1000");
        assert_eq!(parts[3], mac("secret", "client-1", 1_000));
        assert_ne!(issue("client-1", "other", 1_000), token);
    }
}
