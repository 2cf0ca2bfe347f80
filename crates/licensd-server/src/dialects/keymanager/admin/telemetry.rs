//! Reading the telemetry shipped applications sent.

use super::*;
use licensd_domain::ProductId;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TelemetryQuery {
    pub license_key: Option<String>,
    pub user_identifier: Option<String>,
    pub has_red_flags: Option<bool>,
    pub product_id: Option<i64>,
    /// 1 to 1000; default 100.
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/keymanager/telemetry", tag = "keymanager", params(TelemetryQuery), responses((status = 200, body = Vec<TelemetryRecord>)), security(("bearer" = [])))]
pub async fn list_telemetry(
    _admin: Admin,
    State(state): State<AppState>,
    crate::http::extract::ApiQuery(query): crate::http::extract::ApiQuery<TelemetryQuery>,
) -> Result<Json<Vec<TelemetryRecord>>, ApiError> {
    let filter = TelemetryFilter {
        license_key: query.license_key,
        user_identifier: query.user_identifier,
        has_red_flags: query.has_red_flags,
        product_id: query.product_id.map(ProductId::new),
    };
    Ok(Json(
        state.store.list_telemetry(filter, query.limit.unwrap_or(100)).await?,
    ))
}
