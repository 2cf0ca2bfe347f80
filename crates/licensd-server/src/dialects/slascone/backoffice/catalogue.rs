//! The product catalogue: license types, heartbeat types, variables, features, limitations and
//! software release limitations (AdminKey).

use super::*;

// --- product catalogue ---

/// POST /products/{product_id}/license_types (AdminKey)
pub async fn create_license_type(
    State(state): State<AppState>,
    SlPath((_isv_id, code)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    product_entry(
        state,
        code,
        actor,
        body,
        EntryKind::LicenseType,
        Conflict::LicenseTypeExists,
    )
    .await
}

/// POST /products/{product_id}/heartbeat_types (AdminKey)
pub async fn create_heartbeat_type(
    State(state): State<AppState>,
    SlPath((_isv_id, code)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    product_entry(
        state,
        code,
        actor,
        body,
        EntryKind::HeartbeatType,
        Conflict::HeartbeatTypeExists,
    )
    .await
}

/// POST /products/{product_id}/variables (AdminKey)
pub async fn create_variable(
    State(state): State<AppState>,
    SlPath((_isv_id, code)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    product_entry(state, code, actor, body, EntryKind::Variable, Conflict::VariableExists).await
}

async fn product_entry(
    state: AppState,
    code: String,
    actor: String,
    body: Bytes,
    kind: EntryKind,
    duplicate: Conflict,
) -> SlResult<Response> {
    let product = known_product(&state, &code).await?;
    let request: NamedRequest = parse_body(&body)?;
    let entry = create_entry(&state, actor, kind, product.id.get(), &request, duplicate).await?;
    json_ok(&EntryView::from(entry))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FeatureRequest {
    pub name: Option<String>,
    /// Limitations: the default quota per reset period (none = unlimited).
    pub value: Option<i64>,
    /// Limitations: SLASCONE's reset mode (see `info::reset_mode`; quarters are not modelled).
    pub consumption_reset_mode: Option<i64>,
    pub consumption_reset_period_days: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct FeatureView {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    pub created_date_utc: String,
}

/// POST /products/{product_id}/features (AdminKey): an activation feature.
pub async fn create_feature(
    State(state): State<AppState>,
    SlPath((_isv_id, code)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    catalogue_feature(state, code, actor, body, FeatureType::Activation).await
}

/// POST /products/{product_id}/limitations (AdminKey): a consumption feature.
pub async fn create_limitation(
    State(state): State<AppState>,
    SlPath((_isv_id, code)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    catalogue_feature(state, code, actor, body, FeatureType::Consumption).await
}

async fn catalogue_feature(
    state: AppState,
    code: String,
    actor: String,
    body: Bytes,
    feature_type: FeatureType,
) -> SlResult<Response> {
    let product = known_product(&state, &code).await?;
    let request: FeatureRequest = parse_body(&body)?;
    let name = entry_name(request.name.as_deref())
        .ok_or_else(|| SlError::BadRequest("name must be 1 to 256 characters".into()))?;
    let consumption = feature_type == FeatureType::Consumption;
    if request.value.is_some_and(|v| v < 0) {
        return Err(SlError::BadRequest("value must not be negative".into()));
    }
    let reset_period = match (
        request.consumption_reset_mode.unwrap_or(0),
        request.consumption_reset_period_days,
    ) {
        (0, _) => ResetPeriod::Never,
        (1, Some(1)) => ResetPeriod::Daily,
        (1, Some(7)) => ResetPeriod::Weekly,
        (2, _) => ResetPeriod::Monthly,
        (4, _) => ResetPeriod::Yearly,
        _ => {
            return Err(SlError::BadRequest(
                "consumption_reset_mode must be 0, 1 (every 1 or 7 days), 2 or 4".into(),
            ));
        }
    };
    let new = FeatureSpec {
        product_id: product.id,
        code: code_of(&name),
        name,
        feature_type,
        max_consumptions: if consumption { request.value } else { None },
        allow_overages: false,
        max_overages: None,
        allow_negative: false,
        reset_period,
        floating_seats: None,
        floating_lease_seconds: 1800,
        metadata: serde_json::json!({}),
    };
    let duplicate = if consumption {
        Conflict::LimitationExists
    } else {
        Conflict::FeatureExists
    };
    let action = if consumption {
        "slascone.limitation_created"
    } else {
        "slascone.feature_created"
    };
    let feature = state
        .store
        .create_feature(new, EventDraft::new(actor, action, "feature"), state.now())
        .await
        .map_err(SlError::exists_as(duplicate))?;
    json_ok(&FeatureView {
        id: id_guid(feature.id),
        name: feature.spec.name,
        value: feature.spec.max_consumptions,
        created_date_utc: utc(feature.created_at),
    })
}

// --- software release limitations and license updates ---

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SoftwareReleaseRequest {
    pub software_release: Option<String>,
}

/// POST /products/{product_id}/software_release_limitations (AdminKey): `{software_release}`, the
/// highest version licenses with this limitation may run. SLASCONE names no conflict for a
/// duplicate, so creating one that exists answers the existing one.
pub async fn create_software_release(
    State(state): State<AppState>,
    SlPath((_isv_id, code)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let product = known_product(&state, &code).await?;
    let request: SoftwareReleaseRequest = parse_body(&body)?;
    let release = non_blank(request.software_release.as_deref())
        .filter(|r| r.len() <= 64 && r.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c)))
        .ok_or_else(|| SlError::BadRequest("software_release must be a version such as 2.1.0".into()))?;
    let named = NamedRequest {
        name: Some(release.clone()),
        description: None,
    };
    let entry = match create_entry(
        &state,
        actor,
        EntryKind::SoftwareRelease,
        product.id.get(),
        &named,
        Conflict::UnknownSoftwareReleaseLimitation,
    )
    .await
    {
        Ok(entry) => entry,
        Err(SlError::Conflict(Conflict::UnknownSoftwareReleaseLimitation)) => state
            .store
            .list_entries(EntryKind::SoftwareRelease, Some(product.id.get()))
            .await
            .map_err(SlError::from_store)?
            .into_iter()
            .find(|e| e.name == release)
            .ok_or(SlError::Internal)?,
        Err(other) => return Err(other),
    };
    json_ok(&serde_json::json!({
        "id": id_guid(entry.id),
        "product_id": product.code,
        "software_release": entry.name,
    }))
}
