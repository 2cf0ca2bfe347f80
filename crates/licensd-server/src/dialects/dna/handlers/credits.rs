//! DNA's Dynamic Credits: `GET credits/{p}/{l}` and `POST Credits/{p}/{l}/consume`, answered as
//! `[{Target, Name, Count}]`.
//!
//! Decisions (reference/dna-api.md §1.3 gives only the fields; the rules are the domain's
//! `dna_credits`):
//! - `Target: LICENSE` (or none): the code's own credits, the license's consumption counter (name
//!   `Credits`) and its consumption features (by feature code); `Count` is null without a cap.
//! - `Target: EMAIL`: the pool of the code's activation e-mail for the product, shared by every
//!   code of that product with the same e-mail (compared without case). A code without an e-mail
//!   reads `[]` and its consumption is refused (400).
//! - `Target: ALL`: reading lists the LICENSE entries, then the EMAIL ones. A consumption uses the
//!   code's own credit of that name when it exists and has enough left, else the e-mail pool's;
//!   one consumption is never split across the two. When neither can, the pool's refusal is
//!   answered (the code's own if the pool has no such credit).
//! - A consumption answers the list of the request's `Target`, after the use.

use super::{Ctx, form_pairs, refuse_email};
use crate::dialects::dna::wire::{DnaError, denial_error, parse_body, user_ip};
use axum::Json;
use axum::response::{IntoResponse, Response};
use licensd_domain::dna_credits::{self, CreditSource, CreditTarget};
use licensd_domain::*;
use licensd_store::{LicenseRef, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

/// The name DNA credits of the license-level consumption counter go by; consumption features are
/// further credit types named by their feature code.
const LICENSE_CREDITS: &str = "Credits";

/// The answer to a consumption with `Target: EMAIL` by a code that has no activation e-mail.
const NO_EMAIL: &str = "The License Code has no activation email, so it has no EMAIL credits";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreditsQuery {
    target: Option<String>,
    user_ip: Option<String>,
}

fn parse_target(word: Option<&str>) -> Result<CreditTarget, DnaError> {
    CreditTarget::parse(word).ok_or_else(|| DnaError::bad_request("Invalid Target: use LICENSE, EMAIL or ALL"))
}

/// `[{Target, Name, Count}]`: the credits of each source the target covers, in its order.
async fn credit_list(ctx: &Ctx, license: &License, target: CreditTarget) -> Result<Value, DnaError> {
    let mut list = Vec::new();
    for source in target.sources() {
        match source {
            CreditSource::License => license_credits(ctx, license, &mut list).await?,
            CreditSource::Email => {
                for pool in ctx.state.store.license_credit_pools(license).await? {
                    list.push(json!({"Target": source.target_word(), "Name": pool.name, "Count": pool.balance}));
                }
            }
        }
    }
    Ok(Value::Array(list))
}

/// The code's own credits: the license counter and each consumption feature, with what is left.
async fn license_credits(ctx: &Ctx, license: &License, list: &mut Vec<Value>) -> Result<(), DnaError> {
    if let Some(terms) = &license.terms.consumption {
        let counter = rules::current_counter(
            terms,
            license.consumption_used,
            license.consumption_period_start,
            ctx.now,
        );
        let count = terms.max_consumptions.map(|max| max.saturating_sub(counter.used));
        list.push(json!({"Target": "LICENSE", "Name": LICENSE_CREDITS, "Count": count}));
    }
    for feature in ctx.state.store.license_features(license.id).await? {
        if feature.definition.spec.feature_type != FeatureType::Consumption {
            continue;
        }
        let terms = feature.consumption_terms();
        let counter = rules::current_counter(&terms, feature.consumption_used, feature.period_start, ctx.now);
        let count = terms.max_consumptions.map(|max| max.saturating_sub(counter.used));
        list.push(json!({"Target": "LICENSE", "Name": feature.definition.spec.code, "Count": count}));
    }
    Ok(())
}

/// GET …/credits/{p}/{l}; `Target` and `UserIp` come in a JSON body as DNA documents, or in the
/// query string for clients that cannot send a body with GET.
pub async fn credits(ctx: &Ctx, ids: (&str, &str), bytes: &[u8], query: &str) -> Result<Response, DnaError> {
    let mut body: CreditsQuery = parse_body(bytes)?;
    for (key, value) in form_pairs(query) {
        match key.to_ascii_lowercase().as_str() {
            "target" => body.target = Some(value),
            "userip" => body.user_ip = Some(value),
            _ => return Err(DnaError::bad_request(format!("Unknown query parameter {key}"))),
        }
    }
    user_ip(&body.user_ip)?;
    let target = parse_target(body.target.as_deref())?;
    let (_, license) = ctx.load(ids).await?;
    Ok(Json(credit_list(ctx, &license, target).await?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConsumeBody {
    name: Option<String>,
    count: Option<i64>,
    target: Option<String>,
    user_ip: Option<String>,
    test: Option<bool>,
    send_dna_email: Option<bool>,
}

/// The most credits one consume call may use, as DNA documents.
const MAX_CONSUME: i64 = 20_000;

/// POST …/Credits/{p}/{l}/consume: uses `Count` credits of `Name` from the sources of `Target`, in
/// the domain's order, each through the store's locked, capped consumption. Count 0 and test
/// events change nothing but still say whether the credit exists. Answers the remaining credits.
pub async fn consume(ctx: &Ctx, ids: (&str, &str), bytes: &[u8]) -> Result<Response, DnaError> {
    ctx.require_write()?;
    let body: ConsumeBody = parse_body(bytes)?;
    user_ip(&body.user_ip)?;
    refuse_email(body.send_dna_email)?;
    let target = parse_target(body.target.as_deref())?;
    let count = body.count.ok_or_else(|| DnaError::bad_request("Count is required"))?;
    if !(0..=MAX_CONSUME).contains(&count) {
        return Err(DnaError::bad_request(format!(
            "Invalid Count: must be between 0 and {MAX_CONSUME}"
        )));
    }
    let name = body.name.unwrap_or_else(|| LICENSE_CREDITS.to_string());
    if name.is_empty() || name.len() > 128 {
        return Err(DnaError::bad_request("Invalid Name"));
    }
    let (product, license) = ctx.load(ids).await?;
    if target == CreditTarget::Email
        && ctx
            .state
            .store
            .license_account(license.id)
            .await?
            .activation_email
            .is_none_or(|email| dna_credits::pool_email(&email).is_empty())
    {
        return Err(DnaError::bad_request(NO_EMAIL));
    }
    let dry_run = count == 0 || body.test == Some(true);
    let mut refusal: Option<Denial> = None;
    for &source in target.sources() {
        let attempt = if dry_run {
            credit_exists(ctx, source, &license, &name)
                .await
                .map(|()| license.clone())
        } else {
            use_credits(ctx, source, &product, &license, &name, count).await
        };
        match attempt {
            Ok(after) => return Ok(Json(credit_list(ctx, &after, target).await?).into_response()),
            Err(StoreError::Denied(denial)) if dna_credits::falls_through(denial) => {
                refusal = Some(match refusal {
                    Some(first) => dna_credits::combined_refusal(first, denial),
                    None => denial,
                });
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(denial_error(refusal.unwrap_or(Denial::FeatureNotFound)))
}

/// Whether the credit `name` exists in `source` for this code (a dry run uses nothing).
async fn credit_exists(ctx: &Ctx, source: CreditSource, license: &License, name: &str) -> Result<(), StoreError> {
    let store = &ctx.state.store;
    let exists = match source {
        CreditSource::License if name.eq_ignore_ascii_case(LICENSE_CREDITS) => {
            if license.terms.consumption.is_none() {
                return Err(StoreError::Denied(Denial::NotConsumption));
            }
            true
        }
        CreditSource::License => store
            .license_features(license.id)
            .await?
            .iter()
            .any(|f| f.definition.spec.code == name),
        CreditSource::Email => store
            .license_credit_pools(license)
            .await?
            .iter()
            .any(|p| p.name == name),
    };
    if exists {
        Ok(())
    } else {
        Err(StoreError::Denied(Denial::FeatureNotFound))
    }
}

/// Uses `count` credits of `name` from `source`; answers the license after the use.
async fn use_credits(
    ctx: &Ctx,
    source: CreditSource,
    product: &Product,
    license: &License,
    name: &str,
    count: i64,
) -> Result<License, StoreError> {
    let store = &ctx.state.store;
    let event = ctx.event("dna.credits_consume");
    match source {
        CreditSource::License if name.eq_ignore_ascii_case(LICENSE_CREDITS) => Ok(store
            .consume(LicenseRef::Id(license.id), count, None, event, ctx.now)
            .await?
            .license),
        CreditSource::License => Ok(store
            .consume_feature(LicenseRef::Id(license.id), name, count, None, event, ctx.now)
            .await?
            .license),
        CreditSource::Email => {
            store
                .consume_credit_pool(product, license, name, count, event, ctx.now)
                .await?;
            Ok(license.clone())
        }
    }
}
