//! Outbound webhook endpoints (`/v1/webhooks`): where events of the subscribed event-log types
//! are delivered, signed in the Standard Webhooks form with the endpoint's secret. The secret
//! (`whsec_` + base64 of 32 random bytes) is generated here, shown once in the creation answer
//! and stored sealed.

use super::{PageQuery, Paged};
use crate::error::{ApiError, ErrorBody, ForResource, no_content, ok_json};
use crate::http::Admin;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::validate::optional_text;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use licensd_domain::webhooks::{
    MAX_DESCRIPTION_BYTES, SECRET_BYTES, SECRET_PREFIX, WebhookEndpoint, WebhookError, check_event_types, check_url,
};
use licensd_store::{Delivery, NewWebhookEndpoint, WebhookEndpointPatch};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// An absolute http(s) URL. Private, loopback and link-local targets are refused at delivery
    /// unless the server runs with `--allow-private-webhooks`.
    pub url: String,
    /// Event-log types to deliver (see `GET /v1/events`), or `"*"` for every type.
    pub event_types: Vec<String>,
    pub description: Option<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A new endpoint with its signing secret. The secret is shown only here, once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    pub webhook: WebhookEndpoint,
    /// `whsec_` followed by the base64 of the HMAC key (Standard Webhooks).
    pub secret: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

fn unprocessable(error: WebhookError) -> ApiError {
    ApiError::unprocessable(error.to_string())
}

/// A fresh Standard Webhooks secret.
fn new_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; SECRET_BYTES];
    licensd_crypto::random_bytes(&mut bytes).map_err(|_| ApiError::internal())?;
    Ok(format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhook, responses((status = 201, body = CreatedWebhook), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_webhook(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    check_url(&body.url).map_err(unprocessable)?;
    check_event_types(&body.event_types).map_err(unprocessable)?;
    optional_text("description", &body.description, MAX_DESCRIPTION_BYTES)?;
    let secret = new_secret()?;
    let new = NewWebhookEndpoint {
        url: body.url,
        description: body.description,
        event_types: body.event_types,
        enabled: body.enabled,
        secret: secret.clone(),
    };
    let webhook = state
        .store
        .webhook_create(
            new,
            admin.event("webhook_endpoint.created", "webhook_endpoint"),
            state.now(),
        )
        .await
        .for_resource("webhook")?;
    Ok((StatusCode::CREATED, Json(CreatedWebhook { webhook, secret })))
}

#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", responses((status = 200, body = Vec<WebhookEndpoint>)), security(("bearer" = [])))]
pub async fn list_webhooks(
    _admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<WebhookEndpoint>>, ApiError> {
    Ok(Json(state.store.webhook_list().await?))
}

#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)), responses((status = 200, body = WebhookEndpoint), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_webhook(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    ok_json("webhook", state.store.webhook_get(id)).await
}

#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)), request_body = UpdateWebhook, responses((status = 200, body = WebhookEndpoint), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_webhook(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    if let Some(url) = &body.url {
        check_url(url).map_err(unprocessable)?;
    }
    if let Some(types) = &body.event_types {
        check_event_types(types).map_err(unprocessable)?;
    }
    if let Some(description) = &body.description {
        optional_text("description", description, MAX_DESCRIPTION_BYTES)?;
    }
    let patch = WebhookEndpointPatch {
        url: body.url,
        description: body.description,
        event_types: body.event_types,
        enabled: body.enabled,
    };
    ok_json(
        "webhook",
        state.store.webhook_update(
            id,
            patch,
            admin.event("webhook_endpoint.updated", "webhook_endpoint"),
            state.now(),
        ),
    )
    .await
}

#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_webhook(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let event = admin.event("webhook_endpoint.deleted", "webhook_endpoint");
    no_content("webhook", state.store.webhook_delete(id, event, state.now())).await
}

/// One delivery to an endpoint: its state and what the receiver answered last.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookDeliveryView {
    /// Also the `webhook-id` header the receiver saw (stable across retries).
    pub id: i64,
    pub webhook_id: Option<i64>,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    /// The HTTP status of the last answer (none when the last attempt got none).
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    /// The start of the last answer's body (at most 4 KiB).
    pub response_excerpt: Option<String>,
    /// The event as sent (`{type, timestamp, data}`).
    pub body: serde_json::Value,
    pub created_at: licensd_domain::Millis,
    pub last_attempt_at: Option<licensd_domain::Millis>,
    pub next_attempt_at: licensd_domain::Millis,
    pub delivered_at: Option<licensd_domain::Millis>,
}

impl From<Delivery> for WebhookDeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            webhook_id: d.webhook_id,
            status: d.status.as_str().to_string(),
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            response_excerpt: d.response_excerpt,
            body: serde_json::from_str(&d.body).unwrap_or(serde_json::Value::String(d.body)),
            created_at: d.created_at,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
        }
    }
}

#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = i64, Path), PageQuery), responses((status = 200, body = Paged<WebhookDeliveryView>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_webhook_deliveries(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Paged<WebhookDeliveryView>>, ApiError> {
    let page = query.page()?;
    state.store.webhook_get(id).await.for_resource("webhook")?;
    let deliveries = state.store.outbox_list_for_webhook(id, page).await?;
    Ok(Json(Paged::new(
        deliveries.into_iter().map(WebhookDeliveryView::from).collect(),
        page.limit,
        |d| d.id,
    )))
}

#[utoipa::path(post, path = "/v1/webhooks/deliveries/{id}/redeliver", tag = "webhooks", params(("id" = i64, Path)), responses((status = 200, body = WebhookDeliveryView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn redeliver(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<WebhookDeliveryView>, ApiError> {
    let delivery = state
        .store
        .outbox_redeliver(id, state.now())
        .await
        .for_resource("webhook delivery")?;
    state.outbox_wake.notify_one();
    Ok(Json(delivery.into()))
}
