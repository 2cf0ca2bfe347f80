//! API keys with Key Manager capabilities, and the access block list.

use super::*;
use crate::http::credentials::{check_product_scope, new_key_id_and_secret};
use licensd_domain::ProductId;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Capabilities {
    /// Every capability (one per Key Manager endpoint).
    pub all: Vec<String>,
    /// What a key gets when none are given: the endpoints shipped applications call.
    pub client_default: Vec<String>,
}

#[utoipa::path(get, path = "/v1/keymanager/capabilities", tag = "keymanager", responses((status = 200, body = Capabilities)), security(("bearer" = [])))]
pub async fn list_capabilities(_admin: Admin) -> Json<Capabilities> {
    Json(Capabilities {
        all: ALL_CAPABILITIES.iter().map(|c| c.to_string()).collect(),
        client_default: CLIENT_CAPABILITIES.iter().map(|c| c.to_string()).collect(),
    })
}

/// Capability names as given, `all` standing for every capability; unknown names are refused.
fn capabilities(given: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let Some(given) = given else {
        return Ok(CLIENT_CAPABILITIES.iter().map(|c| c.to_string()).collect());
    };
    let mut out: Vec<String> = Vec::new();
    for name in given {
        if name == "all" {
            out.extend(ALL_CAPABILITIES.iter().map(|c| c.to_string()));
        } else if ALL_CAPABILITIES.contains(&name.as_str()) {
            out.push(name);
        } else {
            return Err(ApiError::unprocessable(format!(
                "unknown capability {name:?} (GET /v1/keymanager/capabilities lists them)"
            )));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// Endpoint names the key may call (`all` for every one); default: the client capabilities.
    pub capabilities: Option<Vec<String>>,
    /// Addresses or CIDR ranges the key may be used from; empty allows any (code 103 otherwise).
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// Limit the key to one product's license keys.
    pub product_id: Option<i64>,
    /// Keep only the capabilities of endpoints that read.
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    pub credential: Credential,
    pub capabilities: Vec<String>,
    pub active: bool,
}

/// A new key; `api_key` (what clients send) is shown only here, once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    pub api_key: String,
}

#[utoipa::path(post, path = "/v1/keymanager/api-keys", tag = "keymanager", request_body = CreateApiKey, responses((status = 201, body = CreatedApiKey), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_api_key(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    crate::http::validate::require_text("name", &body.name, 256)?;
    let ip_allowlist = check_ip_rules(&body.ip_allowlist)?;
    let capabilities = capabilities(body.capabilities)?;
    check_product_scope(&state, body.product_id.map(ProductId::new)).await?;
    let (key_id, secret) = new_key_id_and_secret()?;
    let credential = state
        .store
        .create_credential(
            NewCredential {
                dialect: Dialect::KeyManager,
                name: body.name,
                key_id: key_id.clone(),
                secret: secret.clone(),
                product_id: body.product_id.map(ProductId::new),
                read_only: body.read_only,
                ip_allowlist,
            },
            admin.event("credential.created", "credential"),
            state.now(),
        )
        .await
        .for_resource("credential")?;
    let settings = state
        .store
        .put_api_key_settings(
            ApiKeySettings {
                credential_id: credential.id,
                capabilities,
                active: true,
                updated_at: state.now(),
            },
            admin
                .event("keymanager.api_key.settings", "credential")
                .subject(credential.id),
        )
        .await
        .for_resource("credential")?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: ApiKeyView {
                credential,
                capabilities: settings.capabilities,
                active: settings.active,
            },
            api_key: format!("{key_id}.{secret}"),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/keymanager/api-keys", tag = "keymanager", responses((status = 200, body = Vec<ApiKeyView>)), security(("bearer" = [])))]
pub async fn list_api_keys(_admin: Admin, State(state): State<AppState>) -> Result<Json<Vec<ApiKeyView>>, ApiError> {
    let mut out = Vec::new();
    for credential in state.store.list_credentials(Some(Dialect::KeyManager)).await? {
        let settings = state.store.api_key_settings(credential.id).await?;
        let (capabilities, active) = match settings {
            Some(settings) => (settings.capabilities, settings.active),
            None => (CLIENT_CAPABILITIES.iter().map(|c| c.to_string()).collect(), true),
        };
        out.push(ApiKeyView {
            credential,
            capabilities,
            active,
        });
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKey {
    /// Replaces the capabilities (`all` for every one).
    pub capabilities: Option<Vec<String>>,
    /// Switches the key off (code 101) or back on.
    pub active: Option<bool>,
}

#[utoipa::path(put, path = "/v1/keymanager/api-keys/{id}", tag = "keymanager", params(("id" = i64, Path, description = "credential id")), request_body = UpdateApiKey, responses((status = 200, body = ApiKeyView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_api_key(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateApiKey>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let credential = state
        .store
        .list_credentials(Some(Dialect::KeyManager))
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::not_found("Key Manager API key"))?;
    let current = state.store.api_key_settings(id).await?;
    let (mut caps, mut active) = match current {
        Some(settings) => (settings.capabilities, settings.active),
        None => (CLIENT_CAPABILITIES.iter().map(|c| c.to_string()).collect(), true),
    };
    if body.capabilities.is_some() {
        caps = capabilities(body.capabilities)?;
    }
    if let Some(flag) = body.active {
        active = flag;
    }
    let settings = state
        .store
        .put_api_key_settings(
            ApiKeySettings {
                credential_id: id,
                capabilities: caps,
                active,
                updated_at: state.now(),
            },
            admin.event("keymanager.api_key.settings", "credential").subject(id),
        )
        .await
        .for_resource("Key Manager API key")?;
    Ok(Json(ApiKeyView {
        credential,
        capabilities: settings.capabilities,
        active: settings.active,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddAccessBlock {
    pub kind: AccessBlockKind,
    /// An IP address or CIDR range (`ip`), a domain (`domain`) or an exact identifier.
    pub value: String,
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/v1/keymanager/access-blocks", tag = "keymanager", request_body = AddAccessBlock, responses((status = 201, body = AccessBlock), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn add_access_block(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AddAccessBlock>,
) -> Result<(StatusCode, Json<AccessBlock>), ApiError> {
    let value = body.value.trim().to_string();
    crate::http::validate::require_text("value", &value, 512)?;
    crate::http::validate::optional_text("reason", &body.reason, 1024)?;
    if body.kind == AccessBlockKind::Ip {
        check_ip_rule(&value)?;
    }
    let write = state.store.add_access_block(
        body.kind,
        &value,
        body.reason,
        admin.event("keymanager.access_block.added", "access_block"),
        state.now(),
    );
    created("access block", write).await
}

#[utoipa::path(get, path = "/v1/keymanager/access-blocks", tag = "keymanager", responses((status = 200, body = Vec<AccessBlock>)), security(("bearer" = [])))]
pub async fn list_access_blocks(
    _admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<AccessBlock>>, ApiError> {
    Ok(Json(state.store.list_access_blocks().await?))
}

#[utoipa::path(delete, path = "/v1/keymanager/access-blocks/{id}", tag = "keymanager", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_access_block(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let event = admin
        .event("keymanager.access_block.deleted", "access_block")
        .subject(id);
    no_content("access block", state.store.delete_access_block(id, event, state.now())).await
}
