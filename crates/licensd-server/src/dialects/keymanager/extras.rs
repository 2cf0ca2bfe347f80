//! access-downloadables and download, send-telemetry-data and get-telemetry-data.
use licensd_domain::ProductId;

use super::auth::{Caller, authorize};
use super::client::start;
use super::codes::{Command, denial_code};
use super::envelope::Reply;
use super::request::KmRequest;
use super::views::{km_date, km_timestamp};
use super::{Internal, respond};
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use licensd_domain::downloadable::Downloadable;
use licensd_domain::telemetry::{Reference, TelemetryInput, check_telemetry, red_flags};
use licensd_store::{LicenseRef, NewTelemetry, StoreError, TelemetryFilter};
use serde_json::{Map, Value, json};

/// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
fn encode_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn downloadable_json(d: &Downloadable, url: String) -> Value {
    json!({
        "id": d.id,
        "product_id": d.product_id,
        "numeric_version": d.numeric_version,
        "version": d.version,
        "update_summary": d.update_summary,
        "changelog": d.changelog,
        "published": u8::from(d.published),
        "release_date": d.release_date.map(km_date),
        "download_counter": d.download_counter,
        "url": url,
    })
}

pub async fn access_downloadables(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let (_, identifier, license) = match start(state, req, "access-downloadables").await? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    let report = match state
        .validate(LicenseRef::Id(license.id), Some(&identifier), state.now())
        .await
    {
        Ok(report) => report,
        Err(StoreError::NotFound) => return Ok(Reply::new(210)),
        Err(StoreError::Denied(denial)) => return Ok(Reply::new(denial_code(denial, Command::Verify))),
        Err(other) => return Err(other.into()),
    };
    if let Err(denial) = report.outcome {
        return Ok(Reply::new(denial_code(denial, Command::Verify)).product(license.product_id));
    }
    let api_key = req.api_key.clone().unwrap_or_default();
    let key = license.key.clone().unwrap_or_default();
    let id64 = licensd_crypto::b64(identifier.as_bytes());
    let downloadables: Vec<Value> = state
        .store
        .list_downloadables(Some(license.product_id))
        .await?
        .iter()
        .filter(|d| d.published)
        .map(|d| {
            let url = format!(
                "{}/api/v1/download/{}/{}/{}/{}",
                req.origin,
                encode_segment(&api_key),
                encode_segment(&key),
                encode_segment(&id64),
                d.numeric_version
            );
            downloadable_json(d, url)
        })
        .collect();
    Ok(Reply::new(600)
        .field("downloadables", Value::Array(downloadables))
        .product(license.product_id))
}

/// A download call, checked before the handler runs: the path, the per-IP allowance (signed 429),
/// then the URL's API key for `download`, with the URL's base64 `identifier` against the block
/// list. A refusal is its signed envelope.
pub struct DownloadCall {
    caller: Caller,
    /// The decoded identifier; `None` when it is not base64 of non-blank UTF-8 (701).
    identifier: Option<String>,
    license_key: String,
    version: String,
}

impl FromRequestParts<AppState> for DownloadCall {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Path((api_key, license_key, identifier, version)) =
            Path::<(String, String, String, String)>::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        let ip = crate::http::source_ip(parts, &state.settings.trusted_proxies);
        if let Some(refusal) = super::request::ip_gate(state, ip.as_deref()).await {
            return Err(refusal);
        }
        let identifier = licensd_crypto::b64_decode(identifier.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|id| !id.trim().is_empty());
        match authorize(state, Some(&api_key), ip.as_deref(), identifier.as_deref(), "download").await {
            Ok(caller) => Ok(DownloadCall {
                caller,
                identifier,
                license_key,
                version,
            }),
            Err(refusal) => Err(respond(state, refusal).await),
        }
    }
}

/// A download's refusal: its envelope, signed by the dialect's layer.
fn refused(reply: Reply) -> Result<Response, Internal> {
    Ok(reply.into_response())
}

/// `GET /api/v1/download/{api_key}/{license_key}/{base64 identifier}/{numeric_version}`: the file
/// itself, or an envelope with 700 (no such file) or 701 (not entitled).
pub async fn download(State(state): State<AppState>, call: DownloadCall) -> Result<Response, Internal> {
    let Some(identifier) = call.identifier else {
        return refused(Reply::new(701));
    };
    let license = state
        .store
        .find_license_by_key(&call.license_key)
        .await?
        .filter(|l| call.caller.in_scope(l.product_id));
    let Some(license) = license else {
        return refused(Reply::new(701));
    };
    let entitled = match state
        .validate(LicenseRef::Id(license.id), Some(&identifier), state.now())
        .await
    {
        Ok(report) => report
            .outcome
            .inspect_err(|denial| crate::metrics::note_denial(*denial))
            .is_ok(),
        Err(StoreError::Denied(denial)) => {
            crate::metrics::note_denial(denial);
            false
        }
        Err(StoreError::NotFound) => false,
        Err(other) => return Err(other.into()),
    };
    if !entitled {
        return refused(Reply::new(701).product(license.product_id));
    }
    let Some(numeric) = call.version.parse::<i64>().ok() else {
        return refused(Reply::new(700).product(license.product_id));
    };
    let downloadable = state
        .store
        .downloadable_by_version(license.product_id, numeric)
        .await?
        .filter(|d| d.published);
    let Some(downloadable) = downloadable else {
        return refused(Reply::new(700).product(license.product_id));
    };
    let Some((name, content)) = state.store.take_download(downloadable.id).await? else {
        return refused(Reply::new(700).product(license.product_id));
    };
    let mut response = (StatusCode::OK, content).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn bounded(req: &KmRequest, name: &str, max: usize) -> Option<String> {
    req.present(name).map(|t| t.chars().take(max).collect())
}

pub async fn send_telemetry(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let activation_identifier = bounded(req, "activation_identifier", 255);
    let caller = match authorize(
        state,
        req.api_key.as_deref(),
        req.ip.as_deref(),
        activation_identifier.as_deref(),
        "send-telemetry-data",
    )
    .await
    {
        Ok(caller) => caller,
        Err(refusal) => return refusal,
    };
    let input = TelemetryInput {
        data_type: bounded(req, "data_type", 64),
        data_group: bounded(req, "data_group", 255),
        single_value: bounded(req, "numeric_data_single_value", 64),
        x: bounded(req, "numeric_data_x", 64),
        y: bounded(req, "numeric_data_y", 64),
        text: req.text("text_data").map(|t| t.chars().take(65_535).collect()),
    };
    let checked = check_telemetry(&input);
    let license_key = bounded(req, "license_key", 255);
    let license = match &license_key {
        Some(key) => state
            .store
            .find_license_by_key(key)
            .await?
            .filter(|l| caller.in_scope(l.product_id)),
        None => None,
    };
    let product_given = req.present("product_id");
    let product = match product_given.as_deref().and_then(|p| p.parse::<i64>().ok()) {
        Some(id) => match state.store.get_product(ProductId::new(id)).await {
            Ok(product) => Some(product),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        },
        None => None,
    };
    let product_id = product
        .as_ref()
        .map(|p| p.id)
        .or(license.as_ref().map(|l| l.product_id));
    let product_version = bounded(req, "product_version", 64);
    let version_exists = match (&product_version, product_id) {
        (Some(version), Some(product_id)) => state
            .store
            .list_downloadables(Some(product_id))
            .await?
            .iter()
            .any(|d| &d.version == version),
        _ => false,
    };
    let key_matches_product = match (&license, &product) {
        (Some(license), Some(product)) => license.product_id == product.id,
        _ => true,
    };
    let flagged = red_flags(
        Reference {
            given: license_key.is_some(),
            exists: license.is_some(),
        },
        Reference {
            given: product_given.is_some(),
            exists: product.is_some(),
        },
        Reference {
            given: product_version.is_some(),
            exists: version_exists,
        },
        key_matches_product,
    );
    // Every offending field, as the documentation's 831 example lists them: an unknown
    // `product_id`, the references a genuine copy always sends, then the data fields.
    let user_identifier = bounded(req, "user_identifier", 255);
    let mut errors: Vec<(String, String)> = Vec::new();
    if product_given.is_some() && product.is_none() {
        errors.push(("product_id".into(), "The selected product id is invalid.".into()));
    }
    for (field, given) in [
        ("user_identifier", user_identifier.is_some()),
        ("license_key", license_key.is_some()),
        ("activation_identifier", activation_identifier.is_some()),
        ("product_version", product_version.is_some()),
    ] {
        if !given {
            errors.push((
                field.into(),
                format!("The {} field is required.", field.replace('_', " ")),
            ));
        }
    }
    errors.extend(checked.errors.iter().cloned());
    let correct = errors.is_empty();
    let record = NewTelemetry {
        user_identifier,
        license_id: (license.as_ref().map(|l| l.id)),
        license_key,
        activation_identifier,
        product_id,
        product_version,
        data_type: checked.data_type.chars().take(64).collect(),
        data_group: checked.data_group.clone(),
        data: checked.data.clone(),
        is_correct_format: correct,
        license_key_exists: license.is_some(),
        product_exists: product_id.is_some(),
        product_version_exists: version_exists,
        has_red_flags: flagged,
    };
    state.store.add_telemetry(record, state.now()).await?;
    let reply = if correct {
        Reply::new(830).field("errors", json!([]))
    } else {
        let errors: Map<String, Value> = errors
            .into_iter()
            .map(|(field, message)| (field, json!([message])))
            .collect();
        Reply::new(831).field("errors", Value::Object(errors))
    };
    Ok(match product_id {
        Some(id) => reply.product(id),
        None => reply,
    })
}

pub async fn get_telemetry(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = match authorize(
        state,
        req.api_key.as_deref(),
        req.ip.as_deref(),
        None,
        "get-telemetry-data",
    )
    .await
    {
        Ok(caller) => caller,
        Err(refusal) => return refusal,
    };
    let filter = TelemetryFilter {
        license_key: req.present("license_key"),
        user_identifier: req.present("user_identifier"),
        has_red_flags: match req.present("has_red_flags").as_deref() {
            Some("1" | "true") => Some(true),
            Some("0" | "false") => Some(false),
            _ => None,
        },
        product_id: caller.credential.product_id.or_else(|| {
            req.present("product_id")
                .and_then(|p| p.parse().ok().map(ProductId::new))
        }),
    };
    let limit = req.present("limit").and_then(|l| l.parse().ok()).unwrap_or(1000);
    let records = state.store.list_telemetry(filter, limit).await?;
    let data: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "user_identifier": r.user_identifier,
                "license_key": r.license_key,
                "activation_identifier": r.activation_identifier,
                "product_id": r.product_id,
                "product_version": r.product_version,
                "data_type": r.data_type,
                "data_group": r.data_group,
                "data": r.data,
                "is_correct_format": u8::from(r.is_correct_format),
                "license_key_exists": u8::from(r.license_key_exists),
                "product_exists": u8::from(r.product_exists),
                "product_version_exists": u8::from(r.product_version_exists),
                "has_red_flags": u8::from(r.has_red_flags),
                "created_at": km_timestamp(r.created_at),
                "updated_at": km_timestamp(r.created_at),
            })
        })
        .collect();
    Ok(Reply::new(970).field("data", Value::Array(data)))
}
