//! License validation for a client.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ValidateRequest {
    pub license_key: Option<String>,
    pub product_id: Option<String>,
    pub client_id: Option<String>,
}

/// POST /provisioning/validate: the license's current `LicenseInfo` (with the client's token
/// when a `client_id` is given). Validity travels in `is_license_valid`; only an unknown key is a
/// conflict.
pub async fn validate(
    State(state): State<AppState>,
    Call(caller, request): ReadCall<ValidateRequest>,
) -> SlResult<Response> {
    let state = &state;
    let key = required(request.license_key, Conflict::InvalidLicenseKey)?;
    let license = super::super::lookup::known_license(state, &key).await?;
    caller.require_product(license.product_id)?;
    let product = state
        .store
        .get_product(license.product_id)
        .await
        .map_err(SlError::from_store)?;
    if let Some(code) = request.product_id.filter(|code| !code.trim().is_empty())
        && !super::super::lookup::guid_forms(code.trim()).contains(&product.code)
    {
        return Err(Conflict::InvalidLicenseKey.into());
    }
    let client = request.client_id.filter(|id| !id.trim().is_empty());
    let (device, token) = match &client {
        Some(client_id) => (
            active_device(state, license.id, client_id).await?,
            state
                .store
                .token_of(license.id, client_id)
                .await
                .map_err(SlError::from_store)?,
        ),
        None => (None, None),
    };
    let info = render_info(
        state,
        &product,
        &license,
        device.as_ref(),
        token
            .as_ref()
            .filter(|_| device.is_some())
            .map(|t| t.token_key.as_str()),
    )
    .await?;
    json_ok(&info)
}
