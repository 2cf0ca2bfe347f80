//! License users: password change, their licenses, a customer's license users, SSO.

use super::*;

pub async fn change_password(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    respond(
        async {
            let params = Params::from_json(&body)?;
            let caller = authenticate(&state, &headers, peer.0).await?;
            let username = params.req_str("username")?;
            let password = params.req_str("password")?;
            let new_password = params.req_str("new_password")?;
            // The same policy as the native API's license-user passwords.
            if !(8..=1024).contains(&new_password.chars().count()) {
                return Err(LsError::invalid("new_password", "8 to 1024 characters"));
            }
            caller.require_write()?;
            let user = license_user(&state, &username, None).await?;
            // A user without a password of their own (never set) has none to change.
            let Some(hash) = user.password_hash.as_deref() else {
                return Err(LsError::bad(
                    "change_password_not_allowed",
                    "this user has no password to change",
                ));
            };
            let verified = crate::http::password::verify(password.clone(), hash.to_owned())
                .await
                .map_err(|_| LsError::internal())?;
            if !verified {
                return Err(denial_error(Denial::InvalidUserCredentials));
            }
            let new_hash = crate::http::password::hash(new_password.clone())
                .await
                .map_err(|_| LsError::internal())?;
            let event = EventDraft::new(
                format!("licensespring:{}", caller.credential.key_id),
                "license_user.password_changed",
                "license_user",
            )
            .subject(user.id)
            .from_ip(peer.0.map(|ip| ip.to_string()));
            state
                .store
                .set_license_user_password(user.id, &new_hash, event, state.now())
                .await
                .map_err(LsError::from_store)?;
            Ok(plain("password_changed"))
        }
        .await,
    )
}

pub async fn user_licenses(
    State(state): State<AppState>,
    LsCall { product, params, .. }: LsCall,
) -> Result<Response, LsError> {
    let username = params.req_str("username")?;
    let password = params.req_str("password")?;
    let user = license_user(&state, &username, Some(&password)).await?;
    let licenses = user_product_licenses(&state, &user, &product).await?;
    if licenses.is_empty() {
        return Err(LsError::bad(
            "user_not_assigned_to_product",
            "this user has no license of this product",
        ));
    }
    let now = state.now();
    let mut entries = Vec::new();
    for license in &licenses {
        let features = state
            .store
            .license_features(license.id)
            .await
            .map_err(LsError::from_store)?;
        let leases = state
            .store
            .live_leases(license.id, now)
            .await
            .map_err(LsError::from_store)?;
        let devices = state
            .store
            .list_devices(license.id)
            .await
            .map_err(LsError::from_store)?;
        let active = devices.iter().filter(|device| device.is_active()).count() as i64;
        let own = devices
            .iter()
            .filter(|device| device.is_active() && device.user_id == Some(user.id))
            .count() as i64;
        let mut object = render::license(&LicenseView {
            product: &product,
            license,
            features: &features,
            customer: None,
            device: None,
            hardware_id: "",
            active_devices: active,
            leases: &leases,
            now,
        });
        // No device is named here, so there is no hardware_id to echo.
        object.remove("hardware_id");
        entries.push(json!({"license": object, "user": render::user(&user, license, own)}));
    }
    Ok(signed(&Value::Array(entries)))
}

pub async fn customer_license_users(
    State(state): State<AppState>,
    LsCall { product, params, .. }: LsCall,
) -> Result<Response, LsError> {
    let email = params.req_str("customer")?;
    if product.auth_method != AuthMethod::User {
        return Err(LsError::bad(
            "invalid_product_auth_method",
            "customer_license_users needs a user-based product",
        ));
    }
    let customer_id = state
        .store
        .customer_id_by_email(&email)
        .await
        .map_err(LsError::from_store)?
        .ok_or_else(|| LsError::bad("customer_does_not_exist", "no customer with this e-mail"))?;
    let customer = state
        .store
        .get_customer(customer_id)
        .await
        .map_err(LsError::from_store)?;
    let users = state
        .store
        .list_license_users(
            Some(customer_id),
            licensd_store::Page {
                after: None,
                limit: 1000,
            },
        )
        .await
        .map_err(LsError::from_store)?;
    let mut rows = Vec::new();
    for user in &users {
        for license in user_product_licenses(&state, user, &product).await? {
            let total = state
                .store
                .list_devices(license.id)
                .await
                .map_err(LsError::from_store)?
                .iter()
                .filter(|device| device.is_active() && device.user_id == Some(user.id))
                .count() as i64;
            let mut row = render::user(user, &license, total);
            if let Some(map) = row.as_object_mut() {
                map.insert("is_active".into(), json!(true));
                // licensd never keeps plain passwords, so there is no initial password to show.
                map.insert("initial_password".into(), Value::Null);
                map.insert("license_id".into(), json!(license.id));
                map.insert("order_store_id".into(), json!(license.order_ref));
                map.insert("order_id".into(), Value::Null);
            }
            rows.push(row);
        }
    }
    Ok(signed(&json!({
        "customer": {
            "id": customer.id,
            "email": customer.email,
            "company_name": customer.company,
            "reference": customer.reference,
        },
        "users": rows,
    })))
}

/// `GET /api/v4/sso_url`: licensd has no identity-provider (OIDC) integration, so there is no
/// sign-in URL to give; the request is answered with a clear error instead of a made-up URL.
pub async fn sso_url(LsCall { params, .. }: LsCall) -> Result<Response, LsError> {
    params.req_str("customer_account_code")?;
    Err(LsError::bad(
        "validation_error",
        "single sign-on is not available: no identity provider is configured on this licensd server",
    ))
}
