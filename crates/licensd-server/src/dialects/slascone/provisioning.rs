//! Client endpoints under `/api/v2/isv/{isv_id}/provisioning`. Each authenticates the
//! `ProvisioningKey`, names product, license and client, calls one store command (the domain rules
//! run there, under the license lock) and renders SLASCONE's reply. No licensing rule lives here.

use super::codes::Conflict;
use super::info::{self, InfoParts, LicenseInfo};
use super::wire::Use;
use super::wire::{
    Caller, SlError, SlResult, authenticate, check_isv, guid_id, json_ok, parse_body, random_guid, text_ok,
};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use licensd_domain::*;
use licensd_store::dialects::slascone::SlasconeToken;
use licensd_store::{LicenseFilter, LicenseRef, Page, StoreError};
use serde::Deserialize;
use serde_json::json;
use std::net::IpAddr;

/// Signs the answer (see `wire::finish`).
pub async fn respond(state: &AppState, headers: &HeaderMap, result: SlResult<Response>) -> Response {
    super::wire::finish(state, headers, result).await
}

/// The ISV id of the path (the only path parameter of most routes).
pub fn isv(path: Result<Path<String>, PathRejection>) -> SlResult<()> {
    let Path(isv_id) = path.map_err(|e| SlError::BadRequest(e.body_text()))?;
    check_isv(&isv_id)
}

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
    let license = match state.store.get_license(id).await {
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
    let report = store
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
    let values = store
        .slascone_license_values(license.id)
        .await
        .map_err(SlError::from_store)?;
    info::apply_values(
        &mut rendered,
        &values,
        product,
        device.and_then(|d| d.app_version.as_deref()),
    );
    if let Some(legacy) = store
        .slascone_legacy_key_of(license.id)
        .await
        .map_err(SlError::from_store)?
    {
        rendered.legacy_license_key = Some(legacy);
    }
    Ok(rendered)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActivateRequest {
    pub product_id: Option<String>,
    pub license_key: Option<String>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub client_description: Option<String>,
    pub software_version: Option<String>,
    pub operating_system: Option<String>,
    /// The client's clock at activation; must be an instant when given (400 otherwise).
    pub timestamp_utc: Option<String>,
}

/// POST /provisioning/activations: assigns a token of the license (named by its license key or
/// by a token key) to the client.
pub async fn activate(
    ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = activate_inner(&state, ip.0, path, &headers, &body).await;
    respond(&state, &headers, result).await
}

async fn activate_inner(
    state: &AppState,
    peer: Option<IpAddr>,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    body: &Bytes,
) -> SlResult<Response> {
    isv(path)?;
    let caller = authenticate(state, headers, peer, Use::Write).await?;
    let request: ActivateRequest = parse_body(body)?;
    super::gathering::instant(request.timestamp_utc.as_deref(), state.now())?;
    let product = product(state, &caller, request.product_id).await?;
    let client_id = required(request.client_id, Conflict::MissingClientId)?;
    let key = required(request.license_key, Conflict::InvalidLicenseKey)?;
    let (license, claim) = find_by_license_or_token_key(state, &product, &key, &client_id).await?;
    check_software_version(state, license.id, request.software_version.as_deref()).await?;
    let variables = request
        .client_description
        .as_ref()
        .map(|description| json!({"client_description": description}));
    let device = DeviceInfo {
        fingerprint: client_id.clone(),
        name: request.client_name,
        os: request.operating_system,
        app_version: request.software_version,
        variables,
        ..DeviceInfo::default()
    };
    let release_from = licenses_to_move_from(state, &license, &client_id).await?;
    let activation = state
        .store
        .activate_moving(
            license.id,
            &release_from,
            device,
            None,
            event(&caller, "slascone.activated"),
            event(&caller, "slascone.moved_away"),
            state.now(),
        )
        .await
        .map_err(SlError::from_store)?;
    let token = token_after_activation(state, &caller, license.id, &client_id, claim).await?;
    let info = render_info(
        state,
        &activation.product,
        &activation.license,
        Some(&activation.device),
        Some(&token.token_key),
    )
    .await?;
    json_ok(&info)
}

/// The other licenses a client moves away from when it activates `license` (reference §1.1: a
/// client already bound to another non-temporary license of the same product is moved; the old
/// token is released in the activation's transaction, `activate_moving`). A temporary (trial)
/// license coexists with the permanent one instead, and a temporary license is never moved away
/// from. Where the move is not allowed, 2005: the client is bound to another license of the SAME
/// customer (licensd's decision, from the seed's "already activated/assigned to this customer": a
/// customer moves a client between its own licenses by unassigning it first).
async fn licenses_to_move_from(state: &AppState, license: &License, client_id: &str) -> SlResult<Vec<i64>> {
    if license.terms.kind == LicenseKind::Trial {
        return Ok(Vec::new());
    }
    let tokens = state
        .store
        .slascone_client_tokens(client_id)
        .await
        .map_err(SlError::from_store)?;
    let mut moved = Vec::new();
    for token in tokens {
        if token.license_id == license.id || moved.contains(&token.license_id) {
            continue;
        }
        let other = match state.store.get_license(token.license_id).await {
            Ok(other) => other,
            Err(StoreError::NotFound) => continue,
            Err(error) => return Err(SlError::from_store(error)),
        };
        if other.product_id != license.product_id || other.terms.kind == LicenseKind::Trial {
            continue;
        }
        if active_device(state, other.id, client_id).await?.is_none() {
            continue;
        }
        if other.customer_id.is_some() && other.customer_id == license.customer_id {
            return Err(Conflict::ClientAlreadyActivated.into());
        }
        moved.push(other.id);
    }
    Ok(moved)
}

/// 1003 when the client runs a newer version than the license's software release limitation
/// covers (the limitation is the highest release the license may run).
pub async fn check_software_version(state: &AppState, license_id: i64, version: Option<&str>) -> SlResult<()> {
    let Some(version) = version.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let values = state
        .store
        .slascone_license_values(license_id)
        .await
        .map_err(SlError::from_store)?;
    let limitation = values
        .iter()
        .find(|(entry, _)| entry.kind == licensd_domain::backoffice::EntryKind::SoftwareRelease);
    match limitation {
        Some((entry, _)) if !licensd_domain::backoffice::version_complies(version, &entry.name) => {
            Err(Conflict::NonCompliantSoftwareVersion.into())
        }
        _ => Ok(()),
    }
}

/// The token key of (license, client), creating it on first use.
pub async fn issue_token(state: &AppState, license_id: i64, client_id: &str) -> SlResult<SlasconeToken> {
    let candidate = random_guid()?;
    state
        .store
        .slascone_token_for(license_id, client_id, &candidate, state.now())
        .await
        .map_err(SlError::from_store)
}

/// Activation accepts the license key or a token key. A token key names one token: it activates
/// the client it is assigned to, and, once unassigned, is free again for the next client that
/// brings it (the token moves to that client, `slascone_claim_token`). While its holder is
/// active, any other client gets 2001. Returns the license and the token key to claim after the
/// activation succeeded (so a refused activation moves nothing).
async fn find_by_license_or_token_key(
    state: &AppState,
    product: &Product,
    key: &str,
    client_id: &str,
) -> SlResult<(License, Option<String>)> {
    if let Some(license) = super::lookup::license_by_key(state, key)
        .await
        .map_err(SlError::from_store)?
    {
        if license.product_id != product.id {
            return Err(Conflict::InvalidLicenseKey.into());
        }
        return Ok((license, None));
    }
    let Some(token) = super::lookup::token_by_key(state, key)
        .await
        .map_err(SlError::from_store)?
    else {
        return Err(Conflict::InvalidLicenseKey.into());
    };
    let license = state
        .store
        .get_license(token.license_id)
        .await
        .map_err(SlError::from_store)?;
    if license.product_id != product.id {
        return Err(Conflict::UnknownTokenKey.into());
    }
    if token.client_id != client_id && active_device(state, license.id, &token.client_id).await?.is_some() {
        return Err(Conflict::TokenAlreadyAssigned.into());
    }
    Ok((license, Some(token.token_key)))
}

/// The client's token after a successful activation: the token key it brought (claimed if it was
/// free), or its own token of the license. If another client took the brought token between the
/// check and the activation, the client keeps the activation with a token of its own.
async fn token_after_activation(
    state: &AppState,
    caller: &Caller,
    license_id: i64,
    client_id: &str,
    claim: Option<String>,
) -> SlResult<SlasconeToken> {
    if let Some(token_key) = claim {
        let claimed = state
            .store
            .slascone_claim_token(
                &token_key,
                client_id,
                event(caller, "slascone.token_reassigned"),
                state.now(),
            )
            .await
            .map_err(SlError::from_store)?;
        if let Some(token) = claimed {
            return Ok(token);
        }
    }
    issue_token(state, license_id, client_id).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HeartbeatRequest {
    pub product_id: Option<String>,
    pub client_id: Option<String>,
    pub software_version: Option<String>,
    pub operating_system: Option<String>,
    pub token_key: Option<String>,
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub heartbeat_type_id: Option<String>,
}

/// POST /provisioning/heartbeats: refreshes the client's license parameters (and its reported OS
/// and version). 2006 when the client holds no active token of the product.
pub async fn heartbeat(
    ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = heartbeat_inner(&state, ip.0, path, &headers, &body).await;
    respond(&state, &headers, result).await
}

async fn heartbeat_inner(
    state: &AppState,
    peer: Option<IpAddr>,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    body: &Bytes,
) -> SlResult<Response> {
    isv(path)?;
    let caller = authenticate(state, headers, peer, Use::Write).await?;
    let request: HeartbeatRequest = parse_body(body)?;
    let product = product(state, &caller, request.product_id).await?;
    let client_id = required(request.client_id, Conflict::MissingClientId)?;
    let (license, token) = client_license(state, &product, &client_id, request.token_key.as_deref()).await?;
    let now = state.now();
    let report = state
        .store
        .validate(LicenseRef::Id(license.id), Some(&client_id), now)
        .await
        .map_err(SlError::from_store)?;
    if let Err(denial) = report.outcome {
        return Err(denial.into());
    }
    check_software_version(state, license.id, request.software_version.as_deref()).await?;
    // Record what the client reported. `activate` on an active device only refreshes it; the
    // license is re-checked under its lock, so a license that just expired is refused here too.
    let refreshed = state
        .store
        .activate(
            LicenseRef::Id(license.id),
            DeviceInfo {
                fingerprint: client_id.clone(),
                os: request.operating_system,
                app_version: request.software_version,
                ..DeviceInfo::default()
            },
            None,
            event(&caller, "slascone.heartbeat"),
            now,
        )
        .await
        .map_err(SlError::from_store)?;
    if refreshed.newly_activated {
        // The token was unassigned between the check and the refresh: a heartbeat must not
        // assign it again, so undo that and answer as for any unassigned client.
        state
            .store
            .deactivate(
                LicenseRef::Id(license.id),
                &client_id,
                event(&caller, "slascone.heartbeat_undone"),
                now,
            )
            .await
            .map_err(SlError::from_store)?;
        return Err(Conflict::UnknownClient.into());
    }
    let info = render_info(
        state,
        &refreshed.product,
        &refreshed.license,
        Some(&refreshed.device),
        Some(&token.token_key),
    )
    .await?;
    json_ok(&info)
}

/// The license of the product on which the client holds an active token. With a `token_key`, the
/// token must belong to the client (5000) and exist (2003); its device must be active (2002).
async fn client_license(
    state: &AppState,
    product: &Product,
    client_id: &str,
    token_key: Option<&str>,
) -> SlResult<(License, SlasconeToken)> {
    if let Some(token_key) = token_key.map(str::trim).filter(|key| !key.is_empty()) {
        let token = super::lookup::token_by_key(state, token_key)
            .await
            .map_err(SlError::from_store)?
            .ok_or(SlError::Conflict(Conflict::UnknownTokenKey))?;
        let license = state
            .store
            .get_license(token.license_id)
            .await
            .map_err(SlError::from_store)?;
        if license.product_id != product.id {
            return Err(Conflict::UnknownTokenKey.into());
        }
        if token.client_id != client_id {
            return Err(Conflict::ClientOnOtherToken.into());
        }
        if active_device(state, license.id, client_id).await?.is_none() {
            return Err(Conflict::TokenNotAssigned.into());
        }
        return Ok((license, token));
    }
    let tokens = state
        .store
        .slascone_client_tokens(client_id)
        .await
        .map_err(SlError::from_store)?;
    // The most recent active assignment on this product wins.
    for token in tokens.into_iter().rev() {
        let license = state
            .store
            .get_license(token.license_id)
            .await
            .map_err(SlError::from_store)?;
        if license.product_id == product.id && active_device(state, license.id, client_id).await?.is_some() {
            return Ok((license, token));
        }
    }
    Err(Conflict::UnknownClient.into())
}

pub async fn active_device(state: &AppState, license_id: i64, client_id: &str) -> SlResult<Option<Device>> {
    let devices = state
        .store
        .list_devices(license_id)
        .await
        .map_err(SlError::from_store)?;
    Ok(devices
        .into_iter()
        .find(|device| device.fingerprint == client_id && device.is_active()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UnassignRequest {
    pub token_key: Option<String>,
}

/// POST /provisioning/unassign: frees the token a token key names.
pub async fn unassign(
    ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = unassign_inner(&state, ip.0, path, &headers, &body).await;
    respond(&state, &headers, result).await
}

async fn unassign_inner(
    state: &AppState,
    peer: Option<IpAddr>,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    body: &Bytes,
) -> SlResult<Response> {
    isv(path)?;
    let caller = authenticate(state, headers, peer, Use::Write).await?;
    let request: UnassignRequest = parse_body(body)?;
    let token_key = required(request.token_key, Conflict::UnknownTokenKey)?;
    let token = super::lookup::token_by_key(state, &token_key)
        .await
        .map_err(SlError::from_store)?
        .ok_or(SlError::Conflict(Conflict::UnknownTokenKey))?;
    let license = state
        .store
        .get_license(token.license_id)
        .await
        .map_err(SlError::from_store)?;
    caller.require_product(license.product_id)?;
    match state
        .store
        .deactivate(
            LicenseRef::Id(license.id),
            &token.client_id,
            event(&caller, "slascone.unassigned"),
            state.now(),
        )
        .await
    {
        Ok(_) => Ok(text_ok("The token was unassigned.")),
        // The token exists but its client is no longer active: SLASCONE's "already unassigned".
        Err(StoreError::Denied(Denial::DeviceNotActivated)) => {
            crate::metrics::note_denial(Denial::DeviceNotActivated);
            Err(Conflict::TokenAlreadyUnassigned.into())
        }
        Err(other) => Err(SlError::from_store(other)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ValidateRequest {
    pub license_key: Option<String>,
    pub product_id: Option<String>,
    pub client_id: Option<String>,
}

/// POST /provisioning/validate: the license's current `LicenseInfo` (with the client's token
/// when a `client_id` is given). Validity travels in `is_license_valid`; only an unknown key is a
/// conflict.
pub async fn validate(
    ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = validate_inner(&state, ip.0, path, &headers, &body).await;
    respond(&state, &headers, result).await
}

async fn validate_inner(
    state: &AppState,
    peer: Option<IpAddr>,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    body: &Bytes,
) -> SlResult<Response> {
    isv(path)?;
    let caller = authenticate(state, headers, peer, Use::Read).await?;
    let request: ValidateRequest = parse_body(body)?;
    let key = required(request.license_key, Conflict::InvalidLicenseKey)?;
    let license = super::lookup::license_by_key(state, &key)
        .await
        .map_err(SlError::from_store)?
        .ok_or(SlError::Conflict(Conflict::InvalidLicenseKey))?;
    caller.require_product(license.product_id)?;
    let product = state
        .store
        .get_product(license.product_id)
        .await
        .map_err(SlError::from_store)?;
    if let Some(code) = request.product_id.filter(|code| !code.trim().is_empty())
        && !super::lookup::guid_forms(code.trim()).contains(&product.code)
    {
        return Err(Conflict::InvalidLicenseKey.into());
    }
    let client = request.client_id.filter(|id| !id.trim().is_empty());
    let (device, token) = match &client {
        Some(client_id) => (
            active_device(state, license.id, client_id).await?,
            state
                .store
                .slascone_token_of(license.id, client_id)
                .await
                .map_err(SlError::from_store)?,
        ),
        None => (None, None),
    };
    let info = render_info(
        state,
        &product,
        &license,
        device.as_ref(),
        token
            .as_ref()
            .filter(|_| device.is_some())
            .map(|t| t.token_key.as_str()),
    )
    .await?;
    json_ok(&info)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LookupRequest {
    pub license_key: Option<String>,
    /// by_license: the license's legacy license key instead of its key (2007 when unknown).
    pub legacy_license_key: Option<String>,
    pub customer_id: Option<String>,
    pub product_id: Option<String>,
    pub user_id: Option<String>,
}

/// POST /provisioning/licenses/by_license: the license a key names, as a one-element list.
pub async fn by_license(
    ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        isv(path)?;
        let caller = authenticate(&state, &headers, ip.0, Use::Read).await?;
        let request: LookupRequest = parse_body(&body)?;
        let license = match request.legacy_license_key.filter(|k| !k.trim().is_empty()) {
            // A migrated license is also found by the key it had before the migration.
            Some(legacy) => {
                let id = state
                    .store
                    .slascone_license_of_legacy_key(legacy.trim())
                    .await
                    .map_err(SlError::from_store)?
                    .ok_or(SlError::Conflict(Conflict::UnknownLegacyKey))?;
                state.store.get_license(id).await.map_err(SlError::from_store)?
            }
            None => {
                let key = required(request.license_key, Conflict::InvalidLicenseKey)?;
                super::lookup::license_by_key(&state, &key)
                    .await
                    .map_err(SlError::from_store)?
                    .ok_or(SlError::Conflict(Conflict::InvalidLicenseKey))?
            }
        };
        caller.require_product(license.product_id)?;
        let product = state
            .store
            .get_product(license.product_id)
            .await
            .map_err(SlError::from_store)?;
        let info = render_info(&state, &product, &license, None, None).await?;
        json_ok(&vec![info])
    }
    .await;
    respond(&state, &headers, result).await
}

/// POST /provisioning/licenses/by_customer: the customer's licenses of the key's product (or of
/// `product_id`). 4000 for an unknown customer, 4001 when the customer holds none.
pub async fn by_customer(
    ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        isv(path)?;
        let caller = authenticate(&state, &headers, ip.0, Use::Read).await?;
        let request: LookupRequest = parse_body(&body)?;
        let customer_id = request
            .customer_id
            .as_deref()
            .and_then(guid_id)
            .ok_or(SlError::Conflict(Conflict::UnknownCustomer))?;
        match state.store.get_customer(customer_id).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => return Err(Conflict::UnknownCustomer.into()),
            Err(other) => return Err(SlError::from_store(other)),
        }
        let product_filter = match request.product_id.filter(|code| !code.trim().is_empty()) {
            Some(code) => Some(product(&state, &caller, Some(code)).await?.id),
            None => caller.credential.product_id,
        };
        let mut infos = Vec::new();
        let mut page = Page::default();
        loop {
            let filter = LicenseFilter {
                customer_id: Some(customer_id),
                product_id: product_filter,
                ..LicenseFilter::default()
            };
            let licenses = state
                .store
                .list_licenses(filter, page)
                .await
                .map_err(SlError::from_store)?;
            let Some(last) = licenses.last().map(|l| l.id) else {
                break;
            };
            for license in &licenses {
                let product = state
                    .store
                    .get_product(license.product_id)
                    .await
                    .map_err(SlError::from_store)?;
                infos.push(render_info(&state, &product, license, None, None).await?);
            }
            page.after = Some(last);
        }
        if infos.is_empty() {
            return Err(Conflict::NoLicensesForCustomer.into());
        }
        json_ok(&infos)
    }
    .await;
    respond(&state, &headers, result).await
}

/// GET /provisioning/licenses/{license_id}/tokens/floating/active/count: live floating sessions.
pub async fn floating_count(
    ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let Path((isv_id, license_id)) = path.map_err(|e| SlError::BadRequest(e.body_text()))?;
        check_isv(&isv_id)?;
        let caller = authenticate(&state, &headers, ip.0, Use::Read).await?;
        let license = license_by_guid(&state, &caller, Some(license_id)).await?;
        let leases = state
            .store
            .live_leases(license.id, state.now())
            .await
            .map_err(SlError::from_store)?;
        let count = leases.iter().filter(|lease| lease.feature_id.is_none()).count();
        json_ok(&count)
    }
    .await;
    respond(&state, &headers, result).await
}

#[derive(Debug, Default, Deserialize)]
pub struct OfflineQuery {
    pub product_id: Option<String>,
    pub license_key: Option<String>,
    pub client_id: Option<String>,
    pub file_name: Option<String>,
}

/// GET /provisioning/activations/offline: activates the client (as POST /activations does) and
/// answers the signed `<slascone_activation_file>` for a machine without internet access.
pub async fn offline_activation(
    ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<OfflineQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        isv(path)?;
        let caller = authenticate(&state, &headers, ip.0, Use::Write).await?;
        let Query(query) = query.map_err(|e| SlError::BadRequest(e.body_text()))?;
        for (field, value) in [
            ("product_id", &query.product_id),
            ("license_key", &query.license_key),
            ("client_id", &query.client_id),
            ("file_name", &query.file_name),
        ] {
            super::bounds::check_text(field, value.as_deref().unwrap_or_default())?;
        }
        let product = product(&state, &caller, query.product_id).await?;
        let client_id = required(query.client_id, Conflict::MissingClientId)?;
        let key = required(query.license_key, Conflict::InvalidLicenseKey)?;
        let (license, claim) = find_by_license_or_token_key(&state, &product, &key, &client_id).await?;
        let release_from = licenses_to_move_from(&state, &license, &client_id).await?;
        let activation = state
            .store
            .activate_moving(
                license.id,
                &release_from,
                DeviceInfo {
                    fingerprint: client_id.clone(),
                    ..DeviceInfo::default()
                },
                None,
                event(&caller, "slascone.activated_offline"),
                event(&caller, "slascone.moved_away"),
                state.now(),
            )
            .await
            .map_err(SlError::from_store)?;
        let token = token_after_activation(&state, &caller, license.id, &client_id, claim).await?;
        let xml = super::xml::activation_file(
            &state.keys.rsa(),
            activation.license.key.as_deref().unwrap_or_default(),
            &token.token_key,
            &client_id,
            activation.device.activated_at,
        )?;
        let name = query.file_name.unwrap_or_else(|| "ActivationFile.xml".to_owned());
        Ok(super::wire::xml_ok(xml, &name))
    }
    .await;
    respond(&state, &headers, result).await
}

/// POST /provisioning/licenses/by_user: the licenses a license user (`user_id` = email) is
/// assigned to, within the key's product scope. 1010 for an unknown user.
pub async fn by_user(
    ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        isv(path)?;
        let caller = authenticate(&state, &headers, ip.0, Use::Read).await?;
        let request: LookupRequest = parse_body(&body)?;
        let email = request.user_id.unwrap_or_default().trim().to_ascii_lowercase();
        let user = state
            .store
            .find_license_user_by_email(&email)
            .await
            .map_err(SlError::from_store)?
            .ok_or(SlError::Conflict(Conflict::UnknownLicenseUser))?;
        let ids = state
            .store
            .slascone_licenses_of_user(user.id)
            .await
            .map_err(SlError::from_store)?;
        let mut infos = Vec::new();
        for id in ids {
            let license = state.store.get_license(id).await.map_err(SlError::from_store)?;
            if caller
                .credential
                .product_id
                .is_some_and(|scope| scope != license.product_id)
            {
                continue;
            }
            let product = state
                .store
                .get_product(license.product_id)
                .await
                .map_err(SlError::from_store)?;
            infos.push(render_info(&state, &product, &license, None, None).await?);
        }
        json_ok(&infos)
    }
    .await;
    respond(&state, &headers, result).await
}
