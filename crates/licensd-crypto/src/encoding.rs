use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::CryptoError;

/// Standard base64 with padding (RFC 4648 §4), as used in PEM and HTTP signature headers.
pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// URL-safe base64 without padding (RFC 4648 §5), as required by JWS and JWK.
pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes standard base64 with padding.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, CryptoError> {
    STANDARD.decode(text).map_err(|_| CryptoError::Base64)
}

/// Lowercase hexadecimal.
pub fn hex(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(data.len() * 2);
    for byte in data {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0xff, 0x10]), "00abff10");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn base64_variants() {
        let data = [0xfb, 0xff, 0xfe];
        assert_eq!(b64(&data), "+//+");
        assert_eq!(b64url(&data), "-__-");
        assert_eq!(b64(b"a"), "YQ==");
        assert_eq!(b64url(b"a"), "YQ");
        assert_eq!(b64_decode("YQ==").ok(), Some(b"a".to_vec()));
        assert!(matches!(b64_decode("not base64!"), Err(CryptoError::Base64)));
    }
}
