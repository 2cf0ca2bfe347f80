use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

use crate::{CryptoError, random_bytes};

/// Salt length in bytes (the 128 bits recommended by the PHC string format guidance).
const SALT_LEN: usize = 16;

/// Hashes `password` with Argon2id (crate default parameters) and a fresh random salt,
/// returning a PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
///
/// The salt comes from AWS-LC's RNG so this crate has a single randomness source.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let mut salt = [0u8; SALT_LEN];
    random_bytes(&mut salt)?;
    let hash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|_| CryptoError::PasswordHash)?;
    Ok(hash.to_string())
}

/// Checks `password` against a PHC string produced by [`hash_password`].
///
/// The parameters stored in the hash are used, so raising the defaults later does not lock
/// existing users out. A malformed hash is simply a mismatch: callers only need yes or no.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() -> Result<(), CryptoError> {
        let phc = hash_password("correct horse")?;
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct horsf", &phc));
        assert!(!verify_password("", &phc));
        // Fresh salt each time.
        assert_ne!(phc, hash_password("correct horse")?);
        Ok(())
    }

    #[test]
    fn malformed_hash_is_a_mismatch() {
        assert!(!verify_password("x", ""));
        assert!(!verify_password("x", "not a phc string"));
        assert!(!verify_password("x", "$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB"));
    }
}
