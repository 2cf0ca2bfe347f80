//! Editions (templates = licensd policies): create, update, delete (AdminKey).

use super::*;

// --- editions (templates = policies) ---

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TemplateRequest {
    pub name: Option<String>,
    /// 0 Named, 1 Floating.
    pub provisioning_mode: Option<i64>,
    pub is_temporary: Option<bool>,
    pub token_limit: Option<i64>,
    pub floating_token_limit: Option<i64>,
    /// Minutes a floating session lives without a renewal.
    pub session_period: Option<i64>,
    pub user_limit: Option<i64>,
    /// Days from issue to expiry; none = no expiry.
    pub expiration_days: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct TemplateView {
    pub id: String,
    pub name: String,
    pub provisioning_mode: i64,
    pub is_temporary: bool,
    pub token_limit: Option<i64>,
    pub floating_token_limit: Option<i64>,
    pub session_period: Option<i64>,
    pub user_limit: Option<i64>,
    pub expiration_days: Option<i64>,
}

/// An edition as the back office shows it.
pub fn template_view(policy: &Policy) -> TemplateView {
    let floating = policy.terms.floating.as_ref();
    TemplateView {
        id: id_guid(policy.id),
        name: policy.name.clone(),
        provisioning_mode: i64::from(floating.is_some()),
        is_temporary: policy.terms.kind == LicenseKind::Trial,
        token_limit: policy.terms.max_activations,
        floating_token_limit: floating.map(|f| f.seats),
        session_period: floating.map(|f| licensd_domain::limits::minutes_ceil(f.lease_seconds)),
        user_limit: policy.terms.max_users,
        expiration_days: policy.duration_days,
    }
}

fn mode_of(request: &TemplateRequest, current: i64) -> SlResult<bool> {
    match request.provisioning_mode.unwrap_or(current) {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(SlError::BadRequest(
            "provisioning_mode must be 0 (Named) or 1 (Floating)".into(),
        )),
    }
}

/// Applies a template request to terms; `floating` is the provisioning mode to give them.
fn apply_template(request: &TemplateRequest, floating: bool, terms: &mut LicenseTerms) -> SlResult<()> {
    let negative = |v: Option<i64>| v.is_some_and(|v| v < 0);
    if negative(request.token_limit)
        || negative(request.user_limit)
        || negative(request.expiration_days)
        || request.floating_token_limit.is_some_and(|v| v < 1)
        || request.session_period.is_some_and(|v| !(1..=525_600).contains(&v))
    {
        return Err(SlError::BadRequest(
            "limits must not be negative; floating_token_limit and session_period (minutes, up to a year) must be at least 1"
                .into(),
        ));
    }
    if let Some(limit) = request.token_limit {
        terms.max_activations = Some(limit);
    }
    if let Some(limit) = request.user_limit {
        terms.max_users = Some(limit);
    }
    if let Some(temporary) = request.is_temporary {
        terms.kind = if temporary {
            LicenseKind::Trial
        } else {
            LicenseKind::Normal
        };
    }
    terms.floating = if floating {
        let current = terms.floating.clone();
        Some(FloatingTerms {
            seats: request
                .floating_token_limit
                .or(current.as_ref().map(|f| f.seats))
                .unwrap_or(1),
            lease_seconds: request
                .session_period
                .map(|m| m * 60)
                .or(current.as_ref().map(|f| f.lease_seconds))
                .unwrap_or(1800),
            borrow_allowed: current.as_ref().is_none_or(|f| f.borrow_allowed),
            max_borrow_hours: current.as_ref().map_or(24 * 30, |f| f.max_borrow_hours),
            sessions_per_client: current.as_ref().and_then(|f| f.sessions_per_client),
        })
    } else {
        None
    };
    Ok(())
}

/// POST /products/{product_id}/templates (AdminKey)
pub async fn create_template(
    State(state): State<AppState>,
    SlPath((_isv_id, code)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let product = known_product(&state, &code).await?;
    let request: TemplateRequest = parse_body(&body)?;
    let event = EventDraft::new(actor, "slascone.template_created", "policy");
    let policy = create_edition(&state, product.id, &request, event).await?;
    json_ok(&template_view(&policy))
}

/// Creates an edition (a policy) of a product with the checks of POST `/templates`: the one
/// command the back office and the admin console run. `event` is the `slascone.template_created`
/// event of the caller.
pub async fn create_edition(
    state: &AppState,
    product_id: ProductId,
    request: &TemplateRequest,
    event: EventDraft,
) -> SlResult<Policy> {
    let name = entry_name(request.name.as_deref())
        .ok_or_else(|| SlError::BadRequest("name must be 1 to 256 characters".into()))?;
    let floating = mode_of(request, 0)?;
    let mut terms = LicenseTerms::default();
    apply_template(request, floating, &mut terms)?;
    let new = NewPolicy {
        product_id,
        code: code_of(&name),
        name,
        terms,
        duration_days: request.expiration_days,
        maintenance_days: None,
        features: Vec::new(),
        metadata: serde_json::json!({}),
    };
    state
        .store
        .create_policy(new, event, state.now())
        .await
        .map_err(SlError::exists_as(Conflict::TemplateExists))
}

pub(super) async fn template_by_guid(state: &AppState, guid: &str) -> SlResult<Policy> {
    let id = guid_id(guid).ok_or(SlError::NotFound("template"))?;
    match state.store.get_policy(id).await {
        Ok(policy) => Ok(policy),
        Err(StoreError::NotFound) => Err(SlError::NotFound("template")),
        Err(other) => Err(SlError::from_store(other)),
    }
}

/// PUT /templates/{template_id} (AdminKey): the provisioning mode is a core property (6020).
pub async fn update_template(
    State(state): State<AppState>,
    SlPath((_isv_id, template)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let mut policy = template_by_guid(&state, &template).await?;
    let request: TemplateRequest = parse_body(&body)?;
    let current = policy.terms.floating.is_some();
    let floating = mode_of(&request, i64::from(current))?;
    if floating != current {
        return Err(Conflict::ProvisioningModeChange.into());
    }
    if let Some(name) = &request.name {
        policy.name =
            entry_name(Some(name)).ok_or_else(|| SlError::BadRequest("name must be 1 to 256 characters".into()))?;
    }
    apply_template(&request, floating, &mut policy.terms)?;
    if request.expiration_days.is_some() {
        policy.duration_days = request.expiration_days;
    }
    let event = EventDraft::new(actor, "slascone.template_updated", "policy");
    let policy = state
        .store
        .update_policy(policy, event, state.now())
        .await
        .map_err(SlError::exists_as(Conflict::TemplateExists))?;
    json_ok(&template_view(&policy))
}

/// DELETE /templates/{template_id} (AdminKey): a product keeps at least one edition (8000).
pub async fn delete_template(
    State(state): State<AppState>,
    SlPath((_isv_id, template)): SlPath<(String, String)>,
    AdminKey(actor): AdminKey,
) -> SlResult<Response> {
    let policy = template_by_guid(&state, &template).await?;
    let event = EventDraft::new(actor, "slascone.template_deleted", "policy");
    delete_edition(&state, policy.id, event).await?;
    Ok(super::wire::text_ok("The template was deleted."))
}

/// Deletes an edition with the refusals of DELETE `/templates/{id}` (a product keeps at least one
/// edition, 8000; an edition with licenses stays): the one command the back office and the admin
/// console run.
pub async fn delete_edition(state: &AppState, policy_id: i64, event: EventDraft) -> SlResult<()> {
    match state.store.delete_edition(policy_id, event, state.now()).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(text)) if text == sl::CONFLICT_LAST_EDITION => Err(Conflict::LastTemplate.into()),
        // SLASCONE names no conflict for an edition with licenses; it is a technical refusal.
        Err(StoreError::Conflict(_)) => Err(SlError::BadRequest(
            "the template still has licenses; switch them to another template first".into(),
        )),
        Err(StoreError::NotFound) => Err(SlError::NotFound("template")),
        Err(other) => Err(SlError::from_store(other)),
    }
}
