//! Native `/v1/keymanager/…` management of what the Key Manager dialect brought in: API keys with
//! capabilities, the access block list and per-product signing keys.

use super::auth::{ALL_CAPABILITIES, CLIENT_CAPABILITIES};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::native::Admin;
use crate::native::access::{check_ip_rule, check_ip_rules};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use licensd_crypto::{Algorithm, PublicKey, SigningKey};
use licensd_domain::access::{AccessBlock, AccessBlockKind};
use licensd_domain::downloadable::{Downloadable, DownloadableSpec, safe_file_name};
use licensd_domain::generator::{Generator, GeneratorSpec};
use licensd_domain::keygen::KeyPattern;
use licensd_domain::telemetry::TelemetryRecord;
use licensd_domain::{Credential, Dialect};
use licensd_store::{ApiKeySettings, NewCredential, NewSigningKey};
use licensd_store::{ContractFields, TelemetryFilter};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/keymanager/capabilities", get(list_capabilities))
        .route("/v1/keymanager/api-keys", post(create_api_key).get(list_api_keys))
        .route("/v1/keymanager/api-keys/{id}", put(update_api_key))
        .route(
            "/v1/keymanager/access-blocks",
            post(add_access_block).get(list_access_blocks),
        )
        .route(
            "/v1/keymanager/access-blocks/{id}",
            axum::routing::delete(delete_access_block),
        )
        .route("/v1/keymanager/products/{id}/generators", post(create_generator))
        .route("/v1/keymanager/generators", get(list_generators))
        .route(
            "/v1/keymanager/generators/{id}",
            get(get_generator).put(update_generator).delete(delete_generator),
        )
        .route("/v1/keymanager/products/{id}/downloadables", post(create_downloadable))
        .route("/v1/keymanager/downloadables", get(list_downloadables))
        .route(
            "/v1/keymanager/downloadables/{id}",
            get(get_downloadable).delete(delete_downloadable),
        )
        .route("/v1/keymanager/downloadables/{id}/file", put(upload_file))
        .route("/v1/keymanager/contracts", post(create_contract).get(list_contracts))
        .route("/v1/keymanager/contracts/{id}", axum::routing::delete(delete_contract))
        .route("/v1/keymanager/telemetry", get(list_telemetry))
        .route(
            "/v1/keymanager/products/{id}/signing-key",
            post(set_product_signing_key)
                .get(get_product_signing_key)
                .delete(delete_product_signing_key),
        )
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_capabilities,
        create_api_key,
        list_api_keys,
        update_api_key,
        add_access_block,
        list_access_blocks,
        delete_access_block,
        set_product_signing_key,
        get_product_signing_key,
        delete_product_signing_key,
        create_generator,
        list_generators,
        get_generator,
        update_generator,
        delete_generator,
        create_downloadable,
        list_downloadables,
        get_downloadable,
        delete_downloadable,
        upload_file,
        create_contract,
        list_contracts,
        delete_contract,
        list_telemetry
    ),
    components(schemas(
        AccessBlockKind,
        AccessBlock,
        Generator,
        GeneratorSpec,
        Downloadable,
        DownloadableSpec,
        TelemetryRecord
    ))
)]
pub struct KeyManagerApi;

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
    crate::native::require_text("name", &body.name, 256)?;
    let ip_allowlist = check_ip_rules(&body.ip_allowlist)?;
    let capabilities = capabilities(body.capabilities)?;
    if let Some(product_id) = body.product_id {
        state
            .store
            .get_product(product_id)
            .await
            .map_err(|e| ApiError::from_store(e, "product"))?;
    }
    let mut random = [0u8; 16];
    licensd_crypto::random_bytes(&mut random).map_err(|_| ApiError::internal())?;
    let key_id = KeyPattern {
        uuid: true,
        ..KeyPattern::default()
    }
    .generate(&random);
    let secret = licensd_crypto::random_token("").map_err(|_| ApiError::internal())?;
    let credential = state
        .store
        .create_credential(
            NewCredential {
                dialect: Dialect::KeyManager,
                name: body.name,
                key_id: key_id.clone(),
                secret: secret.clone(),
                product_id: body.product_id,
                read_only: body.read_only,
                ip_allowlist,
            },
            admin.event("credential.created", "credential"),
            state.now(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "credential"))?;
    let settings = state
        .store
        .km_put_api_key_settings(
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
        .map_err(|e| ApiError::from_store(e, "credential"))?;
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
        let settings = state.store.km_api_key_settings(credential.id).await?;
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
    let current = state.store.km_api_key_settings(id).await?;
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
        .km_put_api_key_settings(
            ApiKeySettings {
                credential_id: id,
                capabilities: caps,
                active,
                updated_at: state.now(),
            },
            admin.event("keymanager.api_key.settings", "credential").subject(id),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "Key Manager API key"))?;
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
    crate::native::require_text("value", &value, 512)?;
    crate::native::optional_text("reason", &body.reason, 1024)?;
    if body.kind == AccessBlockKind::Ip {
        check_ip_rule(&value)?;
    }
    let block = state
        .store
        .km_add_access_block(
            body.kind,
            &value,
            body.reason,
            admin.event("keymanager.access_block.added", "access_block"),
            state.now(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "access block"))?;
    Ok((StatusCode::CREATED, Json(block)))
}

#[utoipa::path(get, path = "/v1/keymanager/access-blocks", tag = "keymanager", responses((status = 200, body = Vec<AccessBlock>)), security(("bearer" = [])))]
pub async fn list_access_blocks(
    _admin: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<AccessBlock>>, ApiError> {
    Ok(Json(state.store.km_list_access_blocks().await?))
}

#[utoipa::path(delete, path = "/v1/keymanager/access-blocks/{id}", tag = "keymanager", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_access_block(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .km_delete_access_block(
            id,
            admin
                .event("keymanager.access_block.deleted", "access_block")
                .subject(id),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "access block"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProductKey {
    /// `RSA-2048` (default) or `RSA-4096`.
    pub algorithm: Option<String>,
}

/// A product's signing key as published: what its applications embed to verify envelopes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductKeyView {
    pub product_id: i64,
    pub kid: String,
    pub algorithm: String,
    pub pem: String,
    pub created_at: i64,
}

#[utoipa::path(post, path = "/v1/keymanager/products/{id}/signing-key", tag = "keymanager", params(("id" = i64, Path)), request_body = NewProductKey, responses((status = 201, body = ProductKeyView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_product_signing_key(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<ProductKeyView>), ApiError> {
    // The body is optional: an empty one asks for the default algorithm.
    let body: NewProductKey = if body.iter().all(u8::is_ascii_whitespace) {
        NewProductKey::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::unprocessable(format!("invalid body: {e}")))?
    };
    let algorithm = match body.algorithm.as_deref() {
        None => Algorithm::Rsa2048,
        Some(name) => match Algorithm::parse(name) {
            Some(alg @ (Algorithm::Rsa2048 | Algorithm::Rsa4096)) => alg,
            _ => return Err(ApiError::unprocessable("algorithm must be RSA-2048 or RSA-4096")),
        },
    };
    state
        .store
        .get_product(id)
        .await
        .map_err(|e| ApiError::from_store(e, "product"))?;
    // RSA key generation takes tens to hundreds of milliseconds; keep it off the async workers.
    let key = tokio::task::spawn_blocking(move || SigningKey::generate(algorithm))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|_| ApiError::internal())?;
    let public = key.public_key();
    let stored = state
        .store
        .km_put_product_signing_key(
            id,
            NewSigningKey {
                kid: key.kid().to_string(),
                algorithm: algorithm.as_str().to_string(),
                public_der: public.spki_der.clone(),
                private_pkcs8: key.pkcs8_der().to_vec(),
            },
            admin.event("keymanager.product_key.set", "product").subject(id),
            state.now(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "product"))?;
    Ok((
        StatusCode::CREATED,
        Json(ProductKeyView {
            product_id: id,
            kid: stored.kid,
            algorithm: stored.algorithm,
            pem: public.to_pem(),
            created_at: stored.created_at,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/keymanager/products/{id}/signing-key", tag = "keymanager", params(("id" = i64, Path)), responses((status = 200, body = ProductKeyView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_product_signing_key(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ProductKeyView>, ApiError> {
    let stored = state
        .store
        .km_product_signing_key(id)
        .await?
        .ok_or_else(|| ApiError::not_found("product signing key"))?;
    let algorithm = Algorithm::parse(&stored.algorithm).ok_or_else(ApiError::internal)?;
    let public = PublicKey::from_spki_der(algorithm, stored.public_der).map_err(|_| ApiError::internal())?;
    Ok(Json(ProductKeyView {
        product_id: id,
        kid: stored.kid,
        algorithm: stored.algorithm,
        pem: public.to_pem(),
        created_at: stored.created_at,
    }))
}

#[utoipa::path(delete, path = "/v1/keymanager/products/{id}/signing-key", tag = "keymanager", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_product_signing_key(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .km_delete_product_signing_key(id, admin.event("keymanager.product_key.deleted", "product").subject(id))
        .await
        .map_err(|e| ApiError::from_store(e, "product signing key"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/keymanager/products/{id}/generators", tag = "keymanager", params(("id" = i64, Path)), request_body = GeneratorSpec, responses((status = 201, body = Generator), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_generator(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(spec): ApiJson<GeneratorSpec>,
) -> Result<(StatusCode, Json<Generator>), ApiError> {
    spec.validate().map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let generator = state
        .store
        .km_create_generator(
            id,
            spec,
            admin.event("keymanager.generator.created", "generator"),
            state.now(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "product"))?;
    Ok((StatusCode::CREATED, Json(generator)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProductFilter {
    pub product_id: Option<i64>,
}

#[utoipa::path(get, path = "/v1/keymanager/generators", tag = "keymanager", params(ProductFilter), responses((status = 200, body = Vec<Generator>)), security(("bearer" = [])))]
pub async fn list_generators(
    _admin: Admin,
    State(state): State<AppState>,
    crate::extract::ApiQuery(filter): crate::extract::ApiQuery<ProductFilter>,
) -> Result<Json<Vec<Generator>>, ApiError> {
    Ok(Json(state.store.km_list_generators(filter.product_id).await?))
}

#[utoipa::path(get, path = "/v1/keymanager/generators/{id}", tag = "keymanager", params(("id" = i64, Path)), responses((status = 200, body = Generator), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_generator(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Generator>, ApiError> {
    Ok(Json(
        state
            .store
            .km_get_generator(id)
            .await
            .map_err(|e| ApiError::from_store(e, "generator"))?,
    ))
}

#[utoipa::path(put, path = "/v1/keymanager/generators/{id}", tag = "keymanager", params(("id" = i64, Path)), request_body = GeneratorSpec, responses((status = 200, body = Generator), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_generator(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(spec): ApiJson<GeneratorSpec>,
) -> Result<Json<Generator>, ApiError> {
    spec.validate().map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let event = admin.event("keymanager.generator.updated", "generator").subject(id);
    Ok(Json(
        state
            .store
            .km_update_generator(id, spec, event, state.now())
            .await
            .map_err(|e| ApiError::from_store(e, "generator"))?,
    ))
}

#[utoipa::path(delete, path = "/v1/keymanager/generators/{id}", tag = "keymanager", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_generator(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .km_delete_generator(id, admin.event("keymanager.generator.deleted", "generator").subject(id))
        .await
        .map_err(|e| ApiError::from_store(e, "generator"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/keymanager/products/{id}/downloadables", tag = "keymanager", params(("id" = i64, Path)), request_body = DownloadableSpec, responses((status = 201, body = Downloadable), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_downloadable(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(spec): ApiJson<DownloadableSpec>,
) -> Result<(StatusCode, Json<Downloadable>), ApiError> {
    spec.validate().map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let downloadable = state
        .store
        .km_create_downloadable(
            id,
            spec,
            admin.event("keymanager.downloadable.created", "downloadable"),
            state.now(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "product"))?;
    Ok((StatusCode::CREATED, Json(downloadable)))
}

#[utoipa::path(get, path = "/v1/keymanager/downloadables", tag = "keymanager", params(ProductFilter), responses((status = 200, body = Vec<Downloadable>)), security(("bearer" = [])))]
pub async fn list_downloadables(
    _admin: Admin,
    State(state): State<AppState>,
    crate::extract::ApiQuery(filter): crate::extract::ApiQuery<ProductFilter>,
) -> Result<Json<Vec<Downloadable>>, ApiError> {
    Ok(Json(state.store.km_list_downloadables(filter.product_id).await?))
}

#[utoipa::path(get, path = "/v1/keymanager/downloadables/{id}", tag = "keymanager", params(("id" = i64, Path)), responses((status = 200, body = Downloadable), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_downloadable(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Downloadable>, ApiError> {
    Ok(Json(
        state
            .store
            .km_get_downloadable(id)
            .await
            .map_err(|e| ApiError::from_store(e, "downloadable"))?,
    ))
}

#[utoipa::path(delete, path = "/v1/keymanager/downloadables/{id}", tag = "keymanager", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_downloadable(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .km_delete_downloadable(
            id,
            admin
                .event("keymanager.downloadable.deleted", "downloadable")
                .subject(id),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "downloadable"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FileQuery {
    /// The name the file is served under.
    pub name: String,
}

/// Uploads (or replaces) a downloadable's file: the request body is the file (up to the body limit).
#[utoipa::path(put, path = "/v1/keymanager/downloadables/{id}/file", tag = "keymanager", params(("id" = i64, Path), FileQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"), responses((status = 200, body = Downloadable), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn upload_file(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    crate::extract::ApiQuery(query): crate::extract::ApiQuery<FileQuery>,
    body: axum::body::Bytes,
) -> Result<Json<Downloadable>, ApiError> {
    let name = safe_file_name(&query.name).ok_or_else(|| ApiError::unprocessable("name is not a usable file name"))?;
    let event = admin.event("keymanager.downloadable.file", "downloadable").subject(id);
    Ok(Json(
        state
            .store
            .km_put_downloadable_file(id, &name, body.to_vec(), event)
            .await
            .map_err(|e| ApiError::from_store(e, "downloadable"))?,
    ))
}

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
    crate::native::require_text("name", &body.name, 255)?;
    crate::native::optional_text("information", &body.information, 65_535)?;
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
        .km_create_contract(
            fields,
            admin.event("keymanager.contract.created", "contract"),
            state.now(),
        )
        .await
        .map_err(|e| ApiError::from_store(e, "product"))?;
    Ok((StatusCode::CREATED, Json(contract_view(stored))))
}

#[utoipa::path(get, path = "/v1/keymanager/contracts", tag = "keymanager", responses((status = 200, body = Vec<ContractView>)), security(("bearer" = [])))]
pub async fn list_contracts(_admin: Admin, State(state): State<AppState>) -> Result<Json<Vec<ContractView>>, ApiError> {
    Ok(Json(
        state
            .store
            .km_list_contracts()
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
    state
        .store
        .km_delete_contract(id, admin.event("keymanager.contract.deleted", "contract").subject(id))
        .await
        .map_err(|e| ApiError::from_store(e, "contract"))?;
    Ok(StatusCode::NO_CONTENT)
}

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
    crate::extract::ApiQuery(query): crate::extract::ApiQuery<TelemetryQuery>,
) -> Result<Json<Vec<TelemetryRecord>>, ApiError> {
    let filter = TelemetryFilter {
        license_key: query.license_key,
        user_identifier: query.user_identifier,
        has_red_flags: query.has_red_flags,
        product_id: query.product_id,
    };
    Ok(Json(
        state
            .store
            .km_list_telemetry(filter, query.limit.unwrap_or(100))
            .await?,
    ))
}
