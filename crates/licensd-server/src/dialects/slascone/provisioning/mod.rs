//! Client endpoints under `/api/v2/isv/{isv_id}/provisioning`. Each authenticates the
//! `ProvisioningKey`, names product, license and client, calls one store command (the domain rules
//! run there, under the license lock) and renders SLASCONE's reply. No licensing rule lives here.

use super::codes::Conflict;
use super::info::{self, InfoParts, LicenseInfo};
use super::wire::{Call, Key, ReadCall, SlPath, WriteCall};
use super::wire::{Caller, SlError, SlResult, guid_id, json_ok, random_guid, text_ok};
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use licensd_domain::*;
use licensd_store::dialects::slascone::SlasconeToken;
use licensd_store::{LicenseFilter, LicenseRef, Page, StoreError};
use serde::Deserialize;
use serde_json::json;

mod activation;
mod heartbeat;
mod queries;
mod validate;

pub use activation::*;
pub use heartbeat::*;
pub use queries::*;
pub use validate::*;

pub fn event(caller: &Caller, action: &str) -> EventDraft {
    EventDraft::new(caller.actor(), action, "license")
}

/// A required text field: missing or blank is `missing`.
fn required(value: Option<String>, missing: Conflict) -> SlResult<String> {
    match value {
        Some(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        _ => Err(missing.into()),
    }
}

/// The product a `product_id` names (its code), within the key's product scope.
pub async fn product(state: &AppState, caller: &Caller, product_id: Option<String>) -> SlResult<Product> {
    let code = required(product_id, Conflict::UnknownProduct)?;
    let product = match super::lookup::product_by_code(state, &code).await {
        Ok(product) => product,
        Err(StoreError::NotFound) => return Err(Conflict::UnknownProduct.into()),
        Err(other) => return Err(SlError::from_store(other)),
    };
    caller.require_product(product.id)?;
    Ok(product)
}

/// The license a SLASCONE `license_id` (GUID) names, within the key's product scope. An unknown
/// or foreign id is "not a valid license key" (1000), as SLASCONE answers.
pub async fn license_by_guid(state: &AppState, caller: &Caller, license_id: Option<String>) -> SlResult<License> {
    let id = license_id
        .as_deref()
        .and_then(guid_id)
        .ok_or(SlError::Conflict(Conflict::InvalidLicenseKey))?;
    let license = match state.store.get_license(LicenseId::new(id)).await {
        Ok(license) => license,
        Err(StoreError::NotFound) => return Err(Conflict::InvalidLicenseKey.into()),
        Err(other) => return Err(SlError::from_store(other)),
    };
    caller.require_product(license.product_id)?;
    Ok(license)
}

/// Loads what a `LicenseInfo` needs besides what the caller already has, and renders it.
pub async fn render_info(
    state: &AppState,
    product: &Product,
    license: &License,
    device: Option<&Device>,
    token_key: Option<&str>,
) -> SlResult<LicenseInfo> {
    let now = state.now();
    let store = &state.store;
    let policy = match license.policy_id {
        Some(id) => Some(store.get_policy(id).await.map_err(SlError::from_store)?),
        None => None,
    };
    let customer = match license.customer_id {
        Some(id) => Some(store.get_customer(id).await.map_err(SlError::from_store)?),
        None => None,
    };
    let features = store.license_features(license.id).await.map_err(SlError::from_store)?;
    let users = store.users_of_license(license.id).await.map_err(SlError::from_store)?;
    let fingerprint = device.map(|d| d.fingerprint.as_str());
    let report = state
        .validate(LicenseRef::Id(license.id), fingerprint, now)
        .await
        .map_err(SlError::from_store)?;
    if let Err(denial) = report.outcome {
        crate::metrics::note_denial(denial);
    }
    let mut rendered = info::license_info(&InfoParts {
        product,
        license: &report.license,
        policy: policy.as_ref(),
        customer: customer.as_ref(),
        device,
        token_key,
        features: &features,
        users: &users,
        valid: report.outcome.is_ok(),
        now,
    });
    // The license's variable values and license type (back office, backoffice/).
    let values = store.license_values(license.id).await.map_err(SlError::from_store)?;
    info::apply_values(
        &mut rendered,
        &values,
        product,
        device.and_then(|d| d.app_version.as_deref()),
    );
    if let Some(legacy) = store.legacy_key_of(license.id).await.map_err(SlError::from_store)? {
        rendered.legacy_license_key = Some(legacy);
    }
    Ok(rendered)
}
