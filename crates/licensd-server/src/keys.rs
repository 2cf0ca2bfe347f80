//! Signing keys in use, and the codec that protects secrets at rest.

use licensd_crypto::{Algorithm, CryptoError, Digester, PublicKey, Sealer, SigningKey};
use licensd_domain::{EventDraft, Millis};
use licensd_store::{NewSigningKey, SecretCodec, Store, StoreError, StoredSigningKey};
use std::sync::{Arc, RwLock};

/// Seals secrets with AES-256-GCM and digests them with HMAC-SHA256, both keyed from the master key.
pub struct CryptoCodec {
    sealer: Sealer,
    digester: Digester,
}

impl CryptoCodec {
    pub fn new(master: &licensd_crypto::MasterKey) -> Self {
        Self {
            sealer: master.sealer(),
            digester: master.digester(),
        }
    }
}

impl SecretCodec for CryptoCodec {
    fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        // Sealing only fails if the system RNG fails; there is no safe way to continue then.
        match self.sealer.seal(plaintext, context.as_bytes()) {
            Ok(sealed) => sealed,
            Err(error) => panic!("cannot seal secret: {error}"),
        }
    }
    fn open(&self, sealed: &[u8], context: &str) -> Option<Vec<u8>> {
        self.sealer.open(sealed, context.as_bytes()).ok()
    }
    fn digest(&self, secret: &[u8]) -> Vec<u8> {
        self.digester.digest(secret).to_vec()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("stored signing key {kid} uses unknown algorithm {algorithm}")]
    UnknownAlgorithm { kid: String, algorithm: String },
}

struct Active {
    rsa: Arc<SigningKey>,
    ed25519: Arc<SigningKey>,
    published: Vec<PublishedKey>,
}

/// A public key as published, active or retired.
#[derive(Debug, Clone)]
pub struct PublishedKey {
    pub public: PublicKey,
    pub active: bool,
    pub created_at: Millis,
    pub retired_at: Option<Millis>,
}

/// The active signing keys (one RSA, one Ed25519) and every public key ever used.
pub struct KeyRing {
    rsa_algorithm: Algorithm,
    inner: RwLock<Active>,
    signatures: SignatureCache,
}

/// Signatures of recently signed bodies, keyed by (key id, SHA-256 of the exact bytes).
///
/// RSA PKCS#1 v1.5 and Ed25519 are deterministic: the same key over the same bytes always gives
/// the same signature, so a hit can never be wrong or stale — a changed license changes the bytes
/// and misses. Repeated checks of an unchanged license then skip the signature (300 µs for
/// RSA-2048). Bounded with two generations: when the current one is full it becomes the previous
/// one (the older previous is dropped) and hits there are promoted, so a working set that fits in
/// one generation keeps hitting instead of being wiped all at once.
struct SignatureCache {
    entries: std::sync::Mutex<Generations>,
    /// Entries per generation.
    capacity: usize,
}

/// (key id, SHA-256 of the signed bytes) → signature.
type SignatureMap = std::collections::HashMap<(String, [u8; 32]), Arc<Vec<u8>>>;

#[derive(Default)]
struct Generations {
    current: SignatureMap,
    previous: SignatureMap,
}

impl Generations {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

impl SignatureCache {
    fn new(capacity: usize) -> Self {
        Self {
            entries: std::sync::Mutex::new(Generations::default()),
            capacity: capacity.max(1),
        }
    }

    fn sign(&self, key: &SigningKey, bytes: &[u8]) -> Result<Arc<Vec<u8>>, CryptoError> {
        let id = (key.kid().to_string(), licensd_crypto::sha256(bytes));
        {
            let mut entries = self.lock();
            if let Some(hit) = entries.current.get(&id) {
                return Ok(hit.clone());
            }
            if let Some(hit) = entries.previous.remove(&id) {
                self.insert(&mut entries, id, hit.clone());
                return Ok(hit);
            }
        }
        // Sign outside the lock: an RSA signature takes hundreds of microseconds.
        let signature = Arc::new(key.sign(bytes)?);
        self.insert(&mut self.lock(), id, signature.clone());
        Ok(signature)
    }

    fn insert(&self, entries: &mut Generations, id: (String, [u8; 32]), signature: Arc<Vec<u8>>) {
        if entries.current.len() >= self.capacity {
            entries.previous = std::mem::take(&mut entries.current);
        }
        entries.current.insert(id, signature);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // The maps hold no invariant a panicking holder could break.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl KeyRing {
    /// Loads the active keys, generating any that are missing (first start).
    pub async fn load(store: &dyn Store, rsa_algorithm: Algorithm, now: Millis) -> Result<Self, KeyError> {
        let rsa = ensure(store, rsa_algorithm, now).await?;
        let ed25519 = ensure(store, Algorithm::Ed25519, now).await?;
        let published = published(store).await?;
        Ok(Self {
            rsa_algorithm,
            inner: RwLock::new(Active {
                rsa: Arc::new(rsa),
                ed25519: Arc::new(ed25519),
                published,
            }),
            // Two generations of 32,768: every license of a 10k-license check workload (two
            // RSA signatures each for LicenseSpring) stays cached; at most ~30 MB.
            signatures: SignatureCache::new(32_768),
        })
    }

    pub fn rsa(&self) -> Arc<SigningKey> {
        self.read().rsa.clone()
    }
    pub fn ed25519(&self) -> Arc<SigningKey> {
        self.read().ed25519.clone()
    }
    /// Signs `bytes` with `key`, reusing the signature when these exact bytes were signed recently.
    pub fn sign_cached(&self, key: &SigningKey, bytes: &[u8]) -> Result<Arc<Vec<u8>>, CryptoError> {
        self.signatures.sign(key, bytes)
    }

    pub fn published(&self) -> Vec<PublishedKey> {
        self.read().published.clone()
    }

    /// Replaces the active key of `algorithm` (RSA means the configured RSA size) with a new one.
    pub async fn rotate(
        &self,
        store: &dyn Store,
        algorithm: Algorithm,
        event: EventDraft,
        now: Millis,
    ) -> Result<PublicKey, KeyError> {
        let algorithm = if algorithm == Algorithm::Ed25519 {
            algorithm
        } else {
            self.rsa_algorithm
        };
        let key = generate(algorithm).await?;
        let stored = store.rotate_signing_key(new_signing_key(&key), event, now).await?;
        let key = to_signing_key(&stored)?;
        let public = key.public_key();
        let published = published(store).await?;
        let mut inner = self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if algorithm == Algorithm::Ed25519 {
            inner.ed25519 = Arc::new(key);
        } else {
            inner.rsa = Arc::new(key);
        }
        inner.published = published;
        Ok(public)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Active> {
        // A panic while holding the lock cannot leave `Active` half-written (fields are replaced whole).
        self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn generate(algorithm: Algorithm) -> Result<SigningKey, KeyError> {
    // RSA-4096 generation takes seconds: keep it off the async workers.
    tokio::task::spawn_blocking(move || SigningKey::generate(algorithm))
        .await
        .map_err(|_| KeyError::Crypto(CryptoError::KeyGeneration))?
        .map_err(KeyError::from)
}

fn new_signing_key(key: &SigningKey) -> NewSigningKey {
    NewSigningKey {
        kid: key.kid().to_string(),
        algorithm: key.algorithm().as_str().to_string(),
        public_der: key.public_key().spki_der,
        private_pkcs8: key.pkcs8_der().to_vec(),
    }
}

async fn ensure(store: &dyn Store, algorithm: Algorithm, now: Millis) -> Result<SigningKey, KeyError> {
    if let Some(existing) = store
        .list_signing_keys()
        .await?
        .into_iter()
        .find(|k| k.active && k.algorithm == algorithm.as_str())
    {
        return to_signing_key(&existing);
    }
    let key = generate(algorithm).await?;
    let stored = store.ensure_signing_key(new_signing_key(&key), now).await?;
    to_signing_key(&stored)
}

fn to_signing_key(stored: &StoredSigningKey) -> Result<SigningKey, KeyError> {
    let algorithm = Algorithm::parse(&stored.algorithm).ok_or_else(|| KeyError::UnknownAlgorithm {
        kid: stored.kid.clone(),
        algorithm: stored.algorithm.clone(),
    })?;
    Ok(SigningKey::from_pkcs8(algorithm, &stored.private_pkcs8)?)
}

async fn published(store: &dyn Store) -> Result<Vec<PublishedKey>, KeyError> {
    let mut keys = Vec::new();
    for stored in store.list_signing_keys().await? {
        let algorithm = Algorithm::parse(&stored.algorithm).ok_or_else(|| KeyError::UnknownAlgorithm {
            kid: stored.kid.clone(),
            algorithm: stored.algorithm.clone(),
        })?;
        keys.push(PublishedKey {
            public: PublicKey::from_spki_der(algorithm, stored.public_der.clone())?,
            active: stored.active,
            created_at: stored.created_at,
            retired_at: stored.retired_at,
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_signatures_are_reused_only_for_identical_bytes() {
        let cache = SignatureCache::new(4);
        let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
        let first = cache.sign(&key, b"{\"valid\":true}").unwrap();
        let again = cache.sign(&key, b"{\"valid\":true}").unwrap();
        assert!(Arc::ptr_eq(&first, &again), "identical bytes should hit the cache");
        let changed = cache.sign(&key, b"{\"valid\":false}").unwrap();
        assert_ne!(first, changed);
        key.public_key().verify(b"{\"valid\":false}", &changed).unwrap();
        key.public_key().verify(b"{\"valid\":true}", &again).unwrap();
    }

    #[test]
    fn cache_is_per_key_and_bounded() {
        let cache = SignatureCache::new(2);
        let one = SigningKey::generate(Algorithm::Ed25519).unwrap();
        let two = SigningKey::generate(Algorithm::Ed25519).unwrap();
        let by_one = cache.sign(&one, b"body").unwrap();
        let by_two = cache.sign(&two, b"body").unwrap();
        assert_ne!(
            by_one, by_two,
            "a signature by one key must never be served for another"
        );
        two.public_key().verify(b"body", &by_two).unwrap();
        cache.sign(&one, b"third").unwrap();
        cache.sign(&one, b"fourth").unwrap();
        cache.sign(&one, b"fifth").unwrap();
        assert!(cache.lock().len() <= 4, "two generations of two entries at most");
    }

    #[test]
    fn a_working_set_that_fits_a_generation_keeps_hitting() {
        let cache = SignatureCache::new(2);
        let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
        let first = cache.sign(&key, b"one").unwrap();
        let second = cache.sign(&key, b"two").unwrap();
        // A third body rolls the generation; the first two survive in the previous one.
        cache.sign(&key, b"three").unwrap();
        assert!(Arc::ptr_eq(&first, &cache.sign(&key, b"one").unwrap()));
        assert!(Arc::ptr_eq(&second, &cache.sign(&key, b"two").unwrap()));
    }
}
