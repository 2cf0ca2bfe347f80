//! Feature checks and consumption (license and feature consumption counters).

use super::*;

pub async fn check_license_feature(call: LsCall) -> Result<Response, LsError> {
    let state = &call.state;
    let hardware_id = call.hardware_id()?;
    let code = call.params.req_str("feature")?;
    let license = call.license().await?;
    active_device(state, &license, &hardware_id).await?;
    let now = state.now();
    let feature = license_feature(state, license.id, &code).await?;
    if !licensd_domain::rules::feature_active(&feature, now) {
        return Err(denial_error(Denial::FeatureExpired));
    }
    if feature.floating_seats().is_some() {
        // Checking a floating feature connects the device to it: takes or renews a seat.
        let lease = state
            .store
            .checkout_feature_lease(
                license.id,
                &code,
                &hardware_id,
                None,
                call.event("license.feature_checked_out"),
                now,
            )
            .await
            .map_err(LsError::from_store)?;
        return feature_response(state, &license, &code, &lease).await;
    }
    Ok(signed(&render_feature(state, &feature, license.id, now).await?))
}

pub async fn add_consumption(call: LsCall) -> Result<Response, LsError> {
    let hardware_id = call.hardware_id()?;
    let amount = call.params.opt_i64("consumptions")?.unwrap_or(1);
    let license = call.writable_device_license(&hardware_id).await?;
    let now = call.state.now();
    let outcome = call
        .state
        .store
        .consume(
            LicenseRef::Id(license.id),
            amount,
            None,
            call.event("license.consumed"),
            now,
        )
        .await
        .map_err(LsError::from_store)?;
    let mut body = render::consumption_block(&outcome.license, now);
    body.insert("id".into(), json!(outcome.license.id));
    Ok(signed(&Value::Object(body)))
}

pub async fn add_feature_consumption(call: LsCall) -> Result<Response, LsError> {
    let hardware_id = call.hardware_id()?;
    let code = call.params.req_str("feature")?;
    let amount = call.params.opt_i64("consumptions")?.unwrap_or(1);
    let license = call.writable_device_license(&hardware_id).await?;
    let now = call.state.now();
    call.state
        .store
        .consume_feature(
            LicenseRef::Id(license.id),
            &code,
            amount,
            None,
            call.event("license.feature_consumed"),
            now,
        )
        .await
        .map_err(LsError::from_store)?;
    let mut body = rendered_feature(&call.state, license.id, &code, now).await?;
    // This endpoint spells the cap in the plural (reference §4.7).
    if let Some(map) = body.as_object_mut()
        && let Some(max) = map.remove("max_consumption")
    {
        map.insert("max_consumptions".into(), max);
    }
    Ok(signed(&body))
}
