use std::fmt;

use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ED25519, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents, RsaSubjectPublicKey, UnparsedPublicKey, VerificationAlgorithm,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{CryptoError, b64, b64_decode, b64url, hex, sha256};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID
/// 1.3.101.112 }, BIT STRING (0 unused bits) } followed by the 32-byte raw key.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
const ED25519_KEY_LEN: usize = 32;

const PEM_HEADER: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_FOOTER: &str = "-----END PUBLIC KEY-----";

/// Signing algorithms licensd issues licences with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSA 2048-bit, RSASSA-PKCS1-v1_5 with SHA-256 (what SLASCONE-style clients expect).
    #[serde(rename = "RSA-2048")]
    Rsa2048,
    /// RSA 4096-bit, RSASSA-PKCS1-v1_5 with SHA-256.
    #[serde(rename = "RSA-4096")]
    Rsa4096,
    /// Pure Ed25519 (RFC 8032).
    #[serde(rename = "Ed25519")]
    Ed25519,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa2048 => "RSA-2048",
            Self::Rsa4096 => "RSA-4096",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// Parses the names produced by [`Algorithm::as_str`], ignoring ASCII case so
    /// hand-written configuration ("rsa-2048", "ed25519") is accepted.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Rsa2048, Self::Rsa4096, Self::Ed25519]
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The JWS `alg` header value (RFC 7518 / RFC 8037).
    pub fn jws_alg(self) -> &'static str {
        match self {
            Self::Rsa2048 | Self::Rsa4096 => "RS256",
            Self::Ed25519 => "EdDSA",
        }
    }

    /// Modulus length in bytes for the RSA variants. Keys are checked against it so that a
    /// key row labelled RSA-4096 cannot quietly hold a 2048-bit key.
    fn rsa_modulus_len(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(KeySize::Rsa2048.len()),
            Self::Rsa4096 => Some(KeySize::Rsa4096.len()),
            Self::Ed25519 => None,
        }
    }

    fn verification_algorithm(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::Rsa2048 | Self::Rsa4096 => &RSA_PKCS1_2048_8192_SHA256,
            Self::Ed25519 => &ED25519,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Key id: lowercase hex of the first 8 bytes of SHA-256 over the SPKI DER. Derived from the
/// public key alone so that any party holding the public key computes the same id.
fn kid_for(spki_der: &[u8]) -> String {
    hex(&sha256(spki_der)[..8])
}

fn rejected(e: impl fmt::Display) -> CryptoError {
    CryptoError::KeyRejected(e.to_string())
}

enum Pair {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private signing key: the PKCS#8 DER (what gets sealed and stored) plus the parsed
/// AWS-LC key pair (what signs).
pub struct SigningKey {
    pkcs8: Vec<u8>,
    pair: Pair,
    public: PublicKey,
}

impl SigningKey {
    pub fn generate(alg: Algorithm) -> Result<Self, CryptoError> {
        let pkcs8 = match alg {
            Algorithm::Rsa2048 | Algorithm::Rsa4096 => {
                let size = if alg == Algorithm::Rsa2048 {
                    KeySize::Rsa2048
                } else {
                    KeySize::Rsa4096
                };
                let pair = RsaKeyPair::generate(size).map_err(|_| CryptoError::KeyGeneration)?;
                let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| CryptoError::KeyGeneration)?;
                der.as_ref().to_vec()
            }
            Algorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| CryptoError::KeyGeneration)?
                .as_ref()
                .to_vec(),
        };
        // Going through the same parser as stored keys guarantees a freshly generated key and
        // a reloaded one behave identically (same kid, same checks).
        Self::from_pkcs8(alg, &pkcs8).map_err(|_| CryptoError::KeyGeneration)
    }

    /// Loads an unencrypted PKCS#8 private key, checking it matches `alg` (type and, for RSA,
    /// modulus size).
    pub fn from_pkcs8(alg: Algorithm, pkcs8_der: &[u8]) -> Result<Self, CryptoError> {
        let (pair, spki) = match alg.rsa_modulus_len() {
            Some(modulus_len) => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8_der).map_err(rejected)?;
                if pair.public_modulus_len() != modulus_len {
                    return Err(CryptoError::KeyRejected(format!(
                        "expected a {}-bit RSA key, got {} bits",
                        modulus_len * 8,
                        pair.public_modulus_len() * 8
                    )));
                }
                let spki: PublicKeyX509Der<'static> = pair.public_key().as_der().map_err(rejected)?;
                let spki = spki.as_ref().to_vec();
                (Pair::Rsa(pair), spki)
            }
            None => {
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8_der).map_err(rejected)?;
                let spki: PublicKeyX509Der<'static> = pair.public_key().as_der().map_err(rejected)?;
                let spki = spki.as_ref().to_vec();
                (Pair::Ed25519(pair), spki)
            }
        };
        Ok(Self {
            pkcs8: pkcs8_der.to_vec(),
            pair,
            public: PublicKey {
                algorithm: alg,
                kid: kid_for(&spki),
                spki_der: spki,
            },
        })
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm
    }

    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    /// RSA: RSASSA-PKCS1-v1_5 with SHA-256 (deterministic). Ed25519: pure Ed25519 over the
    /// message (no pre-hash).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.pair {
            Pair::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
                    .map_err(|_| CryptoError::Signing)?;
                Ok(signature)
            }
            Pair::Ed25519(pair) => pair
                .try_sign(message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| CryptoError::Signing),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }
}

impl fmt::Debug for SigningKey {
    // Only public facts: a stray `{:?}` in a log line must never leak the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.public.algorithm)
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

/// A public verification key as X.509 SubjectPublicKeyInfo DER ("PUBLIC KEY").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: Algorithm,
    pub kid: String,
    pub spki_der: Vec<u8>,
}

impl PublicKey {
    /// Validates `der` as a public key for `alg` and computes its kid.
    ///
    /// The stored DER is AWS-LC's canonical SPKI re-encoding of the parsed key, so the kid
    /// always matches the one [`SigningKey::kid`] computes for the same key. As a consequence
    /// an RSA key given as PKCS#1 `RSAPublicKey`, or an Ed25519 key given as its raw 32 bytes,
    /// is accepted and converted to SPKI.
    pub fn from_spki_der(alg: Algorithm, der: Vec<u8>) -> Result<Self, CryptoError> {
        let spki_der = match alg.rsa_modulus_len() {
            Some(modulus_len) => {
                let key = RsaSubjectPublicKey::from_der(&der).map_err(rejected)?;
                let components = RsaPublicKeyComponents::<Vec<u8>>::from(&key);
                if components.n.len() != modulus_len {
                    return Err(CryptoError::KeyRejected(format!(
                        "expected a {}-bit RSA key, got {} bits",
                        modulus_len * 8,
                        components.n.len() * 8
                    )));
                }
                let spki: PublicKeyX509Der<'static> = key.as_der().map_err(rejected)?;
                spki.as_ref().to_vec()
            }
            None => {
                let key = ParsedPublicKey::new(&ED25519, &der).map_err(rejected)?;
                let spki: PublicKeyX509Der<'static> = key.as_der().map_err(rejected)?;
                spki.as_ref().to_vec()
            }
        };
        Ok(Self {
            algorithm: alg,
            kid: kid_for(&spki_der),
            spki_der,
        })
    }

    /// Parses a PEM "PUBLIC KEY" block (as produced by [`PublicKey::to_pem`] or OpenSSL).
    pub fn from_pem(alg: Algorithm, pem: &str) -> Result<Self, CryptoError> {
        let body = pem
            .trim()
            .strip_prefix(PEM_HEADER)
            .and_then(|rest| rest.strip_suffix(PEM_FOOTER))
            .ok_or_else(|| CryptoError::KeyRejected("not a PEM PUBLIC KEY block".into()))?;
        let base64: String = body.split_whitespace().collect();
        Self::from_spki_der(alg, b64_decode(&base64)?)
    }

    /// PEM "PUBLIC KEY" with 64-character base64 lines and a trailing newline.
    pub fn to_pem(&self) -> String {
        let body = b64(&self.spki_der);
        let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
        pem.push_str(PEM_HEADER);
        pem.push('\n');
        // Base64 output is ASCII, so splitting the bytes into chunks never splits a character.
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str(PEM_FOOTER);
        pem.push('\n');
        pem
    }

    /// The key as a JWK (RFC 7517/7518/8037) for a JWKS endpoint.
    ///
    /// Returns `Value::Null` if `spki_der` does not hold a valid key of `algorithm`, which can
    /// only happen if the public fields were set by hand rather than through this crate.
    pub fn to_jwk(&self) -> serde_json::Value {
        match self.algorithm {
            Algorithm::Rsa2048 | Algorithm::Rsa4096 => {
                let Ok(key) = RsaSubjectPublicKey::from_der(&self.spki_der) else {
                    return serde_json::Value::Null;
                };
                // AWS-LC yields n and e big-endian without leading zero bytes, as JWK requires.
                let components = RsaPublicKeyComponents::<Vec<u8>>::from(&key);
                json!({
                    "kty": "RSA",
                    "n": b64url(&components.n),
                    "e": b64url(&components.e),
                    "kid": self.kid,
                    "alg": self.algorithm.jws_alg(),
                    "use": "sig",
                })
            }
            Algorithm::Ed25519 => {
                let raw = match self.spki_der.split_at_checked(ED25519_SPKI_PREFIX.len()) {
                    Some((prefix, raw)) if prefix == ED25519_SPKI_PREFIX && raw.len() == ED25519_KEY_LEN => raw,
                    _ => return serde_json::Value::Null,
                };
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": b64url(raw),
                    "kid": self.kid,
                    "alg": self.algorithm.jws_alg(),
                    "use": "sig",
                })
            }
        }
    }

    /// Verifies `signature` over `message` (RSA: PKCS#1 v1.5 / SHA-256, 2048–8192-bit keys;
    /// Ed25519: pure). AWS-LC accepts the SPKI encoding directly for both key types.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        UnparsedPublicKey::new(self.algorithm.verification_algorithm(), &self.spki_der)
            .verify(message, signature)
            .map_err(|_| CryptoError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Algorithm; 3] = [Algorithm::Rsa2048, Algorithm::Rsa4096, Algorithm::Ed25519];

    // Golden vector from SLASCONE's public demo (see testdata/vectors/slascone/README.md):
    // signature.txt is base64 RSASSA-PKCS1-v1_5/SHA-256 over the exact bytes of license.json.
    const SLASCONE_LICENSE: &[u8] = include_bytes!("../../../testdata/vectors/slascone/license.json");
    const SLASCONE_SIGNATURE: &str = include_str!("../../../testdata/vectors/slascone/signature.txt");
    const SLASCONE_PEM: &str = include_str!("../../../testdata/vectors/slascone/slascone_demo_public_key.pem");

    fn keys() -> Result<Vec<SigningKey>, CryptoError> {
        ALL.into_iter().map(SigningKey::generate).collect()
    }

    #[test]
    fn algorithm_names() -> Result<(), serde_json::Error> {
        for alg in ALL {
            assert_eq!(Algorithm::parse(alg.as_str()), Some(alg));
            assert_eq!(serde_json::to_string(&alg)?, format!("\"{}\"", alg.as_str()));
            assert_eq!(serde_json::from_str::<Algorithm>(&format!("\"{alg}\""))?, alg);
        }
        assert_eq!(Algorithm::parse("ed25519"), Some(Algorithm::Ed25519));
        assert_eq!(Algorithm::parse("RSA-3072"), None);
        assert_eq!(Algorithm::Rsa2048.jws_alg(), "RS256");
        assert_eq!(Algorithm::Rsa4096.jws_alg(), "RS256");
        assert_eq!(Algorithm::Ed25519.jws_alg(), "EdDSA");
        Ok(())
    }

    #[test]
    fn sign_verify_round_trip() -> Result<(), CryptoError> {
        for key in keys()? {
            let public = key.public_key();
            assert_eq!(public.algorithm, key.algorithm());
            let message = b"licence payload";
            let mut signature = key.sign(message)?;
            let expected_len = match key.algorithm() {
                Algorithm::Rsa2048 => 256,
                Algorithm::Rsa4096 => 512,
                Algorithm::Ed25519 => 64,
            };
            assert_eq!(signature.len(), expected_len);
            public.verify(message, &signature)?;

            assert!(matches!(
                public.verify(b"licence payloae", &signature),
                Err(CryptoError::BadSignature)
            ));
            signature[10] ^= 0x80;
            assert!(matches!(
                public.verify(message, &signature),
                Err(CryptoError::BadSignature)
            ));
        }
        Ok(())
    }

    #[test]
    fn pkcs8_round_trip_keeps_kid() -> Result<(), CryptoError> {
        for key in keys()? {
            let again = SigningKey::from_pkcs8(key.algorithm(), key.pkcs8_der())?;
            assert_eq!(again.kid(), key.kid());
            assert_eq!(again.public_key(), key.public_key());
            assert_eq!(again.pkcs8_der(), key.pkcs8_der());
            assert_eq!(key.kid().len(), 16);
            assert!(
                key.kid()
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            );
            assert_eq!(key.kid(), hex(&sha256(&key.public_key().spki_der)[..8]));
            // A signature from the reloaded key verifies under the original public key.
            key.public_key().verify(b"m", &again.sign(b"m")?)?;

            let from_spki = PublicKey::from_spki_der(key.algorithm(), key.public_key().spki_der.clone())?;
            assert_eq!(from_spki, key.public_key());
        }
        Ok(())
    }

    #[test]
    fn algorithm_mismatch_is_rejected() -> Result<(), CryptoError> {
        let rsa = SigningKey::generate(Algorithm::Rsa2048)?;
        let ed = SigningKey::generate(Algorithm::Ed25519)?;
        for (alg, der) in [
            (Algorithm::Rsa4096, rsa.pkcs8_der()),
            (Algorithm::Ed25519, rsa.pkcs8_der()),
            (Algorithm::Rsa2048, ed.pkcs8_der()),
            (Algorithm::Rsa2048, &b"garbage"[..]),
        ] {
            assert!(matches!(
                SigningKey::from_pkcs8(alg, der),
                Err(CryptoError::KeyRejected(_))
            ));
        }
        let rsa_spki = rsa.public_key().spki_der;
        let ed_spki = ed.public_key().spki_der;
        for (alg, der) in [
            (Algorithm::Rsa4096, rsa_spki.clone()),
            (Algorithm::Ed25519, rsa_spki),
            (Algorithm::Rsa2048, ed_spki),
            (Algorithm::Ed25519, b"garbage".to_vec()),
        ] {
            assert!(matches!(
                PublicKey::from_spki_der(alg, der),
                Err(CryptoError::KeyRejected(_))
            ));
        }
        Ok(())
    }

    #[test]
    fn rsa_signatures_are_deterministic() -> Result<(), CryptoError> {
        let key = SigningKey::generate(Algorithm::Rsa2048)?;
        assert_eq!(key.sign(b"same message")?, key.sign(b"same message")?);
        assert_ne!(key.sign(b"same message")?, key.sign(b"other message")?);
        Ok(())
    }

    #[test]
    fn pem_shape() -> Result<(), CryptoError> {
        for key in keys()? {
            let public = key.public_key();
            let pem = public.to_pem();
            assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
            assert!(pem.ends_with("\n-----END PUBLIC KEY-----\n"));
            let lines: Vec<&str> = pem.lines().collect();
            let body = &lines[1..lines.len() - 1];
            assert!(!body.is_empty());
            let (last, full) = body.split_last().ok_or(CryptoError::Base64)?;
            assert!(full.iter().all(|l| l.len() == 64));
            assert!(!last.is_empty() && last.len() <= 64);
            assert_eq!(b64_decode(&body.concat())?, public.spki_der);
            assert_eq!(PublicKey::from_pem(public.algorithm, &pem)?, public);
        }
        Ok(())
    }

    #[test]
    fn jwk_fields() -> Result<(), CryptoError> {
        for key in keys()? {
            let jwk = key.public_key().to_jwk();
            assert_eq!(jwk["kid"], key.kid());
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["alg"], key.algorithm().jws_alg());
            match key.algorithm() {
                Algorithm::Rsa2048 | Algorithm::Rsa4096 => {
                    assert_eq!(jwk["kty"], "RSA");
                    assert_eq!(jwk["e"], "AQAB");
                    let n = jwk["n"].as_str().ok_or(CryptoError::Base64)?;
                    assert!(!n.contains('='));
                    let n = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, n)
                        .map_err(|_| CryptoError::Base64)?;
                    let bits = if key.algorithm() == Algorithm::Rsa2048 {
                        2048
                    } else {
                        4096
                    };
                    assert_eq!(n.len() * 8, bits);
                    assert_ne!(n[0], 0, "no leading zero byte");
                }
                Algorithm::Ed25519 => {
                    assert_eq!(jwk["kty"], "OKP");
                    assert_eq!(jwk["crv"], "Ed25519");
                    let x = jwk["x"].as_str().ok_or(CryptoError::Base64)?;
                    let x = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, x)
                        .map_err(|_| CryptoError::Base64)?;
                    assert_eq!(x.len(), 32);
                    // Raw keys are accepted and normalised to the same SPKI (and kid).
                    assert_eq!(
                        PublicKey::from_spki_der(Algorithm::Ed25519, x.clone())?,
                        key.public_key()
                    );
                    // The raw key verifies the same signatures as the SPKI form.
                    let sig = key.sign(b"jwk")?;
                    UnparsedPublicKey::new(&ED25519, &x)
                        .verify(b"jwk", &sig)
                        .map_err(|_| CryptoError::BadSignature)?;
                }
            }
        }
        Ok(())
    }

    #[test]
    fn debug_hides_private_key() -> Result<(), CryptoError> {
        let key = SigningKey::generate(Algorithm::Ed25519)?;
        let debug = format!("{key:?}");
        assert!(debug.contains(key.kid()));
        assert!(!debug.contains(&hex(key.pkcs8_der())));
        assert!(!debug.contains(&format!("{:?}", key.pkcs8_der())));
        assert!(debug.len() < 100, "{debug}");
        Ok(())
    }

    #[test]
    fn slascone_golden_vector() -> Result<(), CryptoError> {
        let public = PublicKey::from_pem(Algorithm::Rsa2048, SLASCONE_PEM)?;
        let signature = b64_decode(SLASCONE_SIGNATURE.trim())?;
        assert_eq!(signature.len(), 256);
        assert_eq!(SLASCONE_LICENSE.len(), 1287);

        public.verify(SLASCONE_LICENSE, &signature)?;

        let mut changed = SLASCONE_LICENSE.to_vec();
        changed[100] ^= 0x01;
        assert!(matches!(
            public.verify(&changed, &signature),
            Err(CryptoError::BadSignature)
        ));
        let mut bad_sig = signature.clone();
        bad_sig[0] ^= 0x01;
        assert!(matches!(
            public.verify(SLASCONE_LICENSE, &bad_sig),
            Err(CryptoError::BadSignature)
        ));

        // The PEM in the vector is already canonical SPKI, so our own PEM reproduces it.
        assert_eq!(public.to_pem().trim_end(), SLASCONE_PEM.trim_end());
        assert_eq!(public.to_jwk()["e"], "AQAB");
        // A 2048-bit key must not be accepted as RSA-4096.
        assert!(PublicKey::from_pem(Algorithm::Rsa4096, SLASCONE_PEM).is_err());
        Ok(())
    }

    #[test]
    fn shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SigningKey>();
        assert_send_sync::<PublicKey>();
    }
}
