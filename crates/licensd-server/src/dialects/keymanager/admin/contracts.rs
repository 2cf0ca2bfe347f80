//! Contracts: license-key quotas handed to resellers.

use super::*;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContract {
    pub product_id: i64,
    pub name: String,
    pub information: Option<String>,
    /// The secret the contract holder authenticates with; generated when absent (shown once).
    pub contract_key: Option<String>,
    pub license_keys_quantity: i64,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default = "yes")]
    pub can_get_info: bool,
    #[serde(default = "yes")]
    pub can_generate: bool,
    #[serde(default)]
    pub can_destroy: bool,
    #[serde(default)]
    pub can_destroy_all: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContractView {
    #[schema(value_type = Object)]
    pub contract: licensd_domain::contract::Contract,
    pub contract_key: String,
    pub license_keys_count: i64,
}

fn contract_view(stored: licensd_store::StoredContract) -> ContractView {
    ContractView {
        contract: stored.contract,
        contract_key: stored.key,
        license_keys_count: stored.license_keys_count,
    }
}

#[utoipa::path(post, path = "/v1/keymanager/contracts", tag = "keymanager", request_body = CreateContract, responses((status = 201, body = ContractView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_contract(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateContract>,
) -> Result<(StatusCode, Json<ContractView>), ApiError> {
    crate::http::validate::require_text("name", &body.name, 255)?;
    crate::http::validate::optional_text("information", &body.information, 65_535)?;
    if body.license_keys_quantity < 1 {
        return Err(ApiError::unprocessable("license_keys_quantity must be at least 1"));
    }
    let key = match body.contract_key {
        Some(key) => {
            if key.trim().len() < 16 || key.len() > 255 {
                return Err(ApiError::unprocessable("contract_key must be 16 to 255 characters"));
            }
            key.trim().to_string()
        }
        None => licensd_crypto::random_token("").map_err(|_| ApiError::internal())?,
    };
    let fields = ContractFields {
        product_id: body.product_id,
        name: body.name,
        information: body.information,
        key,
        license_keys_quantity: body.license_keys_quantity,
        active: body.active,
        can_get_info: body.can_get_info,
        can_generate: body.can_generate,
        can_destroy: body.can_destroy,
        can_destroy_all: body.can_destroy_all,
    };
    let stored = state
        .store
        .create_contract(
            fields,
            admin.event("keymanager.contract.created", "contract"),
            state.now(),
        )
        .await
        .for_resource("product")?;
    Ok((StatusCode::CREATED, Json(contract_view(stored))))
}

#[utoipa::path(get, path = "/v1/keymanager/contracts", tag = "keymanager", responses((status = 200, body = Vec<ContractView>)), security(("bearer" = [])))]
pub async fn list_contracts(_admin: Admin, State(state): State<AppState>) -> Result<Json<Vec<ContractView>>, ApiError> {
    Ok(Json(
        state
            .store
            .list_contracts()
            .await?
            .into_iter()
            .map(contract_view)
            .collect(),
    ))
}

#[utoipa::path(delete, path = "/v1/keymanager/contracts/{id}", tag = "keymanager", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_contract(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let event = admin.event("keymanager.contract.deleted", "contract").subject(id);
    no_content("contract", state.store.delete_contract(id, event, state.now())).await
}
