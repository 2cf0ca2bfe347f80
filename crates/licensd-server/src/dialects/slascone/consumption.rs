//! Consumption: SLASCONE's consumption-based limitations are licensd's consumption features.
//! `validate/consumption` reads a balance; consumption heartbeats consume through the store's
//! locked `consume_feature` (the item's `external_id` is the idempotency key, so a retried
//! heartbeat is not counted twice); rollback gives a transaction's units back
//! (`SlasconeStore::rollback_consumption`). Transaction ids are the consumption events'
//! ids as GUIDs.
//!
//! Items of one heartbeat are checked together first (client, limitation, value), then consumed
//! one by one: a limit reached by a later item leaves the earlier items counted, and the answer is
//! the 409; resending the heartbeat with the same `external_id`s counts nothing twice.

use super::codes::Conflict;
use super::info::{self, utc};
use super::provisioning::{active_device, event, license_by_guid};
use super::wire::{Call, ReadCall, WriteCall};
use super::wire::{Caller, SlError, SlResult, guid_id, id_guid, json_ok, required, text_ok};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use licensd_domain::*;
use licensd_store::LicenseRef;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// SLASCONE's `ConsumptionDto`.
#[derive(Debug, Serialize)]
pub struct ConsumptionDto {
    pub transaction_id: Option<String>,
    pub limitation_id: String,
    pub remaining: Option<i64>,
    pub balance: i64,
    pub limit: Option<i64>,
    pub goodwill: i64,
    pub last_reset_date_utc: Option<String>,
    pub next_reset_date_utc: Option<String>,
}

fn dto(feature: &LicenseFeature, limitation_id: &str, transaction: Option<i64>, now: Millis) -> ConsumptionDto {
    let (limit, used, remaining) = info::balance(feature, now);
    let terms = feature.consumption_terms();
    let goodwill = match (terms.allow_overages, terms.max_overages) {
        (true, Some(over)) => over,
        _ => 0,
    };
    let period = feature.definition.spec.reset_period;
    let (last, next) = if period == ResetPeriod::Never {
        (None, None)
    } else {
        let start = rules::period_start(period, now);
        // The next period starts where the period containing the last instant of this one ends.
        let next = next_period_start(period, start);
        (Some(utc(start)), next.map(utc))
    };
    ConsumptionDto {
        transaction_id: transaction.map(id_guid),
        limitation_id: limitation_id.to_owned(),
        remaining,
        balance: used,
        limit,
        goodwill,
        last_reset_date_utc: last,
        next_reset_date_utc: next,
    }
}

/// The first instant after the period that starts at `start`.
fn next_period_start(period: ResetPeriod, start: Millis) -> Option<Millis> {
    use licensd_domain::clock::DAY;
    // Periods are at least a day and at most a year long: probe forward a day at a time from the
    // earliest possible end until the period start changes.
    let mut probe = start.saturating_add(DAY);
    for _ in 0..400 {
        let candidate = rules::period_start(period, probe);
        if candidate > start {
            return Some(candidate);
        }
        probe = probe.saturating_add(DAY);
    }
    None
}

/// The license feature a `limitation_id` names: the feature's GUID (`id_guid`) or its code.
fn find_limitation<'a>(features: &'a [LicenseFeature], limitation_id: &str) -> Option<&'a LicenseFeature> {
    let by_id = guid_id(limitation_id);
    features
        .iter()
        .find(|f| by_id == Some(f.definition.id) || f.definition.spec.code == limitation_id)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusRequest {
    pub license_id: Option<String>,
    pub limitation_id: Option<String>,
}

/// POST /provisioning/validate/consumption: the limitation's balance now.
pub async fn status(
    State(state): State<AppState>,
    Call(caller, request): ReadCall<StatusRequest>,
) -> SlResult<Response> {
    let license = license_by_guid(&state, &caller, request.license_id).await?;
    let limitation_id = request.limitation_id.unwrap_or_default();
    let features = state
        .store
        .license_features(license.id)
        .await
        .map_err(SlError::from_store)?;
    let feature =
        find_limitation(&features, &limitation_id).ok_or(SlError::Conflict(Conflict::UnknownLicenseLimitation))?;
    if feature.definition.spec.feature_type != FeatureType::Consumption {
        return Err(Conflict::ConsumptionModeDisabled.into());
    }
    json_ok(&dto(feature, &limitation_id, None, state.now()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HeartbeatItem {
    pub limitation_id: Option<String>,
    pub user_id: Option<String>,
    pub external_id: Option<String>,
    pub timestamp_utc: Option<String>,
    pub value: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsumptionHeartbeat {
    pub client_id: Option<String>,
    pub token_key: Option<String>,
    pub consumption_heartbeat: Vec<HeartbeatItem>,
}

/// The licenses on which the client holds an active token, within the key's scope; with a
/// `token_key`, only that token's license (2003 unknown, 5000 another client's, 2002 unassigned).
pub async fn client_licenses(
    state: &AppState,
    caller: &Caller,
    client_id: &str,
    token_key: Option<&str>,
) -> SlResult<Vec<License>> {
    let tokens = match token_key.map(str::trim).filter(|key| !key.is_empty()) {
        Some(key) => {
            let token = super::lookup::known_token(state, key).await?;
            if token.client_id != client_id {
                return Err(Conflict::ClientOnOtherToken.into());
            }
            if active_device(state, token.license_id, client_id).await?.is_none() {
                return Err(Conflict::TokenNotAssigned.into());
            }
            vec![token]
        }
        None => state
            .store
            .client_tokens(client_id)
            .await
            .map_err(SlError::from_store)?,
    };
    let mut licenses = Vec::new();
    for token in tokens.into_iter().rev() {
        let license = state
            .store
            .get_license(token.license_id)
            .await
            .map_err(SlError::from_store)?;
        let in_scope = caller.in_scope(license.product_id);
        if in_scope && active_device(state, license.id, client_id).await?.is_some() {
            licenses.push(license);
        }
    }
    if licenses.is_empty() {
        return Err(Conflict::UnknownClient.into());
    }
    Ok(licenses)
}

/// POST /data_gathering/consumption_heartbeats
pub async fn heartbeat(
    State(state): State<AppState>,
    Call(caller, request): WriteCall<ConsumptionHeartbeat>,
) -> SlResult<Response> {
    let state = &state;
    let client_id = required(request.client_id.as_deref(), Conflict::MissingClientId)?;
    let licenses = client_licenses(state, &caller, &client_id, request.token_key.as_deref()).await?;
    // Check every item before consuming anything.
    let mut planned = Vec::new();
    for item in &request.consumption_heartbeat {
        super::gathering::instant(item.timestamp_utc.as_deref(), state.now())?;
        let limitation_id = item.limitation_id.clone().unwrap_or_default();
        let value = match item.value {
            Some(value) if value > 0.0 && value.fract() == 0.0 && value <= i64::MAX as f64 => value as i64,
            Some(value) if value > 0.0 => {
                return Err(SlError::BadRequest(format!(
                    "consumption value {value} is not a whole number of units"
                )));
            }
            _ => return Err(Conflict::ConsumptionNotPositive.into()),
        };
        let mut found = None;
        for license in &licenses {
            let features = state
                .store
                .license_features(license.id)
                .await
                .map_err(SlError::from_store)?;
            if let Some(feature) = find_limitation(&features, &limitation_id) {
                found = Some((license.id, feature.definition.spec.code.clone()));
                break;
            }
        }
        let (license_id, code) = found.ok_or(SlError::Conflict(Conflict::UnknownLicenseLimitation))?;
        let key = item
            .external_id
            .as_deref()
            .filter(|id| !id.trim().is_empty())
            .map(|id| format!("slascone:{id}"));
        planned.push((license_id, code, limitation_id, value, key));
    }
    let now = state.now();
    let mut answers = Vec::new();
    for (license_id, code, limitation_id, value, key) in planned {
        let outcome = state
            .store
            .consume_feature(
                LicenseRef::Id(license_id),
                &code,
                value,
                key,
                event(&caller, "slascone.consumption"),
                now,
            )
            .await
            .map_err(SlError::from_store)?;
        let features = state
            .store
            .license_features(license_id)
            .await
            .map_err(SlError::from_store)?;
        let feature = features
            .iter()
            .find(|f| f.definition.spec.code == code)
            .ok_or(SlError::Internal)?;
        answers.push(dto(feature, &limitation_id, Some(outcome.event.id), now));
    }
    json_ok(&answers)
}

/// POST /data_gathering/consumption_heartbeats/rollback: a list of transaction ids (GUIDs), bare
/// or as `{"transaction_ids": [...]}`. Unknown ids are 6019 ("This limitation does not exist":
/// there is no consumption of a limitation under that id).
pub async fn rollback(State(state): State<AppState>, Call(caller, value): WriteCall<Value>) -> SlResult<Response> {
    let list = match &value {
        Value::Array(items) => items.clone(),
        Value::Object(map) => match map.get("transaction_ids") {
            Some(Value::Array(items)) => items.clone(),
            _ => return Err(SlError::BadRequest("transaction_ids must be a list".into())),
        },
        _ => return Err(SlError::BadRequest("expected a list of transaction ids".into())),
    };
    let mut ids = Vec::new();
    for item in &list {
        let id = item
            .as_str()
            .and_then(guid_id)
            .ok_or(SlError::Conflict(Conflict::LimitationDoesNotExist))?;
        ids.push(id);
    }
    if ids.is_empty() {
        return Err(SlError::BadRequest("no transaction ids".into()));
    }
    for id in ids {
        let scope = caller.credential.product_id;
        state
            .store
            .rollback_consumption(id, scope, event(&caller, "slascone.consumption_rollback"), state.now())
            .await
            .map_err(SlError::not_found_as(Conflict::LimitationDoesNotExist))?;
    }
    Ok(text_ok("The consumption transactions were rolled back."))
}
