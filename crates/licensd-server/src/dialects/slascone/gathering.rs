//! Data gathering: analytical heartbeats (typed custom values) and usage heartbeats (counts per
//! usage feature and module, by id or by name), recorded per license and client; plus the
//! AdminKey paths that define analytical fields, usage features and usage modules of a product
//! (licensd's choice of path, SLASCONE's conflicts: 6015, 6010, 6011 for duplicates).
//!
//! The client names no product: a report belongs to the license of the client (an active token,
//! or the `token_key` given) whose product defines the field or feature. A heartbeat is checked as
//! a whole and recorded in one transaction, so a refused heartbeat records nothing.

use super::codes::Conflict;
use super::consumption::client_licenses;
use super::info::utc;
use super::lookup::known_product;
use super::wire::{AdminCall, AdminKey, Call, Caller, SlPath, WriteCall};

use super::wire::{SlError, SlResult, guid_id, id_guid, json_ok, parse_body, required, text_ok};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use licensd_domain::analytics::{self, AnalyticalFieldType, AnalyticsRejection, UsageFeature};
use licensd_domain::clock::parse_rfc3339;
use licensd_domain::*;
use licensd_store::StoreError;
use licensd_store::dialects::slascone::{AnalyticalReport, UsageReport};
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn rejection(rejection: AnalyticsRejection) -> SlError {
    match rejection {
        AnalyticsRejection::NotNumeric => Conflict::NumericFieldText.into(),
        AnalyticsRejection::NotBoolean => Conflict::BooleanFieldValue.into(),
        AnalyticsRejection::DuplicateField => Conflict::AnalyticalFieldRepeated.into(),
    }
}

/// A client's `timestamp_utc`, or now when absent; malformed is a technical 400.
pub fn instant(text: Option<&str>, now: Millis) -> SlResult<Millis> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(now),
        Some(text) => parse_rfc3339(text)
            .or_else(|| parse_rfc3339(&format!("{text}Z")))
            .ok_or_else(|| SlError::BadRequest(format!("timestamp_utc {text:?} is not an RFC 3339 instant"))),
    }
}

/// JSON scalars as the text SLASCONE clients send them (`42`, `true`, `"abc"`).
fn scalar_text(value: &Value) -> SlResult<String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        _ => Err(SlError::BadRequest(
            "analytical values must be strings, numbers or booleans".into(),
        )),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AnalyticalItem {
    pub analytical_field_id: Option<String>,
    pub value: Option<Value>,
    pub value_array: Option<Vec<Value>>,
    pub timestamp_utc: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AnalyticalHeartbeat {
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub token_key: Option<String>,
    pub analytical_heartbeat: Vec<AnalyticalItem>,
}

/// The licenses a heartbeat may report for, each with what its product defines (analytical
/// fields or usage features), and the one it reports for: both heartbeats look up the items they
/// report among these, and one heartbeat reports for one license.
struct Candidates<T> {
    per_license: Vec<(i64, Vec<T>)>,
    chosen: Option<i64>,
}

impl<T> Candidates<T> {
    /// Reads what each license's product defines with `defined` (from the product id).
    async fn load<F, Fut>(licenses: &[License], defined: F) -> SlResult<Self>
    where
        F: Fn(i64) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<T>, StoreError>>,
    {
        let mut per_license = Vec::with_capacity(licenses.len());
        for license in licenses {
            let items = defined(license.product_id.get()).await.map_err(SlError::from_store)?;
            per_license.push((license.id.get(), items));
        }
        Ok(Candidates {
            per_license,
            chosen: None,
        })
    }

    /// The first definition `matches` picks, whose license the heartbeat then reports for;
    /// `unknown` when no candidate defines it, or when it belongs to another license than the
    /// heartbeat's earlier items.
    fn find(&mut self, matches: impl Fn(&T) -> bool, unknown: Conflict) -> SlResult<&T> {
        let found = self
            .per_license
            .iter()
            .find_map(|(license, items)| items.iter().find(|item| matches(item)).map(|item| (*license, item)));
        let Some((owner, item)) = found else {
            return Err(unknown.into());
        };
        if self.chosen.is_some_and(|id| id != owner) {
            return Err(unknown.into());
        }
        self.chosen = Some(owner);
        Ok(item)
    }

    /// The license the heartbeat reports for; none when it reported no item.
    fn chosen(&self) -> Option<LicenseId> {
        self.chosen.map(LicenseId::new)
    }
}

/// POST /data_gathering/analytical_heartbeats
pub async fn analytical(
    State(state): State<AppState>,
    Call(caller, request): WriteCall<AnalyticalHeartbeat>,
) -> SlResult<Response> {
    let client = required(request.client_id.as_deref(), Conflict::MissingClientId)?;
    let licenses = client_licenses(&state, &caller, &client, request.token_key.as_deref()).await?;
    let now = state.now();
    // The fields every candidate license's product defines.
    let mut candidates = Candidates::load(&licenses, |product| {
        state.store.analytical_fields(ProductId::new(product))
    })
    .await?;
    let mut reports = Vec::new();
    for item in &request.analytical_heartbeat {
        let wanted = item.analytical_field_id.as_deref().and_then(guid_id);
        let field = candidates.find(|f| Some(f.id) == wanted, Conflict::UnknownAnalyticalField)?;
        let value = match (&item.value_array, &item.value) {
            (Some(array), _) => {
                let texts = array.iter().map(scalar_text).collect::<SlResult<Vec<_>>>()?;
                for text in &texts {
                    analytics::check_value(field.field_type, text).map_err(rejection)?;
                }
                serde_json::to_string(&texts).map_err(|_| SlError::Internal)?
            }
            (None, Some(value)) => {
                let text = scalar_text(value)?;
                analytics::check_value(field.field_type, &text).map_err(rejection)?;
                text
            }
            (None, None) => return Err(SlError::BadRequest("an analytical value is missing".into())),
        };
        reports.push(AnalyticalReport {
            field_id: field.id,
            value,
            reported_at: instant(item.timestamp_utc.as_deref(), now)?,
        });
    }
    let ids: Vec<i64> = reports.iter().map(|r| r.field_id).collect();
    analytics::check_unique_fields(&ids).map_err(rejection)?;
    if let Some(license_id) = candidates.chosen() {
        state
            .store
            .record_analytics(license_id, &client, reports, now)
            .await
            .map_err(SlError::from_store)?;
    }
    Ok(text_ok("The analytical heartbeat was recorded."))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UsageItem {
    pub usage_feature_id: Option<String>,
    pub usage_module_id: Option<String>,
    pub usage_feature_name: Option<String>,
    pub usage_module_name: Option<String>,
    pub timestamp_utc: Option<String>,
    pub value: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UsageHeartbeat {
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub token_key: Option<String>,
    pub usage_heartbeat: Vec<UsageItem>,
}

/// How a usage heartbeat names features and modules.
#[derive(Clone, Copy)]
enum NamedBy {
    Id,
    Name,
}

/// POST /data_gathering/usage_heartbeats
pub async fn usage_by_id(
    State(state): State<AppState>,
    Call(caller, request): WriteCall<UsageHeartbeat>,
) -> SlResult<Response> {
    usage(&state, caller, request, NamedBy::Id).await
}

/// POST /data_gathering/usage_heartbeats_by_name
pub async fn usage_by_name(
    State(state): State<AppState>,
    Call(caller, request): WriteCall<UsageHeartbeat>,
) -> SlResult<Response> {
    usage(&state, caller, request, NamedBy::Name).await
}

async fn usage(state: &AppState, caller: Caller, request: UsageHeartbeat, named_by: NamedBy) -> SlResult<Response> {
    let client = required(request.client_id.as_deref(), Conflict::MissingClientId)?;
    let licenses = client_licenses(state, &caller, &client, request.token_key.as_deref()).await?;
    let now = state.now();
    let mut candidates =
        Candidates::load(&licenses, |product| state.store.usage_features(ProductId::new(product))).await?;
    let mut reports = Vec::new();
    for item in &request.usage_heartbeat {
        let matches = |feature: &UsageFeature| match named_by {
            NamedBy::Id => item.usage_feature_id.as_deref().and_then(guid_id) == Some(feature.id),
            NamedBy::Name => item.usage_feature_name.as_deref().map(str::trim) == Some(feature.name.as_str()),
        };
        let feature = candidates.find(matches, Conflict::UnknownUsageFeature)?;
        let module_wanted = match named_by {
            NamedBy::Id => item.usage_module_id.as_deref().map(str::trim).filter(|t| !t.is_empty()),
            NamedBy::Name => item
                .usage_module_name
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty()),
        };
        let usage_module_id = match module_wanted {
            None => None,
            Some(wanted) => {
                let modules = state
                    .store
                    .usage_modules(feature.id)
                    .await
                    .map_err(SlError::from_store)?;
                let module = modules.iter().find(|m| match named_by {
                    NamedBy::Id => guid_id(wanted) == Some(m.id),
                    NamedBy::Name => m.name == wanted,
                });
                Some(module.ok_or(SlError::Conflict(Conflict::UnknownUsageModule))?.id)
            }
        };
        let value = match item.value {
            None => 1,
            Some(value) if value >= 0.0 && value.fract() == 0.0 && value <= i64::MAX as f64 => value as i64,
            Some(value) => {
                return Err(SlError::BadRequest(format!("usage value {value} is not a count")));
            }
        };
        reports.push(UsageReport {
            usage_feature_id: feature.id,
            usage_module_id,
            value,
            reported_at: instant(item.timestamp_utc.as_deref(), now)?,
        });
    }
    if let Some(license_id) = candidates.chosen() {
        state
            .store
            .record_usage(license_id, &client, reports, now)
            .await
            .map_err(SlError::from_store)?;
    }
    Ok(text_ok("The usage heartbeat was recorded."))
}

// --- AdminKey: definitions ---

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DefinitionRequest {
    pub name: Option<String>,
    /// Analytical fields: `numeric`, `alphanumeric` or `boolean`.
    #[serde(rename = "type")]
    pub field_type: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DefinitionView {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", rename = "type")]
    pub field_type: Option<&'static str>,
    pub created_date_utc: String,
}

fn name_of(request: &DefinitionRequest) -> SlResult<String> {
    match request.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() && name.len() <= 256 => Ok(name.to_owned()),
        _ => Err(SlError::BadRequest("name must be 1 to 256 characters".into())),
    }
}

/// POST /products/{product_id}/analytical_fields (AdminKey)
pub async fn create_analytical_field(
    State(state): State<AppState>,
    SlPath((_isv_id, code)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let product = known_product(&state, &code).await?;
    let request: DefinitionRequest = parse_body(&body)?;
    let name = name_of(&request)?;
    let field_type = request
        .field_type
        .as_deref()
        .and_then(AnalyticalFieldType::parse)
        .ok_or_else(|| SlError::BadRequest("type must be numeric, alphanumeric or boolean".into()))?;
    let event = EventDraft::new(actor, "slascone.analytical_field_created", "product");
    let field = state
        .store
        .create_analytical_field(product.id, &name, field_type, event, state.now())
        .await
        .map_err(SlError::exists_as(Conflict::AnalyticalFieldExists))?;
    json_ok(&DefinitionView {
        id: id_guid(field.id),
        name: field.name,
        field_type: Some(field.field_type.as_str()),
        created_date_utc: utc(field.created_at),
    })
}

/// POST /products/{product_id}/usage_features (AdminKey)
pub async fn create_usage_feature(
    State(state): State<AppState>,
    SlPath((_isv_id, code)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let product = known_product(&state, &code).await?;
    let request: DefinitionRequest = parse_body(&body)?;
    let name = name_of(&request)?;
    let event = EventDraft::new(actor, "slascone.usage_feature_created", "product");
    let feature = state
        .store
        .create_usage_feature(product.id, &name, event, state.now())
        .await
        .map_err(SlError::exists_as(Conflict::UsageFeatureExists))?;
    json_ok(&DefinitionView {
        id: id_guid(feature.id),
        name: feature.name,
        field_type: None,
        created_date_utc: utc(feature.created_at),
    })
}

/// POST /products/{product_id}/usage_features/{usage_feature_id}/usage_modules (AdminKey)
pub async fn create_usage_module(
    State(state): State<AppState>,
    SlPath((_isv_id, code, feature_guid)): SlPath<(String, String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let product = known_product(&state, &code).await?;
    let features = state
        .store
        .usage_features(product.id)
        .await
        .map_err(SlError::from_store)?;
    let feature = features
        .iter()
        .find(|f| guid_id(&feature_guid) == Some(f.id))
        .ok_or(SlError::Conflict(Conflict::UnknownUsageFeature))?;
    let request: DefinitionRequest = parse_body(&body)?;
    let name = name_of(&request)?;
    let event = EventDraft::new(actor, "slascone.usage_module_created", "product");
    let module = state
        .store
        .create_usage_module(feature.id, &name, event, state.now())
        .await
        .map_err(SlError::exists_as(Conflict::UsageModuleExists))?;
    json_ok(&DefinitionView {
        id: id_guid(module.id),
        name: module.name,
        field_type: None,
        created_date_utc: utc(module.created_at),
    })
}

#[derive(Debug, Serialize)]
pub struct UsageTotalView {
    pub usage_feature_id: String,
    pub usage_module_id: Option<String>,
    pub total: i64,
}

/// GET /licenses/{license_id}/usage (AdminKey): summed usage of a license.
pub async fn usage_totals(
    State(state): State<AppState>,
    SlPath((_isv_id, license_guid)): SlPath<(String, String)>,
    _admin: AdminKey,
) -> SlResult<Response> {
    let id = guid_id(&license_guid).ok_or(SlError::Conflict(Conflict::InvalidLicenseKey))?;
    let totals = state
        .store
        .usage_totals(LicenseId::new(id))
        .await
        .map_err(SlError::from_store)?;
    let views: Vec<UsageTotalView> = totals
        .into_iter()
        .map(|t| UsageTotalView {
            usage_feature_id: id_guid(t.usage_feature_id),
            usage_module_id: t.usage_module_id.map(id_guid),
            total: t.total,
        })
        .collect();
    json_ok(&views)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_reports_for_the_license_of_its_first_item() {
        let mut candidates = Candidates {
            per_license: vec![(1, vec![10, 11]), (2, vec![20, 11])],
            chosen: None,
        };
        let unknown = Conflict::UnknownUsageFeature;
        assert_eq!(candidates.chosen(), None);
        // The first license that defines the item wins, and the heartbeat is then that license's.
        assert_eq!(candidates.find(|item| *item == 11, unknown), Ok(&11));
        assert_eq!(candidates.chosen(), Some(LicenseId::new(1)));
        assert_eq!(candidates.find(|item| *item == 10, unknown), Ok(&10));
        // Defined only by another license, or by none: the dialect's "unknown".
        assert_eq!(candidates.find(|item| *item == 20, unknown), Err(unknown.into()));
        assert_eq!(candidates.find(|item| *item == 99, unknown), Err(unknown.into()));
        assert_eq!(candidates.chosen(), Some(LicenseId::new(1)));
    }
}
