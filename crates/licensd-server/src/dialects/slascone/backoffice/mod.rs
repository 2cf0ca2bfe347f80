//! SLASCONE's back-office groups under the dialect's AdminKey paths (licensd's choice of path
//! where the reference names only the group), each a real store command the native
//! `/v1/slascone/…` API (admin.rs) manages too:
//!
//! | Method & path (below `/api/v2/isv/{isv_id}`) | Conflicts |
//! |---|---|
//! | POST `/customers` | 4002, 4003, 4004, 4005, 9000, 9001, 9002, 9005, 9006 |
//! | POST `/customers/types` | 9004 |
//! | POST `/customers/{customer_id}/tags`, `/licenses/{license_id}/tags`, `/tags/assignments` | 13001, 13002, 13003 (4000, 1000) |
//! | POST `/tags` (idempotent by name) | |
//! | POST `/webhooks` (registration; events are then delivered to it through the outbox) | 10001, 10002, 10003 |
//! | POST `/resellers`, `/resellers/types`, `/resellers/{reseller_id}/contacts` | 14001, 14003, 14002 |
//! | POST `/products/{product_id}/license_types`, `/heartbeat_types`, `/variables`, `/limitations`, `/features`, `/templates` | 6012, 6014, 6017, 6016, 6018, 6013 (3000) |
//! | PUT `/templates/{template_id}`, DELETE `/templates/{template_id}` | 6020, 8000 |
//! | PUT `/licenses/{license_id}/template` | 8002, 8003 |
//! | POST `/data_exchange/licenses/by_template` | 3000, 3001, 3002, 3003, 4000, 8001, 9003, 2009, 1004, 1005 |
//! | POST `/products/{product_id}/software_release_limitations` (idempotent by release) | 3000 |
//! | PUT `/licenses/{license_id}` (limits, expiry, license type, release limitation, `template_id`, `is_temporary`, `legacy_license_key` with `""` removing it; one transaction) | 1000, 1004, 1005, 1011, 2008, 2009, 2011, 8002, 8003, 9003 (404 for an unknown template) |
//!
//! Editions are licensd policies (provisioning mode Floating = floating terms, temporary = trial
//! kind); features and limitations are activation and consumption feature definitions whose code
//! is derived from the name, so a name that differs only in punctuation is "already exists".

mod catalogue;
mod customers;
mod editions;
mod exchange;
mod licenses;
mod tags;

pub use catalogue::*;
pub use customers::*;
pub use editions::*;
pub use exchange::*;
pub use licenses::*;
pub use tags::*;

use super::codes::Conflict;
use super::info::utc;
use super::lookup::{customer_by_guid, known_product, license_by_guid};
use super::wire::{AdminCall, AdminKey, SlPath};
use super::wire::{SlError, SlResult, guid_id, id_guid, json_ok, parse_body, random_guid};
use super::{provisioning, wire};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use licensd_domain::backoffice::{self, CustomerProfile, Entry, EntryKind, EntryScope, TagTarget};
use licensd_domain::*;
use licensd_store::dialects::slascone as sl;
use licensd_store::{LicenseSettings, NewLicense, NewPolicy, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// --- shared checks (the native API uses them too) ---

/// A required name: 1 to 256 characters after trimming.
pub fn entry_name(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|name| !name.is_empty() && name.chars().count() <= 256)
        .map(str::to_owned)
}

/// Checks that the scope of an entry of `kind` exists: the product, the reseller, or 0 for global
/// kinds. `Err(None)` when it does not exist.
pub async fn check_entry_scope(state: &AppState, kind: EntryKind, scope_id: i64) -> Result<(), Option<StoreError>> {
    match kind.scope() {
        EntryScope::Global if scope_id == 0 => Ok(()),
        EntryScope::Global => Err(None),
        EntryScope::Product => match state.store.get_product(ProductId::new(scope_id)).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound) => Err(None),
            Err(other) => Err(Some(other)),
        },
        EntryScope::Reseller => match state.store.find_entry(EntryKind::Reseller, scope_id).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(None),
            Err(other) => Err(Some(other)),
        },
    }
}

/// A catalogue code from a SLASCONE name (codes allow letters, digits, `-`, `_`, `.`).
fn code_of(name: &str) -> String {
    let code: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    code
}

async fn entry_by_guid(state: &AppState, kind: EntryKind, guid: Option<&str>) -> SlResult<Option<Entry>> {
    let Some(id) = guid.and_then(guid_id) else {
        return Ok(None);
    };
    state.store.find_entry(kind, id).await.map_err(SlError::from_store)
}

#[derive(Debug, Serialize)]
pub struct EntryView {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_date_utc: String,
}

impl From<Entry> for EntryView {
    fn from(entry: Entry) -> Self {
        EntryView {
            id: id_guid(entry.id),
            name: entry.name,
            description: entry.detail,
            created_date_utc: utc(entry.created_at),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NamedRequest {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// Creates a named entry of `kind` in `scope_id`; a duplicate is `duplicate`, a missing or blank
/// name a technical 400 unless `empty` names the kind's conflict.
async fn create_entry(
    state: &AppState,
    actor: String,
    kind: EntryKind,
    scope_id: i64,
    request: &NamedRequest,
    duplicate: Conflict,
) -> SlResult<Entry> {
    let name = entry_name(request.name.as_deref())
        .ok_or_else(|| SlError::BadRequest("name must be 1 to 256 characters".into()))?;
    let detail = request.description.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let event = EventDraft::new(actor, format!("slascone.{}_created", kind.as_str()), kind.as_str());
    state
        .store
        .create_entry(kind, scope_id, &name, detail, event, state.now())
        .await
        .map_err(SlError::exists_as(duplicate))
}

/// A text that is not blank after trimming.
fn non_blank(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A software release limitation named by its release or id: `None` when not given, `Some(None)`
/// for `none` or empty (a reset), 1004 when the product has no such limitation.
async fn resolve_release(
    state: &AppState,
    product_id: ProductId,
    text: Option<&str>,
) -> SlResult<Option<Option<Entry>>> {
    match text.map(str::trim) {
        None => Ok(None),
        Some(text) if text.is_empty() || text.eq_ignore_ascii_case("none") => Ok(Some(None)),
        Some(text) => {
            let releases = state
                .store
                .list_entries(EntryKind::SoftwareRelease, Some(product_id.get()))
                .await
                .map_err(SlError::from_store)?;
            let found = releases
                .into_iter()
                .find(|e| e.name == text || guid_id(text) == Some(e.id))
                .ok_or(SlError::Conflict(Conflict::UnknownSoftwareReleaseLimitation))?;
            Ok(Some(Some(found)))
        }
    }
}
