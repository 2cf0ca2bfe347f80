//! Entry points for the cargo-fuzz targets in `fuzz/` (tests/reliability/README.md): each runs
//! the server's own parser of untrusted bytes, exactly as a handler does before it touches the
//! store. Not an API: hidden from the documentation, and every function only returns whether the
//! input was accepted, so a fuzz target can assert nothing panics and nothing loops.

use crate::dialects::{dna, keymanager, licensespring, slascone};
use axum::http::{HeaderMap, HeaderValue, header};

/// LicenseSpring `Authorization` and `Date` headers: the key="value" list, the RFC 7231 date and
/// the signing string over them.
pub fn ls_auth_headers(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let (authorization, date) = text.split_once('\n').unwrap_or((&text, ""));
    let parsed = licensespring::auth::parse_authorization(authorization).is_ok();
    let _ = licensespring::auth::parse_http_date(date);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(date) {
        headers.insert(header::DATE, value);
    }
    if let Ok(params) = licensespring::auth::parse_authorization(authorization)
        && let Some(names) = params.headers
    {
        let names: Vec<String> = names.split_whitespace().map(str::to_ascii_lowercase).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let _ = licensespring::auth::signing_string(&names, &headers);
    }
    parsed
}

/// A LicenseSpring offline request file upload: the first line is the `Content-Type` (raw text
/// or `multipart/form-data; boundary=…`), the rest the body; then base64, JSON and the signed
/// `request` member, for both request kinds.
pub fn ls_request_file(data: &[u8]) -> bool {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (content_type, body) = (&data[..split], data.get(split + 1..).unwrap_or(&[]));
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let Ok(file) = licensespring::offline::uploaded_file(&headers, body) else {
        return false;
    };
    // The decoded JSON itself too, so the fuzzer reaches the member scanner without base64.
    let _ = licensespring::offline::decode_request_file(file, "activation");
    let _ = licensespring::offline::top_level_member(file, "request");
    let Ok(decoded) = licensespring::offline::request_file_bytes(file) else {
        return false;
    };
    ["activation", "deactivation"]
        .iter()
        .any(|kind| licensespring::offline::decode_request_file(&decoded, kind).is_ok())
}

/// A Key Manager body: as a form (what the Postman examples send) and as JSON.
pub fn km_body(data: &[u8]) -> usize {
    let fields = keymanager::request::parse_form(data);
    let json = serde_json::from_slice::<serde_json::Value>(data).is_ok();
    fields.len() + usize::from(json)
}

/// A SLASCONE JSON body, as each provisioning endpoint reads it, and the ISV id of its path.
pub fn slascone_json(data: &[u8]) -> usize {
    use slascone::provisioning::{ActivateRequest, HeartbeatRequest, LookupRequest, UnassignRequest, ValidateRequest};
    let bytes = axum::body::Bytes::copy_from_slice(data);
    let accepted = [
        slascone::wire::parse_body::<ActivateRequest>(&bytes).is_ok(),
        slascone::wire::parse_body::<HeartbeatRequest>(&bytes).is_ok(),
        slascone::wire::parse_body::<UnassignRequest>(&bytes).is_ok(),
        slascone::wire::parse_body::<ValidateRequest>(&bytes).is_ok(),
        slascone::wire::parse_body::<LookupRequest>(&bytes).is_ok(),
    ];
    let text = String::from_utf8_lossy(data);
    let _ = slascone::wire::check_isv(&text);
    let _ = slascone::wire::guid_id(&text);
    accepted.iter().filter(|ok| **ok).count()
}

/// A DNA request path (case-insensitive resource matching) and `Authorization: Basic` value:
/// the first line is the path, the second the header value.
pub fn dna(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let (path, authorization) = text.split_once('\n').unwrap_or((&text, ""));
    let matched = dna::match_path(path).is_some();
    let _ = dna::wire::basic_credentials(authorization);
    matched
}

/// Native JSON bodies, read as the server reads them (objects only): the client API requests and
/// the licence and product management bodies.
pub fn native_json(data: &[u8]) -> usize {
    use crate::http::json_object::from_slice;
    use crate::native::{catalog, client, licenses};
    [
        from_slice::<client::ValidateRequest>(data).is_ok(),
        from_slice::<client::ActivateRequest>(data).is_ok(),
        from_slice::<client::DeviceRequest>(data).is_ok(),
        from_slice::<client::ConsumeRequest>(data).is_ok(),
        from_slice::<client::CheckoutRequest>(data).is_ok(),
        from_slice::<licenses::LicenseFields>(data).is_ok(),
        from_slice::<licenses::BulkCreateLicenses>(data).is_ok(),
        from_slice::<licenses::UpdateLicense>(data).is_ok(),
        from_slice::<catalog::CreateProduct>(data).is_ok(),
        from_slice::<catalog::UpdateProduct>(data).is_ok(),
    ]
    .iter()
    .filter(|ok| **ok)
    .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_points_accept_good_input() {
        assert!(ls_auth_headers(
            b"algorithm=\"hmac-sha256\",headers=\"date\",signature=\"x\",apiKey=\"k\"\nThu, 01 Jan 2026 00:00:00 GMT"
        ));
        let file = licensd_crypto::b64(br#"{"request":{"request":"activation","api_key":"k"},"signature":"s"}"#);
        assert!(ls_request_file(format!("text/plain\n{file}").as_bytes()));
        assert_eq!(km_body(b"api_key=a.b&license_key=K"), 2);
        assert!(slascone_json(br#"{"license_key":"K","client_id":"c","product_id":"p"}"#) >= 1);
        assert!(dna(b"/dna/v1/Licenses/p/l/status\nBasic YTpi"));
        assert!(native_json(br#"{"key":"K","fingerprint":"f"}"#) >= 1);
    }
}
