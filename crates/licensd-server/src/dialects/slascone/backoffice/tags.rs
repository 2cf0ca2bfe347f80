//! Webhook registration and tags with their assignments to customers and licenses (AdminKey).

use super::*;

// --- webhooks ---

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WebhookRequest {
    pub name: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WebhookView {
    pub id: String,
    pub name: Option<String>,
    pub url: String,
    pub created_date_utc: String,
}

/// POST /webhooks (AdminKey): registers a webhook; every event from then on is queued for it in
/// the event's transaction (a trigger, migration 0612) and sent by the outbox worker.
pub async fn create_webhook(State(state): State<AppState>, AdminCall(actor, body): AdminCall) -> SlResult<Response> {
    let request: WebhookRequest = parse_body(&body)?;
    let (Some(name), Some(url)) = (non_blank(request.name.as_deref()), non_blank(request.url.as_deref())) else {
        return Err(Conflict::WebhookNameUrlEmpty.into());
    };
    if !backoffice::valid_webhook_url(&url) {
        return Err(Conflict::InvalidUrl.into());
    }
    let named = NamedRequest {
        name: Some(url),
        description: Some(name),
    };
    let entry = create_entry(&state, actor, EntryKind::Webhook, 0, &named, Conflict::WebhookUrlExists).await?;
    json_ok(&WebhookView {
        id: id_guid(entry.id),
        name: entry.detail,
        url: entry.name,
        created_date_utc: utc(entry.created_at),
    })
}

// --- tags ---

/// POST /tags (AdminKey). SLASCONE has no conflict for a duplicate tag name, so creating a tag
/// that exists answers the existing tag.
pub async fn create_tag(State(state): State<AppState>, AdminCall(actor, body): AdminCall) -> SlResult<Response> {
    let request: NamedRequest = parse_body(&body)?;
    match create_entry(
        &state,
        actor,
        EntryKind::Tag,
        0,
        &request,
        Conflict::TagAssignmentExists,
    )
    .await
    {
        Ok(entry) => json_ok(&EntryView::from(entry)),
        Err(SlError::Conflict(Conflict::TagAssignmentExists)) => {
            let name = entry_name(request.name.as_deref()).unwrap_or_default();
            let tags = state
                .store
                .list_entries(EntryKind::Tag, Some(0))
                .await
                .map_err(SlError::from_store)?;
            let tag = tags.into_iter().find(|t| t.name == name).ok_or(SlError::Internal)?;
            json_ok(&EntryView::from(tag))
        }
        Err(other) => Err(other),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TagAssignmentRequest {
    pub tag_id: Option<String>,
    pub customer_id: Option<String>,
    pub license_id: Option<String>,
}

async fn assign_tag(state: &AppState, actor: String, request: TagAssignmentRequest) -> SlResult<Response> {
    let customer = non_blank(request.customer_id.as_deref());
    let license = non_blank(request.license_id.as_deref());
    let (target, target_id) = match (customer, license) {
        (Some(customer), None) => (TagTarget::Customer, customer_by_guid(state, &customer).await?.id.get()),
        (None, Some(license)) => (TagTarget::License, license_by_guid(state, &license).await?.id.get()),
        _ => return Err(Conflict::TagTargetMissing.into()),
    };
    let tag = entry_by_guid(state, EntryKind::Tag, request.tag_id.as_deref())
        .await?
        .ok_or(SlError::Conflict(Conflict::UnknownTag))?;
    let event = EventDraft::new(actor, "slascone.tag_assigned", "tag");
    match state
        .store
        .assign_tag(tag.id, target, target_id, event, state.now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(Conflict::TagAssignmentExists.into()),
        // The tag or target vanished between the lookup and the write.
        Err(StoreError::NotFound) => return Err(Conflict::UnknownTag.into()),
        Err(other) => return Err(SlError::from_store(other)),
    }
    let tags = state
        .store
        .tags_of(target, target_id)
        .await
        .map_err(SlError::from_store)?;
    json_ok(&tags.into_iter().map(EntryView::from).collect::<Vec<_>>())
}

/// POST /tags/assignments (AdminKey): `{tag_id, customer_id | license_id}`.
pub async fn create_tag_assignment(
    State(state): State<AppState>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let request: TagAssignmentRequest = parse_body(&body)?;
    assign_tag(&state, actor, request).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TagRef {
    pub tag_id: Option<String>,
}

/// POST /customers/{customer_id}/tags (AdminKey)
pub async fn tag_customer(
    State(state): State<AppState>,
    SlPath((_isv_id, customer)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let request: TagRef = parse_body(&body)?;
    let request = TagAssignmentRequest {
        tag_id: request.tag_id,
        customer_id: Some(customer),
        license_id: None,
    };
    assign_tag(&state, actor, request).await
}

/// POST /licenses/{license_id}/tags (AdminKey)
pub async fn tag_license(
    State(state): State<AppState>,
    SlPath((_isv_id, license)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let request: TagRef = parse_body(&body)?;
    let request = TagAssignmentRequest {
        tag_id: request.tag_id,
        customer_id: None,
        license_id: Some(license),
    };
    assign_tag(&state, actor, request).await
}
