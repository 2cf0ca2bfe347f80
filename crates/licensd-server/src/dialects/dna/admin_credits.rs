//! Native `/v1/dna/products/{id}/credit-pools`: how a vendor funds DNA's credit pools per buyer
//! e-mail (`Target: EMAIL`), as its eCommerce connector or a manual allocation would. A pool credit
//! is (product, buyer e-mail, credit name) → balance; every License Code of the product whose
//! activation e-mail is that address uses it. `PUT` sets a balance, `POST …/add` replenishes one;
//! the limits (at most 5 credit names per e-mail, balances 0…10^12) are the domain's
//! `dna_credits::plan_funding`.

use crate::error::{ApiError, ErrorBody, ForResource};
use crate::http::Admin;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::validate::require_text;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use licensd_domain::ProductId;
use licensd_domain::dna_credits::Funding;
use licensd_store::StoreError;
use licensd_store::dialects::dna_credits::CreditPool;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/dna/products/{id}/credit-pools",
            get(list_credit_pools).put(set_credit_pool),
        )
        .route("/v1/dna/products/{id}/credit-pools/add", post(add_to_credit_pool))
}

#[derive(OpenApi)]
#[openapi(
    paths(list_credit_pools, set_credit_pool, add_to_credit_pool),
    components(schemas(CreditPoolView, FundCreditPool))
)]
struct DnaCreditsDoc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    DnaCreditsDoc::openapi()
}

/// One credit of a buyer e-mail's pool.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreditPoolView {
    pub product_id: i64,
    /// The buyer e-mail (kept trimmed and lowercased; codes match it without case).
    pub email: String,
    /// The credit name DNA clients send as `Name`.
    pub name: String,
    /// Credits left (DNA's `Count`).
    pub count: i64,
    /// Credits used over the pool's life.
    pub consumed: i64,
    /// Milliseconds since the Unix epoch.
    pub updated_at: i64,
}

impl From<CreditPool> for CreditPoolView {
    fn from(p: CreditPool) -> Self {
        Self {
            product_id: p.product_id.get(),
            email: p.email,
            name: p.name,
            count: p.balance,
            consumed: p.consumed,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CreditPoolQuery {
    /// Only the pools of this buyer e-mail.
    pub email: Option<String>,
}

/// A pool credit to fund: `count` is the new balance (`PUT`) or the credits to add (`POST …/add`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundCreditPool {
    /// The buyer e-mail (at most 254 bytes).
    #[schema(max_length = 254)]
    pub email: String,
    /// The credit name (1 to 128 bytes, no control characters).
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    /// The balance (`PUT`) or the credits to add (`POST …/add`); the balance stays within
    /// 0…10^12 (`dna_credits::MAX_POOL_BALANCE`).
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    pub count: i64,
}

/// The longest credit name, as the DNA consume call accepts it.
const MAX_NAME_BYTES: usize = 128;

fn check_email(email: &str) -> Result<(), ApiError> {
    require_text("email", email, 254)?;
    if !email.contains('@') || email.chars().any(char::is_whitespace) {
        return Err(ApiError::unprocessable("email must be an email address"));
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/dna/products/{id}/credit-pools", tag = "dna", params(("id" = i64, Path), CreditPoolQuery), responses((status = 200, body = [CreditPoolView]), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_credit_pools(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
    ApiQuery(query): ApiQuery<CreditPoolQuery>,
) -> Result<Json<Vec<CreditPoolView>>, ApiError> {
    if let Some(email) = &query.email {
        check_email(email)?;
    }
    let pools = state
        .store
        .credit_pools(id, query.email.as_deref())
        .await
        .for_resource("product")?;
    Ok(Json(pools.into_iter().map(CreditPoolView::from).collect()))
}

async fn fund(
    admin: &Admin,
    state: &AppState,
    product_id: ProductId,
    body: FundCreditPool,
    funding: Funding,
    action: &str,
) -> Result<Json<CreditPoolView>, ApiError> {
    check_email(&body.email)?;
    require_text("name", &body.name, MAX_NAME_BYTES)?;
    if body.name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable("name must not contain control characters"));
    }
    let event = admin.event(action, "product").subject(product_id);
    let pool = state
        .store
        .fund_credit_pool(product_id, &body.email, &body.name, funding, event, state.now())
        .await
        .map_err(|e| match e {
            StoreError::InvalidInput(message) => ApiError::unprocessable(message),
            other => ApiError::from_store(other, "product"),
        })?;
    Ok(Json(pool.into()))
}

/// Sets the balance of a buyer e-mail's pool credit (creating it).
#[utoipa::path(put, path = "/v1/dna/products/{id}/credit-pools", tag = "dna", params(("id" = i64, Path)), request_body = FundCreditPool, responses((status = 200, body = CreditPoolView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_credit_pool(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<FundCreditPool>,
) -> Result<Json<CreditPoolView>, ApiError> {
    let funding = Funding::Set(body.count);
    fund(&admin, &state, id, body, funding, "dna.credit_pool_set").await
}

/// Adds credits to a buyer e-mail's pool credit (creating it): a replenishment.
#[utoipa::path(post, path = "/v1/dna/products/{id}/credit-pools/add", tag = "dna", params(("id" = i64, Path)), request_body = FundCreditPool, responses((status = 200, body = CreditPoolView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn add_to_credit_pool(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(body): ApiJson<FundCreditPool>,
) -> Result<Json<CreditPoolView>, ApiError> {
    let funding = Funding::Add(body.count);
    fund(&admin, &state, id, body, funding, "dna.credit_pool_add").await
}
