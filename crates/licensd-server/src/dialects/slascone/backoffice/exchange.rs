//! Data exchange: a license created from an edition named by its name (AdminKey).

use super::*;

// --- data exchange: create a license from an edition by name ---

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ValueRef {
    pub id: Option<String>,
    pub value: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ByTemplateRequest {
    pub product_id: Option<String>,
    pub template_name: Option<String>,
    pub customer_id: Option<String>,
    pub license_name: Option<String>,
    /// `mm/dd/yyyy`, `dd.mm.yyyy`, `yyyy-mm-dd` or an ISO instant (9003 otherwise).
    pub expiration_date_utc: Option<String>,
    pub legacy_license_key: Option<String>,
    pub license_type_id: Option<String>,
    pub variables: Vec<ValueRef>,
    /// Product feature ids granted beyond the edition's.
    pub features: Vec<String>,
    /// Product limitation ids with the license's quota.
    pub limitations: Vec<ValueRef>,
    /// The limitation's `software_release` or id (1004 when unknown; `none` or empty: none).
    pub software_release_limitation: Option<String>,
}

fn value_text(value: Option<&Value>) -> SlResult<String> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(_) => Err(SlError::BadRequest(
            "values must be strings, numbers or booleans".into(),
        )),
    }
}

/// POST /data_exchange/licenses/by_template (AdminKey)
pub async fn create_license_by_template(
    State(state): State<AppState>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let request: ByTemplateRequest = parse_body(&body)?;
    let product = known_product(&state, request.product_id.as_deref().unwrap_or_default()).await?;
    let wanted = request.template_name.as_deref().map(str::trim).unwrap_or_default();
    let policy = state
        .store
        .list_policies(Some(product.id))
        .await
        .map_err(SlError::from_store)?
        .into_iter()
        .find(|p| !wanted.is_empty() && p.name == wanted)
        .ok_or(SlError::Conflict(Conflict::UnknownTemplateName))?;
    let customer = match non_blank(request.customer_id.as_deref()) {
        Some(guid) => Some(customer_by_guid(&state, &guid).await?),
        None => None,
    };
    let expiry = match non_blank(request.expiration_date_utc.as_deref()) {
        Some(text) => {
            Some(backoffice::parse_expiration_date(&text).ok_or(SlError::Conflict(Conflict::InvalidExpirationDate))?)
        }
        None => None,
    };
    let license_type = match non_blank(request.license_type_id.as_deref()) {
        Some(guid) => Some(
            entry_by_guid(&state, EntryKind::LicenseType, Some(&guid))
                .await?
                .filter(|t| t.scope_id == product.id.get())
                .ok_or(SlError::Conflict(Conflict::UnknownLicenseType))?,
        ),
        None => None,
    };
    let release = resolve_release(&state, product.id, request.software_release_limitation.as_deref())
        .await?
        .flatten();
    let mut values = Vec::new();
    for item in &request.variables {
        let variable = entry_by_guid(&state, EntryKind::Variable, item.id.as_deref())
            .await?
            .filter(|v| v.scope_id == product.id.get())
            .ok_or(SlError::Conflict(Conflict::UnknownVariable))?;
        values.push((variable.id, value_text(item.value.as_ref())?));
    }
    let definitions = state
        .store
        .list_features(Some(product.id))
        .await
        .map_err(SlError::from_store)?;
    let mut grants = policy.features.clone();
    let mut grant = |definition: &FeatureDefinition, overrides: FeatureOverrides| {
        grants.retain(|g| g.code != definition.spec.code);
        grants.push(FeatureGrant {
            code: definition.spec.code.clone(),
            overrides,
        });
    };
    for id in &request.features {
        let definition = definitions
            .iter()
            .find(|d| d.spec.feature_type == FeatureType::Activation && guid_id(id) == Some(d.id))
            .ok_or(SlError::Conflict(Conflict::UnknownFeature))?;
        grant(definition, FeatureOverrides::default());
    }
    for item in &request.limitations {
        let definition = definitions
            .iter()
            .find(|d| {
                d.spec.feature_type == FeatureType::Consumption && item.id.as_deref().and_then(guid_id) == Some(d.id)
            })
            .ok_or(SlError::Conflict(Conflict::UnknownLimitation))?;
        let quota = match &item.value {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_i64()
                    .filter(|v| *v >= 0)
                    .ok_or_else(|| SlError::BadRequest("a limitation value must be a whole number >= 0".into()))?,
            ),
        };
        grant(
            definition,
            FeatureOverrides {
                max_consumptions: quota,
                ..FeatureOverrides::default()
            },
        );
    }
    let legacy = non_blank(request.legacy_license_key.as_deref());
    if let Some(legacy) = &legacy {
        if legacy.len() > 256 {
            return Err(SlError::BadRequest("legacy_license_key is too long".into()));
        }
        let taken = state
            .store
            .license_of_legacy_key(legacy)
            .await
            .map_err(SlError::from_store)?;
        if taken.is_some() {
            return Err(Conflict::LegacyKeyExists.into());
        }
    }
    let now = state.now();
    let (terms, stamped_expiry, maintenance) = rules::stamp_from_policy(&policy, now);
    let mut slascone = serde_json::Map::new();
    if let Some(name) = non_blank(request.license_name.as_deref()) {
        slascone.insert("license_name".into(), Value::String(name));
    }
    let trial_days = (terms.kind == LicenseKind::Trial && expiry.is_none())
        .then_some(product.trial_days)
        .filter(|days| *days > 0);
    let new = NewLicense {
        product_id: product.id,
        key: Some(random_guid()?),
        settings: LicenseSettings {
            policy_id: Some(policy.id),
            customer_id: customer.as_ref().map(|c| c.id),
            trial_days,
            expires_at: expiry.or(stamped_expiry),
            maintenance_expires_at: maintenance,
            metadata: serde_json::json!({"slascone": slascone}),
            ..LicenseSettings::active(terms)
        },
        features: grants,
    };
    // The license, its legacy key and its SLASCONE values are one store transaction: a refusal
    // (a legacy key taken by a racing request) leaves no license and no event behind.
    let typed = license_type.iter().chain(release.iter()).map(|t| (t.id, String::new()));
    let create = sl::SlasconeNewLicense {
        license: new,
        legacy_key: legacy,
        values: typed.chain(values).collect(),
    };
    let events = sl::SlasconeCreateEvents {
        created: EventDraft::new(actor.clone(), "slascone.license_created", "license"),
        legacy: EventDraft::new(actor.clone(), "slascone.legacy_key_set", "license"),
        value: EventDraft::new(actor, "slascone.license_value_set", "license"),
    };
    let license = state
        .store
        .create_license_from_edition(create, events, now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(text) if text == sl::CONFLICT_LEGACY_KEY => Conflict::LegacyKeyExists.into(),
            other => SlError::from_store(other),
        })?;
    let info = super::provisioning::render_info(&state, &product, &license, None, None).await?;
    json_ok(&info)
}
