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
        })
    }

    pub fn rsa(&self) -> Arc<SigningKey> {
        self.read().rsa.clone()
    }
    pub fn ed25519(&self) -> Arc<SigningKey> {
        self.read().ed25519.clone()
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
