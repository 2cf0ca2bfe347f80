//! Customers, customer types, resellers, reseller types and reseller contacts (AdminKey).

use super::*;

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

/// POST /customers (AdminKey)
pub async fn create_customer(State(state): State<AppState>, AdminCall(actor, body): AdminCall) -> SlResult<Response> {
    let request: CustomerRequest = parse_body(&body)?;
    // The order of the checks follows the fields' importance: who the customer is first.
    let company = non_blank(request.company_name.as_deref()).ok_or(SlError::Conflict(Conflict::EmptyCompanyName))?;
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
    if !licensd_domain::contact::is_plausible_email(&email) {
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
        customer_id: CustomerId::new(0),
        customer_number: number,
        prospect_number: non_blank(request.prospect_number.as_deref()),
        customer_type_id,
        country,
        language,
    };
    let event = EventDraft::new(actor, "slascone.customer_created", "customer");
    let (customer, profile) = state
        .store
        .create_customer_with_profile(&email, &company, profile, event, state.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(text) if text == sl::CONFLICT_CUSTOMER_EMAIL => Conflict::CustomerEmailExists.into(),
            StoreError::Conflict(text) if text == sl::CONFLICT_PROSPECT_NUMBER => Conflict::ProspectNumberExists.into(),
            StoreError::Conflict(_) => Conflict::CustomerNumberExists.into(),
            other => SlError::from_store(other),
        })?;
    json_ok(&customer_view(&customer, &profile))
}

pub fn customer_view(customer: &Customer, profile: &CustomerProfile) -> CustomerView {
    CustomerView {
        customer_id: id_guid(customer.id.get()),
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
    State(state): State<AppState>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    global_entry(state, actor, body, CUSTOMER_TYPES).await
}

/// POST /resellers (AdminKey)
pub async fn create_reseller(State(state): State<AppState>, AdminCall(actor, body): AdminCall) -> SlResult<Response> {
    global_entry(state, actor, body, RESELLERS).await
}

/// POST /resellers/types (AdminKey)
pub async fn create_reseller_type(
    State(state): State<AppState>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    global_entry(state, actor, body, RESELLER_TYPES).await
}

/// The account-wide named entries (not under a customer or reseller), each with the conflict a
/// duplicate name gets.
const CUSTOMER_TYPES: (EntryKind, Conflict) = (EntryKind::CustomerType, Conflict::CustomerTypeExists);
const RESELLERS: (EntryKind, Conflict) = (EntryKind::Reseller, Conflict::ResellerExists);
const RESELLER_TYPES: (EntryKind, Conflict) = (EntryKind::ResellerType, Conflict::ResellerTypeExists);

async fn global_entry(
    state: AppState,
    actor: String,
    body: Bytes,
    (kind, duplicate): (EntryKind, Conflict),
) -> SlResult<Response> {
    let request: NamedRequest = parse_body(&body)?;
    let entry = create_entry(&state, actor, kind, 0, &request, duplicate).await?;
    json_ok(&EntryView::from(entry))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactRequest {
    pub email: Option<String>,
    pub name: Option<String>,
}

/// POST /resellers/{reseller_id}/contacts (AdminKey): a contact is unique by email per reseller.
pub async fn create_reseller_contact(
    State(state): State<AppState>,
    SlPath((_isv_id, reseller)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let reseller = entry_by_guid(&state, EntryKind::Reseller, Some(&reseller))
        .await?
        .ok_or(SlError::NotFound("reseller"))?;
    let request: ContactRequest = parse_body(&body)?;
    let email = non_blank(request.email.as_deref())
        .map(|e| e.to_ascii_lowercase())
        .ok_or(SlError::Conflict(Conflict::InvalidEmail))?;
    if !licensd_domain::contact::is_plausible_email(&email) {
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
