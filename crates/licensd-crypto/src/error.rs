/// Every failure this crate reports.
///
/// Variants carry no secret material and, for the verification and unsealing paths,
/// deliberately no detail: telling a caller *why* a signature or ciphertext was rejected only
/// helps an attacker.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The library could not generate a key pair.
    #[error("key generation failed")]
    KeyGeneration,
    /// A private or public key could not be parsed, or does not match the expected algorithm.
    #[error("key rejected: {0}")]
    KeyRejected(String),
    /// Producing a signature failed.
    #[error("signing failed")]
    Signing,
    /// A signature did not verify.
    #[error("bad signature")]
    BadSignature,
    /// A sealed value could not be opened (wrong key, wrong context, tampered or truncated).
    #[error("could not unseal value")]
    Unseal,
    /// Encrypting a value failed.
    #[error("could not seal value")]
    Seal,
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// Master key material had the wrong length or encoding.
    #[error("invalid master key: expected 32 bytes")]
    InvalidMasterKey,
    /// Input was not valid base64.
    #[error("invalid base64")]
    Base64,
    /// Hashing a password failed.
    #[error("password hashing failed")]
    PasswordHash,
}
