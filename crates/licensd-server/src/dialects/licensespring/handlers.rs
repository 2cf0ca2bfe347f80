//! License API v4 endpoints. Each parses the vendor request, authenticates, names the product and
//! license, calls one store command (which applies the domain rules under the license lock) and
//! renders the vendor reply. No licensing rule lives here.

use super::auth::{Caller, authenticate};
use super::render::{self, LicenseView};
use super::wire::{LsError, Params, plain, signed, v1_signature};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use licensd_domain::clock::{HOUR, parse_rfc3339, to_rfc3339};
use licensd_domain::product_version::{self, ProductVersion, VersionQuery};
use licensd_domain::*;
use licensd_store::{LicenseRef, StoreError};
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};

/// The TCP peer address, for credential IP allow-lists and the event log.
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
}

pub(crate) type Query2 = Result<Query<Vec<(String, String)>>, QueryRejection>;

pub(crate) fn query_params(query: Query2) -> Result<Params, LsError> {
    match query {
        Ok(Query(pairs)) => Ok(Params::from_query(pairs)),
        Err(rejection) => Err(LsError::bad("validation_error", rejection.body_text())),
    }
}

pub(crate) fn respond(result: Result<Response, LsError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Which code an unknown product gets: check_license uses seed 004's `unknown_product`, every
/// other endpoint seed 001's `unknown_product_code`.
#[derive(Clone, Copy)]
pub(crate) enum UnknownProduct {
    CheckLicense,
    Other,
}

pub(crate) fn event(caller: &Caller, peer: &Peer, action: &str) -> EventDraft {
    EventDraft::new(format!("licensespring:{}", caller.credential.key_id), action, "license")
        .from_ip(peer.0.map(|ip| ip.to_string()))
}

async fn product(state: &AppState, params: &Params, unknown: UnknownProduct) -> Result<Product, LsError> {
    let code = params.req_str("product")?;
    match state.store.get_product_by_code(&code).await {
        Ok(product) => Ok(product),
        Err(StoreError::NotFound) => Err(match unknown {
            UnknownProduct::CheckLicense => LsError::bad("unknown_product", format!("unknown product {code:?}")),
            UnknownProduct::Other => LsError::bad("unknown_product_code", format!("unknown product {code:?}")),
        }),
        Err(other) => Err(LsError::from_store(other)),
    }
}

/// Who a license-scoped request names: a license by key, or a license user (e-mail) of a
/// user-based product and their license on that product.
pub(crate) struct Identity {
    pub license: License,
    pub user: Option<LicenseUser>,
    /// The bundle license's key, when a key-based request reached this member license through
    /// it: the SDKs verify the v1 signature over, and store, the key they sent.
    pub bundle_key: Option<String>,
}

impl Identity {
    /// The identity the v1 signature covers: the license key, or the user's e-mail.
    pub(crate) fn signed_id(&self) -> String {
        match &self.user {
            Some(user) => user.email.clone(),
            None => self
                .bundle_key
                .clone()
                .or_else(|| self.license.key.clone())
                .unwrap_or_default(),
        }
    }
}

/// A license user by e-mail, checking the password when `password` is given.
async fn license_user(state: &AppState, username: &str, password: Option<&str>) -> Result<LicenseUser, LsError> {
    let user = state
        .store
        .find_license_user_by_email(username)
        .await
        .map_err(LsError::from_store)?
        .ok_or_else(|| super::denial_error(Denial::LicenseUserNotFound))?;
    if let Some(password) = password {
        let verified = user
            .password_hash
            .as_deref()
            .is_some_and(|hash| licensd_crypto::verify_password(password, hash));
        if !verified {
            return Err(super::denial_error(Denial::InvalidUserCredentials));
        }
    }
    Ok(user)
}

/// The user's licenses on `product`, in id order.
async fn user_product_licenses(
    state: &AppState,
    user: &LicenseUser,
    product: &Product,
) -> Result<Vec<License>, LsError> {
    let ids = state
        .store
        .license_ids_of_user(user.id)
        .await
        .map_err(LsError::from_store)?;
    let mut licenses = Vec::new();
    for id in ids {
        let license = state.store.get_license(id).await.map_err(LsError::from_store)?;
        if license.product_id == product.id {
            licenses.push(license);
        }
    }
    Ok(licenses)
}

/// Resolves the identity block. Key-based: `license_key`. User-based (`username`, or any request
/// on a user-based product): the user, their password when `check_password`, and their license
/// on the product (`license_id` picks one of several). The SDKs send back the `id` they were
/// given as `license_id`; it must name the same license.
///
/// Bundles: the key (or the user's license) may name a bundle license while `product` is one of
/// its member products; the request then targets that member license. `bundle_code` (the bundle
/// product's code) makes this explicit and must match.
pub(crate) async fn identify(
    state: &AppState,
    product: &Product,
    params: &Params,
    check_password: bool,
) -> Result<Identity, LsError> {
    let license_id = params.opt_i64("license_id")?;
    let key = params.opt_str("license_key")?.filter(|key| !key.is_empty());
    let username = params.opt_str("username")?.filter(|name| !name.is_empty());
    let bundle_code = params.opt_str("bundle_code")?.filter(|code| !code.is_empty());
    if product.auth_method == AuthMethod::User || (key.is_none() && username.is_some()) {
        let username = username.ok_or_else(|| LsError::missing("username"))?;
        let password = if check_password {
            Some(params.req_str("password")?)
        } else {
            None
        };
        let user = license_user(state, &username, password.as_deref()).await?;
        let ids = state
            .store
            .license_ids_of_user(user.id)
            .await
            .map_err(LsError::from_store)?;
        for id in ids {
            let candidate = state.store.get_license(id).await.map_err(LsError::from_store)?;
            if let Some(license) = on_product(state, candidate, product, bundle_code.as_deref()).await?
                && license_id.is_none_or(|id| id == license.id)
            {
                return Ok(Identity {
                    license,
                    user: Some(user),
                    bundle_key: None,
                });
            }
        }
        return Err(super::denial_error(Denial::LicenseUserNotFound));
    }
    let key = key.ok_or_else(|| LsError::missing("license_key"))?;
    let found = state
        .store
        .find_license_by_key(&key)
        .await
        .map_err(LsError::from_store)?;
    let license = match found {
        Some(license) => on_product(state, license, product, bundle_code.as_deref()).await?,
        None => None,
    };
    match license {
        Some(license) if license_id.is_none_or(|id| id == license.id) => {
            let bundle_key = (license.key.as_deref() != Some(key.as_str())).then_some(key);
            Ok(Identity {
                license,
                user: None,
                bundle_key,
            })
        }
        _ => Err(super::denial_error(Denial::LicenseNotFound)),
    }
}

/// The license a request on `product` means, given the license its key or user names: that
/// license itself when it is of `product`, or, when it is a bundle license, its member license of
/// `product`. With `bundle_code`, the bundle license's product must have that code.
async fn on_product(
    state: &AppState,
    license: License,
    product: &Product,
    bundle_code: Option<&str>,
) -> Result<Option<License>, LsError> {
    let store = &state.store;
    if license.product_id == product.id {
        let Some(code) = bundle_code else {
            return Ok(Some(license));
        };
        // A member license named by its own key, in the bundle `bundle_code` names.
        let Some(bundle_id) = store.bundle_of_license(license.id).await.map_err(LsError::from_store)? else {
            return Ok(None);
        };
        let bundle = store.get_license(bundle_id).await.map_err(LsError::from_store)?;
        let bundle_product = store
            .get_product(bundle.product_id)
            .await
            .map_err(LsError::from_store)?;
        return Ok((bundle_product.code == code).then_some(license));
    }
    if let Some(code) = bundle_code {
        let bundle_product = store
            .get_product(license.product_id)
            .await
            .map_err(LsError::from_store)?;
        if bundle_product.code != code {
            return Ok(None);
        }
    }
    for id in store.bundle_licenses(license.id).await.map_err(LsError::from_store)? {
        let member = store.get_license(id).await.map_err(LsError::from_store)?;
        if member.product_id == product.id {
            return Ok(Some(member));
        }
    }
    Ok(None)
}

/// The license the identity block names (no password check).
async fn license(state: &AppState, product: &Product, params: &Params) -> Result<License, LsError> {
    Ok(identify(state, product, params, false).await?.license)
}

/// Authenticates and names the product, enforcing the key's product scope.
pub(crate) async fn begin(
    state: &AppState,
    headers: &HeaderMap,
    peer: &Peer,
    params: &Params,
    unknown: UnknownProduct,
) -> Result<(Caller, Product), LsError> {
    let caller = authenticate(state, headers, peer.0).await?;
    let product = product(state, params, unknown).await?;
    caller.require_product(product.id)?;
    Ok((caller, product))
}

/// Renders a license object with both signatures for `hardware_id`.
async fn license_response(
    state: &AppState,
    product: &Product,
    identity: &Identity,
    device: Option<&Device>,
    hardware_id: &str,
    active_devices: i64,
) -> Result<Response, LsError> {
    let mut object = license_response_object(state, product, identity, device, hardware_id, active_devices).await?;
    let validity = render::validity_period(&identity.license);
    object.insert(
        "license_signature".into(),
        json!(v1_signature(
            state,
            hardware_id,
            &identity.signed_id(),
            validity.as_deref()
        )?),
    );
    Ok(signed(state, &Value::Object(object)))
}

/// The license object (with the `user` object of a user-based license), without signatures.
pub(crate) async fn license_response_object(
    state: &AppState,
    product: &Product,
    identity: &Identity,
    device: Option<&Device>,
    hardware_id: &str,
    active_devices: i64,
) -> Result<serde_json::Map<String, Value>, LsError> {
    let license = &identity.license;
    let now = state.now();
    let store = &state.store;
    let features = store.license_features(license.id).await.map_err(LsError::from_store)?;
    let leases = store.live_leases(license.id, now).await.map_err(LsError::from_store)?;
    let customer = match license.customer_id {
        Some(id) => Some(store.get_customer(id).await.map_err(LsError::from_store)?),
        None => None,
    };
    let mut object = render::license(&LicenseView {
        product,
        license,
        features: &features,
        customer: customer.as_ref(),
        device,
        hardware_id,
        active_devices,
        leases: &leases,
        now,
    });
    if let Some(user) = &identity.user {
        let total = state
            .store
            .list_devices(license.id)
            .await
            .map_err(LsError::from_store)?
            .iter()
            .filter(|device| device.is_active() && device.user_id == Some(user.id))
            .count() as i64;
        object.insert("user".into(), render::user(user, license, total));
    }
    if let Some(key) = &identity.bundle_key {
        object.insert("license_key".into(), json!(key));
    }
    Ok(object)
}

/// The device data an activation request carries.
pub(crate) fn device_info(params: &Params, hardware_id: &str) -> Result<DeviceInfo, LsError> {
    Ok(DeviceInfo {
        fingerprint: hardware_id.to_string(),
        name: params.opt_str("os_hostname")?,
        hostname: params.opt_str("hostname")?,
        os: params.opt_str("os_ver")?,
        app_version: params.opt_str("app_ver")?,
        ip: params.opt_str("ip")?,
        mac: params.opt_str("mac_address")?,
        is_vm: params.opt_bool("is_vm")?.unwrap_or(false),
        variables: params.opt_object("variables")?,
    })
}

/// `GET /api/v4/`: the SDKs' reachability probe.
pub async fn root() -> Response {
    plain("ok")
}

pub async fn not_found() -> LsError {
    LsError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "no such License API endpoint",
    )
}

pub async fn activate_license(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    respond(
        async {
            let params = Params::from_json(&body)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
            let hardware_id = params.req_str("hardware_id")?;
            let identity = identify(&state, &product, &params, true).await?;
            caller.require_write()?;
            let device = device_info(&params, &hardware_id)?;
            let activation = state
                .store
                .activate(
                    LicenseRef::Id(identity.license.id),
                    device,
                    identity.user.as_ref().map(|user| user.id),
                    event(&caller, &peer, "license.activated"),
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
                &state,
                &activation.product,
                &identity,
                Some(&activation.device),
                &hardware_id,
                activation.active_devices,
            )
            .await
        }
        .await,
    )
}

pub async fn check_license(State(state): State<AppState>, peer: Peer, headers: HeaderMap, query: Query2) -> Response {
    respond(
        async {
            let params = query_params(query)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::CheckLicense).await?;
            let hardware_id = params.req_str("hardware_id")?;
            let identity = identify(&state, &product, &params, false).await?;
            let signed_id = identity.signed_id();
            let include_expired_features = include_expired_features(&params)?;
            let report = validated(&state, identity.license.id, &hardware_id).await?;
            let object = checked_license(
                &state,
                &caller,
                &peer,
                include_expired_features,
                report,
                identity,
                &signed_id,
                &hardware_id,
            )
            .await?;
            Ok(signed(&state, &Value::Object(object)))
        }
        .await,
    )
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
    license_id: i64,
    hardware_id: &str,
) -> Result<licensd_store::ValidationReport, LsError> {
    let report = state
        .store
        .validate(LicenseRef::Id(license_id), Some(hardware_id), state.now())
        .await
        .map_err(LsError::from_store)?;
    let device_active = report.device.as_ref().is_some_and(Device::is_active);
    match report.outcome {
        Ok(_) => Ok(report),
        Err(Denial::LicenseExpired | Denial::TrialExpired) if device_active => Ok(report),
        Err(Denial::LicenseExpired | Denial::TrialExpired) => Err(super::denial_error(Denial::DeviceNotActivated)),
        Err(denial) => Err(super::denial_error(denial)),
    }
}

/// The rest of check_license for one license (also each license of check_bundle), after
/// `validated`: takes or renews a floating seat and renders the license object with its v1
/// signature over `signed_id` (the key or e-mail the client sent).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn checked_license(
    state: &AppState,
    caller: &Caller,
    peer: &Peer,
    include_expired_features: bool,
    report: licensd_store::ValidationReport,
    identity: Identity,
    signed_id: &str,
    hardware_id: &str,
) -> Result<serde_json::Map<String, Value>, LsError> {
    let Identity { user, bundle_key, .. } = identity;
    let now = state.now();
    let mut license = report.license;
    let borrowed = state
        .store
        .live_leases(license.id, now)
        .await
        .map_err(LsError::from_store)?
        .iter()
        .any(|lease| {
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
                event(caller, peer, "license.lease_checked_out"),
                now,
            )
            .await
            .map_err(LsError::from_store)?;
        license = state.store.get_license(license.id).await.map_err(LsError::from_store)?;
    }
    let identity = Identity {
        license,
        user,
        bundle_key,
    };
    let mut object = license_response_object(
        state,
        &report.product,
        &identity,
        report.device.as_ref(),
        hardware_id,
        report.active_devices,
    )
    .await?;
    if !include_expired_features {
        drop_expired_features(&mut object, &identity.license, now, state).await?;
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
async fn drop_expired_features(
    object: &mut serde_json::Map<String, Value>,
    license: &License,
    now: Millis,
    state: &AppState,
) -> Result<(), LsError> {
    let features = state
        .store
        .license_features(license.id)
        .await
        .map_err(LsError::from_store)?;
    let expired: Vec<&str> = features
        .iter()
        .filter(|feature| feature.overrides.expires_at.is_some_and(|at| now >= at))
        .map(|feature| feature.definition.code.as_str())
        .collect();
    if expired.is_empty() {
        return Ok(());
    }
    if let Some(Value::Array(list)) = object.get_mut("product_features") {
        list.retain(|feature| {
            feature
                .get("code")
                .and_then(Value::as_str)
                .is_none_or(|code| !expired.contains(&code))
        });
    }
    Ok(())
}

pub async fn deactivate_license(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(
        async {
            let params = Params::from_json(&body)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
            let hardware_id = params.req_str("hardware_id")?;
            let license = license(&state, &product, &params).await?;
            caller.require_write()?;
            state
                .store
                .deactivate(
                    LicenseRef::Id(license.id),
                    &hardware_id,
                    event(&caller, &peer, "license.deactivated"),
                    state.now(),
                )
                .await
                .map_err(LsError::from_store)?;
            Ok(plain("license_deactivated"))
        }
        .await,
    )
}

/// The preamble of the commands a device sends about its own license (consumption, floating,
/// feature calls): the license the identity block names, a credential that may write, and
/// `hardware_id` active on that license — checked in that order, so each refusal keeps its code.
async fn writable_device_license(
    state: &AppState,
    caller: &Caller,
    product: &Product,
    params: &Params,
    hardware_id: &str,
) -> Result<License, LsError> {
    let license = license(state, product, params).await?;
    caller.require_write()?;
    active_device(state, &license, hardware_id).await?;
    Ok(license)
}

/// The active device for `hardware_id`, or `device_not_found`.
async fn active_device(state: &AppState, license: &License, hardware_id: &str) -> Result<(Device, i64), LsError> {
    let now = state.now();
    let report = state
        .store
        .validate(LicenseRef::Id(license.id), Some(hardware_id), now)
        .await
        .map_err(LsError::from_store)?;
    report.outcome.map_err(super::denial_error)?;
    match report.device {
        Some(device) if device.is_active() => Ok((device, report.active_devices)),
        _ => Err(super::denial_error(Denial::DeviceNotActivated)),
    }
}

pub async fn check_license_feature(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    query: Query2,
) -> Response {
    respond(
        async {
            let params = query_params(query)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
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
                .ok_or_else(|| super::denial_error(Denial::FeatureNotFound))?;
            if feature.overrides.expires_at.is_some_and(|at| now >= at) {
                return Err(super::denial_error(Denial::FeatureExpired));
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
            Ok(signed(&state, &render::feature(feature, license.id, &leases, now)))
        }
        .await,
    )
}

pub async fn add_consumption(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    respond(
        async {
            let params = Params::from_json(&body)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
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
            Ok(signed(&state, &Value::Object(body)))
        }
        .await,
    )
}

pub async fn add_feature_consumption(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(
        async {
            let params = Params::from_json(&body)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
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
            let features = state
                .store
                .license_features(license.id)
                .await
                .map_err(LsError::from_store)?;
            let feature = features
                .iter()
                .find(|feature| feature.definition.code == code)
                .ok_or_else(|| super::denial_error(Denial::FeatureNotFound))?;
            let leases = state
                .store
                .live_leases(license.id, now)
                .await
                .map_err(LsError::from_store)?;
            let mut body = render::feature(feature, license.id, &leases, now);
            // This endpoint spells the cap in the plural (reference §4.7).
            if let Some(map) = body.as_object_mut()
                && let Some(max) = map.remove("max_consumption")
            {
                map.insert("max_consumptions".into(), max);
            }
            Ok(signed(&state, &body))
        }
        .await,
    )
}

/// `borrowed_until`: an ISO-8601 instant, a bare date (end of that day is not assumed: midnight
/// UTC), or absent/null for now + max_borrow_time.
fn parse_borrow_until(text: &str) -> Option<Millis> {
    parse_rfc3339(text)
        .or_else(|| parse_rfc3339(&format!("{text}Z")))
        .or_else(|| parse_rfc3339(&format!("{text}T00:00:00Z")))
}

pub async fn floating_borrow(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    respond(
        async {
            let params = Params::from_json(&body)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
            let hardware_id = params.req_str("hardware_id")?;
            let license = writable_device_license(&state, &caller, &product, &params, &hardware_id).await?;
            let now = state.now();
            let until = borrow_until(&params, &license, now)?;
            let lease = state
                .store
                .checkout_lease(
                    LicenseRef::Id(license.id),
                    &hardware_id,
                    Some(until),
                    event(&caller, &peer, "license.lease_borrowed"),
                    now,
                )
                .await
                .map_err(LsError::from_store)?;
            let (device, _) = active_device(&state, &license, &hardware_id).await?;
            Ok(signed(
                &state,
                &json!({
                    "borrowed_until": lease.borrowed_until.map(to_rfc3339),
                    "max_borrow_time": license.terms.floating.as_ref().map_or(0, |f| f.max_borrow_hours),
                    "device_id": device.id,
                    "license_id": license.id,
                }),
            ))
        }
        .await,
    )
}

pub async fn floating_release(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    respond(
        async {
            let params = Params::from_json(&body)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
            let hardware_id = params.req_str("hardware_id")?;
            let license = writable_device_license(&state, &caller, &product, &params, &hardware_id).await?;
            state
                .store
                .release_lease(
                    LicenseRef::Id(license.id),
                    &hardware_id,
                    event(&caller, &peer, "license.lease_released"),
                    state.now(),
                )
                .await
                .map_err(LsError::from_store)?;
            Ok(plain(""))
        }
        .await,
    )
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

/// Renders a feature with the device's seat on it.
async fn feature_response(
    state: &AppState,
    license: &License,
    code: &str,
    lease: &FloatingLease,
) -> Result<Response, LsError> {
    let now = state.now();
    let features = state
        .store
        .license_features(license.id)
        .await
        .map_err(LsError::from_store)?;
    let feature = features
        .iter()
        .find(|feature| feature.definition.code == code)
        .ok_or_else(|| super::denial_error(Denial::FeatureNotFound))?;
    let leases = state
        .store
        .live_leases(license.id, now)
        .await
        .map_err(LsError::from_store)?;
    let mut body = render::feature(feature, license.id, &leases, now);
    if let Some(map) = body.as_object_mut() {
        map.insert("borrowed_until".into(), json!(lease.borrowed_until.map(to_rfc3339)));
        map.insert("floating_end_date".into(), json!(to_rfc3339(lease.expires_at)));
    }
    Ok(signed(state, &body))
}

pub async fn floating_feature_borrow(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(
        async {
            let params = Params::from_json(&body)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
            let hardware_id = params.req_str("hardware_id")?;
            let code = params.req_str("feature")?;
            let license = writable_device_license(&state, &caller, &product, &params, &hardware_id).await?;
            let now = state.now();
            let until = borrow_until(&params, &license, now)?;
            let lease = state
                .store
                .checkout_feature_lease(
                    license.id,
                    &code,
                    &hardware_id,
                    Some(until),
                    event(&caller, &peer, "license.feature_borrowed"),
                    now,
                )
                .await
                .map_err(LsError::from_store)?;
            feature_response(&state, &license, &code, &lease).await
        }
        .await,
    )
}

pub async fn floating_feature_release(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(
        async {
            let params = Params::from_json(&body)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
            let hardware_id = params.req_str("hardware_id")?;
            let code = params.req_str("feature")?;
            let license = writable_device_license(&state, &caller, &product, &params, &hardware_id).await?;
            state
                .store
                .release_feature_lease(
                    license.id,
                    &code,
                    &hardware_id,
                    event(&caller, &peer, "license.feature_released"),
                    state.now(),
                )
                .await
                .map_err(LsError::from_store)?;
            Ok(plain(""))
        }
        .await,
    )
}

pub async fn product_details(State(state): State<AppState>, peer: Peer, headers: HeaderMap, query: Query2) -> Response {
    respond(
        async {
            let params = query_params(query)?;
            let (_caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
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
            Ok(signed(&state, &body))
        }
        .await,
    )
}

/// Marks a trial license as issued to one device of one product, so a repeated request finds it.
fn trial_marker(hardware_id: &str) -> String {
    format!("licensespring-trial:{hardware_id}")
}

/// The answer for a device whose trial was already issued (one trial per hardware id and
/// product, kept by a unique index on the marker).
async fn existing_trial(state: &AppState, product_id: i64, marker: &str) -> Result<Option<Response>, LsError> {
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
        signed(
            state,
            &json!({
                "license_type": render::license_type(license.terms.license_type),
                "is_trial": true,
                "license": license.key,
                "license_key": license.key,
                "id": license.id,
            }),
        )
    }))
}

pub async fn trial_key(State(state): State<AppState>, peer: Peer, headers: HeaderMap, query: Query2) -> Response {
    respond(
        async {
            let params = query_params(query)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
            let hardware_id = params.req_str("hardware_id")?;
            if hardware_id.trim().is_empty() {
                return Err(super::denial_error(Denial::FingerprintRequired));
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
                        .ok_or_else(|| {
                            LsError::bad("unknown_policy_code", format!("unknown license policy {code:?}"))
                        })?,
                ),
                None => None,
            };
            caller.require_write()?;
            let marker = trial_marker(&hardware_id);
            if let Some(reply) = existing_trial(&state, product.id, &marker).await? {
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
                policy_id: policy.as_ref().map(|policy| policy.id),
                customer_id: None,
                key: Some(pattern.generate(&random)),
                status: LicenseStatus::Active,
                assignment: Assignment::Assigned,
                terms,
                starts_at: None,
                // The trial clock starts at first activation (`rules::plan_activation`).
                expires_at: None,
                maintenance_expires_at: maintenance,
                trial_days: Some(trial_days),
                order_ref: Some(marker.clone()),
                metadata: json!({"trial_email": email}),
                features: policy
                    .as_ref()
                    .map(|policy| policy.features.clone())
                    .unwrap_or_default(),
            };
            let mut created = match state
                .store
                .create_licenses(vec![new], event(&caller, &peer, "license.trial_issued"), now)
                .await
            {
                Ok(created) => created,
                // A concurrent request issued this device's trial first (the unique index on
                // the marker refused the second): answer with that one.
                Err(StoreError::Conflict(message)) => {
                    return match existing_trial(&state, product.id, &marker).await? {
                        Some(reply) => Ok(reply),
                        None => Err(LsError::from_store(StoreError::Conflict(message))),
                    };
                }
                Err(error) => return Err(LsError::from_store(error)),
            };
            let license = created.pop().ok_or_else(LsError::internal)?;
            Ok(signed(
                &state,
                &json!({
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
                }),
            ))
        }
        .await,
    )
}

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
            if !licensd_crypto::verify_password(&password, hash) {
                return Err(super::denial_error(Denial::InvalidUserCredentials));
            }
            let new_hash = licensd_crypto::hash_password(&new_password).map_err(|_| LsError::internal())?;
            let event = EventDraft::new(
                format!("licensespring:{}", caller.credential.key_id),
                "license_user.password_changed",
                "license_user",
            )
            .subject(user.id)
            .from_ip(peer.0.map(|ip| ip.to_string()));
            state
                .store
                .set_license_user_password(user.id, &new_hash, event)
                .await
                .map_err(LsError::from_store)?;
            Ok(plain("password_changed"))
        }
        .await,
    )
}

pub async fn user_licenses(State(state): State<AppState>, peer: Peer, headers: HeaderMap, query: Query2) -> Response {
    respond(
        async {
            let params = query_params(query)?;
            let (_caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
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
            Ok(signed(&state, &Value::Array(entries)))
        }
        .await,
    )
}

pub async fn customer_license_users(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    query: Query2,
) -> Response {
    respond(
        async {
            let params = query_params(query)?;
            let (_caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
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
            Ok(signed(
                &state,
                &json!({
                    "customer": {
                        "id": customer.id,
                        "email": customer.email,
                        "company_name": customer.company,
                        "reference": customer.reference,
                    },
                    "users": rows,
                }),
            ))
        }
        .await,
    )
}

/// Device variables as `[{variable, value, device_id, created_at}]`; values are rendered as text
/// (what LicenseSpring stores), which also keeps floats out of signed bodies.
fn variable_rows(device_id: i64, variables: &Value, created_at: Value, with_id: bool) -> Value {
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

pub async fn track_device_variables(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(
        async {
            let params = Params::from_json(&body)?;
            let (caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
            let hardware_id = params.req_str("hardware_id")?;
            let Some(Value::Object(variables)) = params.opt_object("variables")? else {
                return Err(LsError::missing("variables"));
            };
            if variables.len() > 100 || variables.keys().any(|name| name.is_empty() || name.len() > 256) {
                return Err(LsError::invalid(
                    "variables",
                    "at most 100 variables with names of 1 to 256 bytes",
                ));
            }
            let license = writable_device_license(&state, &caller, &product, &params, &hardware_id).await?;
            let now = state.now();
            let (device_id, after) = state
                .store
                .track_device_variables(
                    license.id,
                    &hardware_id,
                    variables,
                    event(&caller, &peer, "device.variables_tracked"),
                    now,
                )
                .await
                .map_err(LsError::from_store)?;
            Ok(signed(&state, &variable_rows(device_id, &after, json!(now), false)))
        }
        .await,
    )
}

pub async fn get_device_variables(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    query: Query2,
) -> Response {
    respond(
        async {
            let params = query_params(query)?;
            let (_caller, product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
            let hardware_id = params.req_str("hardware_id")?;
            let license = license(&state, &product, &params).await?;
            let (device, _) = active_device(&state, &license, &hardware_id).await?;
            let created_at = json!(to_rfc3339(device.last_seen_at));
            Ok(signed(
                &state,
                &variable_rows(device.id, &device.variables, created_at, true),
            ))
        }
        .await,
    )
}

/// `GET /api/v4/sso_url`: licensd has no identity-provider (OIDC) integration, so there is no
/// sign-in URL to give; the request is answered with a clear error instead of a made-up URL.
pub async fn sso_url(State(state): State<AppState>, peer: Peer, headers: HeaderMap, query: Query2) -> Response {
    respond(
        async {
            let params = query_params(query)?;
            let (_caller, _product) = begin(&state, &headers, &peer, &params, UnknownProduct::Other).await?;
            params.req_str("customer_account_code")?;
            Err(LsError::bad(
                "validation_error",
                "single sign-on is not available: no identity provider is configured on this licensd server",
            ))
        }
        .await,
    )
}

/// The license and its active device for the update endpoints; any reason the device may not use
/// the license (not activated, expired, disabled…) is `active_license_required`.
async fn licensed_device(state: &AppState, license: &License, hardware_id: &str) -> Result<Device, LsError> {
    let report = state
        .store
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
        "version": version.version,
        "installation_file": version.download_url,
        "release_date": to_rfc3339(version.release_date),
        "hash_md5": version.hash_md5,
        "environment": version.environment,
        "eula_link": version.eula_link,
        "release_notes_link": version.release_notes_link,
        "size": version.size,
        "requires_version": version.requires_version,
        "channel": version.channel,
    })
}

/// The query for the update endpoints: `env`, `channel`, and the installed version (`app_ver`, or
/// what the device reported at activation).
async fn update_context(
    state: &AppState,
    headers: &HeaderMap,
    peer: &Peer,
    params: &Params,
) -> Result<(License, Device, Vec<ProductVersion>), LsError> {
    let (_caller, product) = begin(state, headers, peer, params, UnknownProduct::Other).await?;
    let hardware_id = params.req_str("hardware_id")?;
    let license = license(state, &product, params).await?;
    let device = licensed_device(state, &license, &hardware_id).await?;
    let versions = state
        .store
        .list_product_versions(product.id)
        .await
        .map_err(LsError::from_store)?;
    Ok((license, device, versions))
}

pub async fn versions(State(state): State<AppState>, peer: Peer, headers: HeaderMap, query: Query2) -> Response {
    respond(
        async {
            let params = query_params(query)?;
            let (license, device, versions) = update_context(&state, &headers, &peer, &params).await?;
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
                .map(|version| json!({"version": version.version, "release_date": to_rfc3339(version.release_date)}))
                .collect();
            Ok(signed(&state, &Value::Array(list)))
        }
        .await,
    )
}

pub async fn installation_file(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    query: Query2,
) -> Response {
    respond(
        async {
            let params = query_params(query)?;
            let (license, device, versions) = update_context(&state, &headers, &peer, &params).await?;
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
            Ok(signed(&state, &version_object(version)))
        }
        .await,
    )
}

/// The latest enabled version of a product for `env` (product_details' `latest_version`).
pub(crate) fn latest_version(versions: &[ProductVersion], env: Option<&str>) -> Value {
    versions
        .iter()
        .filter(|version| version.enabled)
        .filter(|version| match (&version.environment, env) {
            (Some(have), Some(want)) => have.eq_ignore_ascii_case(want),
            _ => true,
        })
        .max_by(|a, b| product_version::compare_versions(&a.version, &b.version))
        .map_or(Value::Null, |version| {
            let mut object = version_object(version);
            if let Some(map) = object.as_object_mut() {
                map.insert("product_id".into(), json!(version.product_id));
                map.insert("enabled".into(), json!(version.enabled));
                map.insert("full_link".into(), json!(version.download_url));
            }
            object
        })
}
