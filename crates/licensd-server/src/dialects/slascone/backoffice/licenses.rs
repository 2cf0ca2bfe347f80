//! License edits: PUT `/licenses/{license_id}` and PUT `/licenses/{license_id}/template` (AdminKey).

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SwitchTemplate {
    pub template_id: Option<String>,
}

/// PUT /licenses/{license_id}/template (AdminKey): moves a license to another edition of its
/// product with the same provisioning mode (8002) and temporary-ness (8003). The license keeps its
/// own limits; the edition's apply to licenses issued from it.
pub async fn switch_template(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path((isv_id, license)) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let license = license_by_guid(&state, &license).await?;
        let request: SwitchTemplate = parse_body(&body)?;
        let policy = template_by_guid(&state, request.template_id.as_deref().unwrap_or_default()).await?;
        if policy.product_id != license.product_id {
            return Err(SlError::NotFound("template"));
        }
        if policy.terms.floating.is_some() != license.terms.floating.is_some() {
            return Err(Conflict::EditionModeSwitch.into());
        }
        if (policy.terms.kind == LicenseKind::Trial) != (license.terms.kind == LicenseKind::Trial) {
            return Err(Conflict::TemporaryConversion.into());
        }
        let mut edit = LicenseEdit::from_license(&license);
        edit.policy_id = Some(policy.id);
        let event = EventDraft::new(actor, "slascone.license_template_switched", "license");
        let license = state
            .store
            .edit_license(license.id, edit, event, state.now())
            .await
            .map_err(SlError::from_store)?;
        let product = state
            .store
            .get_product(license.product_id)
            .await
            .map_err(SlError::from_store)?;
        let info = super::provisioning::render_info(&state, &product, &license, None, None).await?;
        json_ok(&info)
    }
    .await;
    respond(&state, &headers, result).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LicenseUpdateRequest {
    pub token_limit: Option<i64>,
    pub user_limit: Option<i64>,
    /// `mm/dd/yyyy`, `dd.mm.yyyy`, `yyyy-mm-dd` or an ISO instant (9003 otherwise).
    pub expiration_date_utc: Option<String>,
    /// 0 fixed date, 1 days after activation (with `expiration_days`; temporary licenses).
    pub expiration_mode: Option<i64>,
    pub expiration_days: Option<i64>,
    /// A license type id of the product (2009 otherwise).
    pub license_type_id: Option<String>,
    /// The limitation's `software_release` (or its id); `none` or empty resets it (1004 otherwise).
    pub software_release_limitation: Option<String>,
}

/// PUT /licenses/{license_id} (AdminKey): limits, expiry, license type and software release
/// limitation. Input is checked first (9003, 2009, 1004), then the limits under the license lock
/// (2008, 1011, 2011), then the values are written: a refused update changes nothing.
pub async fn update_license(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path((isv_id, license)) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let license = license_by_guid(&state, &license).await?;
        let request: LicenseUpdateRequest = parse_body(&body)?;
        if request.token_limit.is_some_and(|v| v < 0) || request.user_limit.is_some_and(|v| v < 0) {
            return Err(SlError::BadRequest(
                "token_limit and user_limit must not be negative".into(),
            ));
        }
        let mut update = sl::LicenseLimitsUpdate {
            token_limit: request.token_limit,
            user_limit: request.user_limit,
            ..sl::LicenseLimitsUpdate::default()
        };
        if let Some(text) = non_blank(request.expiration_date_utc.as_deref()) {
            update.expires_at = Some(
                backoffice::parse_expiration_date(&text).ok_or(SlError::Conflict(Conflict::InvalidExpirationDate))?,
            );
        }
        match request.expiration_mode {
            None | Some(0) => {}
            Some(1) => {
                let days = request
                    .expiration_days
                    .filter(|d| (1..=36_500).contains(d))
                    .ok_or_else(|| {
                        SlError::BadRequest("expiration_days must be 1 to 36500 with expiration_mode 1".into())
                    })?;
                // licensd starts the clock at the first activation for temporary licenses only.
                if license.terms.kind != LicenseKind::Trial {
                    return Err(SlError::BadRequest(
                        "expiration_mode 1 (days after activation) needs a temporary license".into(),
                    ));
                }
                if update.expires_at.is_some() {
                    return Err(SlError::BadRequest(
                        "give expiration_date_utc or expiration_mode 1, not both".into(),
                    ));
                }
                update.days_after_activation = Some(days);
            }
            Some(_) => return Err(SlError::BadRequest("expiration_mode must be 0 or 1".into())),
        }
        let license_type = match non_blank(request.license_type_id.as_deref()) {
            Some(guid) => Some(
                entry_by_guid(&state, EntryKind::LicenseType, Some(&guid))
                    .await?
                    .filter(|t| t.scope_id == license.product_id)
                    .ok_or(SlError::Conflict(Conflict::UnknownLicenseType))?,
            ),
            None => None,
        };
        let release = resolve_release(
            &state,
            license.product_id,
            request.software_release_limitation.as_deref(),
        )
        .await?;
        let now = state.now();
        if update != sl::LicenseLimitsUpdate::default() {
            let event = EventDraft::new(actor.clone(), "slascone.license_updated", "license");
            state
                .store
                .slascone_update_license_limits(license.id, update, event, now)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(text) if text == sl::CONFLICT_TOKENS_IN_USE => {
                        Conflict::CannotDecreaseTokens.into()
                    }
                    StoreError::Conflict(text) if text == sl::CONFLICT_USERS_IN_USE => {
                        Conflict::CannotDecreaseUserLimit.into()
                    }
                    StoreError::Conflict(text) if text == sl::CONFLICT_EXPIRATION_MODE => {
                        Conflict::CannotChangeExpirationMode.into()
                    }
                    StoreError::NotFound => Conflict::InvalidLicenseKey.into(),
                    other => SlError::from_store(other),
                })?;
        }
        if let Some(license_type) = license_type {
            let event = EventDraft::new(actor.clone(), "slascone.license_value_set", "license");
            state
                .store
                .slascone_set_license_value(license.id, license_type.id, "", event, now)
                .await
                .map_err(SlError::from_store)?;
        }
        match release {
            None => {}
            Some(Some(entry)) => {
                let event = EventDraft::new(actor.clone(), "slascone.license_value_set", "license");
                state
                    .store
                    .slascone_set_license_value(license.id, entry.id, "", event, now)
                    .await
                    .map_err(SlError::from_store)?;
            }
            Some(None) => {
                let event = EventDraft::new(actor.clone(), "slascone.license_value_cleared", "license");
                state
                    .store
                    .slascone_clear_license_kind(license.id, EntryKind::SoftwareRelease, event, now)
                    .await
                    .map_err(SlError::from_store)?;
            }
        }
        let license = state.store.get_license(license.id).await.map_err(SlError::from_store)?;
        let product = state
            .store
            .get_product(license.product_id)
            .await
            .map_err(SlError::from_store)?;
        let info = super::provisioning::render_info(&state, &product, &license, None, None).await?;
        json_ok(&info)
    }
    .await;
    respond(&state, &headers, result).await
}
