//! Customers and license users (the people user-based licenses are assigned to).

use super::{PageQuery, Paged};
use crate::error::{ApiError, ErrorBody, ForResource, created, no_content, ok_json};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::validate::{metadata_or_empty, optional_text, require_text};
use crate::http::{Admin, lookup};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use licensd_domain::*;
use licensd_store::{NewCustomer, NewLicenseUser};
use serde::Deserialize;

fn check_email(email: &str) -> Result<(), ApiError> {
    require_text("email", email, contact::MAX_EMAIL_LEN)?;
    if contact::is_plausible_email(email) {
        Ok(())
    } else {
        Err(ApiError::unprocessable("email is not a valid address"))
    }
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(ApiError::unprocessable("password must be 8 to 1024 characters"));
    }
    Ok(())
}

/// argon2id costs ~25 ms of CPU: run it off the async workers (`http::password`).
async fn hash_password(password: String) -> Result<String, ApiError> {
    crate::http::password::hash(password)
        .await
        .map_err(|_| ApiError::internal())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    pub email: Option<String>,
    pub name: Option<String>,
    pub company: Option<String>,
    /// Your own reference (CRM id, customer number).
    pub reference: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

#[utoipa::path(post, path = "/v1/customers", tag = "customers", request_body = CreateCustomer, responses((status = 201, body = Customer), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_customer(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateCustomer>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    if let Some(email) = &body.email {
        check_email(email)?;
    }
    optional_text("name", &body.name, 256)?;
    optional_text("company", &body.company, 256)?;
    optional_text("reference", &body.reference, 256)?;
    if body.email.is_none() && body.name.is_none() && body.company.is_none() && body.reference.is_none() {
        return Err(ApiError::unprocessable(
            "a customer needs at least one of email, name, company or reference",
        ));
    }
    let new = NewCustomer {
        email: body.email,
        name: body.name,
        company: body.company,
        reference: body.reference,
        metadata: metadata_or_empty(body.metadata)?,
    };
    let event = admin.event("customer.created", "customer");
    created("customer", state.store.create_customer(new, event, state.now())).await
}

#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(PageQuery), responses((status = 200, body = Paged<Customer>)), security(("bearer" = [])))]
pub async fn list_customers(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Paged<Customer>>, ApiError> {
    let page = query.page()?;
    Ok(Json(Paged::new(
        state.store.list_customers(page).await?,
        page.limit,
        |c| c.id.get(),
    )))
}

#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)), responses((status = 200, body = Customer), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_customer(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<CustomerId>,
) -> Result<Json<Customer>, ApiError> {
    ok_json("customer", state.store.get_customer(id)).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub reference: Option<Option<String>>,
    pub metadata: Option<serde_json::Value>,
}

#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)), request_body = UpdateCustomer, responses((status = 200, body = Customer)), security(("bearer" = [])))]
pub async fn update_customer(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<CustomerId>,
    ApiJson(body): ApiJson<UpdateCustomer>,
) -> Result<Json<Customer>, ApiError> {
    let mut customer = state.store.get_customer(id).await.for_resource("customer")?;
    if let Some(email) = body.email {
        if let Some(email) = &email {
            check_email(email)?;
        }
        customer.email = email;
    }
    if let Some(name) = body.name {
        optional_text("name", &name, 256)?;
        customer.name = name;
    }
    if let Some(company) = body.company {
        optional_text("company", &company, 256)?;
        customer.company = company;
    }
    if let Some(reference) = body.reference {
        optional_text("reference", &reference, 256)?;
        customer.reference = reference;
    }
    if body.metadata.is_some() {
        customer.metadata = metadata_or_empty(body.metadata)?;
    }
    let event = admin.event("customer.updated", "customer").subject(id);
    ok_json("customer", state.store.update_customer(customer, event, state.now())).await
}

#[utoipa::path(delete, path = "/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)), responses((status = 204), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_customer(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<CustomerId>,
) -> Result<StatusCode, ApiError> {
    let event = admin.event("customer.deleted", "customer").subject(id);
    let write = state.store.delete_customer(id, event, state.now());
    no_content("customer", write).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLicenseUser {
    pub email: String,
    pub customer_id: Option<i64>,
    pub name: Option<String>,
    /// Stored only as an argon2id hash.
    pub password: Option<String>,
}

#[utoipa::path(post, path = "/v1/license-users", tag = "license-users", request_body = CreateLicenseUser, responses((status = 201, body = LicenseUser), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_license_user(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateLicenseUser>,
) -> Result<(StatusCode, Json<LicenseUser>), ApiError> {
    check_email(&body.email)?;
    optional_text("name", &body.name, 256)?;
    if let Some(customer_id) = body.customer_id {
        state
            .store
            .get_customer(CustomerId::new(customer_id))
            .await
            .for_resource("customer")?;
    }
    let password_hash = match body.password {
        Some(password) => {
            check_password(&password)?;
            Some(hash_password(password).await?)
        }
        None => None,
    };
    let new = NewLicenseUser {
        customer_id: body.customer_id.map(CustomerId::new),
        email: body.email,
        name: body.name,
        password_hash,
    };
    let event = admin.event("license_user.created", "license_user");
    created("license user", state.store.create_license_user(new, event, state.now())).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LicenseUserQuery {
    pub customer_id: Option<i64>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/license-users", tag = "license-users", params(LicenseUserQuery), responses((status = 200, body = Paged<LicenseUser>)), security(("bearer" = [])))]
pub async fn list_license_users(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<LicenseUserQuery>,
) -> Result<Json<Paged<LicenseUser>>, ApiError> {
    let page = PageQuery::of(query.after, query.limit)?;
    Ok(Json(Paged::new(
        state
            .store
            .list_license_users(query.customer_id.map(CustomerId::new), page)
            .await?,
        page.limit,
        |u| u.id,
    )))
}

#[utoipa::path(get, path = "/v1/license-users/{id}", tag = "license-users", params(("id" = i64, Path)), responses((status = 200, body = LicenseUser), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_license_user(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<LicenseUser>, ApiError> {
    ok_json("license user", state.store.get_license_user(id)).await
}

#[utoipa::path(delete, path = "/v1/license-users/{id}", tag = "license-users", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_license_user(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let event = admin.event("license_user.deleted", "license_user").subject(id);
    no_content("license user", state.store.delete_license_user(id, event, state.now())).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    pub password: String,
}

#[utoipa::path(post, path = "/v1/license-users/{id}/password", tag = "license-users", params(("id" = i64, Path)), request_body = SetPassword, responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_license_user_password(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SetPassword>,
) -> Result<StatusCode, ApiError> {
    check_password(&body.password)?;
    state.store.get_license_user(id).await.for_resource("license user")?;
    let hash = hash_password(body.password).await?;
    let event = admin.event("license_user.password_set", "license_user").subject(id);
    let write = state.store.set_license_user_password(id, &hash, event, state.now());
    no_content("license user", write).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignUser {
    pub user_id: i64,
}

#[utoipa::path(post, path = "/v1/licenses/{id}/users", tag = "license-users", params(("id" = i64, Path)), request_body = AssignUser, responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn assign_user(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<AssignUser>,
) -> Result<StatusCode, ApiError> {
    lookup::license(&state, id).await?;
    state
        .store
        .get_license_user(body.user_id)
        .await
        .for_resource("license user")?;
    let event = admin
        .event("license.user_assigned", "license")
        .subject(id)
        .data(serde_json::json!({"user_id": body.user_id}));
    let write = state.store.assign_license_user(id, body.user_id, event, state.now());
    no_content("license", write).await
}

#[utoipa::path(delete, path = "/v1/licenses/{id}/users/{user_id}", tag = "license-users", params(("id" = i64, Path), ("user_id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn unassign_user(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath((id, user_id)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let event = admin
        .event("license.user_unassigned", "license")
        .subject(id)
        .data(serde_json::json!({"user_id": user_id}));
    let write = state
        .store
        .unassign_license_user(LicenseId::new(id), user_id, event, state.now());
    no_content("license user assignment", write).await
}

#[utoipa::path(get, path = "/v1/licenses/{id}/users", tag = "license-users", params(("id" = i64, Path)), responses((status = 200, body = Vec<LicenseUser>)), security(("bearer" = [])))]
pub async fn users_of_license(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<LicenseId>,
) -> Result<Json<Vec<LicenseUser>>, ApiError> {
    lookup::license(&state, id).await?;
    Ok(Json(state.store.users_of_license(id).await?))
}
