//! Reading a Key Manager request the way its clients send it: parameters as form fields
//! (url-encoded or multipart) or a JSON body (plus the query string), the API key in the body, the query or `Authorization: Bearer`.
//! A body that does not parse counts as an empty one, so the endpoint answers with its own
//! "required"/"incorrect data" code instead of a transport error.

use super::envelope::Reply;
use crate::ratelimit::RateDecision;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Query, Request};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde_json::Value;
use std::collections::HashMap;

/// The parameters of one request, JSON values for JSON bodies and strings for form fields.
#[derive(Debug, Clone, Default)]
pub struct KmRequest {
    pub params: HashMap<String, Value>,
    pub api_key: Option<String>,
    /// The raw `Authorization: Bearer` token (the Contracts API authenticates with it).
    pub bearer: Option<String>,
    /// The client address (`http::source_ip`).
    pub ip: Option<String>,
    /// `scheme://host` the client reached us at, for URLs handed back (download links).
    pub origin: String,
}

impl KmRequest {
    /// A parameter as text (numbers and booleans in JSON bodies are accepted as their text).
    pub fn text(&self, name: &str) -> Option<String> {
        match self.params.get(name)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(if *flag { "1" } else { "0" }.to_string()),
            _ => None,
        }
    }

    /// A parameter as trimmed, non-empty text.
    pub fn present(&self, name: &str) -> Option<String> {
        self.text(name).map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
    }

    /// The raw JSON value of a parameter.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.params.get(name)
    }
}

fn flatten(map: serde_json::Map<String, Value>, into: &mut HashMap<String, Value>) {
    for (name, value) in map {
        into.insert(name, value);
    }
}

/// The per-IP allowance (`--rate-limit-per-ip`), counted before anything else a request does;
/// `Some` is the signed 429 to answer with.
pub async fn ip_gate(state: &AppState, ip: Option<&str>) -> Option<Response> {
    let ip = ip?;
    match state.limiter.check_ip(super::RATE_SCOPE, ip) {
        RateDecision::Allowed => None,
        RateDecision::Limited { reset_seconds } => {
            Some(super::respond(state, Ok(Reply::rate_limited(reset_seconds))).await)
        }
    }
}

impl FromRequest<AppState> for KmRequest {
    /// Only the per-IP rate limit refuses a request here (signed 429); a body that does not parse
    /// is an empty one.
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let ip = crate::http::source_ip(&parts, &state.settings.trusted_proxies);
        if let Some(refusal) = ip_gate(state, ip.as_deref()).await {
            return Err(refusal);
        }
        let mut params = HashMap::new();
        if let Ok(Query(query)) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
            for (name, value) in query {
                params.insert(name, Value::String(value));
            }
        }
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
            .await
            .unwrap_or_default();
        if !bytes.is_empty() {
            if content_type.contains("json") {
                if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&bytes) {
                    flatten(map, &mut params);
                }
            } else if content_type.starts_with("multipart/form-data") {
                for (name, value) in parse_multipart(&parts.headers, bytes).await {
                    params.insert(name, Value::String(value));
                }
            } else {
                for (name, value) in parse_form(&bytes) {
                    params.insert(name, Value::String(value));
                }
            }
        }
        // Body first, then query (both already merged, body winning), then the bearer header.
        let api_key = match params.get("api_key") {
            Some(Value::String(key)) if !key.trim().is_empty() => Some(key.trim().to_string()),
            _ => bearer.clone(),
        };
        let origin = origin(&parts.headers);
        Ok(KmRequest {
            params,
            api_key,
            bearer,
            ip,
            origin,
        })
    }
}

/// The text fields of a `multipart/form-data` body (what PHP curl sends when `CURLOPT_POSTFIELDS`
/// is an array), read like form fields. File parts are skipped; a body that does not parse is an
/// empty one, as for the other encodings.
async fn parse_multipart(headers: &HeaderMap, bytes: Bytes) -> Vec<(String, String)> {
    let mut request = Request::new(Body::from(bytes));
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        request.headers_mut().insert(header::CONTENT_TYPE, content_type.clone());
    }
    let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
        return Vec::new();
    };
    let mut fields = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let Some(name) = field.name().map(str::to_string) else {
                    continue;
                };
                if field.file_name().is_some() {
                    continue;
                }
                match field.text().await {
                    Ok(text) => fields.push((name, text)),
                    Err(_) => return Vec::new(),
                }
            }
            Ok(None) => return fields,
            Err(_) => return Vec::new(),
        }
    }
}

/// `scheme://host` from `X-Forwarded-Proto` (behind a TLS proxy) and `Host`.
pub fn origin(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c)))
        .unwrap_or("localhost");
    let scheme = match headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// `application/x-www-form-urlencoded` fields (`+` is a space, `%XX` a byte); fields that are not
/// UTF-8 after decoding are dropped.
pub(crate) fn parse_form(bytes: &[u8]) -> Vec<(String, String)> {
    /// A field is kept only when every `%` starts a two-digit escape and it decodes to UTF-8.
    fn decode(part: &[u8]) -> Option<String> {
        let escapes_complete = part
            .iter()
            .enumerate()
            .filter(|(_, byte)| **byte == b'%')
            .all(|(at, _)| {
                part.get(at + 1..at + 3)
                    .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            });
        if !escapes_complete {
            return None;
        }
        let spaced: Vec<u8> = part.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8()
            .ok()
            .map(std::borrow::Cow::into_owned)
    }
    bytes
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_form;

    #[test]
    fn form_fields_decode() {
        assert_eq!(
            parse_form(b"api_key=a.b&license_key=K%2D1+x&empty=&flag"),
            vec![
                ("api_key".to_string(), "a.b".to_string()),
                ("license_key".to_string(), "K-1 x".to_string()),
                ("empty".to_string(), String::new()),
                ("flag".to_string(), String::new()),
            ]
        );
        // A truncated escape drops the field instead of guessing.
        assert_eq!(parse_form(b"a=%4"), vec![]);
        assert_eq!(parse_form(b"a=%zz&b=1"), vec![("b".to_string(), "1".to_string())]);
    }
}
