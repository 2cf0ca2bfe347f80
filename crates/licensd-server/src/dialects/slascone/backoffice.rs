//! SLASCONE's back-office groups under the dialect's AdminKey paths (licensd's choice of path
//! where the reference names only the group), each a real store command the native
//! `/v1/slascone/…` API (admin.rs) manages too:
//!
//! | Method & path (below `/api/v2/isv/{isv_id}`) | Conflicts |
//! |---|---|
//! | POST `/customers` | 4002, 4003, 4004, 4005, 9000, 9001, 9002, 9005, 9006 |
//! | POST `/customers/types` | 9004 |
//! | POST `/customers/{customer_id}/tags`, `/licenses/{license_id}/tags`, `/tags/assignments` | 13001, 13002, 13003 (4000, 1000) |
//! | POST `/tags` (idempotent by name) | |
//! | POST `/webhooks` (registration and storage only: licensd does not deliver webhooks yet) | 10001, 10002, 10003 |
//! | POST `/resellers`, `/resellers/types`, `/resellers/{reseller_id}/contacts` | 14001, 14003, 14002 |
//! | POST `/products/{product_id}/license_types`, `/heartbeat_types`, `/variables`, `/limitations`, `/features`, `/templates` | 6012, 6014, 6017, 6016, 6018, 6013 (3000) |
//! | PUT `/templates/{template_id}`, DELETE `/templates/{template_id}` | 6020, 8000 |
//! | PUT `/licenses/{license_id}/template` | 8002, 8003 |
//! | POST `/data_exchange/licenses/by_template` | 3000, 3001, 3002, 3003, 4000, 8001, 9003, 2009, 1004, 1005 |
//! | POST `/products/{product_id}/software_release_limitations` (idempotent by release) | 3000 |
//! | PUT `/licenses/{license_id}` (limits, expiry, license type, release limitation) | 1000, 1004, 1011, 2008, 2009, 2011, 9003 |
//!
//! Editions are licensd policies (provisioning mode Floating = floating terms, temporary = trial
//! kind); features and limitations are activation and consumption feature definitions whose code
//! is derived from the name, so a name that differs only in punctuation is "already exists".

use super::codes::Conflict;
use super::info::utc;
use super::provisioning::respond;
use super::wire::{
    SlError, SlResult, authenticate_admin, check_isv, guid_id, id_guid, json_ok, parse_body, random_guid,
};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use licensd_domain::backoffice::{self, CustomerProfile, Entry, EntryKind, EntryScope, TagTarget};
use licensd_domain::*;
use licensd_store::dialects::slascone as sl;
use licensd_store::{LicenseEdit, NewFeature, NewLicense, NewPolicy, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// --- shared checks (the native API uses them too) ---

/// A required name: 1 to 256 characters after trimming.
pub fn entry_name(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|name| !name.is_empty() && name.chars().count() <= 256)
        .map(str::to_owned)
}

/// Checks that the scope of an entry of `kind` exists: the product, the reseller, or 0 for global
/// kinds. `Err(None)` when it does not exist.
pub async fn check_entry_scope(state: &AppState, kind: EntryKind, scope_id: i64) -> Result<(), Option<StoreError>> {
    match kind.scope() {
        EntryScope::Global if scope_id == 0 => Ok(()),
        EntryScope::Global => Err(None),
        EntryScope::Product => match state.store.get_product(scope_id).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound) => Err(None),
            Err(other) => Err(Some(other)),
        },
        EntryScope::Reseller => match state.store.slascone_find_entry(EntryKind::Reseller, scope_id).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(None),
            Err(other) => Err(Some(other)),
        },
    }
}

/// A catalogue code from a SLASCONE name (codes allow letters, digits, `-`, `_`, `.`).
fn code_of(name: &str) -> String {
    let code: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    code
}

/// Maps a store error whose `Conflict` means "already exists" to the given conflict.
fn exists(error: StoreError, conflict: Conflict) -> SlError {
    match error {
        StoreError::Conflict(_) => conflict.into(),
        other => SlError::from_store(other),
    }
}

fn path_err(e: PathRejection) -> SlError {
    SlError::BadRequest(e.body_text())
}

/// The AdminKey caller of a path whose first segment is the ISV id.
async fn admin(state: &AppState, headers: &HeaderMap, isv_id: &str) -> SlResult<String> {
    check_isv(isv_id)?;
    authenticate_admin(state, headers).await
}

async fn product_by_code(state: &AppState, code: &str) -> SlResult<Product> {
    match super::lookup::product_by_code(state, code).await {
        Ok(product) => Ok(product),
        Err(StoreError::NotFound) => Err(Conflict::UnknownProduct.into()),
        Err(other) => Err(SlError::from_store(other)),
    }
}

async fn license_by_guid(state: &AppState, guid: &str) -> SlResult<License> {
    let id = guid_id(guid).ok_or(SlError::Conflict(Conflict::InvalidLicenseKey))?;
    match state.store.get_license(id).await {
        Ok(license) => Ok(license),
        Err(StoreError::NotFound) => Err(Conflict::InvalidLicenseKey.into()),
        Err(other) => Err(SlError::from_store(other)),
    }
}

async fn customer_by_guid(state: &AppState, guid: &str) -> SlResult<Customer> {
    let id = guid_id(guid).ok_or(SlError::Conflict(Conflict::UnknownCustomer))?;
    match state.store.get_customer(id).await {
        Ok(customer) => Ok(customer),
        Err(StoreError::NotFound) => Err(Conflict::UnknownCustomer.into()),
        Err(other) => Err(SlError::from_store(other)),
    }
}

async fn entry_by_guid(state: &AppState, kind: EntryKind, guid: Option<&str>) -> SlResult<Option<Entry>> {
    let Some(id) = guid.and_then(guid_id) else {
        return Ok(None);
    };
    state
        .store
        .slascone_find_entry(kind, id)
        .await
        .map_err(SlError::from_store)
}

#[derive(Debug, Serialize)]
pub struct EntryView {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_date_utc: String,
}

impl From<Entry> for EntryView {
    fn from(entry: Entry) -> Self {
        EntryView {
            id: id_guid(entry.id),
            name: entry.name,
            description: entry.detail,
            created_date_utc: utc(entry.created_at),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NamedRequest {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// Creates a named entry of `kind` in `scope_id`; a duplicate is `duplicate`, a missing or blank
/// name a technical 400 unless `empty` names the kind's conflict.
async fn create_entry(
    state: &AppState,
    actor: String,
    kind: EntryKind,
    scope_id: i64,
    request: &NamedRequest,
    duplicate: Conflict,
) -> SlResult<Entry> {
    let name = entry_name(request.name.as_deref())
        .ok_or_else(|| SlError::BadRequest("name must be 1 to 256 characters".into()))?;
    let detail = request.description.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let event = EventDraft::new(actor, format!("slascone.{}_created", kind.as_str()), kind.as_str());
    state
        .store
        .slascone_create_entry(kind, scope_id, &name, detail, event, state.now())
        .await
        .map_err(|e| exists(e, duplicate))
}

// --- customers ---

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CustomerRequest {
    pub company_name: Option<String>,
    pub customer_number: Option<String>,
    pub email: Option<String>,
    pub customer_type_id: Option<String>,
    pub country: Option<String>,
    pub language: Option<String>,
    pub prospect_number: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CustomerView {
    pub customer_id: String,
    pub company_name: Option<String>,
    pub customer_number: String,
    pub email: Option<String>,
    pub prospect_number: Option<String>,
    pub customer_type_id: Option<String>,
    pub country: Option<String>,
    pub language: Option<String>,
    pub created_date_utc: String,
}

fn non_blank(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// POST /customers (AdminKey)
pub async fn create_customer(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path(isv_id) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let request: CustomerRequest = parse_body(&body)?;
        // The order of the checks follows the fields' importance: who the customer is first.
        let company =
            non_blank(request.company_name.as_deref()).ok_or(SlError::Conflict(Conflict::EmptyCompanyName))?;
        let number =
            non_blank(request.customer_number.as_deref()).ok_or(SlError::Conflict(Conflict::MissingCustomerNumber))?;
        let email = non_blank(request.email.as_deref())
            .map(|e| e.to_ascii_lowercase())
            .ok_or(SlError::Conflict(Conflict::MissingCustomerEmail))?;
        if company.chars().count() > 256 || number.chars().count() > 128 || email.len() > 254 {
            return Err(SlError::BadRequest(
                "company_name, customer_number or email is too long".into(),
            ));
        }
        if !super::users::valid_email(&email) {
            return Err(Conflict::InvalidEmail.into());
        }
        let country = match non_blank(request.country.as_deref()) {
            None => None,
            Some(text) => Some(backoffice::country_code(&text).ok_or(SlError::Conflict(Conflict::UnknownCountry))?),
        };
        let language = match non_blank(request.language.as_deref()) {
            None => None,
            Some(text) => {
                Some(backoffice::language_code(&text).ok_or(SlError::Conflict(Conflict::UnknownCustomerLanguage))?)
            }
        };
        let customer_type_id = match non_blank(request.customer_type_id.as_deref()) {
            None => None,
            Some(text) => Some(
                entry_by_guid(&state, EntryKind::CustomerType, Some(&text))
                    .await?
                    .ok_or(SlError::Conflict(Conflict::UnknownCustomerType))?
                    .id,
            ),
        };
        let profile = CustomerProfile {
            customer_id: 0,
            customer_number: number,
            prospect_number: non_blank(request.prospect_number.as_deref()),
            customer_type_id,
            country,
            language,
        };
        let event = EventDraft::new(actor, "slascone.customer_created", "customer");
        let (customer, profile) = state
            .store
            .slascone_create_customer(&email, &company, profile, event, state.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(text) if text == sl::CONFLICT_CUSTOMER_EMAIL => {
                    Conflict::CustomerEmailExists.into()
                }
                StoreError::Conflict(text) if text == sl::CONFLICT_PROSPECT_NUMBER => {
                    Conflict::ProspectNumberExists.into()
                }
                StoreError::Conflict(_) => Conflict::CustomerNumberExists.into(),
                other => SlError::from_store(other),
            })?;
        json_ok(&customer_view(&customer, &profile))
    }
    .await;
    respond(&state, &headers, result).await
}

pub fn customer_view(customer: &Customer, profile: &CustomerProfile) -> CustomerView {
    CustomerView {
        customer_id: id_guid(customer.id),
        company_name: customer.company.clone(),
        customer_number: profile.customer_number.clone(),
        email: customer.email.clone(),
        prospect_number: profile.prospect_number.clone(),
        customer_type_id: profile.customer_type_id.map(id_guid),
        country: profile.country.clone(),
        language: profile.language.clone(),
        created_date_utc: utc(customer.created_at),
    }
}

/// POST /customers/types (AdminKey)
pub async fn create_customer_type(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    global_entry(
        state,
        path,
        headers,
        body,
        EntryKind::CustomerType,
        Conflict::CustomerTypeExists,
    )
    .await
}

/// POST /resellers (AdminKey)
pub async fn create_reseller(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    global_entry(
        state,
        path,
        headers,
        body,
        EntryKind::Reseller,
        Conflict::ResellerExists,
    )
    .await
}

/// POST /resellers/types (AdminKey)
pub async fn create_reseller_type(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    global_entry(
        state,
        path,
        headers,
        body,
        EntryKind::ResellerType,
        Conflict::ResellerTypeExists,
    )
    .await
}

async fn global_entry(
    state: AppState,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
    kind: EntryKind,
    duplicate: Conflict,
) -> Response {
    let result = async {
        let Path(isv_id) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let request: NamedRequest = parse_body(&body)?;
        let entry = create_entry(&state, actor, kind, 0, &request, duplicate).await?;
        json_ok(&EntryView::from(entry))
    }
    .await;
    respond(&state, &headers, result).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactRequest {
    pub email: Option<String>,
    pub name: Option<String>,
}

/// POST /resellers/{reseller_id}/contacts (AdminKey): a contact is unique by email per reseller.
pub async fn create_reseller_contact(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path((isv_id, reseller)) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let reseller = entry_by_guid(&state, EntryKind::Reseller, Some(&reseller))
            .await?
            .ok_or(SlError::NotFound("reseller"))?;
        let request: ContactRequest = parse_body(&body)?;
        let email = non_blank(request.email.as_deref())
            .map(|e| e.to_ascii_lowercase())
            .ok_or(SlError::Conflict(Conflict::InvalidEmail))?;
        if !super::users::valid_email(&email) {
            return Err(Conflict::InvalidEmail.into());
        }
        let named = NamedRequest {
            name: Some(email),
            description: request.name,
        };
        let entry = create_entry(
            &state,
            actor,
            EntryKind::ResellerContact,
            reseller.id,
            &named,
            Conflict::ResellerContactExists,
        )
        .await?;
        json_ok(&EntryView::from(entry))
    }
    .await;
    respond(&state, &headers, result).await
}

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

/// POST /webhooks (AdminKey): registration and storage only.
pub async fn create_webhook(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path(isv_id) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
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
    .await;
    respond(&state, &headers, result).await
}

// --- tags ---

/// POST /tags (AdminKey). SLASCONE has no conflict for a duplicate tag name, so creating a tag
/// that exists answers the existing tag.
pub async fn create_tag(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path(isv_id) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
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
                    .slascone_entries(EntryKind::Tag, Some(0))
                    .await
                    .map_err(SlError::from_store)?;
                let tag = tags.into_iter().find(|t| t.name == name).ok_or(SlError::Internal)?;
                json_ok(&EntryView::from(tag))
            }
            Err(other) => Err(other),
        }
    }
    .await;
    respond(&state, &headers, result).await
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
        (Some(customer), None) => (TagTarget::Customer, customer_by_guid(state, &customer).await?.id),
        (None, Some(license)) => (TagTarget::License, license_by_guid(state, &license).await?.id),
        _ => return Err(Conflict::TagTargetMissing.into()),
    };
    let tag = entry_by_guid(state, EntryKind::Tag, request.tag_id.as_deref())
        .await?
        .ok_or(SlError::Conflict(Conflict::UnknownTag))?;
    let event = EventDraft::new(actor, "slascone.tag_assigned", "tag");
    match state
        .store
        .slascone_assign_tag(tag.id, target, target_id, event, state.now())
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
        .slascone_tags_of(target, target_id)
        .await
        .map_err(SlError::from_store)?;
    json_ok(&tags.into_iter().map(EntryView::from).collect::<Vec<_>>())
}

/// POST /tags/assignments (AdminKey): `{tag_id, customer_id | license_id}`.
pub async fn create_tag_assignment(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path(isv_id) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let request: TagAssignmentRequest = parse_body(&body)?;
        assign_tag(&state, actor, request).await
    }
    .await;
    respond(&state, &headers, result).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TagRef {
    pub tag_id: Option<String>,
}

/// POST /customers/{customer_id}/tags (AdminKey)
pub async fn tag_customer(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path((isv_id, customer)) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let request: TagRef = parse_body(&body)?;
        let request = TagAssignmentRequest {
            tag_id: request.tag_id,
            customer_id: Some(customer),
            license_id: None,
        };
        assign_tag(&state, actor, request).await
    }
    .await;
    respond(&state, &headers, result).await
}

/// POST /licenses/{license_id}/tags (AdminKey)
pub async fn tag_license(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path((isv_id, license)) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let request: TagRef = parse_body(&body)?;
        let request = TagAssignmentRequest {
            tag_id: request.tag_id,
            customer_id: None,
            license_id: Some(license),
        };
        assign_tag(&state, actor, request).await
    }
    .await;
    respond(&state, &headers, result).await
}

// --- product catalogue ---

/// POST /products/{product_id}/license_types (AdminKey)
pub async fn create_license_type(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    product_entry(
        state,
        path,
        headers,
        body,
        EntryKind::LicenseType,
        Conflict::LicenseTypeExists,
    )
    .await
}

/// POST /products/{product_id}/heartbeat_types (AdminKey)
pub async fn create_heartbeat_type(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    product_entry(
        state,
        path,
        headers,
        body,
        EntryKind::HeartbeatType,
        Conflict::HeartbeatTypeExists,
    )
    .await
}

/// POST /products/{product_id}/variables (AdminKey)
pub async fn create_variable(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    product_entry(
        state,
        path,
        headers,
        body,
        EntryKind::Variable,
        Conflict::VariableExists,
    )
    .await
}

async fn product_entry(
    state: AppState,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
    kind: EntryKind,
    duplicate: Conflict,
) -> Response {
    let result = async {
        let Path((isv_id, code)) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let product = product_by_code(&state, &code).await?;
        let request: NamedRequest = parse_body(&body)?;
        let entry = create_entry(&state, actor, kind, product.id, &request, duplicate).await?;
        json_ok(&EntryView::from(entry))
    }
    .await;
    respond(&state, &headers, result).await
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
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    catalogue_feature(state, path, headers, body, FeatureType::Activation).await
}

/// POST /products/{product_id}/limitations (AdminKey): a consumption feature.
pub async fn create_limitation(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    catalogue_feature(state, path, headers, body, FeatureType::Consumption).await
}

async fn catalogue_feature(
    state: AppState,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
    feature_type: FeatureType,
) -> Response {
    let result = async {
        let Path((isv_id, code)) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let product = product_by_code(&state, &code).await?;
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
        let new = NewFeature {
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
            .map_err(|e| exists(e, duplicate))?;
        json_ok(&FeatureView {
            id: id_guid(feature.id),
            name: feature.name,
            value: feature.max_consumptions,
            created_date_utc: utc(feature.created_at),
        })
    }
    .await;
    respond(&state, &headers, result).await
}

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

fn template_view(policy: &Policy) -> TemplateView {
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
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path((isv_id, code)) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let product = product_by_code(&state, &code).await?;
        let request: TemplateRequest = parse_body(&body)?;
        let name = entry_name(request.name.as_deref())
            .ok_or_else(|| SlError::BadRequest("name must be 1 to 256 characters".into()))?;
        let floating = mode_of(&request, 0)?;
        let mut terms = LicenseTerms::default();
        apply_template(&request, floating, &mut terms)?;
        let new = NewPolicy {
            product_id: product.id,
            code: code_of(&name),
            name,
            terms,
            duration_days: request.expiration_days,
            maintenance_days: None,
            features: Vec::new(),
            metadata: serde_json::json!({}),
        };
        let event = EventDraft::new(actor, "slascone.template_created", "policy");
        let policy = state
            .store
            .create_policy(new, event, state.now())
            .await
            .map_err(|e| exists(e, Conflict::TemplateExists))?;
        json_ok(&template_view(&policy))
    }
    .await;
    respond(&state, &headers, result).await
}

async fn template_by_guid(state: &AppState, guid: &str) -> SlResult<Policy> {
    let id = guid_id(guid).ok_or(SlError::NotFound("template"))?;
    match state.store.get_policy(id).await {
        Ok(policy) => Ok(policy),
        Err(StoreError::NotFound) => Err(SlError::NotFound("template")),
        Err(other) => Err(SlError::from_store(other)),
    }
}

/// PUT /templates/{template_id} (AdminKey): the provisioning mode is a core property (6020).
pub async fn update_template(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path((isv_id, template)) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
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
            .map_err(|e| exists(e, Conflict::TemplateExists))?;
        json_ok(&template_view(&policy))
    }
    .await;
    respond(&state, &headers, result).await
}

/// DELETE /templates/{template_id} (AdminKey): a product keeps at least one edition (8000).
pub async fn delete_template(
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let Path((isv_id, template)) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let policy = template_by_guid(&state, &template).await?;
        let event = EventDraft::new(actor, "slascone.template_deleted", "policy");
        match state.store.slascone_delete_edition(policy.id, event, state.now()).await {
            Ok(()) => Ok(super::wire::text_ok("The template was deleted.")),
            Err(StoreError::Conflict(text)) if text == sl::CONFLICT_LAST_EDITION => Err(Conflict::LastTemplate.into()),
            // SLASCONE names no conflict for an edition with licenses; it is a technical refusal.
            Err(StoreError::Conflict(_)) => Err(SlError::BadRequest(
                "the template still has licenses; switch them to another template first".into(),
            )),
            Err(StoreError::NotFound) => Err(SlError::NotFound("template")),
            Err(other) => Err(SlError::from_store(other)),
        }
    }
    .await;
    respond(&state, &headers, result).await
}

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
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path(isv_id) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let request: ByTemplateRequest = parse_body(&body)?;
        let product = product_by_code(&state, request.product_id.as_deref().unwrap_or_default()).await?;
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
            Some(text) => Some(
                backoffice::parse_expiration_date(&text).ok_or(SlError::Conflict(Conflict::InvalidExpirationDate))?,
            ),
            None => None,
        };
        let license_type = match non_blank(request.license_type_id.as_deref()) {
            Some(guid) => Some(
                entry_by_guid(&state, EntryKind::LicenseType, Some(&guid))
                    .await?
                    .filter(|t| t.scope_id == product.id)
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
                .filter(|v| v.scope_id == product.id)
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
            grants.retain(|g| g.code != definition.code);
            grants.push(FeatureGrant {
                code: definition.code.clone(),
                overrides,
            });
        };
        for id in &request.features {
            let definition = definitions
                .iter()
                .find(|d| d.feature_type == FeatureType::Activation && guid_id(id) == Some(d.id))
                .ok_or(SlError::Conflict(Conflict::UnknownFeature))?;
            grant(definition, FeatureOverrides::default());
        }
        for item in &request.limitations {
            let definition = definitions
                .iter()
                .find(|d| {
                    d.feature_type == FeatureType::Consumption && item.id.as_deref().and_then(guid_id) == Some(d.id)
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
                .slascone_license_of_legacy_key(legacy)
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
        let new = NewLicense {
            product_id: product.id,
            policy_id: Some(policy.id),
            customer_id: customer.as_ref().map(|c| c.id),
            key: Some(random_guid()?),
            status: LicenseStatus::Active,
            assignment: Assignment::Assigned,
            trial_days: (terms.kind == LicenseKind::Trial && expiry.is_none())
                .then_some(product.trial_days)
                .filter(|days| *days > 0),
            terms,
            starts_at: None,
            expires_at: expiry.or(stamped_expiry),
            maintenance_expires_at: maintenance,
            order_ref: None,
            metadata: serde_json::json!({"slascone": slascone}),
            features: grants,
        };
        let event = EventDraft::new(actor.clone(), "slascone.license_created", "license");
        let license = state
            .store
            .create_licenses(vec![new], event, now)
            .await
            .map_err(SlError::from_store)?
            .pop()
            .ok_or(SlError::Internal)?;
        // The license's SLASCONE values are written after it exists; a refusal (a legacy key taken
        // by a racing request) removes the license again so the failed request leaves nothing.
        let attached = async {
            if let Some(legacy) = &legacy {
                let event = EventDraft::new(actor.clone(), "slascone.legacy_key_set", "license");
                state
                    .store
                    .slascone_set_legacy_key(license.id, legacy, event, now)
                    .await
                    .map_err(|e| exists(e, Conflict::LegacyKeyExists))?;
            }
            let typed = license_type.iter().chain(release.iter()).map(|t| (t.id, String::new()));
            for (entry_id, value) in typed.chain(values) {
                let event = EventDraft::new(actor.clone(), "slascone.license_value_set", "license");
                state
                    .store
                    .slascone_set_license_value(license.id, entry_id, &value, event, now)
                    .await
                    .map_err(SlError::from_store)?;
            }
            SlResult::Ok(())
        }
        .await;
        if let Err(error) = attached {
            let undo = EventDraft::new(actor, "slascone.license_removed", "license");
            if let Err(cleanup) = state.store.delete_license(license.id, undo).await {
                tracing::error!(error = %cleanup, "slascone: could not remove a license after a refused create");
            }
            return Err(error);
        }
        let info = super::provisioning::render_info(&state, &product, &license, None, None).await?;
        json_ok(&info)
    }
    .await;
    respond(&state, &headers, result).await
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
    _ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let Path((isv_id, code)) = path.map_err(path_err)?;
        let actor = admin(&state, &headers, &isv_id).await?;
        let product = product_by_code(&state, &code).await?;
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
            product.id,
            &named,
            Conflict::UnknownSoftwareReleaseLimitation,
        )
        .await
        {
            Ok(entry) => entry,
            Err(SlError::Conflict(Conflict::UnknownSoftwareReleaseLimitation)) => state
                .store
                .slascone_entries(EntryKind::SoftwareRelease, Some(product.id))
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
    .await;
    respond(&state, &headers, result).await
}

/// A software release limitation named by its release or id: `None` when not given, `Some(None)`
/// for `none` or empty (a reset), 1004 when the product has no such limitation.
async fn resolve_release(state: &AppState, product_id: i64, text: Option<&str>) -> SlResult<Option<Option<Entry>>> {
    match text.map(str::trim) {
        None => Ok(None),
        Some(text) if text.is_empty() || text.eq_ignore_ascii_case("none") => Ok(Some(None)),
        Some(text) => {
            let releases = state
                .store
                .slascone_entries(EntryKind::SoftwareRelease, Some(product_id))
                .await
                .map_err(SlError::from_store)?;
            let found = releases
                .into_iter()
                .find(|e| e.name == text || guid_id(text) == Some(e.id))
                .ok_or(SlError::Conflict(Conflict::UnknownSoftwareReleaseLimitation))?;
            Ok(Some(Some(found)))
        }
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
