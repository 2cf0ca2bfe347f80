//! Back-office endpoints (shops, WooCommerce plugins): license-key CRUD and metadata, the
//! license-key list and the stock count (products: `products.rs`).
use licensd_domain::ProductId;

use super::Internal;
use super::auth::{Caller, authorised, caller};
use super::client::find_license;
use super::envelope::Reply;
use super::request::KmRequest;
use super::views::{LicenseAttrs, license_json};
use crate::state::AppState;
use axum::extract::State;
use licensd_domain::{Assignment, EventDraft, License, LicenseStatus, LicenseTerms, Millis};
use licensd_store::{LicenseEdit, LicenseFilter, LicenseSettings, MetaOwner, NewLicense, Page, StoreError};
use serde_json::{Map, Value, json};

const DAY_MS: Millis = 86_400_000;
/// Most keys one create-license-keys request may carry.
const MAX_KEYS_PER_REQUEST: usize = 1000;
const MAX_TEXT: usize = 1024;

pub(super) fn event(caller: &Caller, action: &str, subject: &str) -> EventDraft {
    EventDraft::new(caller.actor(), action, subject).from_ip(caller.ip.clone())
}

/// Laravel-style validation errors: `{field: [message]}`.
#[derive(Default)]
pub(super) struct Errors(pub(super) Map<String, Value>);

impl Errors {
    pub(super) fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.insert(field.to_string(), json!([message.into()]));
    }
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub(super) fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// An optional non-negative integer parameter; `Err` when present but not one.
fn count_param(req: &KmRequest, name: &str, errors: &mut Errors) -> Option<i64> {
    let text = req.present(name)?;
    match text.parse::<i64>() {
        Ok(value) if value >= 0 => Some(value),
        _ => {
            errors.add(name, format!("The {name} must be a non-negative integer."));
            None
        }
    }
}

pub(super) fn text_param(req: &KmRequest, name: &str, errors: &mut Errors) -> Option<String> {
    let text = req.present(name)?;
    if text.len() > MAX_TEXT {
        errors.add(
            name,
            format!("The {name} may not be greater than {MAX_TEXT} characters."),
        );
        return None;
    }
    Some(text)
}

/// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD`, read as UTC.
fn parse_km_date(text: &str) -> Option<Millis> {
    let text = text.trim();
    let civil = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", text)
        .or_else(|_| {
            jiff::civil::Date::strptime("%Y-%m-%d", text).map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })
        .ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// A Key Manager license status word as domain status and assignment.
fn parse_status(text: &str) -> Option<(LicenseStatus, Assignment)> {
    match text {
        "available" => Some((LicenseStatus::Active, Assignment::InStock)),
        "assigned" => Some((LicenseStatus::Active, Assignment::Assigned)),
        "reserved" => Some((LicenseStatus::Active, Assignment::Reserved)),
        "blocked" => Some((LicenseStatus::Blocked, Assignment::Assigned)),
        _ => None,
    }
}

/// Key Manager's expiry: assignment date plus validity days, for assigned keys only.
fn expiry(assignment: Assignment, attrs: &LicenseAttrs) -> Option<Millis> {
    match (assignment, attrs.assigned_at) {
        (Assignment::Assigned, Some(at)) if attrs.validity > 0 => {
            Some(at.saturating_add(attrs.validity.saturating_mul(DAY_MS)))
        }
        _ => None,
    }
}

/// What `license_keys` holds.
enum KeyList {
    Missing,
    /// Present but not a JSON array of strings (the documentation: "JSON Array").
    NotAnArray,
    Keys(Vec<String>),
}

/// `license_keys` as a JSON array of strings: the array itself in JSON bodies, its JSON text in
/// form fields. Anything else (a bare key, a comma list, an object, numbers) is not one.
fn key_list(req: &KmRequest) -> KeyList {
    let parsed: Option<Vec<String>> = match req.value("license_keys") {
        None => return KeyList::Missing,
        Some(Value::Array(items)) => items.iter().map(|v| v.as_str().map(str::to_string)).collect(),
        Some(Value::String(text)) if text.trim().is_empty() => return KeyList::Missing,
        Some(Value::String(text)) => serde_json::from_str::<Vec<String>>(text).ok(),
        Some(_) => None,
    };
    match parsed {
        Some(keys) => KeyList::Keys(
            keys.into_iter()
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect(),
        ),
        None => KeyList::NotAnArray,
    }
}

pub async fn create_license_keys(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "create-license-keys"));
    let mut errors = Errors::default();
    let keys = match key_list(req) {
        KeyList::Keys(keys) => keys,
        KeyList::Missing => Vec::new(),
        KeyList::NotAnArray => {
            errors.add("license_keys", "The license keys must be a JSON array of strings.");
            Vec::new()
        }
    };
    if keys.is_empty() {
        if !errors.0.contains_key("license_keys") {
            errors.add("license_keys", "The license keys field is required.");
        }
    } else if keys.len() > MAX_KEYS_PER_REQUEST {
        errors.add(
            "license_keys",
            format!("At most {MAX_KEYS_PER_REQUEST} license keys per request."),
        );
    } else if keys.iter().any(|k| k.len() > 256) {
        errors.add("license_keys", "A license key may not be greater than 256 characters.");
    }
    let product = match req.present("product_id").and_then(|p| p.parse::<i64>().ok()) {
        Some(id) => match state.store.get_product(ProductId::new(id)).await {
            Ok(product) => Some(product),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        },
        None => None,
    };
    if product.is_none() {
        errors.add("product_id", "The selected product id is invalid.");
    }
    let limit = count_param(req, "activation_limit", &mut errors).unwrap_or(0);
    let validity = count_param(req, "validity", &mut errors).unwrap_or(0);
    let status = req.present("status").unwrap_or_else(|| "available".into());
    let parsed_status = parse_status(&status);
    if parsed_status.is_none() {
        errors.add("status", "The selected status is invalid.");
    }
    let assigned_at = match req.present("assigned_at") {
        Some(text) => match parse_km_date(&text) {
            Some(at) => Some(at),
            None => {
                errors.add("assigned_at", "The assigned at does not match the format Y-m-d H:i:s.");
                None
            }
        },
        None => None,
    };
    let owner_name = text_param(req, "owner_name", &mut errors);
    let owner_email = text_param(req, "owner_email", &mut errors);
    let (Some(product), Some((status, assignment)), true) = (product, parsed_status, errors.is_empty()) else {
        return Ok(Reply::new(901).field("errors", errors.into_value()));
    };
    let attrs = LicenseAttrs {
        owner_name,
        owner_email,
        validity,
        assigned_at: match assignment {
            Assignment::Assigned => Some(assigned_at.unwrap_or_else(|| state.now())),
            Assignment::InStock | Assignment::Reserved => assigned_at,
        },
        contract_id: None,
    };
    let new = |key: &String| NewLicense {
        product_id: product.id,
        key: Some(key.clone()),
        settings: LicenseSettings {
            policy_id: None,
            customer_id: None,
            status,
            assignment,
            terms: LicenseTerms {
                max_activations: (limit > 0).then_some(limit),
                ..LicenseTerms::default()
            },
            starts_at: None,
            expires_at: expiry(assignment, &attrs),
            maintenance_expires_at: None,
            trial_days: None,
            order_ref: None,
            metadata: attrs.write_into(&json!({})),
        },
        features: Vec::new(),
    };
    let total = keys.len();
    let mut unique: Vec<String> = Vec::new();
    for key in keys {
        if !unique.contains(&key) {
            unique.push(key);
        }
    }
    let mut fresh = Vec::new();
    for key in &unique {
        if state.store.find_license_by_key(key).await?.is_none() {
            fresh.push(key.clone());
        }
    }
    let mut created = 0usize;
    if !fresh.is_empty() {
        let batch: Vec<NewLicense> = fresh.iter().map(new).collect();
        match state
            .store
            .create_licenses(batch, event(&caller, "license.created", "license"), state.now())
            .await
        {
            Ok(licenses) => created = licenses.len(),
            // Another request created one of them meanwhile: insert one by one, skipping those.
            Err(StoreError::Conflict(_)) => {
                for key in &fresh {
                    match state
                        .store
                        .create_licenses(
                            vec![new(key)],
                            event(&caller, "license.created", "license"),
                            state.now(),
                        )
                        .await
                    {
                        Ok(_) => created += 1,
                        Err(StoreError::Conflict(_)) => {}
                        Err(other) => return Err(other.into()),
                    }
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
    let code = if created == 0 { 902 } else { 900 };
    Ok(Reply::new(code)
        .field("created", json!(created))
        .field("duplicate", json!(total - created))
        .product(product.id))
}

pub async fn update_license_key(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "update-license-key"));
    if req.present("license_key").is_none() {
        let mut errors = Errors::default();
        errors.add("license_key", "The license key field is required.");
        return Ok(Reply::new(951).field("errors", errors.into_value()));
    }
    let Some(license) = find_license(state, &caller, req).await? else {
        return Ok(Reply::new(952));
    };
    let mut errors = Errors::default();
    if let Some(product_id) = req.present("product_id")
        && product_id.parse::<i64>().ok() != Some(license.product_id.get())
    {
        // Moving a key between products would orphan its activations' product rules.
        errors.add("product_id", "The product of a license key cannot be changed.");
    }
    let mut attrs = LicenseAttrs::of(&license);
    let mut edit = LicenseEdit::from_license(&license);
    if let Some(limit) = count_param(req, "activation_limit", &mut errors) {
        edit.settings.terms.max_activations = (limit > 0).then_some(limit);
    }
    if let Some(validity) = count_param(req, "validity", &mut errors) {
        attrs.validity = validity;
    }
    if let Some(status) = req.present("status") {
        match parse_status(&status) {
            Some((status, assignment)) => {
                edit.settings.status = status;
                // Blocking keeps whether the key had been handed out.
                if status == LicenseStatus::Active {
                    edit.settings.assignment = assignment;
                }
            }
            None => errors.add("status", "The selected status is invalid."),
        }
    }
    if let Some(text) = req.present("assigned_at") {
        match parse_km_date(&text) {
            Some(at) => attrs.assigned_at = Some(at),
            None => errors.add("assigned_at", "The assigned at does not match the format Y-m-d H:i:s."),
        }
    }
    if let Some(name) = text_param(req, "owner_name", &mut errors) {
        attrs.owner_name = Some(name);
    }
    if let Some(email) = text_param(req, "owner_email", &mut errors) {
        attrs.owner_email = Some(email);
    }
    if !errors.is_empty() {
        return Ok(Reply::new(951)
            .field("errors", errors.into_value())
            .product(license.product_id));
    }
    if edit.settings.assignment == Assignment::Assigned && attrs.assigned_at.is_none() {
        attrs.assigned_at = Some(state.now());
    }
    // Key Manager's expiry follows assignment date and validity; a key assigned elsewhere
    // (native API) with an explicit expiry and no validity keeps it.
    if attrs.validity > 0 || LicenseAttrs::of(&license).validity > 0 {
        edit.settings.expires_at = expiry(edit.settings.assignment, &attrs);
    }
    edit.settings.metadata = attrs.write_into(&license.metadata);
    match state
        .store
        .edit_license(
            license.id,
            edit,
            event(&caller, "license.updated", "license").subject(license.id),
            state.now(),
        )
        .await
    {
        Ok(_) => Ok(Reply::new(950).product(license.product_id)),
        Err(StoreError::NotFound) => Ok(Reply::new(952)),
        Err(other) => Err(other.into()),
    }
}

pub async fn delete_license_key(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "delete-license-key"));
    let Some(license) = find_license(state, &caller, req).await? else {
        return Ok(Reply::new(851));
    };
    match state
        .store
        .delete_license(
            license.id,
            event(&caller, "license.deleted", "license").subject(license.id),
            state.now(),
        )
        .await
    {
        Ok(()) => Ok(Reply::new(850).product(license.product_id)),
        Err(StoreError::NotFound) => Ok(Reply::new(851)),
        Err(other) => Err(other.into()),
    }
}

/// The three license-key meta endpoints share their checks; codes per endpoint.
struct MetaCodes {
    capability: &'static str,
    key_required: u16,
    value_required: Option<u16>,
}

pub async fn create_license_key_meta(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let codes = MetaCodes {
        capability: "create-license-key-meta",
        key_required: 450,
        value_required: Some(451),
    };
    license_meta(&state, &req, codes).await
}

pub async fn update_license_key_meta(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let codes = MetaCodes {
        capability: "update-license-key-meta",
        key_required: 350,
        value_required: Some(351),
    };
    license_meta(&state, &req, codes).await
}

pub async fn delete_license_key_meta(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let codes = MetaCodes {
        capability: "delete-license-key-meta",
        key_required: 250,
        value_required: None,
    };
    license_meta(&state, &req, codes).await
}

async fn license_meta(state: &AppState, req: &KmRequest, codes: MetaCodes) -> Result<Reply, Internal> {
    let caller = authorised!(caller(state, req, codes.capability));
    let Some(key) = req.present("key") else {
        return Ok(Reply::new(codes.key_required));
    };
    let value = req.text("value");
    if let Some(code) = codes.value_required
        && value.is_none()
    {
        return Ok(Reply::new(code));
    }
    if key.len() > 255 || value.as_ref().is_some_and(|v| v.len() > 65_535) {
        return Ok(Reply::new(codes.key_required));
    }
    let Some(license) = find_license(state, &caller, req).await? else {
        return Ok(Reply::new(210));
    };
    if license.assignment == Assignment::InStock {
        return Ok(Reply::new(201).product(license.product_id));
    }
    let write = match codes.capability {
        "create-license-key-meta" => MetaWrite::Create(453, 452, 210),
        "update-license-key-meta" => MetaWrite::Update(353, 352),
        _ => MetaWrite::Delete(252, 251),
    };
    let owner = MetaOwner::License(license.id);
    let reply = write_meta(state, &caller, owner, &key, &value.unwrap_or_default(), write).await?;
    Ok(reply.product(license.product_id))
}

/// One Key Manager meta write and the codes it answers with.
pub(super) enum MetaWrite {
    /// Codes: created, key already there, owner missing.
    Create(u16, u16, u16),
    /// Codes: updated, key missing.
    Update(u16, u16),
    /// Codes: deleted, key missing.
    Delete(u16, u16),
}

/// Creates, updates or deletes the meta entry `key` of a license or product. The license-key and
/// product meta endpoints write the same way and differ only in their owner and codes; the event
/// is `<license|product>.meta.<created|updated|deleted>` on the owner.
pub(super) async fn write_meta(
    state: &AppState,
    caller: &Caller,
    owner: MetaOwner,
    key: &str,
    value: &str,
    write: MetaWrite,
) -> Result<Reply, Internal> {
    let subject = match owner {
        MetaOwner::License(_) => "license",
        MetaOwner::Product(_) => "product",
    };
    let meta_event = |done: &str| event(caller, &format!("{subject}.meta.{done}"), subject);
    let now = state.now();
    let reply = match write {
        MetaWrite::Create(done, exists, missing) => {
            match state
                .store
                .create_meta(owner, key, value, meta_event("created"), now)
                .await
            {
                Ok(entry) => Reply::new(done).field("meta_id", json!(entry.id)),
                Err(StoreError::Conflict(_)) => Reply::new(exists),
                Err(StoreError::NotFound) => Reply::new(missing),
                Err(other) => return Err(other.into()),
            }
        }
        MetaWrite::Update(done, missing) => {
            match state
                .store
                .update_meta(owner, key, value, meta_event("updated"), now)
                .await
            {
                Ok(entry) => Reply::new(done).field("meta_id", json!(entry.id)),
                Err(StoreError::NotFound) => Reply::new(missing),
                Err(other) => return Err(other.into()),
            }
        }
        MetaWrite::Delete(done, missing) => match state.store.delete_meta(owner, key, meta_event("deleted"), now).await
        {
            Ok(()) => Reply::new(done),
            Err(StoreError::NotFound) => Reply::new(missing),
            Err(other) => return Err(other.into()),
        },
    };
    Ok(reply)
}

/// `product_id` as an existing product, or `None`.
pub(super) async fn product_param(
    state: &AppState,
    req: &KmRequest,
) -> Result<Option<licensd_domain::Product>, Internal> {
    let Some(id) = req.present("product_id").and_then(|p| p.parse::<i64>().ok()) else {
        return Ok(None);
    };
    match state.store.get_product(ProductId::new(id)).await {
        Ok(product) => Ok(Some(product)),
        Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Every license of a product (or all), in id order.
async fn all_licenses(state: &AppState, product_id: Option<ProductId>) -> Result<Vec<License>, Internal> {
    let mut out = Vec::new();
    let mut page = Page {
        after: None,
        limit: 1000,
    };
    let filter = LicenseFilter {
        product_id,
        ..LicenseFilter::default()
    };
    loop {
        let batch = state.store.list_licenses(filter.clone(), page).await?;
        let Some(last) = batch.last().map(|l| l.id) else {
            break;
        };
        out.extend(batch);
        page.after = Some(last.get());
    }
    Ok(out)
}

pub async fn get_license_keys(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "get-license-keys"));
    let product_id = caller.credential.product_id.or_else(|| {
        req.present("product_id")
            .and_then(|p| p.parse().ok().map(ProductId::new))
    });
    let status = req.present("status");
    let email = req.present("customer_email").or_else(|| req.present("owner_email"));
    let mut keys = Vec::new();
    for license in all_licenses(state, product_id).await? {
        if license.key.is_none()
            || status
                .as_deref()
                .is_some_and(|s| s != super::views::license_status(&license))
            || email
                .as_deref()
                .is_some_and(|e| LicenseAttrs::of(&license).owner_email.as_deref() != Some(e))
        {
            continue;
        }
        keys.push(license_json(&license));
    }
    Ok(Reply::new(730).field("license_keys", Value::Array(keys)))
}

pub async fn available_count(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "get-available-license-keys-count"));
    let product = product_param(state, req).await?.filter(|p| caller.in_scope(p.id));
    let Some(product) = product else {
        return Ok(Reply::new(740));
    };
    let count = all_licenses(state, Some(product.id))
        .await?
        .iter()
        .filter(|l| l.key.is_some() && super::views::license_status(l) == "available")
        .count();
    Ok(Reply::new(741).field("count", json!(count)).product(product.id))
}
