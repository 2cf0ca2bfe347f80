//! Feature checks and consumption (license and feature consumption counters).

use super::*;

pub async fn check_license_feature(
    State(state): State<AppState>,
    peer: Peer,
    LsCall {
        caller,
        product,
        params,
    }: LsCall,
) -> Result<Response, LsError> {
    let hardware_id = params.req_str("hardware_id")?;
    let code = params.req_str("feature")?;
    let license = license(&state, &product, &params).await?;
    active_device(&state, &license, &hardware_id).await?;
    let now = state.now();
    let features = state
        .store
        .license_features(license.id)
        .await
        .map_err(LsError::from_store)?;
    let feature = features
        .iter()
        .find(|feature| feature.definition.code == code)
        .ok_or_else(|| denial_error(Denial::FeatureNotFound))?;
    if !licensd_domain::rules::feature_active(feature, now) {
        return Err(denial_error(Denial::FeatureExpired));
    }
    if feature.floating_seats().is_some() {
        // Checking a floating feature connects the device to it: takes or renews a seat.
        let lease = state
            .store
            .checkout_feature_lease(
                license.id.get(),
                &code,
                &hardware_id,
                None,
                event(&caller, &peer, "license.feature_checked_out"),
                now,
            )
            .await
            .map_err(LsError::from_store)?;
        return feature_response(&state, &license, &code, &lease).await;
    }
    let leases = state
        .store
        .live_leases(license.id, now)
        .await
        .map_err(LsError::from_store)?;
    Ok(signed(&render::feature(feature, license.id.get(), &leases, now)))
}

pub async fn add_consumption(
    State(state): State<AppState>,
    peer: Peer,
    LsCall {
        caller,
        product,
        params,
    }: LsCall,
) -> Result<Response, LsError> {
    let hardware_id = params.req_str("hardware_id")?;
    let amount = params.opt_i64("consumptions")?.unwrap_or(1);
    let license = writable_device_license(&state, &caller, &product, &params, &hardware_id).await?;
    let now = state.now();
    let outcome = state
        .store
        .consume(
            LicenseRef::Id(license.id),
            amount,
            None,
            event(&caller, &peer, "license.consumed"),
            now,
        )
        .await
        .map_err(LsError::from_store)?;
    let mut body = render::consumption_block(&outcome.license, now);
    body.insert("id".into(), json!(outcome.license.id));
    Ok(signed(&Value::Object(body)))
}

pub async fn add_feature_consumption(
    State(state): State<AppState>,
    peer: Peer,
    LsCall {
        caller,
        product,
        params,
    }: LsCall,
) -> Result<Response, LsError> {
    let hardware_id = params.req_str("hardware_id")?;
    let code = params.req_str("feature")?;
    let amount = params.opt_i64("consumptions")?.unwrap_or(1);
    let license = writable_device_license(&state, &caller, &product, &params, &hardware_id).await?;
    let now = state.now();
    state
        .store
        .consume_feature(
            LicenseRef::Id(license.id),
            &code,
            amount,
            None,
            event(&caller, &peer, "license.feature_consumed"),
            now,
        )
        .await
        .map_err(LsError::from_store)?;
    let mut body = rendered_feature(&state, license.id.get(), &code, now).await?;
    // This endpoint spells the cap in the plural (reference §4.7).
    if let Some(map) = body.as_object_mut()
        && let Some(max) = map.remove("max_consumption")
    {
        map.insert("max_consumptions".into(), max);
    }
    Ok(signed(&body))
}
