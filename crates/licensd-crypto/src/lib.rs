//! Cryptography for licensd.
//!
//! Everything that touches key material lives here so the rest of the server never handles
//! raw primitives: licence signing keys (RSA PKCS#1 v1.5 / SHA-256 and Ed25519, all through
//! aws-lc-rs), sealing of secrets at rest (AES-256-GCM), keyed digests for looking secrets up
//! without storing them (HMAC-SHA256), the master key those are derived from, password hashing
//! (Argon2id), offline licence files (Ed25519-signed, optionally AES-256-GCM encrypted; the
//! format is in docs/licence-file.md) and the small encoding helpers the other crates need to
//! present keys.

mod encoding;
mod error;
mod licence_file;
mod password;
mod secrets;
mod signing;

pub use encoding::{b64, b64_decode, b64url, hex};
pub use error::CryptoError;
pub use licence_file::{
    FixedEncryption, LICENCE_FILE_CLOCK_SKEW_MS, LICENCE_FILE_MAGIC, LicenceFileCheck, LicenceFileError,
    MAX_LICENCE_FILE_BYTES, VerifiedLicenceFile, issue_licence_file, issue_licence_file_with, verify_licence_file,
};
pub use password::{hash_password, verify_password};
pub use secrets::{Digester, MasterKey, Sealer, constant_time_eq, hmac_sha256, random_bytes, random_token, sha256};
pub use signing::{Algorithm, PublicKey, SigningKey};
