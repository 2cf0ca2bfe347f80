//! Client credentials per dialect, admin tokens, published signing keys and the event log.

use super::{PageQuery, Paged};
use crate::error::{ApiError, ErrorBody, ForResource, ok_json};
use crate::http::Admin;
use crate::http::credentials::{check_product_scope, new_key_id_and_secret};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::validate::{check_ip_rules, require_instant, require_text};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use licensd_crypto::Algorithm;
use licensd_domain::*;
use licensd_store::{AdminToken, EventFilter, NewAdminToken, NewCredential};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    pub dialect: Dialect,
    pub name: String,
    /// Limit the credential to one product.
    pub product_id: Option<i64>,
    #[serde(default)]
    pub read_only: bool,
    /// Addresses or CIDR ranges the credential may be used from; empty allows any.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
}

/// A new credential with its secret. The secret is shown only here, once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedCredential {
    pub credential: Credential,
    pub secret: String,
}

#[utoipa::path(post, path = "/v1/credentials", tag = "credentials", request_body = CreateCredential, responses((status = 201, body = CreatedCredential), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_credential(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateCredential>,
) -> Result<(StatusCode, Json<CreatedCredential>), ApiError> {
    require_text("name", &body.name, 256)?;
    let ip_allowlist = check_ip_rules(&body.ip_allowlist)?;
    check_product_scope(&state, body.product_id.map(ProductId::new)).await?;
    let (key_id, secret) = new_key_id_and_secret()?;
    let new = NewCredential {
        dialect: body.dialect,
        name: body.name,
        key_id,
        secret: secret.clone(),
        product_id: body.product_id.map(ProductId::new),
        read_only: body.read_only,
        ip_allowlist,
    };
    let credential = state
        .store
        .create_credential(new, admin.event("credential.created", "credential"), state.now())
        .await
        .for_resource("credential")?;
    Ok((StatusCode::CREATED, Json(CreatedCredential { credential, secret })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CredentialQuery {
    pub dialect: Option<Dialect>,
}

#[utoipa::path(get, path = "/v1/credentials", tag = "credentials", params(CredentialQuery), responses((status = 200, body = Vec<Credential>)), security(("bearer" = [])))]
pub async fn list_credentials(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<CredentialQuery>,
) -> Result<Json<Vec<Credential>>, ApiError> {
    Ok(Json(state.store.list_credentials(query.dialect).await?))
}

#[utoipa::path(post, path = "/v1/credentials/{id}/revoke", tag = "credentials", params(("id" = i64, Path)), responses((status = 200, body = Credential), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn revoke_credential(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Credential>, ApiError> {
    let event = admin.event("credential.revoked", "credential").subject(id);
    ok_json("credential", state.store.revoke_credential(id, event, state.now())).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAdminToken {
    pub name: String,
    /// A read-only token reads everything (API and console) and changes nothing.
    #[serde(default)]
    pub read_only: bool,
    /// The instant (milliseconds since the epoch) from which the token no longer works (401);
    /// absent never expires. Must be in the future.
    pub expires_at: Option<Millis>,
    /// Addresses or CIDR ranges the token may be used from (403 `ip_not_allowed` from any
    /// other); empty allows any.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminTokenView {
    pub id: i64,
    pub name: String,
    pub read_only: bool,
    /// Milliseconds since the epoch; `null` never expires.
    pub expires_at: Option<Millis>,
    /// Addresses or CIDR ranges it may be used from; empty allows any.
    #[schema(value_type = Vec<String>)]
    pub ip_allowlist: Vec<access::IpRule>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

impl From<AdminToken> for AdminTokenView {
    fn from(token: AdminToken) -> Self {
        Self {
            id: token.id,
            name: token.name,
            read_only: token.read_only,
            expires_at: token.expires_at,
            ip_allowlist: token.ip_allowlist,
            created_at: token.created_at,
            revoked_at: token.revoked_at,
        }
    }
}

/// A new admin token with its secret, shown only here, once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedAdminToken {
    pub token: AdminTokenView,
    pub secret: String,
}

#[utoipa::path(post, path = "/v1/admin-tokens", tag = "admin-tokens", request_body = CreateAdminToken, responses((status = 201, body = CreatedAdminToken), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_admin_token(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateAdminToken>,
) -> Result<(StatusCode, Json<CreatedAdminToken>), ApiError> {
    require_text("name", &body.name, 256)?;
    require_instant("expires_at", body.expires_at)?;
    let now = state.now();
    if body.expires_at.is_some_and(|expires_at| expires_at <= now) {
        return Err(ApiError::unprocessable("expires_at must be in the future"));
    }
    let ip_allowlist = check_ip_rules(&body.ip_allowlist)?;
    let secret = licensd_crypto::random_token("lsd_").map_err(|_| ApiError::internal())?;
    // The event carries the token's limits, so the log shows what each token was allowed.
    let event = admin
        .event("admin_token.created", "admin_token")
        .data(serde_json::json!({
            "name": body.name,
            "read_only": body.read_only,
            "expires_at": body.expires_at,
            "ip_allowlist": ip_allowlist,
        }));
    let new = NewAdminToken {
        name: body.name,
        read_only: body.read_only,
        expires_at: body.expires_at,
        ip_allowlist,
    };
    let token = state.store.create_scoped_admin_token(new, &secret, event, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedAdminToken {
            token: token.into(),
            secret,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/admin-tokens", tag = "admin-tokens", responses((status = 200, body = Vec<AdminTokenView>)), security(("bearer" = [])))]
pub async fn list_admin_tokens(
    _admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<AdminTokenView>>, ApiError> {
    Ok(Json(
        state
            .store
            .list_admin_tokens()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/admin-tokens/{id}/revoke", tag = "admin-tokens", params(("id" = i64, Path)), responses((status = 200, body = AdminTokenView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn revoke_admin_token(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AdminTokenView>, ApiError> {
    let event = admin.event("admin_token.revoked", "admin_token").subject(id);
    Ok(Json(
        state
            .store
            .revoke_admin_token(id, event, state.now())
            .await
            .for_resource("admin token")?
            .into(),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SigningKeyView {
    pub kid: String,
    pub algorithm: String,
    pub active: bool,
    pub created_at: Millis,
    pub retired_at: Option<Millis>,
    /// SubjectPublicKeyInfo PEM.
    pub pem: String,
    #[schema(value_type = Object)]
    pub jwk: serde_json::Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SigningKeys {
    pub keys: Vec<SigningKeyView>,
}

/// Public keys clients verify signatures with; retired keys stay listed so older signatures verify.
#[utoipa::path(get, path = "/v1/signing-keys", tag = "signing-keys", responses((status = 200, body = SigningKeys)))]
pub async fn list_signing_keys(State(state): State<AppState>) -> Json<SigningKeys> {
    let keys = state
        .keys
        .published()
        .into_iter()
        .map(|key| SigningKeyView {
            kid: key.public.kid.clone(),
            algorithm: key.public.algorithm.as_str().to_string(),
            active: key.active,
            created_at: key.created_at,
            retired_at: key.retired_at,
            pem: key.public.to_pem(),
            jwk: key.public.to_jwk(),
        })
        .collect();
    Json(SigningKeys { keys })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// `Ed25519`, or `RSA` for the configured RSA size.
    pub algorithm: String,
}

#[utoipa::path(post, path = "/v1/signing-keys/rotate", tag = "signing-keys", request_body = RotateKey, responses((status = 200, body = SigningKeys)), security(("bearer" = [])))]
pub async fn rotate_signing_key(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RotateKey>,
) -> Result<Json<SigningKeys>, ApiError> {
    let algorithm = match body.algorithm.to_ascii_lowercase().as_str() {
        "ed25519" => Algorithm::Ed25519,
        "rsa" | "rsa-2048" | "rsa-4096" => Algorithm::Rsa2048,
        _ => return Err(ApiError::unprocessable("algorithm must be Ed25519 or RSA")),
    };
    let event = admin
        .event("signing_key.rotated", "signing_key")
        .data(serde_json::json!({"algorithm": body.algorithm}));
    state
        .keys
        .rotate(state.store.as_ref(), algorithm, event, state.now())
        .await
        .map_err(|error| {
            tracing::error!(%error, "key rotation failed");
            ApiError::internal()
        })?;
    Ok(list_signing_keys(State(state)).await)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    pub subject_type: Option<String>,
    pub subject_id: Option<i64>,
    pub action: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventQuery), responses((status = 200, body = Paged<Event>)), security(("bearer" = [])))]
pub async fn list_events(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> Result<Json<Paged<Event>>, ApiError> {
    let page = PageQuery::of(query.after, query.limit)?;
    let filter = EventFilter {
        subject_type: query.subject_type,
        subject_id: query.subject_id,
        action: query.action,
    };
    Ok(Json(Paged::new(
        state.store.list_events(filter, page).await?,
        page.limit,
        |e| e.id,
    )))
}
