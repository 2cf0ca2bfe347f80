//! Lookups by GUID-shaped text. SLASCONE's ids and keys are GUIDs, which compare without regard to
//! case (.NET's `Guid`), so a product id, license key or token key written in another case than
//! it was stored names the same thing: the text as given is tried first, then its lower-case and
//! upper-case forms when it is a GUID. Other text (a vendor's own key format) matches exactly.

use super::codes::Conflict;
use super::wire::{SlError, SlResult, guid_id, parse_guid};
use crate::state::AppState;
use licensd_domain::{Customer, CustomerId, License, LicenseId, Product};
use licensd_store::dialects::slascone::SlasconeToken;
use licensd_store::{Result, StoreError};

/// The forms to try for `text`: itself, then (for a GUID) lower and upper case.
pub fn guid_forms(text: &str) -> Vec<String> {
    let mut forms = vec![text.to_owned()];
    if parse_guid(text).is_some() {
        for form in [text.trim().to_ascii_lowercase(), text.trim().to_ascii_uppercase()] {
            if !forms.contains(&form) {
                forms.push(form);
            }
        }
    }
    forms
}

/// The product whose code is `code` (any case for a GUID). NotFound when none is.
pub async fn product_by_code(state: &AppState, code: &str) -> Result<Product> {
    for form in guid_forms(code) {
        match state.store.get_product_by_code(&form).await {
            Err(StoreError::NotFound) => continue,
            other => return other,
        }
    }
    Err(StoreError::NotFound)
}

/// The license whose key is `key` (any case for a GUID).
pub async fn license_by_key(state: &AppState, key: &str) -> Result<Option<License>> {
    for form in guid_forms(key) {
        if let Some(license) = state.store.find_license_by_key(&form).await? {
            return Ok(Some(license));
        }
    }
    Ok(None)
}

/// The token a token key names (any case: token keys are GUIDs).
pub async fn token_by_key(state: &AppState, key: &str) -> Result<Option<SlasconeToken>> {
    for form in guid_forms(key) {
        if let Some(token) = state.store.find_token(&form).await? {
            return Ok(Some(token));
        }
    }
    Ok(None)
}

/// The license `key` names, or the conflict SLASCONE answers for an unknown license key.
pub async fn known_license(state: &AppState, key: &str) -> SlResult<License> {
    license_by_key(state, key)
        .await
        .map_err(SlError::from_store)?
        .ok_or(SlError::Conflict(Conflict::InvalidLicenseKey))
}

/// The product whose code is the SLASCONE `product_id` given, or "unknown product" (3000).
pub async fn known_product(state: &AppState, code: &str) -> SlResult<Product> {
    product_by_code(state, code)
        .await
        .map_err(SlError::not_found_as(Conflict::UnknownProduct))
}

/// The license a SLASCONE `license_id` (licensd's id as a GUID) names, or "not a valid license
/// key" (1000) for a malformed or unknown one, as SLASCONE answers.
pub async fn license_by_guid(state: &AppState, guid: &str) -> SlResult<License> {
    let id = guid_id(guid).ok_or(SlError::Conflict(Conflict::InvalidLicenseKey))?;
    state
        .store
        .get_license(LicenseId::new(id))
        .await
        .map_err(SlError::not_found_as(Conflict::InvalidLicenseKey))
}

/// The customer a SLASCONE `customer_id` (licensd's id as a GUID) names, or "unknown customer"
/// (4000) for a malformed or unknown one.
pub async fn customer_by_guid(state: &AppState, guid: &str) -> SlResult<Customer> {
    let id = guid_id(guid).ok_or(SlError::Conflict(Conflict::UnknownCustomer))?;
    state
        .store
        .get_customer(CustomerId::new(id))
        .await
        .map_err(SlError::not_found_as(Conflict::UnknownCustomer))
}

/// The token `key` names, or the conflict SLASCONE answers for an unknown token key.
pub async fn known_token(state: &AppState, key: &str) -> SlResult<SlasconeToken> {
    token_by_key(state, key)
        .await
        .map_err(SlError::from_store)?
        .ok_or(SlError::Conflict(Conflict::UnknownTokenKey))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_forms_cover_both_cases_only_for_guids() {
        assert_eq!(
            guid_forms("47DF1DF5-bbc8-4b1b-a185-58ddfb1d3271"),
            vec![
                "47DF1DF5-bbc8-4b1b-a185-58ddfb1d3271".to_owned(),
                "47df1df5-bbc8-4b1b-a185-58ddfb1d3271".to_owned(),
                "47DF1DF5-BBC8-4B1B-A185-58DDFB1D3271".to_owned(),
            ]
        );
        assert_eq!(guid_forms("Key-1"), vec!["Key-1".to_owned()]);
    }
}
