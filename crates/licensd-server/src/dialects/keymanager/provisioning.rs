//! Minting and handing out keys: get-all-generators, generate, assign-license-key,
//! assign-and-activate-license-key, random-assign-license-keys and its queued variant (result
//! queued in the outbox with the assignment and POSTed to the caller's webhook by
//! `crate::outbox`).
use licensd_domain::ProductId;

use super::Internal;
use super::auth::{Caller, authorised, caller};
use super::client::{find_license, start_caller};
use super::codes::{Command, denial_code};
use super::envelope::{KeyUsed, Reply, envelope_body};
use super::request::KmRequest;
use super::views::{LicenseAttrs, km_timestamp, license_json};
use crate::outbox::{webhook_target, webhook_url};
use crate::state::AppState;
use axum::extract::State;
use licensd_crypto::SigningKey;
use licensd_domain::generator::{Generator, GeneratorError, check_quantity};
use licensd_domain::{Assignment, Denial, DeviceInfo, EventDraft, License, LicenseTerms, Millis};
use licensd_store::{
    AssignActivation, AssignOutcome, AssignSelection, LicenseSettings, NewDelivery, NewLicense, StoreError,
};
use serde_json::{Value, json};

const DAY_MS: Millis = 86_400_000;

fn event(caller: &Caller, action: &str) -> EventDraft {
    EventDraft::new(caller.actor(), action, "license").from_ip(caller.ip.clone())
}

/// A generator as Key Manager lists it.
pub fn generator_json(generator: &Generator) -> Value {
    let pattern = &generator.pattern;
    json!({
        "id": generator.id,
        "product_id": generator.product_id,
        "method": generator.method(),
        "prefix": pattern.prefix,
        "suffix": pattern.suffix,
        // Custom (PHP function) generators do not exist here.
        "function_name": "",
        "number_of_chunks": pattern.chunks,
        "chunk_length": pattern.chunk_length,
        "activation_limit": generator.activation_limit,
        "validity": generator.validity_days,
        "status": u8::from(generator.active),
        "charset": pattern.charset,
        "created_at": km_timestamp(generator.created_at),
        "updated_at": km_timestamp(generator.updated_at),
    })
}

/// `n` fresh keys from the generator's pattern.
pub fn mint_keys(generator: &Generator, n: usize) -> Result<Vec<String>, Internal> {
    let mut keys = Vec::with_capacity(n);
    let mut random = vec![0u8; generator.pattern.bytes_needed()];
    for _ in 0..n {
        licensd_crypto::random_bytes(&mut random)?;
        keys.push(generator.mint(&random));
    }
    Ok(keys)
}

/// A key minted by `generator`: its limit and validity, in stock unless `owner` assigns it now.
pub fn minted_license(generator: &Generator, key: String, owner: Option<(&LicenseAttrs, Millis)>) -> NewLicense {
    let mut attrs = owner.map(|(attrs, _)| attrs.clone()).unwrap_or_default();
    attrs.validity = generator.validity_days;
    let (assignment, expires_at) = match owner {
        Some((_, now)) => {
            attrs.assigned_at = Some(now);
            let expiry = (generator.validity_days > 0).then(|| now.saturating_add(generator.validity_days * DAY_MS));
            (Assignment::Assigned, expiry)
        }
        None => (Assignment::InStock, None),
    };
    NewLicense {
        product_id: generator.product_id,
        key: Some(key),
        settings: LicenseSettings {
            assignment,
            expires_at,
            metadata: attrs.write_into(&json!({})),
            ..LicenseSettings::active(LicenseTerms {
                max_activations: (generator.activation_limit > 0).then_some(generator.activation_limit),
                ..LicenseTerms::default()
            })
        },
        features: Vec::new(),
    }
}

/// The generator a product mints with: its first active one.
pub async fn product_generator(state: &AppState, product_id: ProductId) -> Result<Option<Generator>, Internal> {
    Ok(state
        .store
        .list_generators(Some(product_id))
        .await?
        .into_iter()
        .find(|g| g.active))
}

pub async fn get_all_generators(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "get-all-generators"));
    let product_id = caller.credential.product_id.or_else(|| {
        req.present("product_id")
            .and_then(|p| p.parse().ok().map(ProductId::new))
    });
    let generators = state.store.list_generators(product_id).await?;
    // The reference lists generators under `products` (a quirk of the vendor's docs, kept).
    Ok(Reply::new(820).field(
        "products",
        Value::Array(generators.iter().map(generator_json).collect()),
    ))
}

fn quantity(req: &KmRequest) -> Option<i64> {
    req.present("quantity")
        .and_then(|q| q.parse::<i64>().ok())
        .filter(|q| check_quantity(*q).is_ok())
}

fn incorrect(field: &str, message: &str) -> Reply {
    Reply::new(901).field("errors", json!({ field: [message] }))
}

pub async fn generate(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "generate"));
    let generator = match req.present("generator_id").and_then(|g| g.parse::<i64>().ok()) {
        Some(id) => match state.store.get_generator(id).await {
            Ok(generator) => Some(generator),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        },
        None => None,
    };
    let Some(generator) = generator.filter(|g| caller.in_scope(g.product_id)) else {
        return Ok(Reply::new(806));
    };
    let Some(quantity) = quantity(req) else {
        return Ok(incorrect("quantity", "The quantity must be between 1 and 1000.").product(generator.product_id));
    };
    match generator.check_mint(quantity) {
        Ok(()) => {}
        Err(GeneratorError::Inactive) => return Ok(Reply::new(806).product(generator.product_id)),
        Err(_) => {
            return Ok(incorrect("quantity", "The quantity must be between 1 and 1000.").product(generator.product_id));
        }
    }
    // Keys carry at least 64 random bits; a collision with an existing key is retried once.
    for attempt in 0..2 {
        let keys = mint_keys(&generator, quantity as usize)?;
        let batch = keys
            .iter()
            .map(|k| minted_license(&generator, k.clone(), None))
            .collect();
        match state
            .store
            .create_licenses(batch, event(&caller, "license.generated"), state.now())
            .await
        {
            Ok(_) => {
                return Ok(Reply::new(815)
                    .field("licenseKeys", json!(keys))
                    .product(generator.product_id));
            }
            Err(StoreError::Conflict(_)) if attempt == 0 => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(StoreError::Conflict("generated keys collided twice".into()).into())
}

/// The owner fields of an assignment request (`email` and `owner_email` both accepted).
fn owner(req: &KmRequest) -> LicenseAttrs {
    LicenseAttrs {
        owner_name: req.present("owner_name").map(|n| n.chars().take(255).collect()),
        owner_email: req
            .present("owner_email")
            .or_else(|| req.present("email"))
            .map(|e| e.chars().take(255).collect()),
        ..LicenseAttrs::default()
    }
}

/// What assigning does to a stock key: owner and assignment date written, expiry from validity.
fn assigner(owner: LicenseAttrs) -> impl Fn(&Value, Millis) -> (Value, Option<Millis>) + Send + Sync {
    move |metadata: &Value, now: Millis| {
        let mut attrs = metadata
            .get(super::views::METADATA_KEY)
            .and_then(|v| serde_json::from_value::<LicenseAttrs>(v.clone()).ok())
            .unwrap_or_default();
        if owner.owner_name.is_some() {
            attrs.owner_name = owner.owner_name.clone();
        }
        if owner.owner_email.is_some() {
            attrs.owner_email = owner.owner_email.clone();
        }
        attrs.assigned_at = Some(now);
        let expiry = (attrs.validity > 0).then(|| now.saturating_add(attrs.validity.saturating_mul(DAY_MS)));
        (attrs.write_into(metadata), expiry)
    }
}

pub async fn assign_license_key(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let caller = authorised!(caller(state, req, "assign-license-key"));
    let Some(license) = find_license(state, &caller, req).await? else {
        return Ok(Reply::new(801));
    };
    let assign = assigner(owner(req));
    match state
        .store
        .assign_stock(
            AssignSelection::One(license.id),
            &assign,
            Vec::new(),
            event(&caller, "license.assigned"),
            state.now(),
        )
        .await?
    {
        // The documented answer carries no payload beyond code and message.
        AssignOutcome::Assigned(_) => Ok(Reply::new(800).product(license.product_id)),
        AssignOutcome::NotAssignable | AssignOutcome::Insufficient { .. } => {
            Ok(Reply::new(801).product(license.product_id))
        }
    }
}

/// assign-license-key and activate in one store transaction: 300 when both happened; 215 without
/// an `identifier`; 801 for an unknown key or one that is not in stock; an activation refusal
/// (203, 205, 302, 150 …) assigns nothing either.
pub async fn assign_and_activate(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let (state, req) = (&state, &req);
    let (caller, identifier) = match start_caller(state, req, "assign-and-activate-license-key").await? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    let Some(license) = find_license(state, &caller, req).await? else {
        return Ok(Reply::new(801));
    };
    let assign = assigner(owner(req));
    // `post_url` is the client's remote-deactivation callback, kept with the activation as
    // activate keeps it.
    let variables = req.present("post_url").map(|url| json!({ "post_url": url }));
    let device = DeviceInfo {
        fingerprint: identifier,
        ip: caller.ip.clone(),
        variables,
        ..DeviceInfo::default()
    };
    let outcome = state
        .store
        .assign_and_activate(
            license.id,
            &assign,
            device,
            event(&caller, "license.assigned"),
            event(&caller, "license.activated"),
            state.now(),
        )
        .await;
    let product_id = license.product_id;
    match outcome {
        Ok(AssignActivation::Activated(_)) => Ok(Reply::new(300).product(product_id)),
        Ok(AssignActivation::NotAssignable) => Ok(Reply::new(801).product(product_id)),
        Err(StoreError::NotFound | StoreError::Denied(Denial::LicenseNotFound)) => Ok(Reply::new(801)),
        Err(StoreError::Denied(denial)) => Ok(Reply::new(denial_code(denial, Command::Activate)).product(product_id)),
        Err(other) => Err(other.into()),
    }
}

pub async fn random_assign(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let caller = authorised!(caller(&state, &req, "random-assign-license-keys"));
    random_assign_for(&state, &req, &caller, None)
        .await
        .map(|(reply, _)| reply)
}

/// Where a queued assignment's signed result goes.
#[derive(Clone)]
struct Callback {
    url: reqwest::Url,
    /// The caller's `identifier`, echoed in the result.
    identifier: Option<String>,
}

/// The delivery kind of a queued random assignment's result (see `licensd_store::OutboxStore`).
pub const CALLBACK_KIND: &str = "keymanager.random_assign";

impl Callback {
    /// The signed result as an outbox delivery.
    fn delivery(&self, reply: Reply, key: &SigningKey, used: KeyUsed, now: Millis) -> Result<NewDelivery, Internal> {
        let reply = match &self.identifier {
            Some(identifier) => reply.field("identifier", json!(identifier)),
            None => reply,
        };
        Ok(NewDelivery {
            kind: CALLBACK_KIND.into(),
            target_url: self.url.to_string(),
            body: envelope_body(&reply, key, used, now.div_euclid(1000))?,
            headers: vec![("content-type".into(), "application/json".into())],
        })
    }
}

/// The random assignment itself, shared by the direct and the queued endpoint. With a
/// `callback`, a successful assignment's signed result is queued for it in the assignment's own
/// transaction (the second value says so); other outcomes are only returned.
async fn random_assign_for(
    state: &AppState,
    req: &KmRequest,
    caller: &Caller,
    callback: Option<&Callback>,
) -> Result<(Reply, bool), Internal> {
    let product = match req.present("product_id").and_then(|p| p.parse::<i64>().ok()) {
        Some(id) => match state.store.get_product(ProductId::new(id)).await {
            Ok(product) => Some(product),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        },
        None => None,
    };
    let Some(product) = product.filter(|p| caller.in_scope(p.id)) else {
        return Ok((Reply::new(805), false));
    };
    let Some(quantity) = quantity(req) else {
        return Ok((
            incorrect("quantity", "The quantity must be between 1 and 1000.").product(product.id),
            false,
        ));
    };
    let generate = matches!(req.present("generate").as_deref(), Some("1" | "true"));
    let owner = owner(req);
    let now = state.now();
    let mint = if generate {
        let Some(generator) = product_generator(state, product.id).await? else {
            return Ok((Reply::new(806).product(product.id), false));
        };
        // Offered for the shortfall only; the store takes as many as it needs.
        mint_keys(&generator, quantity as usize)?
            .into_iter()
            .map(|key| minted_license(&generator, key, Some((&owner, now))))
            .collect()
    } else {
        Vec::new()
    };
    let assign = assigner(owner);
    let selection = AssignSelection::Random {
        product_id: product.id,
        quantity,
    };
    let outcome = match callback {
        None => {
            state
                .store
                .assign_stock(selection, &assign, mint, event(caller, "license.assigned"), now)
                .await
        }
        Some(callback) => {
            // Signed with the key the answer would use, inside the assignment's transaction.
            let (key, used) = super::signing_key(state, Some(product.id)).await?;
            let product_id = product.id;
            let callback = callback.clone();
            let render = move |licenses: &[License]| {
                let keys = licenses.iter().map(license_json).collect();
                let reply = Reply::new(803)
                    .field("license_keys", Value::Array(keys))
                    .product(product_id);
                callback
                    .delivery(reply, &key, used, now)
                    .map_err(|error| error.to_string())
            };
            state
                .store
                .assign_stock_delivering(
                    selection,
                    &assign,
                    mint,
                    event(caller, "license.assigned"),
                    &render,
                    now,
                )
                .await
        }
    };
    match outcome {
        Ok(AssignOutcome::Assigned(ids)) => {
            let mut keys = Vec::with_capacity(ids.len());
            for id in ids {
                let license = state.store.get_license(id).await?;
                keys.push(license_json(&license));
            }
            let reply = Reply::new(803)
                .field("license_keys", Value::Array(keys))
                .product(product.id);
            Ok((reply, callback.is_some()))
        }
        Ok(AssignOutcome::Insufficient { available }) => Ok((
            Reply::new(802)
                .field("available_quantity", json!(available))
                .product(product.id),
            false,
        )),
        Ok(AssignOutcome::NotAssignable) => Ok((
            Reply::new(802)
                .field("available_quantity", json!(0))
                .product(product.id),
            false,
        )),
        Err(other) => Err(other.into()),
    }
}

/// The assignment runs before the 807 answer, and its signed result goes to the outbox in the
/// same transaction (a refusal's result in a transaction of its own, as nothing else changed):
/// the delivery worker (`crate::outbox`) POSTs it, retrying for 24 hours and across restarts.
pub async fn random_assign_queued(State(state): State<AppState>, req: KmRequest) -> Result<Reply, Internal> {
    let state = &state;
    let caller = authorised!(caller(state, &req, "random-assign-license-keys-queued"));
    let Some(url) = req.present("webhook_url").as_deref().and_then(webhook_url) else {
        return Ok(incorrect(
            "webhook_url",
            "The webhook url must be a valid http or https URL.",
        ));
    };
    if webhook_target(&url, state.settings.allow_private_webhooks)
        .await
        .is_none()
    {
        return Ok(incorrect(
            "webhook_url",
            "The webhook url must resolve to a public address.",
        ));
    }
    let callback = Callback {
        url,
        identifier: req.present("identifier"),
    };
    let (reply, queued) = random_assign_for(state, &req, &caller, Some(&callback)).await?;
    if !queued {
        let (key, used) = super::signing_key(state, reply.product_id).await?;
        let delivery = callback.delivery(reply, &key, used, state.now())?;
        state.store.outbox_enqueue(delivery, state.now()).await?;
    }
    state.outbox_wake.notify_one();
    Ok(Reply::new(807))
}
