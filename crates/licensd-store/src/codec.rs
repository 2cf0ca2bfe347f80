//! How the store protects secrets without depending on a crypto library: the server hands it a
//! codec that seals (encrypts) secrets at rest and derives keyed digests for lookups.

pub trait SecretCodec: Send + Sync + 'static {
    /// Encrypts a secret for storage. `context` binds the ciphertext to its use (e.g. "license-key").
    fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8>;
    /// Decrypts what `seal` produced; `None` when it was tampered with or sealed under another key.
    fn open(&self, sealed: &[u8], context: &str) -> Option<Vec<u8>>;
    /// A keyed digest (HMAC) of a secret, used as its lookup key.
    fn digest(&self, secret: &[u8]) -> Vec<u8>;
}
