//! Contracts: the back-office CRUD (create/update/delete-contract, get-all-contracts, API key
//! authenticated) and the Contracts API (`/api/v1/contracts/*`), authenticated by the contract's
//! own key (`Authorization: Bearer <contract_key>`, or `contract_uuid` / `contract_key` in the
//! request). A contract whose flag forbids an operation, or that is inactive, gets 102.
use licensd_domain::ProductId;

use super::Internal;
use super::auth::{Caller, authorised, authorize};
use super::envelope::Reply;
use super::provisioning::{generator_json, mint_keys, minted_license, product_generator};
use super::request::KmRequest;
use super::views::{LicenseAttrs, km_timestamp, product_json};
use crate::ratelimit::RateDecision;
use crate::state::AppState;
use axum::extract::State;
use licensd_domain::access::find_block;
use licensd_domain::contract::{ContractOperation, ContractRefusal};
use licensd_domain::{EventDraft, ProductStatus};
use licensd_store::{ContractFields, MetaOwner, StoreError, StoredContract};
use serde_json::{Map, Value, json};

// 825's messages, as the documentation's example words them.
const KEY_REQUIRED: &str = "Contract key is required and must be unique.";
const PRODUCT_INVALID: &str = "Product Id must be a valid product Id.";
const QUANTITY_INVALID: &str = "License keys quantity must be 1 or more.";

fn contract_json(stored: &StoredContract) -> Value {
    let c = &stored.contract;
    json!({
        "id": c.id,
        "contract_key": stored.key,
        "name": c.name,
        "information": c.information.clone().unwrap_or_default(),
        "product_id": c.product_id,
        "license_keys_quantity": c.license_keys_quantity,
        "license_keys_count": stored.license_keys_count,
        "status": if c.active { "active" } else { "inactive" },
        "can_get_info": u8::from(c.can_get_info),
        "can_generate": u8::from(c.can_generate),
        "can_destroy": u8::from(c.can_destroy),
        "can_destroy_all": u8::from(c.can_destroy_all),
        "created_at": km_timestamp(c.created_at),
        "updated_at": km_timestamp(c.updated_at),
    })
}

async fn caller(state: &AppState, req: &KmRequest, capability: &str) -> Result<Result<Caller, Reply>, Internal> {
    match authorize(state, req.api_key.as_deref(), req.ip.as_deref(), None, capability).await {
        Ok(caller) => Ok(Ok(caller)),
        Err(Ok(reply)) => Ok(Err(reply)),
        Err(Err(internal)) => Err(internal),
    }
}

/// A 0/1 capability flag; required on creation (`current` is `None`), as the documentation's 825
/// example lists every flag of an empty request.
fn flag(req: &KmRequest, name: &str, current: Option<bool>, errors: &mut Map<String, Value>) -> bool {
    let refuse = |errors: &mut Map<String, Value>| {
        let words = name.replace('_', " ");
        let mut label = words.clone();
        label[..1].make_ascii_uppercase();
        errors.insert(name.into(), json!(format!("{label} must be 1 for true or 0 for false")));
    };
    match (req.present(name).as_deref(), current) {
        (None, Some(current)) => current,
        (Some("1" | "true"), _) => true,
        (Some("0" | "false"), _) => false,
        (_, current) => {
            refuse(errors);
            current.unwrap_or(false)
        }
    }
}

/// Reads the contract fields over `current` (updates) or defaults (creation); 825's errors are
/// plain strings per field.
async fn contract_fields(
    state: &AppState,
    req: &KmRequest,
    current: Option<&StoredContract>,
) -> Result<Result<ContractFields, Map<String, Value>>, Internal> {
    let mut errors = Map::new();
    let key = req.present("contract_key").or_else(|| current.map(|c| c.key.clone()));
    let key = match key {
        Some(key) if (8..=255).contains(&key.len()) => key,
        Some(_) => {
            errors.insert(
                "contract_key".into(),
                json!("The contract key must be 8 to 255 characters."),
            );
            String::new()
        }
        None => {
            errors.insert("contract_key".into(), json!(KEY_REQUIRED));
            String::new()
        }
    };
    let name = req
        .present("contract_name")
        .or_else(|| current.map(|c| c.contract.name.clone()));
    let name = match name {
        Some(name) if name.len() <= 255 => name,
        Some(_) => {
            errors.insert(
                "contract_name".into(),
                json!("The contract name may not be greater than 255 characters."),
            );
            String::new()
        }
        None => {
            errors.insert("contract_name".into(), json!("Contract name is required."));
            String::new()
        }
    };
    let information = req
        .text("contract_information")
        .map(|t| t.chars().take(65_535).collect())
        .filter(|t: &String| !t.trim().is_empty())
        .or_else(|| current.and_then(|c| c.contract.information.clone()));
    if information.is_none() && current.is_none() {
        errors.insert(
            "contract_information".into(),
            json!("Contract information is required."),
        );
    }
    let product_id = match req.present("product_id") {
        Some(text) => match text.parse::<i64>() {
            Ok(id) => match state.store.get_product(ProductId::new(id)).await {
                Ok(_) => id,
                Err(StoreError::NotFound) => {
                    errors.insert("product_id".into(), json!(PRODUCT_INVALID));
                    0
                }
                Err(other) => return Err(other.into()),
            },
            Err(_) => {
                errors.insert("product_id".into(), json!(PRODUCT_INVALID));
                0
            }
        },
        None => match current {
            Some(c) => c.contract.product_id.get(),
            None => {
                errors.insert("product_id".into(), json!(PRODUCT_INVALID));
                0
            }
        },
    };
    let quantity = match req.present("license_keys_quantity") {
        Some(text) => match text.parse::<i64>() {
            Ok(q) if (1..=1_000_000).contains(&q) => q,
            _ => {
                errors.insert("license_keys_quantity".into(), json!(QUANTITY_INVALID));
                0
            }
        },
        None => match current {
            Some(c) => c.contract.license_keys_quantity,
            None => {
                errors.insert("license_keys_quantity".into(), json!(QUANTITY_INVALID));
                0
            }
        },
    };
    let active = match (req.present("status").as_deref(), current) {
        (None, Some(c)) => c.contract.active,
        (Some("active"), _) => true,
        (Some("inactive"), _) => false,
        _ => {
            errors.insert("status".into(), json!("Status must be active or inactive"));
            true
        }
    };
    let c = current.map(|c| &c.contract);
    let fields = ContractFields {
        product_id: ProductId::new(product_id),
        name,
        information,
        key,
        license_keys_quantity: quantity,
        active,
        can_get_info: flag(req, "can_get_info", c.map(|c| c.can_get_info), &mut errors),
        can_generate: flag(req, "can_generate", c.map(|c| c.can_generate), &mut errors),
        can_destroy: flag(req, "can_destroy", c.map(|c| c.can_destroy), &mut errors),
        can_destroy_all: flag(req, "can_destroy_all", c.map(|c| c.can_destroy_all), &mut errors),
    };
    Ok(if errors.is_empty() { Ok(fields) } else { Err(errors) })
}

fn event(caller: &Caller, action: &str) -> EventDraft {
    EventDraft::new(caller.actor(), action, "contract").from_ip(caller.ip.clone())
}

pub async fn create_contract(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "create-contract"));
    let fields = match contract_fields(state, req, None).await? {
        Ok(fields) => fields,
        Err(errors) => return Ok(Reply::new(825).field("errors", Value::Object(errors))),
    };
    match state
        .store
        .create_contract(fields, event(&caller, "contract.created"), state.now())
        .await
    {
        Ok(stored) => Ok(Reply::new(841).field("contract", contract_json(&stored))),
        Err(StoreError::Conflict(_)) => Ok(Reply::new(825).field("errors", json!({"contract_key": KEY_REQUIRED}))),
        Err(StoreError::NotFound) => {
            Ok(Reply::new(825).field("errors", json!({"product_id": "The selected product id is invalid."})))
        }
        Err(other) => Err(other.into()),
    }
}

async fn contract_param(state: &AppState, req: &KmRequest) -> Result<Option<StoredContract>, Internal> {
    let Some(id) = req.present("contract_id").and_then(|c| c.parse::<i64>().ok()) else {
        return Ok(None);
    };
    match state.store.get_contract(id).await {
        Ok(stored) => Ok(Some(stored)),
        Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

pub async fn update_contract(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "update-contract"));
    // The seed has no "not found" code for update-contract: an unknown id is incorrect data.
    let Some(current) = contract_param(state, req).await? else {
        return Ok(Reply::new(825).field("errors", json!({"contract_id": "The selected contract id is invalid."})));
    };
    let fields = match contract_fields(state, req, Some(&current)).await? {
        Ok(fields) => fields,
        Err(errors) => return Ok(Reply::new(825).field("errors", Value::Object(errors))),
    };
    match state
        .store
        .update_contract(
            current.contract.id,
            fields,
            event(&caller, "contract.updated"),
            state.now(),
        )
        .await
    {
        Ok(stored) => Ok(Reply::new(842).field("contract", contract_json(&stored))),
        Err(StoreError::Conflict(_)) => Ok(Reply::new(825).field("errors", json!({"contract_key": KEY_REQUIRED}))),
        Err(StoreError::NotFound) => {
            Ok(Reply::new(825).field("errors", json!({"contract_id": "The selected contract id is invalid."})))
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn delete_contract(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "delete-contract"));
    let Some(current) = contract_param(state, req).await? else {
        return Ok(Reply::new(844));
    };
    match state
        .store
        .delete_contract(
            current.contract.id,
            event(&caller, "contract.deleted").subject(current.contract.id),
            state.now(),
        )
        .await
    {
        Ok(()) => Ok(Reply::new(843)),
        Err(StoreError::NotFound) => Ok(Reply::new(844)),
        Err(other) => Err(other.into()),
    }
}

pub async fn get_all_contracts(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "get-all-contracts"));
    let contracts: Vec<Value> = state
        .store
        .list_contracts()
        .await?
        .iter()
        .filter(|c| caller.in_scope(c.contract.product_id))
        .map(contract_json)
        .collect();
    Ok(Reply::new(846).field("contracts", Value::Array(contracts)))
}

// --- the Contracts API ---

/// The contract the request authenticates with, after the IP block list; `Err` is the reply.
async fn holder(
    state: &AppState,
    req: &KmRequest,
    operation: ContractOperation,
) -> Result<Result<StoredContract, Reply>, Internal> {
    let blocks = state.store.list_access_blocks().await?;
    if find_block(&blocks, req.ip.as_deref(), None).is_some() {
        return Ok(Err(Reply::new(150)));
    }
    // An explicit contract parameter wins over the bearer token, which some clients fill with
    // their API key.
    let key = req
        .present("contract_uuid")
        .or_else(|| req.present("contract_key"))
        .or_else(|| req.bearer.clone());
    let stored = match key {
        Some(key) => state.store.find_contract_by_key(&key).await?,
        None => None,
    };
    let Some(stored) = stored else {
        return Ok(Err(Reply::new(1200)));
    };
    // A contract key is the holder's credential: `--rate-limit-per-credential` counts it.
    if let RateDecision::Limited { reset_seconds } = state
        .limiter
        .check_credential(super::RATE_SCOPE, &format!("contract:{}", stored.contract.id))
    {
        return Ok(Err(Reply::rate_limited(reset_seconds)));
    }
    if stored.contract.check(operation).is_err() {
        return Ok(Err(Reply::new(102).product(stored.contract.product_id)));
    }
    Ok(Ok(stored))
}

macro_rules! holder {
    ($state:expr, $req:expr, $operation:expr) => {
        match holder($state, $req, $operation).await? {
            Ok(stored) => stored,
            Err(reply) => return Ok(reply),
        }
    };
}

fn holder_event(stored: &StoredContract, req: &KmRequest, action: &str) -> EventDraft {
    EventDraft::new(format!("contract:{}", stored.contract.id), action, "license").from_ip(req.ip.clone())
}

pub async fn get_info(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let stored = holder!(state, req, ContractOperation::GetInfo);
    let product_id = stored.contract.product_id;
    // A product that no longer serves keys (inactive or archived) is not there for the holder.
    let product = match state.store.get_product(product_id).await {
        Ok(product) if product.status == ProductStatus::Active => product,
        Ok(_) | Err(StoreError::NotFound) => return Ok(Reply::new(1202).product(product_id)),
        Err(other) => return Err(other.into()),
    };
    let Some(generator) = product_generator(state, product_id).await? else {
        return Ok(Reply::new(1203).product(product_id));
    };
    let meta = state.store.list_meta(MetaOwner::Product(product_id)).await?;
    Ok(Reply::new(1204)
        .field("contract", contract_json(&stored))
        .field("product", product_json(&product, &meta))
        .field("generator", generator_json(&generator))
        .product(product_id))
}

pub async fn generate(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let stored = holder!(state, req, ContractOperation::Generate);
    let product_id = stored.contract.product_id;
    match state.store.get_product(product_id).await {
        Ok(product) if product.status == ProductStatus::Active => {}
        Ok(_) | Err(StoreError::NotFound) => return Ok(Reply::new(1202).product(product_id)),
        Err(other) => return Err(other.into()),
    }
    let Some(generator) = product_generator(state, product_id).await? else {
        return Ok(Reply::new(1203).product(product_id));
    };
    // Anything but a whole number in range cannot be generated (1206); the quota itself is
    // checked under the contract's lock by the store.
    let quantity = req.present("quantity").and_then(|q| q.parse::<i64>().ok()).unwrap_or(0);
    let quota_left = stored.contract.license_keys_quantity - stored.license_keys_count;
    if quota_left <= 0 {
        return Ok(Reply::new(1205).product(product_id));
    }
    if !(1..=quota_left.min(licensd_domain::generator::MAX_BATCH)).contains(&quantity) {
        return Ok(Reply::new(1206).product(product_id));
    }
    let now = state.now();
    // Keys minted under a contract go straight to the holder's customer: assigned from now.
    let owner = LicenseAttrs {
        contract_id: Some(stored.contract.id),
        ..LicenseAttrs::default()
    };
    for attempt in 0..2 {
        let keys = mint_keys(&generator, quantity as usize)?;
        let batch = keys
            .iter()
            .map(|key| minted_license(&generator, key.clone(), Some((&owner, now))))
            .collect();
        match state
            .store
            .generate_contract_keys(
                stored.contract.id,
                batch,
                holder_event(&stored, req, "license.generated"),
                now,
            )
            .await
        {
            Ok(Ok(_)) => {
                return Ok(Reply::new(1300).field("license_keys", json!(keys)).product(product_id));
            }
            Ok(Err(ContractRefusal::LimitReached)) => return Ok(Reply::new(1205).product(product_id)),
            Ok(Err(ContractRefusal::QuantityNotAllowed)) => return Ok(Reply::new(1206).product(product_id)),
            Ok(Err(ContractRefusal::Inactive | ContractRefusal::NotPermitted)) => {
                return Ok(Reply::new(102).product(product_id));
            }
            Err(StoreError::NotFound) => return Ok(Reply::new(1200)),
            Err(StoreError::Conflict(_)) if attempt == 0 => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(StoreError::Conflict("generated keys collided twice".into()).into())
}

pub async fn destroy(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let stored = holder!(state, req, ContractOperation::Destroy);
    let product_id = stored.contract.product_id;
    let license = match req.present("license_key") {
        Some(key) => state.store.find_license_by_key(&key).await?,
        None => None,
    };
    let Some(license) = license else {
        return Ok(Reply::new(1401).product(product_id));
    };
    match state
        .store
        .destroy_contract_key(
            stored.contract.id,
            license.id,
            holder_event(&stored, req, "license.deleted"),
            state.now(),
        )
        .await
    {
        Ok(()) => Ok(Reply::new(1400).product(product_id)),
        Err(StoreError::NotFound) => Ok(Reply::new(1401).product(product_id)),
        Err(other) => Err(other.into()),
    }
}

pub async fn destroy_all(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let stored = holder!(state, req, ContractOperation::DestroyAll);
    let product_id = stored.contract.product_id;
    let deleted = state
        .store
        .destroy_contract_keys(
            stored.contract.id,
            holder_event(&stored, req, "license.deleted"),
            state.now(),
        )
        .await?;
    if deleted == 0 {
        return Ok(Reply::new(1501).product(product_id));
    }
    Ok(Reply::new(1500).field("deleted", json!(deleted)).product(product_id))
}
