//! POST /provisioning/licenses/state/toggle (SLASCONE's `ToogleLicenseStateAsync`): switches a
//! license between active and inactive.
//!
//! SLASCONE's public material names the operation, its `ToggleLicenseStateDto` request and its
//! `LicenseStateDto` answer but not their fields; licensd's decision, in SLASCONE's snake_case:
//! the request names the license by `license_id` (its GUID) or by `license_key`; the answer is
//! `{"license_id": <GUID>, "is_license_active": <bool>}` (`is_license_active` as in `LicenseInfo`).
//! An inactive license answers activations and heartbeats with 1002 until it is toggled back.
//! Unknown license: 1000. The flip is one statement under the license's row lock
//! (`toggle_license`), so two concurrent toggles leave the license where it started.

use super::codes::Conflict;
use super::provisioning::{event, license_by_guid};
use super::wire::{Call, WriteCall};
use super::wire::{SlError, SlResult, id_guid, json_ok};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use licensd_domain::LicenseStatus;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ToggleRequest {
    pub license_id: Option<String>,
    pub license_key: Option<String>,
}

pub async fn toggle(
    State(state): State<AppState>,
    Call(caller, request): WriteCall<ToggleRequest>,
) -> SlResult<Response> {
    let state = &state;
    let license = match request.license_key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        Some(key) => {
            let license = super::lookup::known_license(state, key).await?;
            caller.require_product(license.product_id)?;
            license
        }
        None => license_by_guid(state, &caller, request.license_id).await?,
    };
    let status = state
        .store
        .toggle_license(
            license.id,
            event(&caller, "slascone.license_state_toggled"),
            state.now(),
        )
        .await
        .map_err(SlError::not_found_as(Conflict::InvalidLicenseKey))?;
    json_ok(&json!({
        "license_id": id_guid(license.id.get()),
        "is_license_active": status == LicenseStatus::Active,
    }))
}
