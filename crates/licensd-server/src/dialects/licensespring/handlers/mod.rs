//! License API v4 endpoints. Each parses the vendor request, authenticates, names the product and
//! license, calls one store command (which applies the domain rules under the license lock) and
//! renders the vendor reply. No licensing rule lives here.

use super::auth::{Caller, authenticate, authenticate_reading};
use super::denial_error;
use super::render::{self, LicenseView};
use super::wire::{LsError, Params, plain, signed, v1_signature};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use licensd_domain::clock::{HOUR, parse_rfc3339, to_rfc3339};
use licensd_domain::product_version::{self, ProductVersion, VersionQuery};
use licensd_domain::*;
use licensd_store::{LicenseRef, StoreError};
use serde_json::{Value, json};

mod features;
mod floating;
mod license;
mod product;
mod trial;
mod users;
mod variables;

pub use features::*;
pub use floating::*;
pub use license::*;
pub use product::*;
pub use trial::*;
pub use users::*;
pub use variables::*;

/// The client address, for credential IP allow-lists and the event log (`http::client_ip`: the
/// TCP peer, or the client a trusted proxy forwarded).
pub use crate::http::ClientIp as Peer;

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
        Err(StoreError::NotFound) => Err(unknown_product(unknown, &code)),
        Err(other) => Err(LsError::from_store(other)),
    }
}

fn unknown_product(unknown: UnknownProduct, code: &str) -> LsError {
    match unknown {
        UnknownProduct::CheckLicense => LsError::bad("unknown_product", format!("unknown product {code:?}")),
        UnknownProduct::Other => LsError::bad("unknown_product_code", format!("unknown product {code:?}")),
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
        .ok_or_else(|| denial_error(Denial::LicenseUserNotFound))?;
    if let Some(password) = password {
        let verified = match &user.password_hash {
            Some(hash) => crate::http::password::verify(password.to_owned(), hash.clone())
                .await
                .map_err(|_| LsError::internal())?,
            None => false,
        };
        if !verified {
            return Err(denial_error(Denial::InvalidUserCredentials));
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
                && license_id.is_none_or(|id| id == license.id.get())
            {
                return Ok(Identity {
                    license,
                    user: Some(user),
                    bundle_key: None,
                });
            }
        }
        return Err(denial_error(Denial::LicenseUserNotFound));
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
        Some(license) if license_id.is_none_or(|id| id == license.id.get()) => {
            let bundle_key = (license.key.as_deref() != Some(key.as_str())).then_some(key);
            Ok(Identity {
                license,
                user: None,
                bundle_key,
            })
        }
        _ => Err(denial_error(Denial::LicenseNotFound)),
    }
}

/// check_license's common case in one read: a key-based request (not a user-based product, no
/// `bundle_code`) whose key names a license of `product` itself, validated for `hardware_id` by
/// that key, so that the license row `identify` would read comes with the validation read. The
/// parameters are parsed in `identify`'s order first (the same refusals). An unknown key is
/// `identify`'s `LicenseNotFound`; every other case (a bundle license, a `license_id` naming
/// another license, a user) is `None`, and the caller takes the long way, `identify` and then the
/// validation by id, so each refusal keeps its code. The validation is counted only when used.
pub(crate) async fn identify_validated(
    state: &AppState,
    product: &Product,
    params: &Params,
    hardware_id: &str,
) -> Result<Option<(Identity, licensd_store::ValidationReport)>, LsError> {
    let license_id = params.opt_i64("license_id")?;
    let key = params.opt_str("license_key")?.filter(|key| !key.is_empty());
    // With a key, a username does not make `identify` take the user path on a key-based product.
    params.opt_str("username")?;
    let bundle_code = params.opt_str("bundle_code")?.filter(|code| !code.is_empty());
    let Some(key) = key else {
        return Ok(None);
    };
    if product.auth_method == AuthMethod::User || bundle_code.is_some() {
        return Ok(None);
    }
    let now = state.now();
    let report = match state
        .store
        .validate(LicenseRef::Key(key.clone()), Some(hardware_id), now)
        .await
    {
        Ok(report) => report,
        Err(StoreError::Denied(Denial::LicenseNotFound)) => return Err(denial_error(Denial::LicenseNotFound)),
        Err(other) => return Err(LsError::from_store(other)),
    };
    if report.license.product_id != product.id || license_id.is_some_and(|id| id != report.license.id.get()) {
        return Ok(None);
    }
    state.validations.note(now);
    let bundle_key = (report.license.key.as_deref() != Some(key.as_str())).then_some(key);
    let identity = Identity {
        license: report.license.clone(),
        user: None,
        bundle_key,
    };
    Ok(Some((identity, report)))
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
    // The product the call names is read with the credential when the parameter is there (one
    // round trip); a missing or malformed one is refused by `product` after authentication, and
    // one with a NUL (which PostgreSQL's text refuses) is read after authentication as before.
    let code = params.req_str("product").ok().filter(|code| !code.contains('\0'));
    let (caller, found) = authenticate_reading(state, headers, peer.0, code.as_deref()).await?;
    let product = match (found, code) {
        (Some(Some(product)), _) => product,
        (Some(None), Some(code)) => return Err(unknown_product(unknown, &code)),
        _ => product(state, params, unknown).await?,
    };
    caller.require_product(product.id)?;
    Ok((caller, product))
}

/// A License API call, checked in the dialect's order before the handler runs: the request
/// parameters (a POST's JSON body, a GET's query string: 400 `validation_error` / `invalid_json`
/// when they do not parse), the credential (`authenticate`), the product the `product` parameter
/// names (`unknown_product_code`; `unknown_product` when `CHECK_LICENSE`, seed 004's code for
/// check_license) and the key's product scope. A refusal is the dialect's error body. It carries
/// what the handler translates with: the server state, the peer (for the event log) and the
/// call's caller, product and parameters.
pub struct LsCall<const CHECK_LICENSE: bool = false> {
    pub state: AppState,
    pub peer: Peer,
    pub caller: Caller,
    pub product: Product,
    pub params: Params,
}

impl<const CHECK_LICENSE: bool> LsCall<CHECK_LICENSE> {
    /// The event a command of this call records, as `action`.
    pub(crate) fn event(&self, action: &str) -> EventDraft {
        event(&self.caller, &self.peer, action)
    }

    /// The required `hardware_id` (the device the call is about).
    pub(crate) fn hardware_id(&self) -> Result<String, LsError> {
        self.params.req_str("hardware_id")
    }

    /// The identity block's license (no password check).
    pub(crate) async fn license(&self) -> Result<License, LsError> {
        license(&self.state, &self.product, &self.params).await
    }

    /// The identity the call names (`identify`), checking the user's password when asked.
    pub(crate) async fn identify(&self, check_password: bool) -> Result<Identity, LsError> {
        identify(&self.state, &self.product, &self.params, check_password).await
    }

    /// The preamble of the commands a device sends about its own license (consumption, floating,
    /// feature calls, device variables): the license the identity block names, a credential that
    /// may write, and `hardware_id` active on that license — checked in that order, so each
    /// refusal keeps its code.
    pub(crate) async fn writable_device_license(&self, hardware_id: &str) -> Result<License, LsError> {
        let license = self.license().await?;
        self.caller.require_write()?;
        active_device(&self.state, &license, hardware_id).await?;
        Ok(license)
    }
}

impl<const CHECK_LICENSE: bool> FromRequest<AppState> for LsCall<CHECK_LICENSE> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let peer = Peer::from_request_parts(&mut parts, state).await.unwrap_or(Peer(None));
        let headers = parts.headers.clone();
        let params = if matches!(parts.method, Method::GET | Method::HEAD) {
            query_params(Query::try_from_uri(&parts.uri)).map_err(IntoResponse::into_response)?
        } else {
            let body = Bytes::from_request(Request::from_parts(parts, body), state)
                .await
                .map_err(IntoResponse::into_response)?;
            Params::from_json(&body).map_err(IntoResponse::into_response)?
        };
        let unknown = if CHECK_LICENSE {
            UnknownProduct::CheckLicense
        } else {
            UnknownProduct::Other
        };
        let (caller, product) = begin(state, &headers, &peer, &params, unknown)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(LsCall {
            state: state.clone(),
            peer,
            caller,
            product,
            params,
        })
    }
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
    Ok(signed(&Value::Object(object)))
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
    let reads = LicenseReads {
        features: &features,
        leases: &leases,
        now,
    };
    license_object_with(state, product, identity, device, hardware_id, active_devices, &reads).await
}

/// What a license object shows besides the license itself, read at `now`: its features and its
/// live leases.
pub(crate) struct LicenseReads<'a> {
    pub features: &'a [LicenseFeature],
    pub leases: &'a [FloatingLease],
    pub now: Millis,
}

/// `license_response_object` for a caller that has already read the license's features and live
/// leases (check_license: the features from its validation read, the leases it looked at for a
/// borrowed seat), so they are not read again.
pub(crate) async fn license_object_with(
    state: &AppState,
    product: &Product,
    identity: &Identity,
    device: Option<&Device>,
    hardware_id: &str,
    active_devices: i64,
    reads: &LicenseReads<'_>,
) -> Result<serde_json::Map<String, Value>, LsError> {
    let license = &identity.license;
    let store = &state.store;
    let customer = match license.customer_id {
        Some(id) => Some(store.get_customer(id).await.map_err(LsError::from_store)?),
        None => None,
    };
    let mut object = render::license(&LicenseView {
        product,
        license,
        features: reads.features,
        customer: customer.as_ref(),
        device,
        hardware_id,
        active_devices,
        leases: reads.leases,
        now: reads.now,
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
