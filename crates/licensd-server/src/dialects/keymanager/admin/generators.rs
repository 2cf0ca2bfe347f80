//! Key generators, downloadables and their files.

use super::*;
use licensd_domain::ProductId;

#[utoipa::path(post, path = "/v1/keymanager/products/{id}/generators", tag = "keymanager", params(("id" = i64, Path)), request_body = GeneratorSpec, responses((status = 201, body = Generator), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_generator(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(spec): ApiJson<GeneratorSpec>,
) -> Result<(StatusCode, Json<Generator>), ApiError> {
    spec.validate().map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let write = state.store.create_generator(
        id,
        spec,
        admin.event("keymanager.generator.created", "generator"),
        state.now(),
    );
    created("product", write).await
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
    crate::http::extract::ApiQuery(filter): crate::http::extract::ApiQuery<ProductFilter>,
) -> Result<Json<Vec<Generator>>, ApiError> {
    Ok(Json(
        state
            .store
            .list_generators(filter.product_id.map(ProductId::new))
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/keymanager/generators/{id}", tag = "keymanager", params(("id" = i64, Path)), responses((status = 200, body = Generator), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_generator(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Generator>, ApiError> {
    ok_json("generator", state.store.get_generator(id)).await
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
    ok_json("generator", state.store.update_generator(id, spec, event, state.now())).await
}

#[utoipa::path(delete, path = "/v1/keymanager/generators/{id}", tag = "keymanager", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_generator(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let event = admin.event("keymanager.generator.deleted", "generator").subject(id);
    no_content("generator", state.store.delete_generator(id, event, state.now())).await
}

#[utoipa::path(post, path = "/v1/keymanager/products/{id}/downloadables", tag = "keymanager", params(("id" = i64, Path)), request_body = DownloadableSpec, responses((status = 201, body = Downloadable), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_downloadable(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(spec): ApiJson<DownloadableSpec>,
) -> Result<(StatusCode, Json<Downloadable>), ApiError> {
    spec.validate().map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let write = state.store.create_downloadable(
        id,
        spec,
        admin.event("keymanager.downloadable.created", "downloadable"),
        state.now(),
    );
    created("product", write).await
}

#[utoipa::path(get, path = "/v1/keymanager/downloadables", tag = "keymanager", params(ProductFilter), responses((status = 200, body = Vec<Downloadable>)), security(("bearer" = [])))]
pub async fn list_downloadables(
    _admin: Admin,
    State(state): State<AppState>,
    crate::http::extract::ApiQuery(filter): crate::http::extract::ApiQuery<ProductFilter>,
) -> Result<Json<Vec<Downloadable>>, ApiError> {
    Ok(Json(
        state
            .store
            .list_downloadables(filter.product_id.map(ProductId::new))
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/keymanager/downloadables/{id}", tag = "keymanager", params(("id" = i64, Path)), responses((status = 200, body = Downloadable), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_downloadable(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Downloadable>, ApiError> {
    ok_json("downloadable", state.store.get_downloadable(id)).await
}

#[utoipa::path(delete, path = "/v1/keymanager/downloadables/{id}", tag = "keymanager", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_downloadable(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let event = admin
        .event("keymanager.downloadable.deleted", "downloadable")
        .subject(id);
    no_content("downloadable", state.store.delete_downloadable(id, event, state.now())).await
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
    crate::http::extract::ApiQuery(query): crate::http::extract::ApiQuery<FileQuery>,
    body: axum::body::Bytes,
) -> Result<Json<Downloadable>, ApiError> {
    let name = safe_file_name(&query.name).ok_or_else(|| ApiError::unprocessable("name is not a usable file name"))?;
    let event = admin.event("keymanager.downloadable.file", "downloadable").subject(id);
    ok_json(
        "downloadable",
        state
            .store
            .put_downloadable_file(id, &name, body.to_vec(), event, state.now()),
    )
    .await
}
