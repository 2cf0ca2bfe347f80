//! Trial keys: one trial license per device and product.

use super::*;

/// Marks a trial license as issued to one device of one product, so a repeated request finds it.
fn trial_marker(hardware_id: &str) -> String {
    format!("licensespring-trial:{hardware_id}")
}

/// The answer for a device whose trial was already issued (one trial per hardware id and
/// product, kept by a unique index on the marker).
async fn existing_trial(state: &AppState, product_id: ProductId, marker: &str) -> Result<Option<Response>, LsError> {
    let existing = state
        .store
        .list_licenses(
            licensd_store::LicenseFilter {
                product_id: Some(product_id),
                order_ref: Some(marker.to_string()),
                ..Default::default()
            },
            licensd_store::Page::default(),
        )
        .await
        .map_err(LsError::from_store)?;
    Ok(existing.first().map(|license| {
        signed(&json!({
            "license_type": render::license_type(license.terms.license_type),
            "is_trial": true,
            "license": license.key,
            "license_key": license.key,
            "id": license.id,
        }))
    }))
}

pub async fn trial_key(call: LsCall) -> Result<Response, LsError> {
    let LsCall {
        state, product, params, ..
    } = &call;
    let hardware_id = call.hardware_id()?;
    if hardware_id.trim().is_empty() {
        return Err(denial_error(Denial::FingerprintRequired));
    }
    let email = params.opt_str("email")?.filter(|email| !email.trim().is_empty());
    if !product.trial_allowed {
        return Err(LsError::bad("trial_not_allowed", "this product does not offer trials"));
    }
    if product.auth_method == AuthMethod::User {
        if email.is_none() {
            return Err(LsError::bad(
                "email_missing",
                "a user-based product needs an email for a trial",
            ));
        }
        return Err(LsError::bad(
            "validation_error",
            "trials of user-based products are not supported by this server yet",
        ));
    }
    let policy = match params.opt_str("license_policy")? {
        Some(code) => Some(
            state
                .store
                .list_policies(Some(product.id))
                .await
                .map_err(LsError::from_store)?
                .into_iter()
                .find(|policy| policy.code == code)
                .ok_or_else(|| LsError::bad("unknown_policy_code", format!("unknown license policy {code:?}")))?,
        ),
        None => None,
    };
    call.caller.require_write()?;
    let marker = trial_marker(&hardware_id);
    if let Some(reply) = existing_trial(state, product.id, &marker).await? {
        return Ok(reply);
    }
    let now = state.now();
    let (mut terms, _, maintenance) = match &policy {
        Some(policy) => rules::stamp_from_policy(policy, now),
        None => (LicenseTerms::default(), None, None),
    };
    terms.kind = LicenseKind::Trial;
    let trial_days = policy
        .as_ref()
        .and_then(|policy| policy.duration_days)
        .unwrap_or(product.trial_days)
        .max(1);
    let pattern = licensd_domain::keygen::KeyPattern::default();
    let mut random = vec![0u8; pattern.bytes_needed()];
    licensd_crypto::random_bytes(&mut random).map_err(|_| LsError::internal())?;
    let new = licensd_store::NewLicense {
        product_id: product.id,
        key: Some(pattern.generate(&random)),
        // No expiry: the trial clock starts at first activation (`rules::plan_activation`).
        settings: licensd_store::LicenseSettings {
            policy_id: policy.as_ref().map(|policy| policy.id),
            maintenance_expires_at: maintenance,
            trial_days: Some(trial_days),
            order_ref: Some(marker.clone()),
            metadata: json!({"trial_email": email}),
            ..licensd_store::LicenseSettings::active(terms)
        },
        features: policy
            .as_ref()
            .map(|policy| policy.features.clone())
            .unwrap_or_default(),
    };
    let mut created = match state
        .store
        .create_licenses(vec![new], call.event("license.trial_issued"), now)
        .await
    {
        Ok(created) => created,
        // A concurrent request issued this device's trial first (the unique index on
        // the marker refused the second): answer with that one.
        Err(StoreError::Conflict(message)) => {
            return match existing_trial(state, product.id, &marker).await? {
                Some(reply) => Ok(reply),
                None => Err(LsError::from_store(StoreError::Conflict(message))),
            };
        }
        Err(error) => return Err(LsError::from_store(error)),
    };
    let license = created.pop().ok_or_else(LsError::internal)?;
    Ok(signed(&json!({
        "id": license.id,
        "license": license.key,
        "license_key": license.key,
        "product_id": product.id,
        "created_at": license.created_at,
        "updated_at": license.updated_at,
        "times_activated": 0,
        "is_trial": true,
        "active": true,
        "enabled": true,
        "is_floating": false,
        "is_floating_cloud": license.terms.floating.is_some(),
        "max_activations": license.terms.max_activations.unwrap_or(0),
        "trial_days": trial_days,
        "license_type": render::license_type(license.terms.license_type),
        "max_transfers": license.terms.max_transfers.unwrap_or(0),
        "prevent_vm": !license.terms.vm_allowed,
        "enable_maintenance_period": license.maintenance_expires_at.is_some(),
        "validity_period": Value::Null,
        "metadata": {},
        "is_hardware_key_auth": false,
        "policy_id": license.policy_id,
    })))
}
