//! The DNA endpoints. Each one checks its ids (400), finds the product and license (404), asks the
//! store and the domain, and renders DNA's JSON. Where DNA's documentation is silent, the decision
//! is written next to the code.

use super::wire::{DnaError, check_id, parse_body, user_ip};
use crate::state::AppState;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use licensd_domain::access::AccessRequest;
use licensd_domain::clock::{HOUR, to_rfc3339};
use licensd_domain::status_keywords::{CodeType, KeywordFacts, status_keywords};
use licensd_domain::*;
use licensd_store::dialects::dna::{DnaPassword, PasswordAttempt};
use licensd_store::{LicenseRef, StoreError};
use serde::Deserialize;

mod credits;
pub use credits::{consume, credits};
use serde_json::{Value, json};
use std::net::IpAddr;

/// An authenticated request.
pub struct Ctx {
    pub state: AppState,
    pub credential: Credential,
    pub client_ip: Option<String>,
    /// The client address `client_ip` is the text of (`http::client_ip`: the TCP peer, or the client
    /// a trusted proxy forwarded); the credential's IP allow-list is checked against it.
    pub peer: Option<IpAddr>,
    pub now: Millis,
}

impl Ctx {
    fn event(&self, action: &str) -> EventDraft {
        EventDraft::new(format!("dna:{}", self.credential.key_id), action, "license").from_ip(self.client_ip.clone())
    }

    /// Read-only API keys may only read (`access::admit`).
    fn require_write(&self) -> Result<(), DnaError> {
        let request = AccessRequest {
            peer: self.peer,
            write: true,
            product: None,
        };
        self.credential.admit(&request).map_err(super::wire::refused)
    }

    /// The product and license a path names: 400 for a malformed id, 404 when either is unknown
    /// (or the license belongs to another product), 401 when the key is scoped to another product.
    async fn load(&self, (product_id, license_id): (&str, &str)) -> Result<(Product, License), DnaError> {
        check_id(product_id, "ProductId")?;
        check_id(license_id, "LicenseId")?;
        let store = &self.state.store;
        let product = match store.get_product_by_code(product_id).await {
            Ok(product) => product,
            Err(StoreError::NotFound) => return Err(DnaError::not_found("ProductId not found")),
            Err(other) => return Err(other.into()),
        };
        let request = AccessRequest {
            peer: self.peer,
            write: false,
            product: Some(product.id),
        };
        self.credential.admit(&request).map_err(super::wire::refused)?;
        match store.find_license_by_key(license_id).await? {
            Some(license) if license.product_id == product.id => Ok((product, license)),
            _ => Err(DnaError::not_found("LicenseId not found")),
        }
    }
}

/// Single-user or multi-user (floating counts as multi-user), as DNA's `LicenseType` says it.
fn is_multi_user(license: &License) -> bool {
    license.terms.floating.is_some() || license.terms.max_activations != Some(1)
}

/// `<type> (<max devices>)`: `SU (1)`, `MU (n)` (0 = unlimited) or `F (seats)`.
fn license_type(license: &License) -> String {
    match (&license.terms.floating, license.terms.max_activations) {
        (Some(floating), _) => format!("F ({})", floating.seats),
        (None, Some(1)) => "SU (1)".to_string(),
        (None, max) => format!("MU ({})", max.unwrap_or(0)),
    }
}

fn date(at: Option<Millis>) -> Value {
    at.map(|at| Value::String(to_rfc3339(at))).unwrap_or(Value::Null)
}

async fn keywords(ctx: &Ctx, product: &Product, license: &License) -> Result<String, DnaError> {
    let facts = ctx.state.store.license_facts(license, ctx.now).await?;
    Ok(status_keywords(
        Some(KeywordFacts {
            product,
            license,
            active_devices: facts.active_devices,
            recent_activations: facts.recent_activations,
            ip_locked: facts.ip_locked,
        }),
        ctx.now,
    )
    .render())
}

/// Which slice of the active devices a details answer lists (all by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DevicePage {
    offset: usize,
    limit: usize,
}

impl Default for DevicePage {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: usize::MAX,
        }
    }
}

/// `?Offset=&Limit=` (names matched case-insensitively; DNA does not publish them) page the device
/// list of large multi-user licenses; `DeviceCount` always gives the total.
fn device_page(query: &str) -> Result<DevicePage, DnaError> {
    let mut page = DevicePage::default();
    for (key, value) in form_pairs(query) {
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| DnaError::bad_request(format!("Invalid {key}: expected a non-negative integer")))
        };
        match key.to_ascii_lowercase().as_str() {
            "offset" => page.offset = number()?,
            "limit" => page.limit = number()?,
            _ => return Err(DnaError::bad_request(format!("Unknown query parameter {key}"))),
        }
    }
    Ok(page)
}

/// The License resource object.
async fn details(ctx: &Ctx, product: &Product, license: &License, page: DevicePage) -> Result<Value, DnaError> {
    let store = &ctx.state.store;
    let status = keywords(ctx, product, license).await?;
    let dna = store.license_account(license.id).await?;
    let devices = store.list_devices(license.id).await?;
    let info_tag = store.latest_info_tag(license.id).await?;
    let first_activation = devices.iter().map(|d| d.activated_at).min();
    // Every activation after the first one is a re-activation.
    let last_reactivation = if devices.len() > 1 {
        devices.iter().map(|d| d.activated_at).max()
    } else {
        None
    };
    let last_validation = devices.iter().map(|d| d.last_seen_at).max();
    let device_count = devices.iter().filter(|d| d.is_active()).count();
    let active: Vec<Value> = devices
        .iter()
        .filter(|d| d.is_active())
        .skip(page.offset)
        .take(page.limit)
        .map(|d| {
            json!({
                "MachineId": d.fingerprint,
                "Name": d.name,
                "Hostname": d.hostname,
                "Os": d.os,
                "AppVersion": d.app_version,
                "ActivationDate": to_rfc3339(d.activated_at),
                "LastSeenDate": to_rfc3339(d.last_seen_at),
            })
        })
        .collect();
    Ok(json!({
        "ProductID": product.code,
        "SoftwareDescription": product.name,
        "ProductSKU": product.code,
        "LicenseCode": license.key,
        "Status": status,
        "LicenseType": license_type(license),
        "MuAdminPassSet": dna.admin_password_hash.is_some(),
        "LicenseDescription": license.order_ref,
        "LicenseCodeType": CodeType::of(license.terms.kind).as_str(),
        "ActivationEmail": dna.activation_email,
        "ActivationDate": date(first_activation),
        // licensd activates online only.
        "OfflineActivation": false,
        "ServerActivationDate": date(first_activation),
        // The days an EVALUATION or TEST code runs from its first activation.
        "ExpiryNoDays": rules::expiry_days_after_activation(license),
        "ExpiryDate": date(license.expires_at),
        "LastReactivationDate": date(last_reactivation),
        "LastValidationDate": date(last_validation),
        "LicenseData": dna.license_data,
        "DeviceCount": device_count,
        "Devices": active,
        "InfoTag": info_tag.as_ref().map(|t| t.tag.clone()),
        "InfoTagDate": date(info_tag.map(|t| t.at)),
    }))
}

/// GET …/Licenses/{p}/{l}/status → `{"Status": "<KeyWords>"}`.
pub async fn status(ctx: &Ctx, ids: (&str, &str)) -> Result<Response, DnaError> {
    let (product, license) = ctx.load(ids).await?;
    let status = keywords(ctx, &product, &license).await?;
    Ok(Json(json!({ "Status": status })).into_response())
}

/// GET …/Licenses/{p}/{l}: details without end-user authentication.
pub async fn details_get(ctx: &Ctx, ids: (&str, &str), query: &str) -> Result<Response, DnaError> {
    let page = device_page(query)?;
    let (product, license) = ctx.load(ids).await?;
    Ok(Json(details(ctx, &product, &license, page).await?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PasswordBody {
    license_password: Option<String>,
    user_ip: Option<String>,
}

/// POST …/Licenses/{p}/{l} with `{LicensePassword, UserIp}`: details after checking the end
/// user's license password. Wrong passwords count towards the IP lockout of `UserIp`.
pub async fn details_post(ctx: &Ctx, ids: (&str, &str), bytes: &[u8]) -> Result<Response, DnaError> {
    let body: PasswordBody = parse_body(bytes)?;
    let ip = user_ip(&body.user_ip)?;
    let password = required_password(&body.license_password, "LicensePassword", 64)?;
    let (product, license) = ctx.load(ids).await?;
    check_password(ctx, &license, DnaPassword::User, &password, &ip, false).await?;
    Ok(Json(details(ctx, &product, &license, DevicePage::default()).await?).into_response())
}

fn required_password(value: &Option<String>, field: &str, max_chars: usize) -> Result<String, DnaError> {
    match value {
        None => Err(DnaError::bad_request(format!("{field} is required"))),
        Some(text) if text.is_empty() => Err(DnaError::bad_request(format!("{field} is required"))),
        Some(text) if text.chars().count() > max_chars => Err(DnaError::bad_request(format!(
            "{field} must be at most {max_chars} characters"
        ))),
        Some(text) => Ok(text.clone()),
    }
}

/// Checks one of the license's passwords from the end user at `ip`; the password change calls
/// (`allow_reset_code`) also take the pending reset code in its place.
/// A locked-out IP is refused before anything is compared; every wrong answer is recorded under
/// the license row lock and may lock the IP out. A multi-user license whose admin password was
/// never set accepts its License Code instead (DNA emails that key for the first set).
async fn check_password(
    ctx: &Ctx,
    license: &License,
    which: DnaPassword,
    given: &str,
    ip: &str,
    allow_reset_code: bool,
) -> Result<(), DnaError> {
    let store = &ctx.state.store;
    if store.ip_locked(license.id, ip, ctx.now).await? {
        return Err(super::wire::denial_error(Denial::IpLockout));
    }
    let dna = store.license_account(license.id).await?;
    let stored = match which {
        DnaPassword::User => dna.password_hash,
        DnaPassword::Admin => dna.admin_password_hash,
    };
    let mut accepted = match stored {
        Some(hash) => verify_password(given.to_string(), hash).await?,
        None => {
            which == DnaPassword::Admin
                && license
                    .key
                    .as_deref()
                    .is_some_and(|key| licensd_crypto::constant_time_eq(key.as_bytes(), given.as_bytes()))
        }
    };
    if !accepted && allow_reset_code {
        accepted = store
            .password_reset_code_matches(license.id, which, given, ctx.now)
            .await?;
    }
    let action = if accepted {
        "dna.password_accepted"
    } else {
        "dna.password_failed"
    };
    match store
        .password_attempt(license.id, ip, accepted, ctx.event(action), ctx.now)
        .await?
    {
        PasswordAttempt::Accepted => Ok(()),
        PasswordAttempt::Rejected { locked } => Err(DnaError::bad_request(match (which, locked) {
            (DnaPassword::User, false) => "Invalid LicensePassword",
            (DnaPassword::Admin, false) => "Invalid AdminPassword",
            (_, true) => "Invalid password; too many invalid attempts: this UserIp is now in IPLOCKOUT",
        })),
    }
}

/// argon2id costs ~25 ms of CPU: run it off the async workers (`http::password`).
async fn verify_password(given: String, hash: String) -> Result<bool, DnaError> {
    crate::http::password::verify(given, hash)
        .await
        .map_err(|_| DnaError::internal())
}

async fn hash_password(password: String) -> Result<String, DnaError> {
    crate::http::password::hash(password)
        .await
        .map_err(|_| DnaError::internal())
}

/// licensd sends no email, so it cannot honour `SendDnaEmail: true`; it says so instead of
/// pretending to have sent one.
fn refuse_email(send: Option<bool>) -> Result<(), DnaError> {
    if send == Some(true) {
        Err(DnaError::bad_request(
            "SendDnaEmail is not supported: this server sends no email (use SendDnaEmail=false)",
        ))
    } else {
        Ok(())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateBody {
    new_email: Option<String>,
    new_license_data: Option<String>,
    user_ip: Option<String>,
    test: Option<bool>,
    send_dna_email: Option<bool>,
}

/// PATCH …/Licenses/{p}/{l}: `NewEmail` and/or `NewLicenseData`. Every field is checked before
/// anything changes; a test event checks and changes nothing. Answers the updated details.
pub async fn update(ctx: &Ctx, ids: (&str, &str), bytes: &[u8]) -> Result<Response, DnaError> {
    ctx.require_write()?;
    let body: UpdateBody = parse_body(bytes)?;
    user_ip(&body.user_ip)?;
    refuse_email(body.send_dna_email)?;
    if body.new_email.is_none() && body.new_license_data.is_none() {
        return Err(DnaError::bad_request("NewEmail or NewLicenseData is required"));
    }
    if let Some(email) = &body.new_email
        && !licensd_domain::contact::is_plausible_email(email)
    {
        return Err(DnaError::bad_request("Invalid NewEmail format"));
    }
    if let Some(data) = &body.new_license_data
        && data.len() > 4096
    {
        return Err(DnaError::bad_request("NewLicenseData must be at most 4096 bytes"));
    }
    let (product, license) = ctx.load(ids).await?;
    if body.test != Some(true) {
        ctx.state
            .store
            .update_license_account(
                license.id,
                body.new_email,
                body.new_license_data,
                ctx.event("dna.license_update"),
                ctx.now,
            )
            .await?;
    }
    Ok(Json(details(ctx, &product, &license, DevicePage::default()).await?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChangePasswordBody {
    license_password: Option<String>,
    new_password: Option<String>,
    admin_password: Option<String>,
    new_admin_password: Option<String>,
    user_ip: Option<String>,
    test: Option<bool>,
    send_dna_email: Option<bool>,
}

/// DNA license passwords are at most 16 characters.
const MAX_PASSWORD_CHARS: usize = 16;

/// POST …/password: `LicensePassword` (the current password or a reset code) → `NewPassword`.
pub async fn change_password(ctx: &Ctx, ids: (&str, &str), bytes: &[u8]) -> Result<Response, DnaError> {
    ctx.require_write()?;
    let body: ChangePasswordBody = parse_body(bytes)?;
    let ip = user_ip(&body.user_ip)?;
    refuse_email(body.send_dna_email)?;
    let current = required_password(&body.license_password, "LicensePassword", 64)?;
    let new = required_password(&body.new_password, "NewPassword", MAX_PASSWORD_CHARS)?;
    let (_, license) = ctx.load(ids).await?;
    check_password(ctx, &license, DnaPassword::User, &current, &ip, true).await?;
    set_password(ctx, &license, DnaPassword::User, new, body.test).await
}

/// POST …/adminpassword: the admin password of a multi-user or floating license.
pub async fn change_admin_password(ctx: &Ctx, ids: (&str, &str), bytes: &[u8]) -> Result<Response, DnaError> {
    ctx.require_write()?;
    let body: ChangePasswordBody = parse_body(bytes)?;
    let ip = user_ip(&body.user_ip)?;
    refuse_email(body.send_dna_email)?;
    let current = required_password(&body.admin_password, "AdminPassword", 64)?;
    let new = required_password(&body.new_admin_password, "NewAdminPassword", MAX_PASSWORD_CHARS)?;
    let (_, license) = ctx.load(ids).await?;
    if !is_multi_user(&license) {
        return Err(DnaError::bad_request("The License Code is not a multi-user license"));
    }
    check_password(ctx, &license, DnaPassword::Admin, &current, &ip, true).await?;
    set_password(ctx, &license, DnaPassword::Admin, new, body.test).await
}

async fn set_password(
    ctx: &Ctx,
    license: &License,
    which: DnaPassword,
    new: String,
    test: Option<bool>,
) -> Result<Response, DnaError> {
    if test == Some(true) {
        return Ok(Json(json!({"Message": "Test event: the password was not changed"})).into_response());
    }
    let hash = hash_password(new).await?;
    let action = match which {
        DnaPassword::User => "dna.password_change",
        DnaPassword::Admin => "dna.admin_password_change",
    };
    ctx.state
        .store
        .set_license_password(license.id, which, Some(hash), ctx.event(action), ctx.now)
        .await?;
    Ok(Json(json!({"Message": "Password changed"})).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecoveryBody {
    user_ip: Option<String>,
    test: Option<bool>,
    send_dna_email: Option<bool>,
}

/// How long a password reset code stays valid.
const RESET_CODE_HOURS: i64 = 24;

/// A reset code short enough to be typed where a (≤ 16 character) password goes: 12 characters
/// from an alphabet without look-alikes, about 60 bits.
fn reset_code() -> Result<String, DnaError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 12];
    licensd_crypto::random_bytes(&mut bytes).map_err(|_| DnaError::internal())?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

/// POST …/passrecovery and …/admin/passrecovery: creates a Password Reset Code, returned in the
/// response (`SendDnaEmail` must be false: licensd sends no email). It replaces an earlier code
/// and is accepted once as the current password by the password change calls.
pub async fn password_recovery(ctx: &Ctx, ids: (&str, &str), bytes: &[u8], admin: bool) -> Result<Response, DnaError> {
    ctx.require_write()?;
    let body: RecoveryBody = parse_body(bytes)?;
    let ip = user_ip(&body.user_ip)?;
    refuse_email(body.send_dna_email)?;
    let (_, license) = ctx.load(ids).await?;
    if admin && !is_multi_user(&license) {
        return Err(DnaError::bad_request("The License Code is not a multi-user license"));
    }
    if ctx.state.store.ip_locked(license.id, &ip, ctx.now).await? {
        return Err(super::wire::denial_error(Denial::IpLockout));
    }
    if body.test == Some(true) {
        return Ok(Json(json!({"Message": "Test event: no reset code was created"})).into_response());
    }
    let code = reset_code()?;
    let expires_at = ctx.now.saturating_add(RESET_CODE_HOURS * HOUR);
    let which = if admin { DnaPassword::Admin } else { DnaPassword::User };
    ctx.state
        .store
        .set_password_reset_code(
            license.id,
            which,
            &code,
            expires_at,
            ctx.event("dna.password_recovery"),
            ctx.now,
        )
        .await?;
    Ok(Json(json!({"PasswordResetCode": code, "ExpiryDate": to_rfc3339(expires_at)})).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeviceBody {
    user_ip: Option<String>,
    test: Option<bool>,
}

/// DELETE …/Licenses/{p}/{l}/{deviceId}: deactivates the device (its `MachineId`) and answers 204.
/// A test event removes nothing and answers 409, as DNA does for test events on an ACTIVE product.
pub async fn delete_device(ctx: &Ctx, ids: (&str, &str), device: &str, bytes: &[u8]) -> Result<Response, DnaError> {
    ctx.require_write()?;
    let body: DeviceBody = parse_body(bytes)?;
    user_ip(&body.user_ip)?;
    if device.is_empty() || device.len() > 256 {
        return Err(DnaError::bad_request("Invalid DeviceId format"));
    }
    let (_, license) = ctx.load(ids).await?;
    let devices = ctx.state.store.list_devices(license.id).await?;
    if !devices.iter().any(|d| d.is_active() && d.fingerprint == device) {
        return Err(DnaError::not_found("DeviceId not found"));
    }
    if body.test == Some(true) {
        return Err(DnaError::new(
            StatusCode::CONFLICT,
            "Test event against an ACTIVE product: the device was not removed",
        ));
    }
    ctx.state
        .store
        .deactivate(
            LicenseRef::Id(license.id),
            device,
            ctx.event("dna.device_delete"),
            ctx.now,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `a=b&c=d` pairs, percent-decoded (`+` is a space; text that is not UTF-8 is replaced).
fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// GET …/Licenses/{p}/{l}/infotags (DNA does not publish this path): the InfoTags reported for
/// the license, oldest first, as `[{InfoTag, Date}]`.
pub async fn info_tags(ctx: &Ctx, ids: (&str, &str)) -> Result<Response, DnaError> {
    let (_, license) = ctx.load(ids).await?;
    let page = licensd_store::Page {
        after: None,
        limit: 1000,
    };
    let tags = ctx.state.store.list_info_tags(license.id, page).await?;
    let list: Vec<Value> = tags
        .into_iter()
        .map(|t| json!({"InfoTag": t.tag, "Date": to_rfc3339(t.at)}))
        .collect();
    Ok(Json(Value::Array(list)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings() {
        assert_eq!(
            form_pairs("Target=ALL&UserIp=192.0.2.1&x=%41%2"),
            vec![
                ("Target".into(), "ALL".into()),
                ("UserIp".into(), "192.0.2.1".into()),
                ("x".into(), "A%2".into())
            ]
        );
        assert_eq!(form_pairs("v=a+b%20c%zz"), vec![("v".into(), "a b c%zz".into())]);
        assert_eq!(device_page(""), Ok(DevicePage::default()));
        assert_eq!(device_page("OFFSET=2&limit=3"), Ok(DevicePage { offset: 2, limit: 3 }));
        assert_eq!(
            device_page("limit=-1"),
            Err(DnaError::bad_request("Invalid limit: expected a non-negative integer"))
        );
        assert_eq!(
            device_page("page=1"),
            Err(DnaError::bad_request("Unknown query parameter page"))
        );
    }

    #[test]
    fn reset_codes_fit_the_password_field() {
        let a = reset_code().unwrap();
        let b = reset_code().unwrap();
        assert_eq!(a.len(), 12);
        assert!(a.len() <= MAX_PASSWORD_CHARS);
        assert_ne!(a, b);
    }
}
