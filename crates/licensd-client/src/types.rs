//! What the licensd client API answers, as the SDK hands it to the application.

use licensd_domain::licence_file::LicenceFileContents;
use licensd_domain::{Device, FloatingLease, Millis};
use serde::{Deserialize, Serialize};

/// What an application may rely on about its licence (the type the server answers with).
pub use licensd_domain::LicenseSummary;

/// Where a validation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The server answered just now.
    Online,
    /// The server could not be reached; this is the last signed answer, still inside the
    /// offline grace period.
    Cached,
}

/// A licence that validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub license: LicenseSummary,
    pub device: Option<Device>,
    pub in_grace_period: bool,
    pub maintenance_active: bool,
    /// When the server checked (milliseconds since the Unix epoch).
    pub checked_at: Millis,
    pub source: Source,
}

/// Extra facts about the device, sent with an activation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeviceDetails {
    pub name: Option<String>,
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub app_version: Option<String>,
    pub mac: Option<String>,
    pub is_vm: bool,
    /// A JSON object of free-form variables.
    pub variables: Option<serde_json::Value>,
}

/// A successful activation.
#[derive(Debug, Clone, PartialEq)]
pub struct Activation {
    /// False when the device was active already (nothing was consumed).
    pub newly_activated: bool,
    pub license: LicenseSummary,
    pub device: Device,
}

/// A recorded consumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumption {
    pub license_id: i64,
    /// The counter after this consumption.
    pub total: i64,
    /// True when the idempotency key had been used already (nothing was counted twice).
    pub replayed: bool,
}

/// A licence file the server issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedLicenceFile {
    /// The file, to be stored as is.
    pub file: String,
    pub kid: String,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub encrypted: bool,
}

/// A licence file that verified offline.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenceFile {
    pub kid: String,
    pub encrypted: bool,
    pub contents: LicenceFileContents,
}

// Wire shapes (private): the signed JSON the server answers.

#[derive(Deserialize)]
pub(crate) struct ValidateAnswer {
    pub valid: bool,
    pub code: String,
    pub detail: String,
    pub in_grace_period: bool,
    pub maintenance_active: bool,
    pub license: Option<LicenseSummary>,
    pub device: Option<Device>,
    pub checked_at: Millis,
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ActivateAnswer {
    pub code: String,
    pub license: LicenseSummary,
    pub device: Device,
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ActionAnswer {
    #[allow(dead_code)]
    pub code: String,
    #[allow(dead_code)]
    pub license_id: i64,
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ConsumeAnswer {
    pub license_id: i64,
    pub total: i64,
    pub replayed: bool,
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CheckoutAnswer {
    pub lease: FloatingLease,
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct FileAnswer {
    pub kid: String,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub encrypted: bool,
    pub file: String,
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ErrorAnswer {
    pub error: ErrorDetail,
}

#[derive(Deserialize)]
pub(crate) struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// Answers that echo the request nonce.
pub(crate) trait Nonced {
    fn nonce(&self) -> Option<&str>;
}

macro_rules! nonced {
    ($($t:ty),*) => {$(
        impl Nonced for $t {
            fn nonce(&self) -> Option<&str> {
                self.nonce.as_deref()
            }
        }
    )*};
}
nonced!(
    ValidateAnswer,
    ActivateAnswer,
    ActionAnswer,
    ConsumeAnswer,
    CheckoutAnswer,
    FileAnswer
);
