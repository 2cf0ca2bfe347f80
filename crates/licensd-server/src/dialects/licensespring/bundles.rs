//! Bundles (`activate_bundle`, `check_bundle`, `deactivate_bundle`): a bundle product contains
//! member products, and a bundle license is linked to one member license per member product
//! (`LicenseSpringStore::bundle_products` / `bundle_licenses`, managed under `/v1`). The client
//! names the bundle product and the bundle license (key or user); every answer covers the bundle
//! license first, then its member licenses in id order.
//!
//! The bundle license itself takes part: its own terms (enabled, expiry, activation limit) bind
//! the whole bundle, and Python's offline bundle loader requires the first license of the answer
//! to be of the bundle product. Activation and deactivation are one store transaction over all the
//! licenses (`activate_many` / `deactivate_many`): one refusal changes nothing.

use super::handlers::{
    Identity, LsCall, checked_license, device_info, include_expired_features, license_response_object, sign_v1,
    validated,
};
use super::wire::{LsError, plain, signed};
use crate::state::AppState;
use axum::response::Response;
use licensd_domain::*;
use licensd_store::Activation;
use serde_json::{Map, Value};

/// The bundle's licenses: the bundle license first, then its member licenses (ascending id).
pub(crate) async fn bundle_license_ids(state: &AppState, bundle: &License) -> Result<Vec<LicenseId>, LsError> {
    let mut ids = vec![bundle.id];
    ids.extend(
        state
            .store
            .bundle_licenses(bundle.id)
            .await
            .map_err(LsError::from_store)?,
    );
    Ok(ids)
}

pub(crate) fn not_bundle(product: &Product) -> LsError {
    LsError::bad(
        "product_not_bundle",
        format!("product {:?} is not a bundle", product.code),
    )
}

/// Fails with `product_not_bundle` before the identity is resolved, so a bundle call on a plain
/// product says so whatever license it names.
pub(crate) async fn require_bundle(state: &AppState, product: &Product) -> Result<(), LsError> {
    let members = state
        .store
        .bundle_products(product.id)
        .await
        .map_err(LsError::from_store)?;
    if members.is_empty() {
        return Err(not_bundle(product));
    }
    Ok(())
}

/// `activations` (ascending license id) reordered as `ids` lists them.
pub(crate) fn in_bundle_order(ids: &[LicenseId], mut activations: Vec<Activation>) -> Vec<Activation> {
    activations.sort_by_key(|activation| ids.iter().position(|id| *id == activation.license.id));
    activations
}

/// One license object of a bundle answer, with its v1 signature over the key (or e-mail) the
/// client sent, which it also carries as `license_key` for key-based bundles.
pub(crate) async fn bundle_object(
    state: &AppState,
    identity: &Identity,
    activation: &Activation,
    hardware_id: &str,
) -> Result<Map<String, Value>, LsError> {
    let signed_id = identity.signed_id();
    let member = Identity {
        license: activation.license.clone(),
        user: identity.user.clone(),
        bundle_key: identity.user.is_none().then(|| signed_id.clone()),
    };
    let mut object = license_response_object(
        state,
        &activation.product,
        &member,
        Some(&activation.device),
        hardware_id,
        activation.active_devices,
    )
    .await?;
    sign_v1(state, &mut object, &member.license, &signed_id, hardware_id)?;
    Ok(object)
}

/// The start of every bundle call: the product must be a bundle, then `hardware_id` and the
/// identity the call names (with the user's password when `check_password`).
async fn bundle_call(call: &LsCall, check_password: bool) -> Result<(String, Identity), LsError> {
    require_bundle(&call.state, &call.product).await?;
    let hardware_id = call.hardware_id()?;
    let identity = call.identify(check_password).await?;
    Ok((hardware_id, identity))
}

pub async fn activate_bundle(call: LsCall) -> Result<Response, LsError> {
    let state = &call.state;
    let (hardware_id, identity) = bundle_call(&call, true).await?;
    call.caller.require_write()?;
    let ids = bundle_license_ids(state, &identity.license).await?;
    let activations = state
        .store
        .activate_many(
            &ids,
            device_info(&call.params, &hardware_id)?,
            identity.user.as_ref().map(|user| user.id),
            call.event("license.bundle_activated"),
            state.now(),
        )
        .await
        .map_err(LsError::from_store)?;
    let mut list = Vec::with_capacity(activations.len());
    for activation in in_bundle_order(&ids, activations) {
        list.push(Value::Object(
            bundle_object(state, &identity, &activation, &hardware_id).await?,
        ));
    }
    Ok(signed(&Value::Array(list)))
}

pub async fn check_bundle(call: LsCall) -> Result<Response, LsError> {
    let (hardware_id, identity) = bundle_call(&call, false).await?;
    let list = check_all(&call, identity, &hardware_id).await?;
    Ok(signed(&Value::Array(list)))
}

/// check_license on every license of the bundle. Every license is validated before any floating
/// seat is taken, so a refusal (the first license's, in answer order) leaves the seats alone;
/// only a floating member without a free seat can still fail after earlier seats were taken.
async fn check_all(call: &LsCall, identity: Identity, hardware_id: &str) -> Result<Vec<Value>, LsError> {
    let state = &call.state;
    let include_expired_features = include_expired_features(&call.params)?;
    let signed_id = identity.signed_id();
    let ids = bundle_license_ids(state, &identity.license).await?;
    let mut reports = Vec::with_capacity(ids.len());
    for id in ids {
        reports.push(validated(state, id, hardware_id).await?);
    }
    let mut list = Vec::with_capacity(reports.len());
    for report in reports {
        let member = Identity {
            license: report.license.clone(),
            user: identity.user.clone(),
            bundle_key: identity.user.is_none().then(|| signed_id.clone()),
        };
        list.push(Value::Object(
            checked_license(call, include_expired_features, report, member, &signed_id, hardware_id).await?,
        ));
    }
    Ok(list)
}

pub async fn deactivate_bundle(call: LsCall) -> Result<Response, LsError> {
    let (hardware_id, identity) = bundle_call(&call, false).await?;
    call.caller.require_write()?;
    let ids = bundle_license_ids(&call.state, &identity.license).await?;
    call.state
        .store
        .deactivate_many(
            &ids,
            &hardware_id,
            call.event("license.bundle_deactivated"),
            call.state.now(),
        )
        .await
        .map_err(LsError::from_store)?;
    Ok(plain("license_deactivated"))
}
