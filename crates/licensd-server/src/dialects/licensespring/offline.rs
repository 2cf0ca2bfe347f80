//! Offline activation and deactivation: the request files the SDKs write
//! (`base64({"request": {…}, "signature": "<HMAC>"})`, schema version 2) and the activation
//! response the SDKs load as a `.lic` file (base64 of the JSON this endpoint returns).
//!
//! A request file authenticates itself: the outer `signature` is HMAC-SHA256 with the shared key
//! of the `api_key` inside the request, over the raw bytes of the `request` value exactly as the
//! client serialised it (Python and Node serialise differently, so it is never re-serialised here).
//! It may be base64 or hex. The inner `date` is not held to the 15-minute window: request files
//! may be days old. Files made with OAuth client credentials (`client_id`) are refused with a
//! clear `validation_error`: verifying their signature is not implemented (online OAuth is).

use super::handlers::{Identity, Peer, identify, license_response_object};
use super::wire::{LsError, Params, plain, signed, v1_signature};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use licensd_domain::*;
use licensd_store::{LicenseRef, StoreError};
use serde_json::{Value, json};

/// The byte range of a top-level member's value in a JSON object, without re-serialising it.
pub fn top_level_member<'a>(json: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut at = skip_ws(json, 0);
    if json.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    loop {
        at = skip_ws(json, at);
        match json.get(at)? {
            b'}' => return None,
            b',' => {
                at += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_string(json, at)?;
        let key: String = serde_json::from_slice(&json[at..key_end]).ok()?;
        at = skip_ws(json, key_end);
        if json.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_ws(json, at + 1);
        let end = skip_value(json, start)?;
        if key == name {
            return Some(&json[start..end]);
        }
        at = end;
    }
}

fn skip_ws(json: &[u8], mut at: usize) -> usize {
    while json.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// `at` is on the opening quote; returns the index after the closing quote.
fn skip_string(json: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match json.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

fn skip_value(json: &[u8], at: usize) -> Option<usize> {
    match json.get(at)? {
        b'"' => skip_string(json, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match json.get(i)? {
                    b'"' => {
                        i = skip_string(json, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while json
                .get(i)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace())
            {
                i += 1;
            }
            (i > at).then_some(i)
        }
    }
}

/// A verified request file: its inner request and the credential that signed it.
struct RequestFile {
    request: Params,
    credential: Credential,
    shared_key: String,
}

async fn read_request_file(state: &AppState, body: &[u8], kind: &str) -> Result<RequestFile, LsError> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("the request file is not text"))?;
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if text.is_empty() {
        return Err(LsError::bad("missing_content", "the offline request is empty"));
    }
    let decoded = licensd_crypto::b64_decode(&text).map_err(|_| malformed("the request file is not base64"))?;
    let outer: Value = serde_json::from_slice(&decoded).map_err(|_| malformed("the request file is not JSON"))?;
    let (Some(request), Some(signature), Some(raw)) = (
        outer.get("request").filter(|value| value.is_object()),
        outer.get("signature").and_then(Value::as_str),
        top_level_member(&decoded, "request"),
    ) else {
        return Err(malformed(
            "the request file lacks request or signature (schema version 2)",
        ));
    };
    let Value::Object(map) = request.clone() else {
        return Err(malformed("request is not an object"));
    };
    let request = Params(map);
    if request.opt_str("request")?.as_deref() != Some(kind) {
        return Err(LsError::invalid("request", &format!("\"{kind}\"")));
    }
    let api_key = match request.opt_str("api_key")? {
        Some(key) => key,
        None if request.opt_str("client_id")?.is_some() => {
            return Err(LsError::bad(
                "validation_error",
                "request files made with OAuth credentials are not supported by this server",
            ));
        }
        None => return Err(malformed("the request names no api_key")),
    };
    let (credential, shared_key) = state
        .store
        .find_credential(Dialect::LicenseSpring, &api_key)
        .await
        .map_err(LsError::from_store)?
        .ok_or_else(|| LsError::bad("invalid_api_key", "unknown API key"))?;
    let mac = licensd_crypto::hmac_sha256(shared_key.as_bytes(), raw);
    let matches = licensd_crypto::constant_time_eq(licensd_crypto::b64(&mac).as_bytes(), signature.as_bytes())
        || licensd_crypto::constant_time_eq(
            licensd_crypto::hex(&mac).as_bytes(),
            signature.to_ascii_lowercase().as_bytes(),
        );
    if !matches {
        return Err(LsError::unauthorized(
            "offline_signature_mismatch",
            "the offline request's signature does not verify",
        ));
    }
    if credential.revoked_at.is_some() {
        return Err(LsError::bad("revoked_api_key", "this API key has been revoked"));
    }
    if credential.read_only {
        return Err(LsError::bad(
            "read_only_api_key",
            "this API key is read-only and cannot change licenses",
        ));
    }
    Ok(RequestFile {
        request,
        credential,
        shared_key,
    })
}

fn malformed(message: &str) -> LsError {
    LsError::bad("authorization_missing_params", message)
}

async fn file_product(state: &AppState, file: &RequestFile) -> Result<Product, LsError> {
    let code = file.request.req_str("product")?;
    let product = match state.store.get_product_by_code(&code).await {
        Ok(product) => product,
        Err(StoreError::NotFound) => {
            return Err(LsError::bad(
                "unknown_product_code",
                format!("unknown product {code:?}"),
            ));
        }
        Err(other) => return Err(LsError::from_store(other)),
    };
    if file.credential.product_id.is_some_and(|allowed| allowed != product.id) {
        return Err(LsError::bad(
            "api_key_product_not_allowed",
            "this API key is not allowed to use this product",
        ));
    }
    Ok(product)
}

fn file_event(file: &RequestFile, peer: &Peer, action: &str) -> EventDraft {
    EventDraft::new(format!("licensespring:{}", file.credential.key_id), action, "license")
        .from_ip(peer.0.map(|ip| ip.to_string()))
}

pub async fn activate_offline(State(state): State<AppState>, peer: Peer, body: Bytes) -> Response {
    let result: Result<Response, LsError> = async {
        let file = read_request_file(&state, &body, "activation").await?;
        let product = file_product(&state, &file).await?;
        let request = &file.request;
        let hardware_id = request.req_str("hardware_id")?;
        let identity = identify(&state, &product, request, true).await?;
        if identity.license.terms.floating.is_some() {
            return Err(LsError::bad(
                "offline_floating_cloud_not_supported",
                "floating cloud licenses cannot be activated offline",
            ));
        }
        let device = DeviceInfo {
            fingerprint: hardware_id.clone(),
            name: request.opt_str("os_hostname")?,
            hostname: request.opt_str("hostname")?,
            os: request.opt_str("os_ver")?,
            app_version: request.opt_str("app_ver")?,
            ip: request.opt_str("ip")?,
            mac: request.opt_str("mac_address")?,
            is_vm: request.opt_bool("is_vm")?.unwrap_or(false),
            variables: request.opt_object("variables")?,
        };
        let activation = state
            .store
            .activate(
                LicenseRef::Id(identity.license.id),
                device,
                identity.user.as_ref().map(|user| user.id),
                file_event(&file, &peer, "license.activated_offline"),
                state.now(),
            )
            .await
            .map_err(LsError::from_store)?;
        let identity = Identity {
            license: activation.license,
            user: identity.user,
        };
        let mut object = license_response_object(
            &state,
            &activation.product,
            &identity,
            Some(&activation.device),
            &hardware_id,
            activation.active_devices,
        )
        .await?;
        let date = super::auth::http_date(state.now());
        let id = identity.signed_id();
        let api_key = &file.credential.key_id;
        let offline_message = format!("licenseSpring\ndate: {date}\n{id}\n{hardware_id}\n{api_key}");
        object.insert("request".into(), json!("activation"));
        object.insert("request_id".into(), json!(request.opt_str("request_id")?));
        object.insert("date".into(), json!(date));
        object.insert(
            "offline_signature".into(),
            json!(super::auth::hmac_b64(&file.shared_key, &offline_message)),
        );
        // v2 covers the object without both signature fields, in the order it is emitted.
        let unsigned = serde_json::to_vec(&Value::Object(object.clone())).map_err(|_| LsError::internal())?;
        let v2 = state.keys.rsa().sign(&unsigned).map_err(|_| LsError::internal())?;
        let validity = super::render::validity_period(&identity.license);
        object.insert(
            "license_signature".into(),
            json!(v1_signature(&state, &hardware_id, &id, validity.as_deref())?),
        );
        object.insert("license_signature_v2".into(), json!(licensd_crypto::b64(&v2)));
        Ok(signed(&state, &Value::Object(object)))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

pub async fn deactivate_offline(State(state): State<AppState>, peer: Peer, body: Bytes) -> Response {
    let result: Result<Response, LsError> = async {
        let file = read_request_file(&state, &body, "deactivation").await?;
        let product = file_product(&state, &file).await?;
        let hardware_id = file.request.req_str("hardware_id")?;
        let identity = identify(&state, &product, &file.request, false).await?;
        state
            .store
            .deactivate(
                LicenseRef::Id(identity.license.id),
                &hardware_id,
                file_event(&file, &peer, "license.deactivated_offline"),
                state.now(),
            )
            .await
            .map_err(LsError::from_store)?;
        Ok(plain("license_deactivated"))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_raw_request_member() {
        let text = br#"{"request": {"a": "x,}\"y", "b": [1, {"c": 2}]}, "signature": "s"}"#;
        assert_eq!(
            top_level_member(text, "request"),
            Some(&br#"{"a": "x,}\"y", "b": [1, {"c": 2}]}"#[..])
        );
        assert_eq!(top_level_member(text, "signature"), Some(&br#""s""#[..]));
        assert_eq!(top_level_member(text, "missing"), None);
        assert_eq!(top_level_member(b"[1]", "request"), None);
        assert_eq!(top_level_member(br#"{"request": "#, "request"), None);
    }
}
