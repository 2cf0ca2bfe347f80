//! What every client credential's creation needs, whichever route makes it (native
//! `/v1/credentials`, Key Manager's `/v1/keymanager/api-keys`): its product scope checked and a
//! fresh key id and secret.

use crate::error::ApiError;
use crate::http::lookup;
use crate::state::AppState;
use licensd_domain::ProductId;
use licensd_domain::keygen::KeyPattern;

/// The product a credential is limited to exists (404 `product` otherwise).
pub(crate) async fn check_product_scope(state: &AppState, product_id: Option<ProductId>) -> Result<(), ApiError> {
    if let Some(product_id) = product_id {
        lookup::product(state, product_id).await?;
    }
    Ok(())
}

/// A new credential's key id (a random UUID) and secret.
pub(crate) fn new_key_id_and_secret() -> Result<(String, String), ApiError> {
    let mut random = [0u8; 16];
    licensd_crypto::random_bytes(&mut random).map_err(|_| ApiError::internal())?;
    let key_id = KeyPattern {
        uuid: true,
        ..KeyPattern::default()
    }
    .generate(&random);
    let secret = licensd_crypto::random_token("").map_err(|_| ApiError::internal())?;
    Ok((key_id, secret))
}
