//! Back-office product endpoints: create-, update- and delete-product, the product metadata
//! endpoints and get-all-products.

use super::Internal;
use super::auth::{authorised, caller};
use super::backoffice::{Errors, MetaWrite, event, product_param, text_param, write_meta};
use super::envelope::Reply;
use super::request::KmRequest;
use super::views::{ProductAttrs, product_json};
use crate::state::AppState;
use axum::extract::State;
use licensd_domain::product_deletion::ProductDeletion;
use licensd_domain::{AuthMethod, ProductStatus};
use licensd_store::{MetaOwner, NewProduct, Page, StoreError};
use serde_json::{Value, json};

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

pub async fn create_product(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "create-product"));
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

pub async fn update_product(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "update-product"));
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

pub async fn delete_product(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "delete-product"));
    let Some(product) = product_param(state, req).await? else {
        return Ok(Reply::new(551));
    };
    match state
        .store
        .delete_product(
            product.id,
            // Key Manager's contract has no "in use" answer (550 or 551): the product goes with its keys.
            ProductDeletion::Cascade,
            event(&caller, "product.deleted", "product").subject(product.id),
            state.now(),
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

pub async fn create_product_meta(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let codes = ProductMetaCodes {
        capability: "create-product-meta",
        key_required: 270,
        value_required: Some(271),
        product_missing: 274,
    };
    product_meta(&state, &req, codes).await
}

pub async fn update_product_meta(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let codes = ProductMetaCodes {
        capability: "update-product-meta",
        key_required: 370,
        value_required: Some(371),
        product_missing: 374,
    };
    product_meta(&state, &req, codes).await
}

pub async fn delete_product_meta(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let codes = ProductMetaCodes {
        capability: "delete-product-meta",
        key_required: 480,
        value_required: None,
        product_missing: 483,
    };
    product_meta(&state, &req, codes).await
}

async fn product_meta(state: &AppState, req: &KmRequest, codes: ProductMetaCodes) -> Result<Reply, Internal> {
    let caller = authorised!(caller(state, req, codes.capability));
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
    let write = match codes.capability {
        "create-product-meta" => MetaWrite::Create(273, 272, 274),
        "update-product-meta" => MetaWrite::Update(373, 372),
        _ => MetaWrite::Delete(482, 481),
    };
    let owner = MetaOwner::Product(product.id);
    let reply = write_meta(state, &caller, owner, &key, &value.unwrap_or_default(), write).await?;
    Ok(reply.product(product.id))
}

pub async fn get_all_products(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "get-all-products"));
    let mut products = Vec::new();
    let mut page = Page {
        after: None,
        limit: 1000,
    };
    loop {
        let batch = state.store.list_products(page).await?;
        let last = batch.last().map(|p| p.id);
        for product in batch {
            if !caller.in_scope(product.id) {
                continue;
            }
            let meta = state.store.list_meta(MetaOwner::Product(product.id)).await?;
            products.push(product_json(&product, &meta));
        }
        match last {
            Some(last) => page.after = Some(last.get()),
            None => break,
        }
    }
    Ok(Reply::new(810).field("products", Value::Array(products)))
}
