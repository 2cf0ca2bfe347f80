//! Back-office endpoints (shops, WooCommerce plugins): license-key and product CRUD, their
//! metadata, the product list, the license-key list and the stock count.

use super::auth::{Caller, authorize};
use super::client::find_license;
use super::envelope::Reply;
use super::request::KmRequest;
use super::views::{LicenseAttrs, ProductAttrs, license_json, product_json};
use super::{Internal, respond};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use licensd_domain::{Assignment, AuthMethod, EventDraft, License, LicenseStatus, LicenseTerms, Millis, ProductStatus};
use licensd_store::{LicenseEdit, LicenseFilter, MetaOwner, NewLicense, NewProduct, Page, StoreError};
use serde_json::{Map, Value, json};

const DAY_MS: Millis = 86_400_000;
/// Most keys one create-license-keys request may carry.
const MAX_KEYS_PER_REQUEST: usize = 1000;
const MAX_TEXT: usize = 1024;

/// Runs the API-key checks; `Err` is the refusal to answer with.
async fn caller(state: &AppState, req: &KmRequest, capability: &str) -> Result<Result<Caller, Reply>, Internal> {
    match authorize(
        state,
        req.api_key.as_deref(),
        req.ip.as_deref(),
        req.present("identifier").as_deref(),
        capability,
    )
    .await
    {
        Ok(caller) => Ok(Ok(caller)),
        Err(Ok(reply)) => Ok(Err(reply)),
        Err(Err(internal)) => Err(internal),
    }
}

macro_rules! authorised {
    ($state:expr, $req:expr, $capability:expr) => {
        match caller($state, $req, $capability).await? {
            Ok(caller) => caller,
            Err(reply) => return Ok(reply),
        }
    };
}

fn event(caller: &Caller, action: &str, subject: &str) -> EventDraft {
    EventDraft::new(caller.actor(), action, subject).from_ip(caller.ip.clone())
}

/// Laravel-style validation errors: `{field: [message]}`.
#[derive(Default)]
struct Errors(Map<String, Value>);

impl Errors {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.insert(field.to_string(), json!([message.into()]));
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn into_value(self) -> Value {
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

fn text_param(req: &KmRequest, name: &str, errors: &mut Errors) -> Option<String> {
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

pub async fn create_license_keys(State(state): State<AppState>, req: KmRequest) -> Response {
    let outcome = create_license_keys_inner(&state, &req).await;
    respond(&state, outcome).await
}

async fn create_license_keys_inner(state: &AppState, req: &KmRequest) -> Result<Reply, Internal> {
    let caller = authorised!(state, req, "create-license-keys");
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
        Some(id) => match state.store.get_product(id).await {
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
        policy_id: None,
        customer_id: None,
        key: Some(key.clone()),
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

pub async fn update_license_key(State(state): State<AppState>, req: KmRequest) -> Response {
    let outcome = update_license_key_inner(&state, &req).await;
    respond(&state, outcome).await
}

async fn update_license_key_inner(state: &AppState, req: &KmRequest) -> Result<Reply, Internal> {
    let caller = authorised!(state, req, "update-license-key");
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
        && product_id.parse::<i64>().ok() != Some(license.product_id)
    {
        // Moving a key between products would orphan its activations' product rules.
        errors.add("product_id", "The product of a license key cannot be changed.");
    }
    let mut attrs = LicenseAttrs::of(&license);
    let mut edit = LicenseEdit::from_license(&license);
    if let Some(limit) = count_param(req, "activation_limit", &mut errors) {
        edit.terms.max_activations = (limit > 0).then_some(limit);
    }
    if let Some(validity) = count_param(req, "validity", &mut errors) {
        attrs.validity = validity;
    }
    if let Some(status) = req.present("status") {
        match parse_status(&status) {
            Some((status, assignment)) => {
                edit.status = status;
                // Blocking keeps whether the key had been handed out.
                if status == LicenseStatus::Active {
                    edit.assignment = assignment;
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
    if edit.assignment == Assignment::Assigned && attrs.assigned_at.is_none() {
        attrs.assigned_at = Some(state.now());
    }
    // Key Manager's expiry follows assignment date and validity; a key assigned elsewhere
    // (native API) with an explicit expiry and no validity keeps it.
    if attrs.validity > 0 || LicenseAttrs::of(&license).validity > 0 {
        edit.expires_at = expiry(edit.assignment, &attrs);
    }
    edit.metadata = attrs.write_into(&license.metadata);
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

pub async fn delete_license_key(State(state): State<AppState>, req: KmRequest) -> Response {
    let outcome = delete_license_key_inner(&state, &req).await;
    respond(&state, outcome).await
}

async fn delete_license_key_inner(state: &AppState, req: &KmRequest) -> Result<Reply, Internal> {
    let caller = authorised!(state, req, "delete-license-key");
    let Some(license) = find_license(state, &caller, req).await? else {
        return Ok(Reply::new(851));
    };
    match state
        .store
        .delete_license(
            license.id,
            event(&caller, "license.deleted", "license").subject(license.id),
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

pub async fn create_license_key_meta(State(state): State<AppState>, req: KmRequest) -> Response {
    let codes = MetaCodes {
        capability: "create-license-key-meta",
        key_required: 450,
        value_required: Some(451),
    };
    let outcome = license_meta(&state, &req, codes).await;
    respond(&state, outcome).await
}

pub async fn update_license_key_meta(State(state): State<AppState>, req: KmRequest) -> Response {
    let codes = MetaCodes {
        capability: "update-license-key-meta",
        key_required: 350,
        value_required: Some(351),
    };
    let outcome = license_meta(&state, &req, codes).await;
    respond(&state, outcome).await
}

pub async fn delete_license_key_meta(State(state): State<AppState>, req: KmRequest) -> Response {
    let codes = MetaCodes {
        capability: "delete-license-key-meta",
        key_required: 250,
        value_required: None,
    };
    let outcome = license_meta(&state, &req, codes).await;
    respond(&state, outcome).await
}

async fn license_meta(state: &AppState, req: &KmRequest, codes: MetaCodes) -> Result<Reply, Internal> {
    let caller = authorised!(state, req, codes.capability);
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
    let owner = MetaOwner::License(license.id);
    let value = value.unwrap_or_default();
    let now = state.now();
    let reply = match codes.capability {
        "create-license-key-meta" => {
            match state
                .store
                .km_create_meta(
                    owner,
                    &key,
                    &value,
                    event(&caller, "license.meta.created", "license"),
                    now,
                )
                .await
            {
                Ok(entry) => Reply::new(453).field("meta_id", json!(entry.id)),
                Err(StoreError::Conflict(_)) => Reply::new(452),
                Err(StoreError::NotFound) => Reply::new(210),
                Err(other) => return Err(other.into()),
            }
        }
        "update-license-key-meta" => {
            match state
                .store
                .km_update_meta(
                    owner,
                    &key,
                    &value,
                    event(&caller, "license.meta.updated", "license"),
                    now,
                )
                .await
            {
                Ok(entry) => Reply::new(353).field("meta_id", json!(entry.id)),
                Err(StoreError::NotFound) => Reply::new(352),
                Err(other) => return Err(other.into()),
            }
        }
        _ => match state
            .store
            .km_delete_meta(owner, &key, event(&caller, "license.meta.deleted", "license"), now)
            .await
        {
            Ok(()) => Reply::new(252),
            Err(StoreError::NotFound) => Reply::new(251),
            Err(other) => return Err(other.into()),
        },
    };
    Ok(reply.product(license.product_id))
}

/// Product fields shared by create-product and update-product; `existing` for updates.
fn product_fields(
    req: &KmRequest,
    existing: Option<(&str, ProductStatus, ProductAttrs)>,
    errors: &mut Errors,
) -> (String, ProductStatus, ProductAttrs) {
    let creating = existing.is_none();
    let (mut name, mut status, mut attrs) = match existing {
        Some((name, status, attrs)) => (name.to_string(), status, attrs),
        None => (String::new(), ProductStatus::Active, ProductAttrs::default()),
    };
    match text_param(req, "name", errors) {
        Some(given) if given.len() <= 255 => name = given,
        Some(_) => errors.add("name", "The name may not be greater than 255 characters."),
        // Updates keep the current name; only creation requires one.
        None if name.is_empty() => errors.add("name", "The name field is required."),
        None => {}
    }
    if let Some(source) = req.present("source") {
        match source.as_str() {
            "internal" | "envato" => attrs.source = Some(source),
            _ => errors.add("source", "The selected source is invalid."),
        }
    }
    if let Some(given) = req.present("status") {
        match given.as_str() {
            "active" => status = ProductStatus::Active,
            "inactive" => status = ProductStatus::Disabled,
            _ => errors.add("status", "The selected status is invalid."),
        }
    }
    if let Some(flag) = req.present("require_non_expired") {
        match flag.as_str() {
            "0" | "false" => attrs.require_non_expired = false,
            "1" | "true" => attrs.require_non_expired = true,
            _ => errors.add(
                "require_non_expired",
                "The require non expired field must be true or false.",
            ),
        }
    }
    match text_param(req, "description", errors) {
        Some(text) => attrs.description = Some(text),
        // Creation requires a description as it requires a name (the documentation's 751 example
        // lists both); an update keeps the current one.
        None if creating && !errors.0.contains_key("description") => {
            errors.add("description", "The description field is required.")
        }
        None => {}
    }
    if let Some(text) = text_param(req, "external_reference", errors) {
        attrs.external_reference = Some(text);
    }
    if let Some(text) = text_param(req, "post_url", errors) {
        attrs.post_url = Some(text);
    }
    if attrs.source.as_deref() == Some("envato") && attrs.external_reference.is_none() {
        errors.add(
            "external_reference",
            "The external reference field is required when source is envato.",
        );
    }
    (name, status, attrs)
}

pub async fn create_product(State(state): State<AppState>, req: KmRequest) -> Response {
    let outcome = create_product_inner(&state, &req).await;
    respond(&state, outcome).await
}

async fn create_product_inner(state: &AppState, req: &KmRequest) -> Result<Reply, Internal> {
    let caller = authorised!(state, req, "create-product");
    let mut errors = Errors::default();
    let (name, status, attrs) = product_fields(req, None, &mut errors);
    if !errors.is_empty() {
        return Ok(Reply::new(751).field("errors", errors.into_value()));
    }
    // Key Manager products have no code of their own; the domain's unique code is minted.
    let mut random = [0u8; 8];
    licensd_crypto::random_bytes(&mut random)?;
    let code = format!("km-{}", licensd_crypto::hex(&random));
    let new = NewProduct {
        code,
        name,
        auth_method: AuthMethod::Key,
        status,
        trial_allowed: false,
        trial_days: 0,
        metadata: attrs.write_into(&json!({})),
    };
    let product = state
        .store
        .create_product(new, event(&caller, "product.created", "product"), state.now())
        .await?;
    Ok(Reply::new(750).field("product_id", json!(product.id)))
}

/// `product_id` as an existing product, or `None`.
async fn product_param(state: &AppState, req: &KmRequest) -> Result<Option<licensd_domain::Product>, Internal> {
    let Some(id) = req.present("product_id").and_then(|p| p.parse::<i64>().ok()) else {
        return Ok(None);
    };
    match state.store.get_product(id).await {
        Ok(product) => Ok(Some(product)),
        Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

pub async fn update_product(State(state): State<AppState>, req: KmRequest) -> Response {
    let outcome = update_product_inner(&state, &req).await;
    respond(&state, outcome).await
}

async fn update_product_inner(state: &AppState, req: &KmRequest) -> Result<Reply, Internal> {
    let caller = authorised!(state, req, "update-product");
    let Some(product) = product_param(state, req).await? else {
        let mut errors = Errors::default();
        errors.add("product_id", "The selected product id is invalid.");
        return Ok(Reply::new(651).field("errors", errors.into_value()));
    };
    let mut errors = Errors::default();
    let (name, status, attrs) = product_fields(
        req,
        Some((&product.name, product.status, ProductAttrs::of(&product))),
        &mut errors,
    );
    if !errors.is_empty() {
        return Ok(Reply::new(651).field("errors", errors.into_value()).product(product.id));
    }
    let id = product.id;
    let mut updated = product.clone();
    updated.name = name;
    // An archived product stays archived unless the client sets a status explicitly.
    if req.present("status").is_some() || product.status != ProductStatus::Archived {
        updated.status = status;
    }
    updated.metadata = attrs.write_into(&product.metadata);
    match state
        .store
        .update_product(
            updated,
            event(&caller, "product.updated", "product").subject(id),
            state.now(),
        )
        .await
    {
        Ok(_) => Ok(Reply::new(650).product(id)),
        Err(StoreError::NotFound) => Ok(Reply::new(651)),
        Err(other) => Err(other.into()),
    }
}

pub async fn delete_product(State(state): State<AppState>, req: KmRequest) -> Response {
    let outcome = delete_product_inner(&state, &req).await;
    respond(&state, outcome).await
}

async fn delete_product_inner(state: &AppState, req: &KmRequest) -> Result<Reply, Internal> {
    let caller = authorised!(state, req, "delete-product");
    let Some(product) = product_param(state, req).await? else {
        return Ok(Reply::new(551));
    };
    match state
        .store
        .km_delete_product(
            product.id,
            event(&caller, "product.deleted", "product").subject(product.id),
        )
        .await
    {
        Ok(()) => Ok(Reply::new(550)),
        Err(StoreError::NotFound) => Ok(Reply::new(551)),
        Err(other) => Err(other.into()),
    }
}

/// Product meta codes per endpoint: (key required, value required, key exists/missing, done,
/// product not found).
struct ProductMetaCodes {
    capability: &'static str,
    key_required: u16,
    value_required: Option<u16>,
    product_missing: u16,
}

pub async fn create_product_meta(State(state): State<AppState>, req: KmRequest) -> Response {
    let codes = ProductMetaCodes {
        capability: "create-product-meta",
        key_required: 270,
        value_required: Some(271),
        product_missing: 274,
    };
    let outcome = product_meta(&state, &req, codes).await;
    respond(&state, outcome).await
}

pub async fn update_product_meta(State(state): State<AppState>, req: KmRequest) -> Response {
    let codes = ProductMetaCodes {
        capability: "update-product-meta",
        key_required: 370,
        value_required: Some(371),
        product_missing: 374,
    };
    let outcome = product_meta(&state, &req, codes).await;
    respond(&state, outcome).await
}

pub async fn delete_product_meta(State(state): State<AppState>, req: KmRequest) -> Response {
    let codes = ProductMetaCodes {
        capability: "delete-product-meta",
        key_required: 480,
        value_required: None,
        product_missing: 483,
    };
    let outcome = product_meta(&state, &req, codes).await;
    respond(&state, outcome).await
}

async fn product_meta(state: &AppState, req: &KmRequest, codes: ProductMetaCodes) -> Result<Reply, Internal> {
    let caller = authorised!(state, req, codes.capability);
    let Some(product) = product_param(state, req).await? else {
        return Ok(Reply::new(codes.product_missing));
    };
    let Some(key) = req.present("key").filter(|k| k.len() <= 255) else {
        return Ok(Reply::new(codes.key_required).product(product.id));
    };
    let value = req.text("value").filter(|v| v.len() <= 65_535);
    if let Some(code) = codes.value_required
        && value.is_none()
    {
        return Ok(Reply::new(code).product(product.id));
    }
    let owner = MetaOwner::Product(product.id);
    let value = value.unwrap_or_default();
    let now = state.now();
    let reply = match codes.capability {
        "create-product-meta" => match state
            .store
            .km_create_meta(
                owner,
                &key,
                &value,
                event(&caller, "product.meta.created", "product"),
                now,
            )
            .await
        {
            Ok(entry) => Reply::new(273).field("meta_id", json!(entry.id)),
            Err(StoreError::Conflict(_)) => Reply::new(272),
            Err(StoreError::NotFound) => Reply::new(274),
            Err(other) => return Err(other.into()),
        },
        "update-product-meta" => match state
            .store
            .km_update_meta(
                owner,
                &key,
                &value,
                event(&caller, "product.meta.updated", "product"),
                now,
            )
            .await
        {
            Ok(entry) => Reply::new(373).field("meta_id", json!(entry.id)),
            Err(StoreError::NotFound) => Reply::new(372),
            Err(other) => return Err(other.into()),
        },
        _ => match state
            .store
            .km_delete_meta(owner, &key, event(&caller, "product.meta.deleted", "product"), now)
            .await
        {
            Ok(()) => Reply::new(482),
            Err(StoreError::NotFound) => Reply::new(481),
            Err(other) => return Err(other.into()),
        },
    };
    Ok(reply.product(product.id))
}

pub async fn get_all_products(State(state): State<AppState>, req: KmRequest) -> Response {
    let outcome = get_all_products_inner(&state, &req).await;
    respond(&state, outcome).await
}

async fn get_all_products_inner(state: &AppState, req: &KmRequest) -> Result<Reply, Internal> {
    let caller = authorised!(state, req, "get-all-products");
    let mut products = Vec::new();
    let mut page = Page {
        after: None,
        limit: 1000,
    };
    loop {
        let batch = state.store.list_products(page).await?;
        let last = batch.last().map(|p| p.id);
        for product in batch {
            if caller.credential.product_id.is_some_and(|p| p != product.id) {
                continue;
            }
            let meta = state.store.km_list_meta(MetaOwner::Product(product.id)).await?;
            products.push(product_json(&product, &meta));
        }
        match last {
            Some(last) => page.after = Some(last),
            None => break,
        }
    }
    Ok(Reply::new(810).field("products", Value::Array(products)))
}

/// Every license of a product (or all), in id order.
async fn all_licenses(state: &AppState, product_id: Option<i64>) -> Result<Vec<License>, Internal> {
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
        page.after = Some(last);
    }
    Ok(out)
}

pub async fn get_license_keys(State(state): State<AppState>, req: KmRequest) -> Response {
    let outcome = get_license_keys_inner(&state, &req).await;
    respond(&state, outcome).await
}

async fn get_license_keys_inner(state: &AppState, req: &KmRequest) -> Result<Reply, Internal> {
    let caller = authorised!(state, req, "get-license-keys");
    let product_id = caller
        .credential
        .product_id
        .or_else(|| req.present("product_id").and_then(|p| p.parse().ok()));
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

pub async fn available_count(State(state): State<AppState>, req: KmRequest) -> Response {
    let outcome = available_count_inner(&state, &req).await;
    respond(&state, outcome).await
}

async fn available_count_inner(state: &AppState, req: &KmRequest) -> Result<Reply, Internal> {
    let caller = authorised!(state, req, "get-available-license-keys-count");
    let product = product_param(state, req)
        .await?
        .filter(|p| caller.credential.product_id.is_none_or(|scope| scope == p.id));
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
