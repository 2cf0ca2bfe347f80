//! The offline cache: the last signed validation answer (exact bytes, signature and key id) and
//! the latest time this application has seen. Both live in one directory the application
//! chooses. The cached answer is re-verified against the pinned keys every time it is used, so
//! editing the file only makes it unusable.

use crate::ClientError;
use licensd_domain::Millis;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A signed validation answer as it was received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CachedAnswer {
    pub kid: String,
    pub signature: String,
    /// Base64 of the exact body bytes.
    pub body: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: PathBuf,
    /// Names the files for one licence on one device.
    slot: String,
}

impl Cache {
    pub fn new(dir: &Path, licence_key: &str, fingerprint: &str) -> Self {
        let mut id = licence_key.as_bytes().to_vec();
        id.push(0);
        id.extend_from_slice(fingerprint.as_bytes());
        Self {
            dir: dir.to_path_buf(),
            slot: licensd_crypto::hex(&licensd_crypto::sha256(&id)[..12]),
        }
    }

    fn validation_path(&self) -> PathBuf {
        self.dir.join(format!("licensd-validation-{}.json", self.slot))
    }

    fn last_seen_path(&self) -> PathBuf {
        self.dir.join(format!("licensd-last-seen-{}", self.slot))
    }

    /// Writes through a temporary file and a rename, so a crash never leaves half a file.
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| ClientError::Cache(e.to_string()))?;
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, bytes).map_err(|e| ClientError::Cache(e.to_string()))?;
        std::fs::rename(&temporary, path).map_err(|e| ClientError::Cache(e.to_string()))
    }

    pub fn store_validation(&self, answer: &CachedAnswer) -> Result<(), ClientError> {
        let bytes = serde_json::to_vec(answer).map_err(|e| ClientError::Cache(e.to_string()))?;
        self.write(&self.validation_path(), &bytes)
    }

    pub fn load_validation(&self) -> Result<Option<CachedAnswer>, ClientError> {
        match std::fs::read(self.validation_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| ClientError::Cache("the cached validation is not readable".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::Cache(e.to_string())),
        }
    }

    pub fn forget_validation(&self) -> Result<(), ClientError> {
        match std::fs::remove_file(self.validation_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClientError::Cache(e.to_string())),
        }
    }

    pub fn last_seen(&self) -> Option<Millis> {
        std::fs::read_to_string(self.last_seen_path())
            .ok()
            .and_then(|text| text.trim().parse().ok())
    }

    /// Records `now` unless a later time was seen already.
    pub fn saw(&self, now: Millis) -> Result<(), ClientError> {
        if self.last_seen().is_some_and(|seen| seen >= now) {
            return Ok(());
        }
        self.write(&self.last_seen_path(), now.to_string().as_bytes())
    }
}
