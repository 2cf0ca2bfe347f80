//! A blocking wrapper for applications without an async runtime: each call runs the async
//! client on a private single-threaded Tokio runtime. Do not call it from inside an async
//! runtime (use [`crate::Client`] there).

use crate::types::*;
use crate::{ClientConfig, ClientError};
use licensd_domain::{FloatingLease, Millis};

/// The blocking licensd client.
#[derive(Debug)]
pub struct Client {
    inner: crate::Client,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Config(format!("could not start the I/O runtime: {e}")))?;
        Ok(Self {
            inner: crate::Client::new(config)?,
            runtime,
        })
    }

    /// The async client underneath.
    pub fn inner(&self) -> &crate::Client {
        &self.inner
    }

    pub fn activate(&self, details: &DeviceDetails) -> Result<Activation, ClientError> {
        self.runtime.block_on(self.inner.activate(details))
    }

    pub fn validate(&self) -> Result<Validation, ClientError> {
        self.runtime.block_on(self.inner.validate())
    }

    pub fn deactivate(&self) -> Result<(), ClientError> {
        self.runtime.block_on(self.inner.deactivate())
    }

    pub fn consume(
        &self,
        amount: i64,
        feature: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<Consumption, ClientError> {
        self.runtime
            .block_on(self.inner.consume(amount, feature, idempotency_key))
    }

    pub fn checkout(&self, borrow_until: Option<Millis>) -> Result<FloatingLease, ClientError> {
        self.runtime.block_on(self.inner.checkout(borrow_until))
    }

    pub fn heartbeat(&self) -> Result<FloatingLease, ClientError> {
        self.runtime.block_on(self.inner.heartbeat())
    }

    pub fn release(&self) -> Result<(), ClientError> {
        self.runtime.block_on(self.inner.release())
    }

    pub fn checkout_licence_file(
        &self,
        ttl_seconds: Option<i64>,
        encrypt: bool,
    ) -> Result<IssuedLicenceFile, ClientError> {
        self.runtime
            .block_on(self.inner.checkout_licence_file(ttl_seconds, encrypt))
    }

    pub fn verify_licence_file(&self, file: &str) -> Result<LicenceFile, ClientError> {
        self.inner.verify_licence_file(file)
    }
}
