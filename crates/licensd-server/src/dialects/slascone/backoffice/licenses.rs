//! License edits: PUT `/licenses/{license_id}` and PUT `/licenses/{license_id}/template` (AdminKey).

use super::*;
use licensd_store::dialects::slascone_admin as sla;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SwitchTemplate {
    pub template_id: Option<String>,
}

/// PUT /licenses/{license_id}/template (AdminKey): moves a license to another edition of its
/// product with the same provisioning mode (8002) and temporary-ness (8003). The license keeps its
/// own limits; the edition's apply to licenses issued from it. The same store command as
/// `PUT /licenses/{license_id}` with `template_id`.
pub async fn switch_template(
    State(state): State<AppState>,
    SlPath((_isv_id, license)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let license = license_by_guid(&state, &license).await?;
    let request: SwitchTemplate = parse_body(&body)?;
    let policy = template_by_guid(&state, request.template_id.as_deref().unwrap_or_default()).await?;
    let update = sla::LicenseUpdate {
        policy_id: Some(policy.id),
        ..sla::LicenseUpdate::default()
    };
    apply_update(&state, actor, "slascone.license_template_switched", license.id, update).await
}

/// Writes a license update in one store transaction and answers the license's `LicenseInfo`;
/// every refusal of the store maps to SLASCONE's conflict and leaves the license as it was.
async fn apply_update(
    state: &AppState,
    actor: String,
    action: &str,
    license_id: LicenseId,
    update: sla::LicenseUpdate,
) -> SlResult<Response> {
    let event = EventDraft::new(actor, action, "license");
    state
        .store
        .apply_license_update(license_id, update, event, state.now())
        .await
        .map_err(update_refusal)?;
    let license = state.store.get_license(license_id).await.map_err(SlError::from_store)?;
    let info = super::provisioning::license_info_of(state, &license).await?;
    json_ok(&info)
}

/// SLASCONE's conflict for each refusal of `apply_license_update`.
fn update_refusal(error: StoreError) -> SlError {
    match error {
        StoreError::Conflict(text) => match text.as_str() {
            sl::CONFLICT_TOKENS_IN_USE => Conflict::CannotDecreaseTokens.into(),
            sl::CONFLICT_USERS_IN_USE => Conflict::CannotDecreaseUserLimit.into(),
            sl::CONFLICT_EXPIRATION_MODE => Conflict::CannotChangeExpirationMode.into(),
            sl::CONFLICT_LEGACY_KEY => Conflict::LegacyKeyExists.into(),
            sla::CONFLICT_EDITION_MODE => Conflict::EditionModeSwitch.into(),
            sla::CONFLICT_TEMPORARY => Conflict::TemporaryConversion.into(),
            // An edition of another product is no edition of this license.
            sla::CONFLICT_UNKNOWN_EDITION => SlError::NotFound("template"),
            _ => SlError::from_store(StoreError::Conflict(text)),
        },
        StoreError::NotFound => Conflict::InvalidLicenseKey.into(),
        other => SlError::from_store(other),
    }
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
    /// Another edition of the license's product with the same provisioning mode (8002) and
    /// temporary-ness (8003); an unknown one is 404.
    pub template_id: Option<String>,
    /// Must be what the license is: a license is never converted (8003).
    pub is_temporary: Option<bool>,
    /// Sets the license's legacy key (1005 when another license has it); `""` removes it.
    pub legacy_license_key: Option<String>,
}

/// PUT /licenses/{license_id} (AdminKey): limits, expiry, license type, software release
/// limitation, edition, temporary flag and legacy key. Input is checked first (9003, 2009, 1004,
/// 404 for an unknown template), then one store transaction under the license lock checks the
/// core properties (8002, 8003), the limits (2008, 1011, 2011) and the legacy key (1005) and
/// writes everything with one event: a refused update changes nothing.
pub async fn update_license(
    State(state): State<AppState>,
    SlPath((_isv_id, license)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
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
        update.expires_at =
            Some(backoffice::parse_expiration_date(&text).ok_or(SlError::Conflict(Conflict::InvalidExpirationDate))?);
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
            if !backoffice::is_temporary(&license.terms) {
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
                .filter(|t| t.scope_id == license.product_id.get())
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
    let template = match non_blank(request.template_id.as_deref()) {
        Some(guid) => Some(template_by_guid(&state, &guid).await?.id),
        None => None,
    };
    // `""` removes the legacy key (SLASCONE's reset convention, as for the release limitation).
    let legacy_key = request.legacy_license_key.as_deref().map(|text| non_blank(Some(text)));
    let update = sla::LicenseUpdate {
        limits: update,
        policy_id: template,
        temporary: request.is_temporary,
        license_type: license_type.map(|t| t.id),
        release: release.map(|r| r.map(|entry| entry.id)),
        legacy_key,
    };
    apply_update(&state, actor, "slascone.license_updated", license.id, update).await
}
