//! Offline activation and deactivation: the request files the SDKs write
//! (`base64({"request": {…}, "signature": "<HMAC>"})`, schema version 2) and the activation
//! response the SDKs load as a `.lic` file (base64 of the JSON this endpoint returns).
//!
//! A request file authenticates itself: the outer `signature` is HMAC-SHA256 with the shared key
//! of the `api_key` inside the request, over the raw bytes of the `request` value exactly as the
//! client serialised it (Python and Node serialise differently, so it is never re-serialised here).
//! It may be base64 or hex. The inner `date` is not held to the 15-minute window: request files
//! may be days old. Files made with OAuth client credentials name `client_id` and are keyed with
//! the client secret (the same credential's key id and secret); the Python SDK keys OAuth
//! deactivation files with the client id itself, which is accepted for deactivation only.

use super::auth::refused;
use super::bundles::{bundle_license_ids, in_bundle_order, require_bundle};
use super::handlers::{Identity, Peer, device_info, identify, license_response_object};
use super::wire::{LsError, Params, plain, signed, v1_signature};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use licensd_domain::access::AccessRequest;
use licensd_domain::*;
use licensd_store::{Activation, LicenseRef, StoreError};
use serde_json::{Map, Value, json};
use std::net::IpAddr;

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
    /// The address that uploaded the file.
    peer: Option<IpAddr>,
}

/// A request file decoded, before its credential is looked up: the inner request, its signature
/// and the exact bytes of the `request` member the signature covers.
pub(crate) struct DecodedRequestFile<'a> {
    pub request: Params,
    pub signature: String,
    pub raw: &'a [u8],
}

/// Decodes an uploaded request file (base64 of `{"request": {...}, "signature": "..."}`) and
/// checks it is a `kind` request. Pure: no store access (the fuzz target `ls_request_file` runs it).
pub(crate) fn decode_request_file<'a>(decoded: &'a [u8], kind: &str) -> Result<DecodedRequestFile<'a>, LsError> {
    let outer: Value = serde_json::from_slice(decoded).map_err(|_| malformed("the request file is not JSON"))?;
    let (Some(request), Some(signature), Some(raw)) = (
        outer.get("request").filter(|value| value.is_object()),
        outer.get("signature").and_then(Value::as_str),
        top_level_member(decoded, "request"),
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
    Ok(DecodedRequestFile {
        request,
        signature: signature.to_string(),
        raw,
    })
}

/// The base64 text of a request file, whitespace removed, decoded.
pub(crate) fn request_file_bytes(body: &[u8]) -> Result<Vec<u8>, LsError> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("the request file is not text"))?;
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if text.is_empty() {
        return Err(LsError::bad("missing_content", "the offline request is empty"));
    }
    licensd_crypto::b64_decode(&text).map_err(|_| malformed("the request file is not base64"))
}

async fn read_request_file(
    state: &AppState,
    body: &[u8],
    kind: &str,
    peer: Option<IpAddr>,
) -> Result<RequestFile, LsError> {
    let decoded = request_file_bytes(body)?;
    let DecodedRequestFile {
        request,
        signature,
        raw,
    } = decode_request_file(&decoded, kind)?;
    let signature = signature.as_str();
    // API-key files name `api_key` (HMAC keyed with the shared key); OAuth files name `client_id`
    // (keyed with the client secret). Both are the same licensd credential (key id + secret).
    let (key_id, oauth) = match (request.opt_str("api_key")?, request.opt_str("client_id")?) {
        (Some(key), _) => (key, false),
        (None, Some(client_id)) => (client_id, true),
        (None, None) => return Err(malformed("the request names no api_key or client_id")),
    };
    let (credential, shared_key) = state
        .store
        .find_credential(Dialect::LicenseSpring, &key_id)
        .await
        .map_err(LsError::from_store)?
        .ok_or_else(|| LsError::bad("invalid_api_key", "unknown API key"))?;
    let verifies = |hmac_key: &[u8]| {
        let mac = licensd_crypto::hmac_sha256(hmac_key, raw);
        licensd_crypto::constant_time_eq(licensd_crypto::b64(&mac).as_bytes(), signature.as_bytes())
            || licensd_crypto::constant_time_eq(
                licensd_crypto::hex(&mac).as_bytes(),
                signature.to_ascii_lowercase().as_bytes(),
            )
    };
    // The Python SDK (4.0.0) keys an OAuth *deactivation* file's HMAC with the client id instead
    // of the secret; accepted for deactivation only, which can release but never take a seat.
    let matches = verifies(shared_key.as_bytes()) || (oauth && kind == "deactivation" && verifies(key_id.as_bytes()));
    if !matches {
        return Err(LsError::unauthorized(
            "offline_signature_mismatch",
            "the offline request's signature does not verify",
        ));
    }
    // Every offline request file writes (activation or deactivation): `access::admit` as a write
    // from the address that uploads it.
    let access = AccessRequest {
        peer,
        write: true,
        product: None,
    };
    credential.admit(&access).map_err(|refusal| refused(refusal, false))?;
    Ok(RequestFile {
        request,
        credential,
        shared_key,
        peer,
    })
}

/// The request file of an upload: the raw body (`text/plain`, what the SDKs send), or the `file`
/// part of a `multipart/form-data` body (the documented form upload).
pub(crate) fn uploaded_file<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<&'a [u8], LsError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let (kind, params) = content_type.split_once(';').unwrap_or((content_type, ""));
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return Ok(body);
    }
    let boundary = params
        .split(';')
        .filter_map(|param| param.trim().split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|boundary| !boundary.is_empty())
        .ok_or_else(|| malformed("the multipart body names no boundary"))?;
    multipart_part(body, boundary, "file")
        .ok_or_else(|| LsError::bad("missing_content", "the multipart body has no file part"))
}

/// The content of the form part named `name` (RFC 7578): parts are separated by
/// `--boundary`, and each part's headers end at the first blank line.
fn multipart_part<'a>(body: &'a [u8], boundary: &str, name: &str) -> Option<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut parts = Vec::new();
    let mut at = find(body, delimiter, 0)?;
    loop {
        let start = at + delimiter.len();
        if body[start..].starts_with(b"--") {
            break;
        }
        let next = find(body, delimiter, start)?;
        parts.push(&body[start..next]);
        at = next;
    }
    let wanted = [format!("name=\"{name}\""), format!("name={name}")];
    parts.into_iter().find_map(|part| {
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let split = find(part, b"\r\n\r\n", 0)?;
        let head = String::from_utf8_lossy(&part[..split]).to_ascii_lowercase();
        let named = head.lines().any(|line| {
            line.starts_with("content-disposition:")
                && line
                    .split(';')
                    .any(|param| wanted.iter().any(|want| param.trim() == want.as_str()))
        });
        let content = &part[split + 4..];
        named.then(|| content.strip_suffix(b"\r\n").unwrap_or(content))
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|at| at + from)
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
    let access = AccessRequest {
        peer: file.peer,
        write: true,
        product: Some(product.id),
    };
    file.credential
        .admit(&access)
        .map_err(|refusal| refused(refusal, false))?;
    Ok(product)
}

fn file_event(file: &RequestFile, peer: &Peer, action: &str) -> EventDraft {
    EventDraft::new(format!("licensespring:{}", file.credential.key_id), action, "license")
        .from_ip(peer.0.map(|ip| ip.to_string()))
}

/// The uploaded request file of `kind` (`activation` or `deactivation`), verified and admitted,
/// and the product it names: how every offline endpoint starts.
async fn uploaded_request(
    state: &AppState,
    peer: &Peer,
    headers: &HeaderMap,
    body: &[u8],
    kind: &str,
) -> Result<(RequestFile, Product), LsError> {
    let body = uploaded_file(headers, body)?;
    let file = read_request_file(state, body, kind, peer.0).await?;
    let product = file_product(state, &file).await?;
    Ok((file, product))
}

pub async fn activate_offline(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, LsError> {
    let (file, product) = uploaded_request(&state, &peer, &headers, &body, "activation").await?;
    let request = &file.request;
    let hardware_id = request.req_str("hardware_id")?;
    let identity = identify(&state, &product, request, true).await?;
    refuse_floating(&identity.license)?;
    let activation = state
        .store
        .activate(
            LicenseRef::Id(identity.license.id),
            device_info(request, &hardware_id)?,
            identity.user.as_ref().map(|user| user.id),
            file_event(&file, &peer, "license.activated_offline"),
            state.now(),
        )
        .await
        .map_err(LsError::from_store)?;
    let identity = Identity {
        license: activation.license.clone(),
        user: identity.user,
        bundle_key: identity.bundle_key,
    };
    let object = offline_object(&state, &file, &identity, &activation, &hardware_id).await?;
    Ok(signed(&Value::Object(object)))
}

fn refuse_floating(license: &License) -> Result<(), LsError> {
    if license.terms.floating.is_some() {
        return Err(LsError::bad(
            "offline_floating_cloud_not_supported",
            "floating cloud licenses cannot be activated offline",
        ));
    }
    Ok(())
}

/// The offline activation answer for one license: the license object plus `request`,
/// `request_id`, `date`, `offline_signature`, `license_signature` (v1 over the key or e-mail the
/// file names) and `license_signature_v2`.
async fn offline_object(
    state: &AppState,
    file: &RequestFile,
    identity: &Identity,
    activation: &Activation,
    hardware_id: &str,
) -> Result<Map<String, Value>, LsError> {
    let request = &file.request;
    let mut object = license_response_object(
        state,
        &activation.product,
        identity,
        Some(&activation.device),
        hardware_id,
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
    let unsigned = super::js_json::to_vec(&Value::Object(object.clone()));
    let v2 = state.keys.rsa().sign(&unsigned).map_err(|_| LsError::internal())?;
    let validity = super::render::validity_period(&identity.license);
    object.insert(
        "license_signature".into(),
        json!(v1_signature(state, hardware_id, &id, validity.as_deref())?),
    );
    object.insert("license_signature_v2".into(), json!(licensd_crypto::b64(&v2)));
    Ok(object)
}

/// `POST /activate_bundle_offline`: the same request file as `activate_offline`, naming the
/// bundle product. Every license of the bundle is activated in one transaction; the answer is
/// `{"licenses": [offline answers…], "bundle_signature_v2": …}`, the signature being RSA over the
/// compact JSON of `{"licenses": […]}`.
pub async fn activate_bundle_offline(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, LsError> {
    let (file, product) = uploaded_request(&state, &peer, &headers, &body, "activation").await?;
    require_bundle(&state, &product).await?;
    let request = &file.request;
    let hardware_id = request.req_str("hardware_id")?;
    let identity = identify(&state, &product, request, true).await?;
    let ids = bundle_license_ids(&state, &identity.license).await?;
    for id in &ids {
        refuse_floating(&state.store.get_license(*id).await.map_err(LsError::from_store)?)?;
    }
    let activations = state
        .store
        .activate_many(
            &ids,
            device_info(request, &hardware_id)?,
            identity.user.as_ref().map(|user| user.id),
            file_event(&file, &peer, "license.bundle_activated_offline"),
            state.now(),
        )
        .await
        .map_err(LsError::from_store)?;
    let signed_id = identity.signed_id();
    let mut licenses = Vec::with_capacity(activations.len());
    for activation in in_bundle_order(&ids, activations) {
        let member = Identity {
            license: activation.license.clone(),
            user: identity.user.clone(),
            bundle_key: identity.user.is_none().then(|| signed_id.clone()),
        };
        licenses.push(Value::Object(
            offline_object(&state, &file, &member, &activation, &hardware_id).await?,
        ));
    }
    let mut answer = Map::new();
    answer.insert("licenses".into(), Value::Array(licenses));
    let unsigned = super::js_json::to_vec(&Value::Object(answer.clone()));
    let signature = state.keys.rsa().sign(&unsigned).map_err(|_| LsError::internal())?;
    answer.insert("bundle_signature_v2".into(), json!(licensd_crypto::b64(&signature)));
    Ok(signed(&Value::Object(answer)))
}

/// `POST /deactivate_offline`. The usage recorded offline travels in the file: `consumptions`
/// (license consumptions) and `product_features` (`[{"code", "consumptions" | "local_consumptions"}]`,
/// the feature objects with their pending local consumptions [inferred: the docs name the key, not
/// its shape]). They are added through the domain's consumption rules in the same transaction as
/// the deactivation, so an over-limit sync refuses the whole file and changes nothing. A file naming
/// a bundle product releases the device on every license of the bundle.
pub async fn deactivate_offline(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, LsError> {
    let (file, product) = uploaded_request(&state, &peer, &headers, &body, "deactivation").await?;
    let request = &file.request;
    let hardware_id = request.req_str("hardware_id")?;
    let identity = identify(&state, &product, request, false).await?;
    let consumptions = request.opt_i64("consumptions")?.unwrap_or(0);
    let features = feature_consumptions(request)?;
    let bundle = !state
        .store
        .bundle_products(product.id)
        .await
        .map_err(LsError::from_store)?
        .is_empty();
    if bundle {
        let ids = bundle_license_ids(&state, &identity.license).await?;
        state
            .store
            .deactivate_many(
                &ids,
                &hardware_id,
                file_event(&file, &peer, "license.bundle_deactivated_offline"),
                state.now(),
            )
            .await
            .map_err(LsError::from_store)?;
        return Ok(plain("license_deactivated"));
    }
    let idempotency_key = request
        .opt_str("request_id")?
        .map(|id| format!("licensespring-offline:{id}"));
    state
        .store
        .deactivate_with_consumptions(
            identity.license.id,
            &hardware_id,
            consumptions,
            features,
            idempotency_key,
            file_event(&file, &peer, "license.deactivated_offline"),
            state.now(),
        )
        .await
        .map_err(LsError::from_store)?;
    Ok(plain("license_deactivated"))
}

/// `product_features` of a deactivation file as (feature code, pending consumptions).
fn feature_consumptions(request: &Params) -> Result<Vec<(String, i64)>, LsError> {
    let list = match request.0.get("product_features") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(LsError::invalid("product_features", "a list of features")),
    };
    let mut features = Vec::with_capacity(list.len());
    for item in list {
        let code = item.get("code").and_then(Value::as_str);
        let amount = match (item.get("consumptions"), item.get("local_consumptions")) {
            (Some(value), _) | (None, Some(value)) => value.as_i64(),
            (None, None) => Some(0),
        };
        match (code, amount) {
            (Some(code), Some(amount)) => features.push((code.to_string(), amount)),
            _ => {
                return Err(LsError::invalid(
                    "product_features",
                    "a list of {\"code\", \"consumptions\"} objects with integer consumptions",
                ));
            }
        }
    }
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_file_part_of_a_form_upload() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"activate_offline.req\"\r\n\
Content-Type: application/octet-stream\r\n\r\nZXlKcg==\r\n--XyZ--\r\n";
        assert_eq!(multipart_part(body, "XyZ", "file"), Some(&b"ZXlKcg=="[..]));
        assert_eq!(multipart_part(body, "XyZ", "note"), Some(&b"hello"[..]));
        assert_eq!(multipart_part(body, "XyZ", "other"), None);
        assert_eq!(multipart_part(body, "nope", "file"), None);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=\"XyZ\"".parse().unwrap(),
        );
        assert_eq!(uploaded_file(&headers, body), Ok(&b"ZXlKcg=="[..]));
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(uploaded_file(&headers, b"raw"), Ok(&b"raw"[..]));
        headers.insert(header::CONTENT_TYPE, "multipart/form-data".parse().unwrap());
        assert_eq!(
            uploaded_file(&headers, body).map_err(|e| e.code),
            Err("authorization_missing_params")
        );
    }

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
