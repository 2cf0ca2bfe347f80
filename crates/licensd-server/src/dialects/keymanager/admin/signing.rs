//! Per-product signing keys.

use super::*;
use licensd_domain::ProductId;

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
    ApiPath(id): ApiPath<ProductId>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<ProductKeyView>), ApiError> {
    // The body is optional: an empty one asks for the default algorithm.
    let body: NewProductKey = if body.iter().all(u8::is_ascii_whitespace) {
        NewProductKey::default()
    } else {
        crate::http::json_object::from_slice(&body)
            .map_err(|e| ApiError::unprocessable(format!("invalid body: {e}")))?
    };
    let algorithm = match body.algorithm.as_deref() {
        None => Algorithm::Rsa2048,
        Some(name) => match Algorithm::parse(name) {
            Some(alg @ (Algorithm::Rsa2048 | Algorithm::Rsa4096)) => alg,
            _ => return Err(ApiError::unprocessable("algorithm must be RSA-2048 or RSA-4096")),
        },
    };
    lookup::product(&state, id).await?;
    // RSA key generation takes tens to hundreds of milliseconds; keep it off the async workers.
    let key = tokio::task::spawn_blocking(move || SigningKey::generate(algorithm))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|_| ApiError::internal())?;
    let public = key.public_key();
    let stored = state
        .store
        .put_product_signing_key(
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
        .for_resource("product")?;
    Ok((
        StatusCode::CREATED,
        Json(ProductKeyView {
            product_id: id.get(),
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
    ApiPath(id): ApiPath<ProductId>,
) -> Result<Json<ProductKeyView>, ApiError> {
    let stored = state
        .store
        .product_signing_key(id)
        .await?
        .ok_or_else(|| ApiError::not_found("product signing key"))?;
    let algorithm = Algorithm::parse(&stored.algorithm).ok_or_else(ApiError::internal)?;
    let public = PublicKey::from_spki_der(algorithm, stored.public_der).map_err(|_| ApiError::internal())?;
    Ok(Json(ProductKeyView {
        product_id: id.get(),
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
    ApiPath(id): ApiPath<ProductId>,
) -> Result<StatusCode, ApiError> {
    let event = admin.event("keymanager.product_key.deleted", "product").subject(id);
    let write = state.store.delete_product_signing_key(id, event, state.now());
    no_content("product signing key", write).await
}
