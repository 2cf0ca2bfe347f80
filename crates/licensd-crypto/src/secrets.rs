use std::fmt;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use subtle::ConstantTimeEq as _;

use crate::{CryptoError, b64, b64_decode, b64url};

/// Format version of a sealed value. Stored as the first byte so the format (algorithm, nonce
/// size) can change later without guessing what old rows contain.
const SEAL_VERSION: u8 = 1;
/// AES-GCM authentication tag length.
const TAG_LEN: usize = 16;

/// Fills `buf` from the operating system's CSPRNG (via AWS-LC).
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new().fill(buf).map_err(|_| CryptoError::Random)
}

/// A fresh bearer secret: `prefix` followed by 256 random bits in URL-safe base64.
///
/// The prefix makes leaked tokens recognisable (secret scanners, logs) without weakening them.
pub fn random_token(prefix: &str) -> Result<String, CryptoError> {
    let mut bytes = [0u8; 32];
    random_bytes(&mut bytes)?;
    Ok(format!("{prefix}{}", b64url(&bytes)))
}

/// Compares two byte strings without leaking, through timing, where they first differ.
///
/// Lengths are not secret (tokens have fixed, public lengths), so a length mismatch returns
/// early.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    // SHA-256 output is always 32 bytes, so the lengths match by construction.
    out.copy_from_slice(d.as_ref());
    out
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    Digester::new(key).digest(data)
}

/// Keyed digests (HMAC-SHA256) for looking secrets up without storing them.
///
/// A plain hash of an API key or licence key would let anyone with a database dump test
/// guesses offline; keying it with a server secret makes the dump alone useless.
#[derive(Clone)]
pub struct Digester {
    key: hmac::Key,
}

impl Digester {
    pub fn new(key: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    pub fn digest(&self, data: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.key, data);
        let mut out = [0u8; 32];
        // HMAC-SHA256 tags are always 32 bytes, so the lengths match by construction.
        out.copy_from_slice(tag.as_ref());
        out
    }
}

impl fmt::Debug for Digester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digester(..)")
    }
}

/// AES-256-GCM sealing of secrets at rest (signing private keys, license keys, API shared
/// secrets).
///
/// Sealed format: `version (1) || nonce (12 random bytes) || ciphertext || tag (16)`.
/// Random 96-bit nonces are safe for far more values than one server will ever seal under a
/// single key (the usual bound is 2^32 messages). The `aad` binds a ciphertext to its context
/// (for example the table, column and row id) so a sealed value copied to another row does not
/// open there.
#[derive(Clone)]
pub struct Sealer {
    // Arc because the AWS-LC key context is not `Clone`, and callers want to share one sealer
    // between request handlers cheaply.
    key: Arc<LessSafeKey>,
}

impl Sealer {
    pub fn new(key: [u8; 32]) -> Self {
        // `UnboundKey::new` only fails when the key length differs from the algorithm's key
        // length; AES-256 takes 32 bytes and the array type guarantees 32, so this cannot fail.
        #[allow(clippy::expect_used, reason = "a [u8; 32] is always a valid AES-256 key length")]
        let unbound = UnboundKey::new(&AES_256_GCM, &key).expect("AES-256-GCM accepts any 32-byte key by construction");
        Self {
            key: Arc::new(LessSafeKey::new(unbound)),
        }
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce).map_err(|_| CryptoError::Seal)?;

        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        let mut in_out = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut in_out)
            .map_err(|_| CryptoError::Seal)?;
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Unseal)?;
        if version != SEAL_VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Unseal);
        }
        let (nonce_bytes, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| CryptoError::Unseal)?;
        let mut in_out = ciphertext.to_vec();
        let plaintext_len = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| CryptoError::Unseal)?
            .len();
        in_out.truncate(plaintext_len);
        Ok(in_out)
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// The server's master key: 32 random bytes from which purpose-specific subkeys are derived.
///
/// Subkeys are separated by label so that, for example, the sealing key and the digest key are
/// independent even though one secret is configured.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = [0u8; 32];
        random_bytes(&mut bytes)?;
        Ok(Self(bytes))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| CryptoError::InvalidMasterKey)
    }

    /// Parses standard base64; surrounding whitespace (a trailing newline in a key file or
    /// environment variable) is ignored.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = b64_decode(text.trim()).map_err(|_| CryptoError::InvalidMasterKey)?;
        Self::from_bytes(&bytes)
    }

    pub fn to_base64(&self) -> String {
        b64(&self.0)
    }

    /// A 32-byte subkey for `label`: HMAC-SHA256(master, "licensd/" + label).
    pub fn derive(&self, label: &str) -> [u8; 32] {
        hmac_sha256(&self.0, format!("licensd/{label}").as_bytes())
    }

    pub fn sealer(&self) -> Sealer {
        Sealer::new(self.derive("seal"))
    }

    pub fn digester(&self) -> Digester {
        Digester::new(&self.derive("digest"))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new([byte; 32])
    }

    #[test]
    fn seal_round_trip() -> Result<(), CryptoError> {
        let s = sealer(7);
        for plaintext in [&b""[..], b"x", b"a secret private key"] {
            let sealed = s.seal(plaintext, b"ctx")?;
            assert_eq!(sealed.len(), 1 + NONCE_LEN + plaintext.len() + TAG_LEN);
            assert_eq!(sealed[0], SEAL_VERSION);
            assert_eq!(s.open(&sealed, b"ctx")?, plaintext);
        }
        Ok(())
    }

    #[test]
    fn seal_rejects_wrong_aad_tampering_and_other_key() -> Result<(), CryptoError> {
        let s = sealer(7);
        let sealed = s.seal(b"secret", b"row-1")?;

        assert!(matches!(s.open(&sealed, b"row-2"), Err(CryptoError::Unseal)));
        assert!(matches!(sealer(8).open(&sealed, b"row-1"), Err(CryptoError::Unseal)));

        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(
                matches!(s.open(&tampered, b"row-1"), Err(CryptoError::Unseal)),
                "flipping byte {i} must be detected"
            );
        }
        for len in 0..sealed.len() {
            assert!(matches!(s.open(&sealed[..len], b"row-1"), Err(CryptoError::Unseal)));
        }
        Ok(())
    }

    #[test]
    fn seals_are_randomised() -> Result<(), CryptoError> {
        let s = sealer(1);
        let a = s.seal(b"same", b"")?;
        let b = s.seal(b"same", b"")?;
        assert_ne!(a, b);
        assert_eq!(s.open(&a, b"")?, s.open(&b, b"")?);
        Ok(())
    }

    #[test]
    fn digester_is_deterministic_and_keyed() {
        let d = Digester::new(b"key one");
        assert_eq!(d.digest(b"data"), d.digest(b"data"));
        assert_ne!(d.digest(b"data"), d.digest(b"datb"));
        assert_ne!(d.digest(b"data"), Digester::new(b"key two").digest(b"data"));
        assert_eq!(d.digest(b"data"), hmac_sha256(b"key one", b"data"));
    }

    #[test]
    fn hmac_and_sha256_known_answers() {
        // RFC 4231 test case 2.
        assert_eq!(
            crate::hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            crate::hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn master_key_base64_round_trip() -> Result<(), CryptoError> {
        let mk = MasterKey::generate()?;
        let text = mk.to_base64();
        let again = MasterKey::from_base64(&format!("  {text}\n"))?;
        assert_eq!(again.0, mk.0);
        assert_eq!(again.derive("seal"), mk.derive("seal"));
        Ok(())
    }

    #[test]
    fn master_key_rejects_wrong_length_and_garbage() {
        assert!(matches!(
            MasterKey::from_bytes(&[0u8; 31]),
            Err(CryptoError::InvalidMasterKey)
        ));
        assert!(matches!(
            MasterKey::from_bytes(&[0u8; 33]),
            Err(CryptoError::InvalidMasterKey)
        ));
        assert!(MasterKey::from_bytes(&[0u8; 32]).is_ok());
        assert!(matches!(
            MasterKey::from_base64(&b64(&[0u8; 16])),
            Err(CryptoError::InvalidMasterKey)
        ));
        assert!(matches!(
            MasterKey::from_base64("%%%"),
            Err(CryptoError::InvalidMasterKey)
        ));
    }

    #[test]
    fn master_key_labels_are_independent() -> Result<(), CryptoError> {
        let mk = MasterKey::from_bytes(&[42u8; 32])?;
        assert_ne!(mk.derive("seal"), mk.derive("digest"));
        assert_ne!(mk.derive("a"), mk.derive("b"));
        assert_eq!(mk.derive("seal"), hmac_sha256(&[42u8; 32], b"licensd/seal"));
        // The sealer and digester really use the derived subkeys.
        let sealed = mk.sealer().seal(b"x", b"")?;
        assert_eq!(Sealer::new(mk.derive("seal")).open(&sealed, b"")?, b"x");
        assert_eq!(mk.digester().digest(b"x"), hmac_sha256(&mk.derive("digest"), b"x"));
        Ok(())
    }

    #[test]
    fn debug_output_has_no_key_bytes() -> Result<(), CryptoError> {
        let mk = MasterKey::from_bytes(&[0xab; 32])?;
        assert_eq!(format!("{mk:?}"), "MasterKey(..)");
        assert_eq!(format!("{:?}", mk.sealer()), "Sealer(..)");
        assert_eq!(format!("{:?}", mk.digester()), "Digester(..)");
        Ok(())
    }

    #[test]
    fn random_tokens() -> Result<(), CryptoError> {
        let a = random_token("lk_")?;
        let b = random_token("lk_")?;
        assert!(a.starts_with("lk_"));
        assert_eq!(a.len(), 3 + 43);
        assert_ne!(a, b);
        assert!(
            a[3..]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        Ok(())
    }

    #[test]
    fn constant_time_eq_cases() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Sealer>();
        assert_send_sync::<Digester>();
        assert_send_sync::<MasterKey>();
    }
}
