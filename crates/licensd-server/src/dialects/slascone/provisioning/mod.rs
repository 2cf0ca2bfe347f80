//! Client endpoints under `/api/v2/isv/{isv_id}/provisioning`. Each authenticates the
//! `ProvisioningKey`, names product, license and client, calls one store command (the domain rules
//! run there, under the license lock) and renders SLASCONE's reply. No licensing rule lives here.

use super::codes::Conflict;
use super::info::{self, InfoParts, LicenseInfo};
use super::wire::{Call, Key, ReadCall, SlPath, WriteCall};
use super::wire::{Caller, SlError, SlResult, json_ok, random_guid, required, text_ok};
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

/// The product a `product_id` names (its code), within the key's product scope.
pub async fn product(state: &AppState, caller: &Caller, product_id: Option<String>) -> SlResult<Product> {
    let code = required(product_id, Conflict::UnknownProduct)?;
    let product = super::lookup::known_product(state, &code).await?;
    caller.require_product(product.id)?;
    Ok(product)
}

/// The license a SLASCONE `license_id` (GUID) names, within the key's product scope. A missing,
/// unknown or foreign id is "not a valid license key" (1000), as SLASCONE answers.
pub async fn license_by_guid(state: &AppState, caller: &Caller, license_id: Option<String>) -> SlResult<License> {
    let license = super::lookup::license_by_guid(state, license_id.as_deref().unwrap_or_default()).await?;
    caller.require_product(license.product_id)?;
    Ok(license)
}

/// A license's `LicenseInfo` without a client (no client fields, no token key): what the
/// lookups and the back office answer.
pub async fn license_info_of(state: &AppState, license: &License) -> SlResult<LicenseInfo> {
    let product = state
        .store
        .get_product(license.product_id)
        .await
        .map_err(SlError::from_store)?;
    render_info(state, &product, license, None, None).await
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
