use crate::keys::KeyRing;
use licensd_domain::Clock;
use licensd_store::Store;
use std::sync::Arc;

/// Settings the HTTP layer needs (the binary owns parsing them).
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Most licenses one bulk request may create.
    pub max_bulk_licenses: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_bulk_licenses: 10_000,
        }
    }
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<ServerSettings>,
}

impl AppState {
    pub fn now(&self) -> licensd_domain::Millis {
        self.clock.now()
    }
}
