//! Floating licenses and floating features: borrow and release.

use super::*;

/// `borrowed_until`: an ISO-8601 instant, a bare date (end of that day is not assumed: midnight
/// UTC), or absent/null for now + max_borrow_time.
fn parse_borrow_until(text: &str) -> Option<Millis> {
    parse_rfc3339(text)
        .or_else(|| parse_rfc3339(&format!("{text}Z")))
        .or_else(|| parse_rfc3339(&format!("{text}T00:00:00Z")))
}

pub async fn floating_borrow(call: LsCall) -> Result<Response, LsError> {
    let hardware_id = call.hardware_id()?;
    let license = call.writable_device_license(&hardware_id).await?;
    let now = call.state.now();
    let until = borrow_until(&call.params, &license, now)?;
    let lease = call
        .state
        .store
        .checkout_lease(
            LicenseRef::Id(license.id),
            &hardware_id,
            Some(until),
            call.event("license.lease_borrowed"),
            now,
        )
        .await
        .map_err(LsError::from_store)?;
    let (device, _) = active_device(&call.state, &license, &hardware_id).await?;
    Ok(signed(&json!({
        "borrowed_until": lease.borrowed_until.map(to_rfc3339),
        "max_borrow_time": license.terms.floating.as_ref().map_or(0, |f| f.max_borrow_hours),
        "device_id": device.id,
        "license_id": license.id,
    })))
}

pub async fn floating_release(call: LsCall) -> Result<Response, LsError> {
    let hardware_id = call.hardware_id()?;
    let license = call.writable_device_license(&hardware_id).await?;
    call.state
        .store
        .release_lease(
            LicenseRef::Id(license.id),
            &hardware_id,
            call.event("license.lease_released"),
            call.state.now(),
        )
        .await
        .map_err(LsError::from_store)?;
    Ok(plain(""))
}

/// The requested borrow end, or now + the license's `max_borrow_time` when absent or null.
fn borrow_until(params: &Params, license: &License, now: Millis) -> Result<Millis, LsError> {
    match params.opt_str("borrowed_until")? {
        Some(text) => parse_borrow_until(&text)
            .ok_or_else(|| LsError::bad("borrow_until_not_valid", "borrowed_until is not an ISO-8601 date")),
        None => {
            let hours = license.terms.floating.as_ref().map_or(0, |f| f.max_borrow_hours);
            Ok(now.saturating_add(hours.saturating_mul(HOUR)))
        }
    }
}

/// The feature `code` of a license (`feature_not_found` when it has none).
pub(super) async fn license_feature(
    state: &AppState,
    license_id: LicenseId,
    code: &str,
) -> Result<LicenseFeature, LsError> {
    state
        .store
        .license_features(license_id)
        .await
        .map_err(LsError::from_store)?
        .into_iter()
        .find(|feature| feature.definition.spec.code == code)
        .ok_or_else(|| denial_error(Denial::FeatureNotFound))
}

/// A feature of a license as the License API renders it, with its live seats at `now`.
pub(super) async fn render_feature(
    state: &AppState,
    feature: &LicenseFeature,
    license_id: LicenseId,
    now: Millis,
) -> Result<Value, LsError> {
    let leases = state
        .store
        .live_leases(license_id, now)
        .await
        .map_err(LsError::from_store)?;
    Ok(render::feature(feature, license_id, &leases, now))
}

/// The feature `code` of a license as the License API renders it (with its live seats).
pub(super) async fn rendered_feature(
    state: &AppState,
    license_id: LicenseId,
    code: &str,
    now: Millis,
) -> Result<Value, LsError> {
    let feature = license_feature(state, license_id, code).await?;
    render_feature(state, &feature, license_id, now).await
}

/// Renders a feature with the device's seat on it.
pub(super) async fn feature_response(
    state: &AppState,
    license: &License,
    code: &str,
    lease: &FloatingLease,
) -> Result<Response, LsError> {
    let now = state.now();
    let mut body = rendered_feature(state, license.id, code, now).await?;
    if let Some(map) = body.as_object_mut() {
        map.insert("borrowed_until".into(), json!(lease.borrowed_until.map(to_rfc3339)));
        map.insert("floating_end_date".into(), json!(to_rfc3339(lease.expires_at)));
    }
    Ok(signed(&body))
}

pub async fn floating_feature_borrow(call: LsCall) -> Result<Response, LsError> {
    let hardware_id = call.hardware_id()?;
    let code = call.params.req_str("feature")?;
    let license = call.writable_device_license(&hardware_id).await?;
    let now = call.state.now();
    let until = borrow_until(&call.params, &license, now)?;
    let lease = call
        .state
        .store
        .checkout_feature_lease(
            license.id,
            &code,
            &hardware_id,
            Some(until),
            call.event("license.feature_borrowed"),
            now,
        )
        .await
        .map_err(LsError::from_store)?;
    feature_response(&call.state, &license, &code, &lease).await
}

pub async fn floating_feature_release(call: LsCall) -> Result<Response, LsError> {
    let hardware_id = call.hardware_id()?;
    let code = call.params.req_str("feature")?;
    let license = call.writable_device_license(&hardware_id).await?;
    call.state
        .store
        .release_feature_lease(
            license.id,
            &code,
            &hardware_id,
            call.event("license.feature_released"),
            call.state.now(),
        )
        .await
        .map_err(LsError::from_store)?;
    Ok(plain(""))
}
