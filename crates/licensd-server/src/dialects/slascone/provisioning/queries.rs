//! Looking licenses up by license key, customer or user, and the floating session count.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LookupRequest {
    pub license_key: Option<String>,
    /// by_license: the license's legacy license key instead of its key (2007 when unknown).
    pub legacy_license_key: Option<String>,
    pub customer_id: Option<String>,
    pub product_id: Option<String>,
    pub user_id: Option<String>,
}

/// POST /provisioning/licenses/by_license: the license a key names, as a one-element list.
pub async fn by_license(
    State(state): State<AppState>,
    Call(caller, request): ReadCall<LookupRequest>,
) -> SlResult<Response> {
    let license = match request.legacy_license_key.filter(|k| !k.trim().is_empty()) {
        // A migrated license is also found by the key it had before the migration.
        Some(legacy) => {
            let id = state
                .store
                .license_of_legacy_key(legacy.trim())
                .await
                .map_err(SlError::from_store)?
                .ok_or(SlError::Conflict(Conflict::UnknownLegacyKey))?;
            state.store.get_license(id).await.map_err(SlError::from_store)?
        }
        None => {
            let key = required(request.license_key, Conflict::InvalidLicenseKey)?;
            super::super::lookup::known_license(&state, &key).await?
        }
    };
    caller.require_product(license.product_id)?;
    let info = license_info_of(&state, &license).await?;
    json_ok(&vec![info])
}

/// POST /provisioning/licenses/by_customer: the customer's licenses of the key's product (or of
/// `product_id`). 4000 for an unknown customer, 4001 when the customer holds none.
pub async fn by_customer(
    State(state): State<AppState>,
    Call(caller, request): ReadCall<LookupRequest>,
) -> SlResult<Response> {
    let customer =
        super::super::lookup::customer_by_guid(&state, request.customer_id.as_deref().unwrap_or_default()).await?;
    let product_filter = match request.product_id.filter(|code| !code.trim().is_empty()) {
        Some(code) => Some(product(&state, &caller, Some(code)).await?.id),
        None => caller.credential.product_id,
    };
    let mut infos = Vec::new();
    let mut page = Page::default();
    loop {
        let filter = LicenseFilter {
            customer_id: Some(customer.id),
            product_id: product_filter,
            ..LicenseFilter::default()
        };
        let licenses = state
            .store
            .list_licenses(filter, page)
            .await
            .map_err(SlError::from_store)?;
        let Some(last) = licenses.last().map(|l| l.id) else {
            break;
        };
        for license in &licenses {
            infos.push(license_info_of(&state, license).await?);
        }
        page.after = Some(last.get());
    }
    if infos.is_empty() {
        return Err(Conflict::NoLicensesForCustomer.into());
    }
    json_ok(&infos)
}

/// GET /provisioning/licenses/{license_id}/tokens/floating/active/count: live floating sessions.
pub async fn floating_count(
    State(state): State<AppState>,
    SlPath((_isv_id, license_id)): SlPath<(String, String)>,
    Key(caller): Key<false>,
) -> SlResult<Response> {
    let license = license_by_guid(&state, &caller, Some(license_id)).await?;
    let leases = state
        .store
        .live_leases(license.id, state.now())
        .await
        .map_err(SlError::from_store)?;
    let count = leases.iter().filter(|lease| lease.feature_id.is_none()).count();
    json_ok(&count)
}

/// POST /provisioning/licenses/by_user: the licenses a license user (`user_id` = email) is
/// assigned to, within the key's product scope. 1010 for an unknown user.
pub async fn by_user(
    State(state): State<AppState>,
    Call(caller, request): ReadCall<LookupRequest>,
) -> SlResult<Response> {
    let email = request.user_id.unwrap_or_default().trim().to_ascii_lowercase();
    let user = state
        .store
        .find_license_user_by_email(&email)
        .await
        .map_err(SlError::from_store)?
        .ok_or(SlError::Conflict(Conflict::UnknownLicenseUser))?;
    let ids = state
        .store
        .license_ids_of_user(user.id)
        .await
        .map_err(SlError::from_store)?;
    let mut infos = Vec::new();
    for id in ids {
        let license = state.store.get_license(id).await.map_err(SlError::from_store)?;
        if caller
            .credential
            .product_id
            .is_some_and(|scope| scope != license.product_id)
        {
            continue;
        }
        infos.push(license_info_of(&state, &license).await?);
    }
    json_ok(&infos)
}
