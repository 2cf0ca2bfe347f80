//! Client SDK for licensd's native client API.
//!
//! - [`Client`] (async) and [`blocking::Client`]: activate, validate, deactivate, consume,
//!   checkout / heartbeat / release of floating seats, and offline licence files.
//! - Every answer is trusted only after its Ed25519 signature (`X-Licensd-Signature`, over the
//!   exact body bytes) verifies under one of the public keys pinned in [`ClientConfig`], and a
//!   successful answer must echo the random nonce of its request (an old answer replayed by a
//!   proxy is refused). Error answers are signed too and become typed errors:
//!   [`ClientError::Denied`] carries the domain's [`Denial`].
//! - Offline: with a cache directory, the last signed "valid" answer is kept on disk and honoured
//!   for [`ClientConfig::offline_grace`] when the server cannot be reached (never when it
//!   answered with a refusal). A clock set back behind the latest time seen is refused.
//! - Licence files (docs/licence-file.md) are verified without a network by
//!   [`Client::verify_licence_file`].
//! - [`machine_fingerprint`]: the machine id keyed with an application salt (HMAC-SHA256).
//!
//! ```no_run
//! # async fn run() -> Result<(), licensd_client::ClientError> {
//! use licensd_client::{Client, ClientConfig, DeviceDetails, machine_fingerprint};
//! let fingerprint = machine_fingerprint(b"com.example.app")?;
//! let config = ClientConfig::new("https://licensing.example.com", "ABCD-EFGH-IJKL", fingerprint)
//!     .trust_pem(include_str!("../../../testdata/licence-file/public-key.pem"))?
//!     .cache_dir("/var/lib/example-app/licence");
//! let client = Client::new(config)?;
//! client.activate(&DeviceDetails::default()).await?;
//! let validation = client.validate().await?;
//! println!("licensed for {} until {:?}", validation.license.product, validation.license.expires_at);
//! # Ok(()) }
//! ```

mod answer;
pub mod blocking;
mod cache;
mod client;
mod error;
mod fingerprint;
mod types;

pub use client::{Client, ClientConfig, DEFAULT_OFFLINE_GRACE};
pub use error::ClientError;
pub use fingerprint::{fingerprint_from_machine_id, machine_fingerprint, machine_id};
pub use licensd_crypto::{LicenceFileError, PublicKey};
pub use licensd_domain::Denial;
pub use licensd_domain::licence_file::{LicenceFileContents, LicenceFileFeature, LicenceFileLicense};
pub use types::{
    Activation, Consumption, DeviceDetails, IssuedLicenceFile, LicenceFile, LicenseSummary, Source, Validation,
};
