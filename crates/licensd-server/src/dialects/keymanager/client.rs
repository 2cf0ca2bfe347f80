//! What shipped applications call: verify, activate, deactivate and get-license-key-details.

use super::Internal;
use super::auth::{Caller, authorize};
use super::codes::{Command, denial_code};
use super::envelope::Reply;
use super::request::KmRequest;
use super::views::{license_details_json, product_details_json};
use crate::state::AppState;
use axum::extract::State;
use licensd_domain::{Denial, DeviceInfo, EventDraft, License};
use licensd_store::{LicenseRef, MetaOwner, StoreError};
use serde_json::json;

pub async fn verify(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    check(&state, &req, "verify", Command::Verify).await
}

pub async fn details(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    check(&state, &req, "get-license-key-details", Command::Details).await
}

/// The common start of the license-key commands: API key, block list, then `identifier` (215)
/// and the key itself (210). Returns the caller, the identifier and the license.
pub(super) async fn start(
    state: &AppState,
    req: &KmRequest,
    capability: &str,
) -> Result<Result<(Caller, String, License), Reply>, Internal> {
    let (caller, identifier) = match start_caller(state, req, capability).await? {
        Ok(found) => found,
        Err(reply) => return Ok(Err(reply)),
    };
    match find_license(state, &caller, req).await? {
        Some(license) => Ok(Ok((caller, identifier, license))),
        None => Ok(Err(Reply::new(210))),
    }
}

/// API key, block list and `identifier` (215): the caller and the identifier.
pub(super) async fn start_caller(
    state: &AppState,
    req: &KmRequest,
    capability: &str,
) -> Result<Result<(Caller, String), Reply>, Internal> {
    let identifier = req.present("identifier");
    let caller = match authorize(
        state,
        req.api_key.as_deref(),
        req.ip.as_deref(),
        identifier.as_deref(),
        capability,
    )
    .await
    {
        Ok(caller) => caller,
        Err(refusal) => return refusal.map(Err),
    };
    match identifier {
        Some(identifier) => Ok(Ok((caller, identifier))),
        None => Ok(Err(Reply::new(215))),
    }
}

/// The license the request's `license_key` names, if it exists and the caller's key may see it
/// (a key scoped to one product sees only that product's licenses).
pub(super) async fn find_license(
    state: &AppState,
    caller: &Caller,
    req: &KmRequest,
) -> Result<Option<License>, Internal> {
    let Some(key) = req.present("license_key") else {
        return Ok(None);
    };
    let license = state.store.find_license_by_key(&key).await?;
    Ok(license.filter(|license| caller.in_scope(license.product_id)))
}

fn event(caller: &Caller, action: &str) -> EventDraft {
    EventDraft::new(caller.actor(), action, "license").from_ip(caller.ip.clone())
}

async fn check(state: &AppState, req: &KmRequest, capability: &str, command: Command) -> Result<Reply, Internal> {
    // Authorised once: the rate limiter counts each request a single time.
    let (caller, identifier) = match start_caller(state, req, capability).await? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    let Some(license) = find_license(state, &caller, req).await? else {
        // An unknown key on verify may be an Envato purchase code of one of our Envato products.
        if command == Command::Verify
            && let Some(key) = req.present("license_key")
            && let Some(imported) = super::envato::import(state, &caller, req, &key, &identifier).await?
        {
            return Ok(imported);
        }
        return Ok(Reply::new(210));
    };
    let report = match state
        .validate(LicenseRef::Id(license.id), Some(&identifier), state.now())
        .await
    {
        Ok(report) => report,
        Err(StoreError::NotFound) => return Ok(Reply::new(210)),
        Err(StoreError::Denied(denial)) => {
            return Ok(Reply::new(denial_code(denial, command)).product(license.product_id));
        }
        Err(other) => return Err(other.into()),
    };
    let product_id = report.license.product_id;
    if let Err(denial) = report.outcome {
        return Ok(Reply::new(denial_code(denial, command)).product(product_id));
    }
    match command {
        Command::Details => {
            let license_meta = state.store.list_meta(MetaOwner::License(license.id)).await?;
            let product_meta = state.store.list_meta(MetaOwner::Product(product_id)).await?;
            Ok(Reply::new(500)
                .field("licenseKey", license_details_json(&report.license, &license_meta))
                .field("product", product_details_json(&report.product, &product_meta))
                .product(product_id))
        }
        Command::Verify | Command::Activate | Command::Deactivate => Ok(Reply::new(200).product(product_id)),
    }
}

pub async fn activate(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let (caller, identifier, license) = match start(state, req, "activate").await? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    // `post_url` is the client's remote-deactivation callback; it is kept with the activation.
    let variables = req.present("post_url").map(|url| json!({ "post_url": url }));
    let device = DeviceInfo {
        fingerprint: identifier,
        ip: caller.ip.clone(),
        variables,
        ..DeviceInfo::default()
    };
    let event = event(&caller, "license.activated");
    match state
        .store
        .activate(LicenseRef::Id(license.id), device, None, event, state.now())
        .await
    {
        Ok(activation) => {
            Ok(Reply::new(if activation.newly_activated { 300 } else { 301 }).product(license.product_id))
        }
        Err(StoreError::NotFound) => Ok(Reply::new(210)),
        Err(StoreError::Denied(denial)) => {
            Ok(Reply::new(denial_code(denial, Command::Activate)).product(license.product_id))
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn deactivate(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let (caller, identifier, license) = match start(state, req, "deactivate").await? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    let event = event(&caller, "license.deactivated");
    match state
        .store
        .deactivate(LicenseRef::Id(license.id), &identifier, event, state.now())
        .await
    {
        Ok(_) => Ok(Reply::new(400).product(license.product_id)),
        Err(StoreError::NotFound) | Err(StoreError::Denied(Denial::LicenseNotFound)) => Ok(Reply::new(210)),
        Err(StoreError::Denied(denial)) => {
            Ok(Reply::new(denial_code(denial, Command::Deactivate)).product(license.product_id))
        }
        Err(other) => Err(other.into()),
    }
}
