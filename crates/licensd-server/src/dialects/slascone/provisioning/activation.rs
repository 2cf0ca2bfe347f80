//! Activation (online and offline), moving a client between licenses, and the license token
//! issued after activation.

use super::*;

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
    State(state): State<AppState>,
    Call(caller, request): WriteCall<ActivateRequest>,
) -> SlResult<Response> {
    let state = &state;
    super::super::gathering::instant(request.timestamp_utc.as_deref(), state.now())?;
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
async fn licenses_to_move_from(state: &AppState, license: &License, client_id: &str) -> SlResult<Vec<LicenseId>> {
    if license.terms.kind == LicenseKind::Trial {
        return Ok(Vec::new());
    }
    let tokens = state
        .store
        .client_tokens(client_id)
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
pub async fn check_software_version(state: &AppState, license_id: LicenseId, version: Option<&str>) -> SlResult<()> {
    let Some(version) = version.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let values = state
        .store
        .license_values(license_id)
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
pub async fn issue_token(state: &AppState, license_id: LicenseId, client_id: &str) -> SlResult<SlasconeToken> {
    let candidate = random_guid()?;
    state
        .store
        .token_for(license_id, client_id, &candidate, state.now())
        .await
        .map_err(SlError::from_store)
}

/// Activation accepts the license key or a token key. A token key names one token: it activates
/// the client it is assigned to, and, once unassigned, is free again for the next client that
/// brings it (the token moves to that client, `claim_token`). While its holder is
/// active, any other client gets 2001. Returns the license and the token key to claim after the
/// activation succeeded (so a refused activation moves nothing).
async fn find_by_license_or_token_key(
    state: &AppState,
    product: &Product,
    key: &str,
    client_id: &str,
) -> SlResult<(License, Option<String>)> {
    if let Some(license) = super::super::lookup::license_by_key(state, key)
        .await
        .map_err(SlError::from_store)?
    {
        if license.product_id != product.id {
            return Err(Conflict::InvalidLicenseKey.into());
        }
        return Ok((license, None));
    }
    let Some(token) = super::super::lookup::token_by_key(state, key)
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
    license_id: LicenseId,
    client_id: &str,
    claim: Option<String>,
) -> SlResult<SlasconeToken> {
    if let Some(token_key) = claim {
        let claimed = state
            .store
            .claim_token(
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
pub struct OfflineQuery {
    pub product_id: Option<String>,
    pub license_key: Option<String>,
    pub client_id: Option<String>,
    pub file_name: Option<String>,
}

/// GET /provisioning/activations/offline: activates the client (as POST /activations does) and
/// answers the signed `<slascone_activation_file>` for a machine without internet access.
pub async fn offline_activation(
    State(state): State<AppState>,
    query: Result<Query<OfflineQuery>, QueryRejection>,
    Key(caller): Key<true>,
) -> SlResult<Response> {
    let Query(query) = query.map_err(|e| SlError::BadRequest(e.body_text()))?;
    for (field, value) in [
        ("product_id", &query.product_id),
        ("license_key", &query.license_key),
        ("client_id", &query.client_id),
        ("file_name", &query.file_name),
    ] {
        super::super::bounds::check_text(field, value.as_deref().unwrap_or_default())?;
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
    let xml = super::super::xml::activation_file(
        &state.keys.rsa(),
        activation.license.key.as_deref().unwrap_or_default(),
        &token.token_key,
        &client_id,
        activation.device.activated_at,
    )?;
    let name = query.file_name.unwrap_or_else(|| "ActivationFile.xml".to_owned());
    Ok(super::super::wire::xml_ok(xml, &name))
}
