//! Offline licence files: a signed (and optionally encrypted) text file an air-gapped machine
//! can verify with nothing but the server's public key.
//!
//! The format is written down in `docs/licence-file.md` so it can be implemented in any
//! language; golden vectors live in `testdata/licence-file/`. In short, a file is exactly eight
//! lines, each ended by `\n`:
//!
//! ```text
//! LICENSD-LICENCE-FILE v1
//! alg: Ed25519
//! kid: <16 lowercase hex digits>
//! enc: none | A256GCM
//! salt: - | <base64 of 16 bytes>
//! iv: - | <base64 of 12 bytes>
//! payload: <base64 of the payload JSON, or of ciphertext || tag>
//! signature: <base64 of the Ed25519 signature>
//! ```
//!
//! The signature covers the first seven lines byte for byte (newlines included). Every base64
//! field must be the canonical encoding of its bytes, so no byte of the file can change without
//! the file being refused.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};

use crate::{Algorithm, PublicKey, SigningKey, b64, b64_decode, random_bytes};

/// The first line of every version-1 licence file.
pub const LICENCE_FILE_MAGIC: &str = "LICENSD-LICENCE-FILE v1";
/// HKDF `info` for the file encryption key.
const HKDF_INFO: &[u8] = b"licensd-licence-file v1 A256GCM";
/// Additional authenticated data of the encrypted payload.
const AEAD_AAD: &[u8] = b"LICENSD-LICENCE-FILE v1";
const SALT_LEN: usize = 16;
const IV_LEN: usize = 12;
/// How far the verifier's clock may lag behind the issuing server's before the file is refused
/// as issued "in the future" (a clock set back).
pub const LICENCE_FILE_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// Files larger than this are refused before any parsing.
pub const MAX_LICENCE_FILE_BYTES: usize = 256 * 1024;

/// Why a licence file was refused. The variants are stable: clients map them to their own
/// messages, and the Python verifier in `tests/interop/licence-file` reports the same names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenceFileError {
    /// Not a version-1 licence file (wrong magic line, missing or extra lines, bad base64).
    #[error("malformed licence file: {0}")]
    Malformed(&'static str),
    /// The file names an algorithm other than Ed25519.
    #[error("unsupported signature algorithm")]
    UnsupportedAlgorithm,
    /// The signing key id is not among the trusted keys.
    #[error("licence file signed by an untrusted key ({0})")]
    UntrustedKey(String),
    /// The signature does not verify: the file was changed.
    #[error("licence file signature does not verify")]
    BadSignature,
    /// The payload is encrypted and no licence key was given to decrypt it.
    #[error("licence file is encrypted; the licence key is needed to read it")]
    KeyRequired,
    /// The payload could not be decrypted with the licence key given.
    #[error("licence file could not be decrypted with this licence key")]
    Decrypt,
    /// The file is bound to another machine.
    #[error("licence file is bound to another device")]
    FingerprintMismatch,
    /// The local clock is behind the last time seen or behind the file's issue time.
    #[error("the system clock was set back")]
    ClockRolledBack,
    /// The file's time-to-live is over.
    #[error("licence file has expired")]
    Expired,
    /// Issuing failed (random number generator, signing or encryption).
    #[error("licence file could not be issued")]
    Issue,
}

impl LicenceFileError {
    /// A stable snake_case name (shared with the Python verifier and the golden vectors).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UntrustedKey(_) => "untrusted_key",
            Self::BadSignature => "bad_signature",
            Self::KeyRequired => "key_required",
            Self::Decrypt => "decrypt",
            Self::FingerprintMismatch => "fingerprint_mismatch",
            Self::ClockRolledBack => "clock_rolled_back",
            Self::Expired => "expired",
            Self::Issue => "issue",
        }
    }
}

/// Encryption parameters fixed by the caller: only for reproducible golden vectors.
#[doc(hidden)]
pub struct FixedEncryption<'a> {
    pub licence_key: &'a str,
    pub salt: [u8; SALT_LEN],
    pub iv: [u8; IV_LEN],
}

/// Issues a licence file over `payload` (UTF-8 JSON holding at least `fingerprint`,
/// `issued_at` and `expires_at`), signed with `key` (which must be Ed25519). With
/// `encrypt_for`, the payload is encrypted under a key derived from that licence key.
pub fn issue_licence_file(
    key: &SigningKey,
    payload: &[u8],
    encrypt_for: Option<&str>,
) -> Result<String, LicenceFileError> {
    let encryption = match encrypt_for {
        None => None,
        Some(licence_key) => {
            let mut salt = [0u8; SALT_LEN];
            let mut iv = [0u8; IV_LEN];
            random_bytes(&mut salt).map_err(|_| LicenceFileError::Issue)?;
            random_bytes(&mut iv).map_err(|_| LicenceFileError::Issue)?;
            Some(FixedEncryption { licence_key, salt, iv })
        }
    };
    issue_licence_file_with(key, payload, encryption)
}

/// [`issue_licence_file`] with caller-chosen salt and IV (golden vectors only: a real file must
/// never reuse an IV).
#[doc(hidden)]
pub fn issue_licence_file_with(
    key: &SigningKey,
    payload: &[u8],
    encryption: Option<FixedEncryption<'_>>,
) -> Result<String, LicenceFileError> {
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(LicenceFileError::UnsupportedAlgorithm);
    }
    let (enc, salt, iv, body) = match encryption {
        None => ("none", "-".to_string(), "-".to_string(), b64(payload)),
        Some(FixedEncryption { licence_key, salt, iv }) => {
            let cipher = file_cipher(licence_key, &salt)?;
            let mut in_out = payload.to_vec();
            cipher
                .seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::from(AEAD_AAD), &mut in_out)
                .map_err(|_| LicenceFileError::Issue)?;
            ("A256GCM", b64(&salt), b64(&iv), b64(&in_out))
        }
    };
    let signed = format!(
        "{LICENCE_FILE_MAGIC}\nalg: Ed25519\nkid: {}\nenc: {enc}\nsalt: {salt}\niv: {iv}\npayload: {body}\n",
        key.kid()
    );
    let signature = key.sign(signed.as_bytes()).map_err(|_| LicenceFileError::Issue)?;
    Ok(format!("{signed}signature: {}\n", b64(&signature)))
}

/// HKDF-SHA256(ikm = licence key, salt, info) → AES-256-GCM key.
fn file_cipher(licence_key: &str, salt: &[u8]) -> Result<LessSafeKey, LicenceFileError> {
    let mut key = [0u8; 32];
    Salt::new(HKDF_SHA256, salt)
        .extract(licence_key.as_bytes())
        .expand(&[HKDF_INFO], HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut key))
        .map_err(|_| LicenceFileError::Issue)?;
    let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| LicenceFileError::Issue)?;
    Ok(LessSafeKey::new(unbound))
}

/// What a verifier knows: the keys it trusts, the machine it runs on, the time and the latest
/// time it has seen before (kept by the application, so setting the clock back is noticed).
#[derive(Debug, Clone, Copy)]
pub struct LicenceFileCheck<'a> {
    pub trusted: &'a [PublicKey],
    pub fingerprint: &'a str,
    /// Milliseconds since the Unix epoch.
    pub now: i64,
    /// The latest `now` this application saw before, if it keeps one.
    pub last_seen: Option<i64>,
    /// Needed only for encrypted files.
    pub licence_key: Option<&'a str>,
}

/// A licence file that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedLicenceFile {
    pub kid: String,
    pub encrypted: bool,
    pub fingerprint: String,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The whole payload object (terms, features, …; see docs/licence-file.md).
    pub payload: serde_json::Value,
}

/// Decodes standard padded base64, refusing any text that is not the canonical encoding of
/// the bytes it decodes to (so no character of a field can change unnoticed).
fn strict_b64(text: &str) -> Result<Vec<u8>, LicenceFileError> {
    let bytes = b64_decode(text).map_err(|_| LicenceFileError::Malformed("invalid base64"))?;
    if b64(&bytes) != text {
        return Err(LicenceFileError::Malformed("non-canonical base64"));
    }
    Ok(bytes)
}

/// The eight fields of a file, in order, as text.
struct Fields<'a> {
    signed: &'a str,
    alg: &'a str,
    kid: &'a str,
    enc: &'a str,
    salt: &'a str,
    iv: &'a str,
    payload: &'a str,
    signature: &'a str,
}

fn split_fields<'a>(text: &'a str) -> Result<Fields<'a>, LicenceFileError> {
    if text.len() > MAX_LICENCE_FILE_BYTES {
        return Err(LicenceFileError::Malformed("file too large"));
    }
    let body = text
        .strip_suffix('\n')
        .ok_or(LicenceFileError::Malformed("missing final newline"))?;
    let lines: Vec<&str> = body.split('\n').collect();
    let [magic, alg, kid, enc, salt, iv, payload, signature] = lines.as_slice() else {
        return Err(LicenceFileError::Malformed("a licence file has exactly eight lines"));
    };
    if *magic != LICENCE_FILE_MAGIC {
        return Err(LicenceFileError::Malformed("not a version 1 licence file"));
    }
    let value = |line: &'a str, label: &str| line.strip_prefix(label);
    let alg = value(alg, "alg: ").ok_or(LicenceFileError::Malformed("expected the alg line"))?;
    let kid = value(kid, "kid: ").ok_or(LicenceFileError::Malformed("expected the kid line"))?;
    let enc = value(enc, "enc: ").ok_or(LicenceFileError::Malformed("expected the enc line"))?;
    let salt = value(salt, "salt: ").ok_or(LicenceFileError::Malformed("expected the salt line"))?;
    let iv = value(iv, "iv: ").ok_or(LicenceFileError::Malformed("expected the iv line"))?;
    let payload = value(payload, "payload: ").ok_or(LicenceFileError::Malformed("expected the payload line"))?;
    let signature =
        value(signature, "signature: ").ok_or(LicenceFileError::Malformed("expected the signature line"))?;
    // Everything up to and including the newline that ends the payload line.
    let signed_len = text.len() - "signature: ".len() - signature.len() - 1;
    Ok(Fields {
        signed: &text[..signed_len],
        alg,
        kid,
        enc,
        salt,
        iv,
        payload,
        signature,
    })
}

/// Verifies a licence file: format, trusted key id, signature, decryption, device binding,
/// clock and time-to-live, in that order.
pub fn verify_licence_file(text: &str, check: &LicenceFileCheck<'_>) -> Result<VerifiedLicenceFile, LicenceFileError> {
    let fields = split_fields(text)?;
    if fields.alg != "Ed25519" {
        return Err(LicenceFileError::UnsupportedAlgorithm);
    }
    let key = check
        .trusted
        .iter()
        .find(|key| key.algorithm == Algorithm::Ed25519 && key.kid == fields.kid)
        .ok_or_else(|| LicenceFileError::UntrustedKey(fields.kid.to_string()))?;
    let signature = strict_b64(fields.signature)?;
    key.verify(fields.signed.as_bytes(), &signature)
        .map_err(|_| LicenceFileError::BadSignature)?;

    let body = strict_b64(fields.payload)?;
    let (encrypted, plaintext) = match fields.enc {
        "none" => {
            if fields.salt != "-" || fields.iv != "-" {
                return Err(LicenceFileError::Malformed(
                    "salt and iv must be '-' without encryption",
                ));
            }
            (false, body)
        }
        "A256GCM" => {
            let salt = strict_b64(fields.salt)?;
            let iv: [u8; IV_LEN] = strict_b64(fields.iv)?
                .try_into()
                .map_err(|_| LicenceFileError::Malformed("iv must be 12 bytes"))?;
            if salt.len() != SALT_LEN {
                return Err(LicenceFileError::Malformed("salt must be 16 bytes"));
            }
            let licence_key = check.licence_key.ok_or(LicenceFileError::KeyRequired)?;
            let cipher = file_cipher(licence_key, &salt).map_err(|_| LicenceFileError::Decrypt)?;
            let mut in_out = body;
            let plain_len = cipher
                .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(AEAD_AAD), &mut in_out)
                .map_err(|_| LicenceFileError::Decrypt)?
                .len();
            in_out.truncate(plain_len);
            (true, in_out)
        }
        _ => return Err(LicenceFileError::Malformed("unknown enc")),
    };
    let payload: serde_json::Value =
        serde_json::from_slice(&plaintext).map_err(|_| LicenceFileError::Malformed("payload is not JSON"))?;
    let fingerprint = payload
        .get("fingerprint")
        .and_then(|v| v.as_str())
        .ok_or(LicenceFileError::Malformed("payload has no fingerprint"))?
        .to_string();
    let issued_at = payload
        .get("issued_at")
        .and_then(|v| v.as_i64())
        .ok_or(LicenceFileError::Malformed("payload has no issued_at"))?;
    let expires_at = payload
        .get("expires_at")
        .and_then(|v| v.as_i64())
        .ok_or(LicenceFileError::Malformed("payload has no expires_at"))?;
    if !crate::constant_time_eq(fingerprint.as_bytes(), check.fingerprint.as_bytes()) {
        return Err(LicenceFileError::FingerprintMismatch);
    }
    if check.last_seen.is_some_and(|seen| check.now < seen)
        || check.now.saturating_add(LICENCE_FILE_CLOCK_SKEW_MS) < issued_at
    {
        return Err(LicenceFileError::ClockRolledBack);
    }
    if check.now >= expires_at {
        return Err(LicenceFileError::Expired);
    }
    Ok(VerifiedLicenceFile {
        kid: fields.kid.to_string(),
        encrypted,
        fingerprint,
        issued_at,
        expires_at,
        payload,
    })
}

#[cfg(test)]
#[path = "licence_file_tests.rs"]
mod tests;
