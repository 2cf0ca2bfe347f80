//! The license or product an admin endpoint names by its numeric path id, read once here so every
//! admin API (native, Key Manager, LicenseSpring, SLASCONE) answers an unknown one with the same
//! `404 not_found` ("license not found", "product not found").

use crate::error::{ApiError, ForResource};
use crate::state::AppState;
use licensd_domain::{License, LicenseId, Product, ProductId};

/// The license `id`, or `404 license not found`.
pub async fn license(state: &AppState, id: LicenseId) -> Result<License, ApiError> {
    state.store.get_license(id).await.for_resource("license")
}

/// The product `id`, or `404 product not found`.
pub async fn product(state: &AppState, id: ProductId) -> Result<Product, ApiError> {
    state.store.get_product(id).await.for_resource("product")
}
