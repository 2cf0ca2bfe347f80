//! Heartbeats and unassigning a client from a license.

use super::*;

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
    State(state): State<AppState>,
    Call(caller, request): WriteCall<HeartbeatRequest>,
) -> SlResult<Response> {
    let state = &state;
    let product = product(state, &caller, request.product_id).await?;
    let client_id = required(request.client_id, Conflict::MissingClientId)?;
    let (license, token) = client_license(state, &product, &client_id, request.token_key.as_deref()).await?;
    let now = state.now();
    let report = state
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
        let token = super::super::lookup::known_token(state, token_key).await?;
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
        .client_tokens(client_id)
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

pub async fn active_device(state: &AppState, license_id: LicenseId, client_id: &str) -> SlResult<Option<Device>> {
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
    State(state): State<AppState>,
    Call(caller, request): WriteCall<UnassignRequest>,
) -> SlResult<Response> {
    let state = &state;
    let token_key = required(request.token_key, Conflict::UnknownTokenKey)?;
    let token = super::super::lookup::known_token(state, &token_key).await?;
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
