//! Device variables: tracking and reading them.

use super::*;

/// Device variables as `[{variable, value, device_id, created_at}]`; values are rendered as text
/// (what LicenseSpring stores), which also keeps floats out of signed bodies.
fn variable_rows(device_id: DeviceId, variables: &Value, created_at: Value, with_id: bool) -> Value {
    let Some(map) = variables.as_object() else {
        return json!([]);
    };
    Value::Array(
        map.iter()
            .enumerate()
            .map(|(index, (name, value))| {
                let mut row = json!({
                    "variable": name,
                    "value": match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    },
                    "device_id": device_id,
                    "created_at": created_at.clone(),
                });
                if with_id && let Some(row) = row.as_object_mut() {
                    // Variables have no rows of their own: the id is the position on the device.
                    row.insert("id".into(), json!(index + 1));
                }
                row
            })
            .collect(),
    )
}

pub async fn track_device_variables(call: LsCall) -> Result<Response, LsError> {
    let hardware_id = call.hardware_id()?;
    let Some(Value::Object(variables)) = call.params.opt_object("variables")? else {
        return Err(LsError::missing("variables"));
    };
    if variables.len() > 100 || variables.keys().any(|name| name.is_empty() || name.len() > 256) {
        return Err(LsError::invalid(
            "variables",
            "at most 100 variables with names of 1 to 256 bytes",
        ));
    }
    let license = call.writable_device_license(&hardware_id).await?;
    let now = call.state.now();
    let (device_id, after) = call
        .state
        .store
        .track_device_variables(
            license.id,
            &hardware_id,
            variables,
            call.event("device.variables_tracked"),
            now,
        )
        .await
        .map_err(LsError::from_store)?;
    Ok(signed(&variable_rows(device_id, &after, json!(now), false)))
}

pub async fn get_device_variables(
    State(state): State<AppState>,
    LsCall { product, params, .. }: LsCall,
) -> Result<Response, LsError> {
    let hardware_id = params.req_str("hardware_id")?;
    let license = license(&state, &product, &params).await?;
    let (device, _) = active_device(&state, &license, &hardware_id).await?;
    let created_at = json!(to_rfc3339(device.last_seen_at));
    Ok(signed(&variable_rows(device.id, &device.variables, created_at, true)))
}
