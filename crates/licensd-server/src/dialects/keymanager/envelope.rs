//! The signed envelope every Key Manager answer travels in:
//! `{"response": {…}, "response_base64": "…", "private_key_used": "global"|"product", "signature": "…"}`.
//! The signature is RSA PKCS#1 v1.5 / SHA-256 over the ASCII text of `response_base64` (not over the
//! decoded JSON), which is what Key Manager clients verify with `openssl_verify`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use licensd_crypto::{PublicKey, SigningKey};
use licensd_domain::ProductId;
use serde_json::Value;
use std::sync::Arc;

/// Which key signed an envelope (the `private_key_used` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsed {
    Global,
    Product,
}

impl KeyUsed {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUsed::Global => "global",
            KeyUsed::Product => "product",
        }
    }
}

/// One Key Manager answer before signing: code, message and payload fields in wire order.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub message: &'static str,
    pub fields: Vec<(&'static str, Value)>,
    /// The product the request resolved to; its own key signs when it has one.
    pub product_id: Option<ProductId>,
    /// Seconds until a rate-limit window resets (429 only): also sent as the envelope's top-level
    /// `retry_after`, which the SDKs read, and as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl Reply {
    pub fn new(code: u16) -> Self {
        Self {
            code,
            message: super::codes::message(code),
            fields: Vec::new(),
            product_id: None,
            retry_after: None,
        }
    }

    /// The answer over a `--rate-limit-*` allowance: HTTP 429, code 429, `retry_after` seconds.
    pub fn rate_limited(reset_seconds: u64) -> Self {
        let mut reply = Self::new(429).field("retry_after", Value::from(reset_seconds));
        reply.retry_after = Some(reset_seconds);
        reply
    }

    pub fn field(mut self, name: &'static str, value: Value) -> Self {
        self.fields.push((name, value));
        self
    }

    pub fn product(mut self, product_id: ProductId) -> Self {
        self.product_id = Some(product_id);
        self
    }

    /// API-key refusals travel as 401, access-block refusals as 403, the transport answers outside
    /// the seed (404 unknown route, 405 wrong method, 429 rate limit) with their own status, every
    /// business result as 200.
    pub fn http_status(&self) -> StatusCode {
        match self.code {
            100..=103 => StatusCode::UNAUTHORIZED,
            150 => StatusCode::FORBIDDEN,
            404 => StatusCode::NOT_FOUND,
            405 => StatusCode::METHOD_NOT_ALLOWED,
            429 => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::OK,
        }
    }

    /// The `response` object as PHP's `json_encode` writes it: compact, keys in insertion order,
    /// `/` escaped and non-ASCII as `\uXXXX`, so PHP clients that re-encode see the same text.
    pub fn response_json(&self, timestamp: i64) -> String {
        let mut out = String::with_capacity(128);
        out.push_str("{\"code\":");
        out.push_str(&self.code.to_string());
        out.push_str(",\"message\":");
        out.push_str(&php_json(&Value::String(self.message.to_string())));
        for (name, value) in &self.fields {
            out.push(',');
            out.push_str(&php_json(&Value::String((*name).to_string())));
            out.push(':');
            out.push_str(&php_json(value));
        }
        out.push_str(",\"timestamp\":");
        out.push_str(&timestamp.to_string());
        out.push('}');
        out
    }
}

/// Compact JSON with PHP `json_encode` escaping. Object keys come out sorted (serde_json's map),
/// which is insertion order for every object this dialect builds from sorted sources.
pub fn php_json(value: &Value) -> String {
    let plain = value.to_string();
    let mut out = String::with_capacity(plain.len() + 8);
    for c in plain.chars() {
        match c {
            // Outside strings JSON has neither `/` nor non-ASCII, so escaping them is safe anywhere.
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out
}

/// The signed envelope text for `reply`.
pub fn envelope_body(
    reply: &Reply,
    key: &SigningKey,
    used: KeyUsed,
    timestamp: i64,
) -> Result<String, licensd_crypto::CryptoError> {
    let response = reply.response_json(timestamp);
    let response_base64 = licensd_crypto::b64(response.as_bytes());
    let signature = licensd_crypto::b64(&key.sign(response_base64.as_bytes())?);
    let retry_after = match reply.retry_after {
        Some(seconds) => format!(",\"retry_after\":{seconds}"),
        None => String::new(),
    };
    Ok(format!(
        "{{\"response\":{response},\"response_base64\":\"{response_base64}\",\"private_key_used\":\"{}\",\"signature\":\"{signature}\"{retry_after}}}",
        used.as_str()
    ))
}

/// Signs `reply` with `key` and renders the HTTP answer.
pub fn render(reply: &Reply, key: &Arc<SigningKey>, used: KeyUsed, timestamp: i64) -> Response {
    let body = match envelope_body(reply, key, used, timestamp) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "cannot sign a Key Manager response");
            return (StatusCode::INTERNAL_SERVER_ERROR, "signing failed").into_response();
        }
    };
    let mut http = (reply.http_status(), body).into_response();
    http.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(seconds) = reply.retry_after {
        http.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    http
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("signature is not valid Base64")]
    SignatureEncoding,
    #[error("signature does not verify")]
    BadSignature,
    #[error("response_base64 is not Base64 of a JSON object")]
    Payload,
}

/// What a client does with an envelope: check the signature over the `response_base64` text with
/// the trusted public key, then decode that text (never the plain `response` copy).
pub fn verify_envelope(public: &PublicKey, response_base64: &str, signature: &str) -> Result<Value, EnvelopeError> {
    let signature = licensd_crypto::b64_decode(signature).map_err(|_| EnvelopeError::SignatureEncoding)?;
    public
        .verify(response_base64.as_bytes(), &signature)
        .map_err(|_| EnvelopeError::BadSignature)?;
    let json = licensd_crypto::b64_decode(response_base64).map_err(|_| EnvelopeError::Payload)?;
    match serde_json::from_slice::<Value>(&json) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(EnvelopeError::Payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use licensd_crypto::Algorithm;

    const VECTORS: &str = include_str!("../../../../../testdata/vectors/keymanager/envelopes.jsonl");
    const DEMO_KEY: &str = include_str!("../../../../../testdata/vectors/keymanager/demo_public_key.pem");

    #[test]
    fn golden_vectors_verify_exactly_as_published() {
        let public = PublicKey::from_pem(Algorithm::Rsa2048, DEMO_KEY).unwrap();
        let (mut good, mut bad) = (0, 0);
        for line in VECTORS.lines().filter(|l| !l.trim().is_empty()) {
            let vector: Value = serde_json::from_str(line).unwrap();
            let expected = vector["expected_verify"].as_bool().unwrap();
            let outcome = verify_envelope(
                &public,
                vector["response_base64"].as_str().unwrap(),
                vector["signature"].as_str().unwrap(),
            );
            assert_eq!(outcome.is_ok(), expected, "vector {}", vector["id"]);
            if let Ok(response) = outcome {
                assert_eq!(
                    response["code"].to_string().trim_matches('"'),
                    vector["response_code"].to_string().trim_matches('"')
                );
                good += 1;
            } else {
                assert_eq!(outcome, Err(EnvelopeError::BadSignature));
                bad += 1;
            }
        }
        assert_eq!((good, bad), (43, 4));
    }

    #[test]
    fn golden_vectors_do_not_verify_over_the_decoded_json() {
        let public = PublicKey::from_pem(Algorithm::Rsa2048, DEMO_KEY).unwrap();
        for line in VECTORS.lines().filter(|l| !l.trim().is_empty()) {
            let vector: Value = serde_json::from_str(line).unwrap();
            let decoded = licensd_crypto::b64_decode(vector["response_base64"].as_str().unwrap()).unwrap();
            let signature = licensd_crypto::b64_decode(vector["signature"].as_str().unwrap()).unwrap();
            assert!(public.verify(&decoded, &signature).is_err());
        }
    }

    #[test]
    fn rendered_envelopes_verify_and_escape_like_php() {
        let key = Arc::new(SigningKey::generate(Algorithm::Rsa2048).unwrap());
        let reply = Reply::new(200).field("url", Value::String("https://a/b é".into()));
        let json = reply.response_json(1_700_000_000);
        assert_eq!(
            json,
            "{\"code\":200,\"message\":\"Valid license key\",\"url\":\"https:\\/\\/a\\/b \\u00e9\",\"timestamp\":1700000000}"
        );
        let signature = licensd_crypto::b64(&key.sign(licensd_crypto::b64(json.as_bytes()).as_bytes()).unwrap());
        let decoded = verify_envelope(&key.public_key(), &licensd_crypto::b64(json.as_bytes()), &signature).unwrap();
        assert_eq!(decoded["url"], "https://a/b é");
        let other = SigningKey::generate(Algorithm::Rsa2048).unwrap();
        assert_eq!(
            verify_envelope(&other.public_key(), &licensd_crypto::b64(json.as_bytes()), &signature),
            Err(EnvelopeError::BadSignature)
        );
    }
}
