//! Argon2id off the async runtime. Hashing or verifying a password costs ~25 ms of CPU, so every
//! password operation of the server (native, LicenseSpring, DNA) runs through these two functions,
//! on tokio's blocking pool, never on a runtime worker.

/// The blocking task failed (panicked or was cancelled) or the hasher refused: an internal error
/// for the caller's API.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct PasswordTaskFailed;

/// Hashes `password` with argon2id (PHC string).
pub async fn hash(password: String) -> Result<String, PasswordTaskFailed> {
    tokio::task::spawn_blocking(move || licensd_crypto::hash_password(&password))
        .await
        .map_err(|_| PasswordTaskFailed)?
        .map_err(|_| PasswordTaskFailed)
}

/// Whether `password` matches the stored PHC `hash` (a malformed hash is a mismatch).
pub async fn verify(password: String, hash: String) -> Result<bool, PasswordTaskFailed> {
    tokio::task::spawn_blocking(move || licensd_crypto::verify_password(&password, &hash))
        .await
        .map_err(|_| PasswordTaskFailed)
}
