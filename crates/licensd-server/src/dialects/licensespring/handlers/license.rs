//! Activation, license check (validation) and deactivation.

use super::*;

pub async fn activate_license(call: LsCall) -> Result<Response, LsError> {
    let state = &call.state;
    let hardware_id = call.hardware_id()?;
    let identity = call.identify(true).await?;
    call.caller.require_write()?;
    let device = device_info(&call.params, &hardware_id)?;
    let activation = state
        .store
        .activate(
            LicenseRef::Id(identity.license.id),
            device,
            identity.user.as_ref().map(|user| user.id),
            call.event("license.activated"),
            state.now(),
        )
        .await
        .map_err(LsError::from_store)?;
    let identity = Identity {
        license: activation.license,
        user: identity.user,
        bundle_key: identity.bundle_key,
    };
    license_response(
        state,
        &activation.product,
        &identity,
        Some(&activation.device),
        &hardware_id,
        activation.active_devices,
    )
    .await
}

pub async fn check_license(call: LsCall<true>) -> Result<Response, LsError> {
    let hardware_id = call.hardware_id()?;
    let (identity, include_expired_features, report) =
        match identify_validated(&call.state, &call.product, &call.params, &hardware_id).await? {
            // The common case: the validation read by key also named the license.
            Some((identity, report)) => {
                let include_expired_features = include_expired_features(&call.params)?;
                (identity, include_expired_features, usable(report)?)
            }
            None => {
                let identity = call.identify(false).await?;
                let include_expired_features = include_expired_features(&call.params)?;
                let report = validated(&call.state, identity.license.id, &hardware_id).await?;
                (identity, include_expired_features, report)
            }
        };
    let signed_id = identity.signed_id();
    let object = checked_license(
        &call,
        include_expired_features,
        report,
        identity,
        &signed_id,
        &hardware_id,
    )
    .await?;
    Ok(signed(&Value::Object(object)))
}

/// `include_expired_features` (default false, what both SDKs send).
pub(crate) fn include_expired_features(params: &Params) -> Result<bool, LsError> {
    Ok(params.opt_bool("include_expired_features")?.unwrap_or(false))
}

/// The read-only half of check_license: validates the license for the device. An expired license
/// passes (it answers 200 with `is_expired: true`; both SDKs flag expiry from the body) as long
/// as the device is one of its own.
pub(crate) async fn validated(
    state: &AppState,
    license_id: LicenseId,
    hardware_id: &str,
) -> Result<licensd_store::ValidationReport, LsError> {
    let report = state
        .validate(LicenseRef::Id(license_id), Some(hardware_id), state.now())
        .await
        .map_err(LsError::from_store)?;
    usable(report)
}

/// `validated`'s verdict on a validation report: the report when check_license answers with it,
/// else the refusal.
fn usable(report: licensd_store::ValidationReport) -> Result<licensd_store::ValidationReport, LsError> {
    let device_active = report.device.as_ref().is_some_and(Device::is_active);
    match report.outcome {
        Ok(_) => Ok(report),
        Err(Denial::LicenseExpired | Denial::TrialExpired) if device_active => Ok(report),
        Err(Denial::LicenseExpired | Denial::TrialExpired) => Err(denial_error(Denial::DeviceNotActivated)),
        Err(denial) => Err(denial_error(denial)),
    }
}

/// The rest of check_license for one license (also each license of check_bundle), after
/// `validated`: takes or renews a floating seat and renders the license object with its v1
/// signature over `signed_id` (the key or e-mail the client sent).
pub(crate) async fn checked_license<const CHECK_LICENSE: bool>(
    call: &LsCall<CHECK_LICENSE>,
    include_expired_features: bool,
    report: licensd_store::ValidationReport,
    identity: Identity,
    signed_id: &str,
    hardware_id: &str,
) -> Result<serde_json::Map<String, Value>, LsError> {
    let Identity { user, bundle_key, .. } = identity;
    let state = &call.state;
    let now = state.now();
    let mut license = report.license;
    // Read once: whether the device holds a borrowed seat, and (unless a seat is taken below)
    // the leases the license object lists.
    let mut leases = state
        .store
        .live_leases(license.id, now)
        .await
        .map_err(LsError::from_store)?;
    let borrowed = leases.iter().any(|lease| {
        lease.feature_id.is_none()
            && lease.fingerprint == hardware_id
            && lease.borrowed_until.is_some_and(|until| until > now)
    });
    if license.terms.floating.is_some()
        && !borrowed
        && rules::check_license_usable(&report.product, &license, now).is_ok()
    {
        // A check on a floating-cloud license takes or renews this device's seat; a
        // borrowed seat is already held until its borrow ends, and renewing would end it.
        state
            .store
            .checkout_lease(
                LicenseRef::Id(license.id),
                hardware_id,
                None,
                call.event("license.lease_checked_out"),
                now,
            )
            .await
            .map_err(LsError::from_store)?;
        license = state.store.get_license(license.id).await.map_err(LsError::from_store)?;
        leases = state
            .store
            .live_leases(license.id, now)
            .await
            .map_err(LsError::from_store)?;
    }
    let identity = Identity {
        license,
        user,
        bundle_key,
    };
    // The validation read the license's features in the same snapshot as the rest of the report
    // (none when it has none): no second statement for them, for the object or for dropping the
    // expired ones.
    let reads = LicenseReads {
        features: &report.features,
        leases: &leases,
        now,
    };
    let mut object = license_object_with(
        state,
        &report.product,
        &identity,
        report.device.as_ref(),
        hardware_id,
        report.active_devices,
        &reads,
    )
    .await?;
    if !include_expired_features {
        drop_expired_features(&mut object, &report.features, now);
    }
    sign_v1(state, &mut object, &identity.license, signed_id, hardware_id)?;
    Ok(object)
}

/// Adds the v1 `license_signature` over `lower(hardware_id#signed_id#validity_period)`. For a
/// bundle's licenses `signed_id` is the bundle key the client sent, which the object then also
/// carries as `license_key` (the SDKs verify and store what they sent).
pub(crate) fn sign_v1(
    state: &AppState,
    object: &mut serde_json::Map<String, Value>,
    license: &License,
    signed_id: &str,
    hardware_id: &str,
) -> Result<(), LsError> {
    let validity = render::validity_period(license);
    object.insert(
        "license_signature".into(),
        json!(v1_signature(state, hardware_id, signed_id, validity.as_deref())?),
    );
    Ok(())
}

/// `include_expired_features=false` (what both SDKs send by default): features whose own expiry
/// has passed are left out of `product_features`.
fn drop_expired_features(object: &mut serde_json::Map<String, Value>, features: &[LicenseFeature], now: Millis) {
    let expired: Vec<&str> = features
        .iter()
        .filter(|feature| !licensd_domain::rules::feature_active(feature, now))
        .map(|feature| feature.definition.spec.code.as_str())
        .collect();
    if expired.is_empty() {
        return;
    }
    if let Some(Value::Array(list)) = object.get_mut("product_features") {
        list.retain(|feature| {
            feature
                .get("code")
                .and_then(Value::as_str)
                .is_none_or(|code| !expired.contains(&code))
        });
    }
}

pub async fn deactivate_license(call: LsCall) -> Result<Response, LsError> {
    let hardware_id = call.hardware_id()?;
    let license = call.license().await?;
    call.caller.require_write()?;
    call.state
        .store
        .deactivate(
            LicenseRef::Id(license.id),
            &hardware_id,
            call.event("license.deactivated"),
            call.state.now(),
        )
        .await
        .map_err(LsError::from_store)?;
    Ok(plain("license_deactivated"))
}

/// The active device for `hardware_id`, or `device_not_found`.
pub(super) async fn active_device(
    state: &AppState,
    license: &License,
    hardware_id: &str,
) -> Result<(Device, i64), LsError> {
    let now = state.now();
    let report = state
        .validate(LicenseRef::Id(license.id), Some(hardware_id), now)
        .await
        .map_err(LsError::from_store)?;
    report.outcome.map_err(super::denial_error)?;
    match report.device {
        Some(device) if device.is_active() => Ok((device, report.active_devices)),
        _ => Err(denial_error(Denial::DeviceNotActivated)),
    }
}
