//! Product details, product versions and installation files.

use super::*;

pub async fn product_details(
    State(state): State<AppState>,
    LsCall { product, params, .. }: LsCall,
) -> Result<Response, LsError> {
    let include_latest = params.opt_bool("include_latest_version")?.unwrap_or(false);
    let include_custom_fields = params.opt_bool("include_custom_fields")?.unwrap_or(false);
    let mut body = render::product_details(&product, None);
    if let Some(map) = body.as_object_mut() {
        map.insert("metadata_string".into(), json!(product.metadata.to_string()));
        if include_latest {
            let versions = state
                .store
                .list_product_versions(product.id)
                .await
                .map_err(LsError::from_store)?;
            let env = params.opt_str("env")?;
            map.insert("latest_version".into(), latest_version(&versions, env.as_deref()));
        }
        if include_custom_fields {
            map.insert("custom_fields".into(), json!([]));
        }
    }
    Ok(signed(&body))
}

/// The license and its active device for the update endpoints; any reason the device may not use
/// the license (not activated, expired, disabled…) is `active_license_required`.
async fn licensed_device(state: &AppState, license: &License, hardware_id: &str) -> Result<Device, LsError> {
    let report = state
        .validate(LicenseRef::Id(license.id), Some(hardware_id), state.now())
        .await
        .map_err(LsError::from_store)?;
    if let Err(denial) = report.outcome {
        crate::metrics::note_denial(denial);
    }
    match (report.outcome, report.device) {
        (Ok(_), Some(device)) if device.is_active() => Ok(device),
        _ => Err(LsError::bad(
            "active_license_required",
            "this device has no active license of this product",
        )),
    }
}

fn version_object(version: &ProductVersion) -> Value {
    json!({
        "id": version.id,
        "version": version.spec.version,
        "installation_file": version.spec.download_url,
        "release_date": to_rfc3339(version.spec.release_date),
        "hash_md5": version.spec.hash_md5,
        "environment": version.spec.environment,
        "eula_link": version.spec.eula_link,
        "release_notes_link": version.spec.release_notes_link,
        "size": version.spec.size,
        "requires_version": version.spec.requires_version,
        "channel": version.spec.channel,
    })
}

/// The query for the update endpoints: `env`, `channel`, and the installed version (`app_ver`, or
/// what the device reported at activation).
async fn update_context(
    state: &AppState,
    product: &Product,
    params: &Params,
) -> Result<(License, Device, Vec<ProductVersion>), LsError> {
    let hardware_id = params.req_str("hardware_id")?;
    let license = license(state, product, params).await?;
    let device = licensed_device(state, &license, &hardware_id).await?;
    let versions = state
        .store
        .list_product_versions(product.id)
        .await
        .map_err(LsError::from_store)?;
    Ok((license, device, versions))
}

pub async fn versions(
    State(state): State<AppState>,
    LsCall { product, params, .. }: LsCall,
) -> Result<Response, LsError> {
    let (license, device, versions) = update_context(&state, &product, &params).await?;
    let (env, channel, app_ver) = (
        params.opt_str("env")?,
        params.opt_str("channel")?,
        params.opt_str("app_ver")?,
    );
    let query = VersionQuery {
        environment: env.as_deref(),
        channel: channel.as_deref(),
        installed: app_ver.as_deref().or(device.app_version.as_deref()),
    };
    let list: Vec<Value> = product_version::available_versions(&versions, &license, &query)
        .into_iter()
        .map(|version| json!({"version": version.spec.version, "release_date": to_rfc3339(version.spec.release_date)}))
        .collect();
    Ok(signed(&Value::Array(list)))
}

pub async fn installation_file(
    State(state): State<AppState>,
    LsCall { product, params, .. }: LsCall,
) -> Result<Response, LsError> {
    let (license, device, versions) = update_context(&state, &product, &params).await?;
    let (env, channel, app_ver) = (
        params.opt_str("env")?,
        params.opt_str("channel")?,
        params.opt_str("app_ver")?,
    );
    let wanted = params.opt_str("version")?;
    let query = VersionQuery {
        environment: env.as_deref(),
        channel: channel.as_deref(),
        installed: app_ver.as_deref().or(device.app_version.as_deref()),
    };
    let version = product_version::installation_file(&versions, &license, &query, wanted.as_deref())
        .ok_or_else(|| LsError::bad("version_not_found", "no installation file matches this request"))?;
    Ok(signed(&version_object(version)))
}

/// The latest enabled version of a product for `env` (product_details' `latest_version`).
pub(crate) fn latest_version(versions: &[ProductVersion], env: Option<&str>) -> Value {
    versions
        .iter()
        .filter(|version| version.spec.enabled)
        .filter(|version| match (&version.spec.environment, env) {
            (Some(have), Some(want)) => have.eq_ignore_ascii_case(want),
            _ => true,
        })
        .max_by(|a, b| product_version::compare_versions(&a.spec.version, &b.spec.version))
        .map_or(Value::Null, |version| {
            let mut object = version_object(version);
            if let Some(map) = object.as_object_mut() {
                map.insert("product_id".into(), json!(version.spec.product_id));
                map.insert("enabled".into(), json!(version.spec.enabled));
                map.insert("full_link".into(), json!(version.spec.download_url));
            }
            object
        })
}
