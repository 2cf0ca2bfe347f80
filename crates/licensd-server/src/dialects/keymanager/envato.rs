//! Envato purchase codes (verify code 206). For products whose source is `envato`, a verify with
//! an unknown `license_key` asks the Envato Market API whether it is a purchase code of one of our
//! Envato items (`external_reference` = item id); if so the code is imported as an assigned
//! license key (owner: the `email` sent, else the buyer), activated for the `identifier`, and the
//! answer is 206. Later verifies answer like for any key.
//!
//! Configuration (environment): `LICENSD_ENVATO_TOKEN`, an Envato personal token with the
//! "View your items' sales history" permission; `LICENSD_ENVATO_API_URL` (default
//! `https://api.envato.com`). Without a token no code is looked up and unknown keys stay 210.

use super::Internal;
use super::auth::Caller;
use super::envelope::Reply;
use super::request::KmRequest;
use super::views::{LicenseAttrs, ProductAttrs};
use crate::state::AppState;
use licensd_domain::{DeviceInfo, EventDraft, LicenseTerms, Product};
use licensd_store::{LicenseRef, LicenseSettings, NewLicense, Page, StoreError};
use serde_json::{Value, json};

struct EnvatoConfig {
    base: String,
    token: String,
}

fn config() -> Option<EnvatoConfig> {
    let token = std::env::var("LICENSD_ENVATO_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())?;
    let base = std::env::var("LICENSD_ENVATO_API_URL").unwrap_or_else(|_| "https://api.envato.com".into());
    Some(EnvatoConfig {
        base: base.trim_end_matches('/').to_string(),
        token: token.trim().to_string(),
    })
}

/// Our Envato products the caller may see, with their item ids.
async fn envato_products(state: &AppState, caller: &Caller) -> Result<Vec<(Product, String)>, Internal> {
    let mut out = Vec::new();
    let mut page = Page {
        after: None,
        limit: 1000,
    };
    loop {
        let batch = state.store.list_products(page).await?;
        let Some(last) = batch.last().map(|p| p.id) else {
            break;
        };
        for product in batch {
            let attrs = ProductAttrs::of(&product);
            if attrs.source.as_deref() == Some("envato")
                && let Some(item) = attrs.external_reference
                && caller.in_scope(product.id)
            {
                out.push((product, item));
            }
        }
        page.after = Some(last.get());
    }
    Ok(out)
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The sale behind a purchase code: (item id, buyer), or `None` when Envato does not know it.
async fn lookup(config: &EnvatoConfig, code: &str) -> Option<(String, Option<String>)> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .ok()?;
    let url = format!("{}/v3/market/author/sale?code={}", config.base, encode(code));
    let response = match client.get(url).bearer_auth(&config.token).send().await {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%error, "Envato purchase-code lookup failed");
            return None;
        }
    };
    if !response.status().is_success() {
        return None;
    }
    let sale: Value = response.json().await.ok()?;
    let item = match &sale["item"]["id"] {
        Value::Number(id) => id.to_string(),
        Value::String(id) => id.clone(),
        _ => return None,
    };
    Some((item, sale["buyer"].as_str().map(str::to_string)))
}

/// Tries to import `code` as an Envato purchase; `Some(206)` when it was imported now.
pub async fn import(
    state: &AppState,
    caller: &Caller,
    req: &KmRequest,
    code: &str,
    identifier: &str,
) -> Result<Option<Reply>, Internal> {
    let Some(config) = config() else {
        return Ok(None);
    };
    // Purchase codes are UUIDs; anything else is not worth asking Envato about.
    if code.len() != 36 || !code.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Ok(None);
    }
    let products = envato_products(state, caller).await?;
    if products.is_empty() {
        return Ok(None);
    }
    let Some((item, buyer)) = lookup(&config, code).await else {
        return Ok(None);
    };
    let Some((product, _)) = products.into_iter().find(|(_, id)| *id == item) else {
        return Ok(None);
    };
    let now = state.now();
    let attrs = LicenseAttrs {
        owner_name: buyer.clone(),
        owner_email: req.present("email").map(|e| e.chars().take(255).collect()),
        validity: 0,
        assigned_at: Some(now),
        contract_id: None,
    };
    let new = NewLicense {
        product_id: product.id,
        key: Some(code.to_string()),
        // An Envato regular license covers one end product: one activation.
        settings: LicenseSettings {
            order_ref: Some(format!("envato:{item}")),
            metadata: attrs.write_into(&json!({})),
            ..LicenseSettings::active(LicenseTerms::default())
        },
        features: Vec::new(),
    };
    let event = EventDraft::new(caller.actor(), "license.imported", "license")
        .from_ip(caller.ip.clone())
        .data(json!({"source": "envato", "item": item}));
    let license = match state.store.create_licenses(vec![new], event, now).await {
        Ok(mut created) => match created.pop() {
            Some(license) => license,
            None => return Ok(None),
        },
        // Imported by a concurrent request meanwhile: answer like for any key.
        Err(StoreError::Conflict(_)) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
    let device = DeviceInfo {
        fingerprint: identifier.to_string(),
        ip: caller.ip.clone(),
        ..DeviceInfo::default()
    };
    let event = EventDraft::new(caller.actor(), "license.activated", "license").from_ip(caller.ip.clone());
    match state
        .store
        .activate(LicenseRef::Id(license.id), device, None, event, now)
        .await
    {
        Ok(_) | Err(StoreError::Denied(_)) => {}
        Err(other) => return Err(other.into()),
    }
    Ok(Some(Reply::new(206).product(product.id)))
}
