//! Softworkz DNA REST v1 (issue 6), mounted at `/dna/v1`: the License Manager API vendor back-ends
//! and portals use. DNA matches resource names case-insensitively (`/Licenses/…` and `/licenses/…`),
//! so the dialect routes its own paths: one catch-all route lowercases the resource segments (never
//! the ids) and dispatches. Every request is rate-limited per client IP before authentication and
//! per credential after it (429 with `X-RateLimit-Reset` and `Retry-After`, in seconds).
//!
//! Contract: reference/dna-api.md. Endpoints (`{p}` = product code, `{l}` = license key):
//! - `GET Licenses/{p}/{l}/status` → `{"Status": "<KeyWords>"}` (domain `status_keywords`).
//! - `GET Licenses/{p}/{l}[?Offset=&Limit=]` and `POST Licenses/{p}/{l}` `{LicensePassword, UserIp}`
//!   → the License object; `PATCH Licenses/{p}/{l}` `{NewEmail, NewLicenseData, UserIp, Test}`.
//! - `POST …/password`, `…/adminpassword`, `…/passrecovery`, `…/admin/passrecovery`.
//! - `DELETE Licenses/{p}/{l}/{deviceId}` → 204 (409 for a test event).
//! - `GET credits/{p}/{l}` and `POST Credits/{p}/{l}/consume` → `[{Target, Name, Count}]`.
//! - `GET Licenses/{p}/{l}/infotags` → `[{InfoTag, Date}]` (DNA does not publish this path).
//!
//! Decisions where DNA is silent (each also noted at its code):
//! - Credentials: a `dna` credential's key id is the clientId and its secret the apiKey. Unknown,
//!   wrong, revoked, outside the IP allow-list, scoped to another product, or read-only on a write
//!   → 401 (the only authentication error DNA documents). Every 401 carries
//!   `WWW-Authenticate: Basic realm="DNA", charset="UTF-8"`: .NET's `HttpClient` with a
//!   `CredentialCache` sends Basic credentials only after that challenge
//!   (`fidelity::dna_401_answers_carry_the_basic_challenge`).
//! - `UserIp` is required (400 `UserIp is required`, or `Invalid UserIp format`, before anything
//!   is read or changed) by every call whose documented body carries it: details POST, PATCH,
//!   `password`, `adminpassword`, both `passrecovery` calls, DELETE device, the credits query (in
//!   the body or the query string) and consume. The GET details, status and infotags calls take
//!   no body (`fidelity::dna_user_ip_is_required_wherever_documented`).
//! - ExpiryNoDays / ExpiryDate: a code without a fixed expiry gets `ExpiryDate = first activation
//!   + ExpiryNoDays` (the domain's `rules::expiry_days_after_activation`, the license's
//!   `trial_days`). EVALUATION codes take the product's trial days when issued without their own;
//!   TEST codes run 15 days unless the code says otherwise; later activations keep the date
//!   (`fidelity::dna_evaluation_and_test_codes_expire_after_first_activation`).
//! - Refusals (wrong password, IP lockout, no credits, banned …) → 400 with a `Message`, since DNA
//!   documents only 400/401/404/409/429/500; missing product, license or device → 404.
//! - End-user data lives in the DNA store (`dna_licenses`): the license password and the
//!   multi-user admin password (argon2id), reset codes (keyed digests, 24 h, voided when a password
//!   is set), the activation email and license data. Administrators set them through `/v1/dna/…`
//!   and `licensd dna …`. Before an admin password exists, the License Code itself is accepted.
//! - Wrong passwords feed the IP lockout of `UserIp` (per product policy, default 5 failures in
//!   15 min → 1 h); a locked IP is refused before the password is compared.
//! - REACTLOCKOUT is the domain's reactivation lockout (`terms.reactivation_lockout`: at most
//!   `limit` new activations in `window_hours`); administrators reset it through
//!   `/v1/dna/licenses/{id}/reset-reactivation-lockout` (past activations stop counting).
//! - `Test: true` is a dry run that validates and changes nothing (licensd has no TESTING MODE, so
//!   every product is ACTIVE); `SendDnaEmail: true` is refused (licensd sends no email), so reset
//!   codes are returned in the response.
//! - Credits (`handlers/credits.rs`, domain `dna_credits`): `Target: LICENSE` (the default) is the
//!   code's own credits, the license's consumption counter (name `Credits`) plus its consumption
//!   features (by feature code); `Count` is what is left (null without a cap). `Target: EMAIL` is
//!   the pool of the code's activation email for its product, shared by every code of that
//!   product with the same email (compared without case); vendors fund it through
//!   `/v1/dna/products/{id}/credit-pools` (`PUT` sets a balance, `POST …/add` replenishes) and
//!   `licensd dna set-pool | add-pool-credits | pools`, at most 5 credit names per email.
//!   `Target: ALL` reads LICENSE then EMAIL entries, and consumes from the code's own credit
//!   first, else (none of that name, or too few) from the pool: one consumption is taken whole
//!   from one source, never split. Pool consumptions lock the pool row, so concurrent ones never
//!   overdraw it (`credit_pools::dna_email_pool_concurrent_consumptions_never_overdraw`).
//!   A code without an email reads no EMAIL entries and its EMAIL consumption is refused
//!   (`credit_pools::dna_email_and_all_credits_share_one_pool_per_buyer_email`).
//!
//! Credit answers (all `{"Message": …}`; tests in `dna::credit_pools` unless noted):
//!
//! | Status | Message | When |
//! |---|---|---|
//! | 200 | `[{Target, Name, Count}]` | read, or a consumption that used its credits (or Count 0 / `Test`) |
//! | 400 | `Invalid Target: use LICENSE, EMAIL or ALL` | any other `Target` word |
//! | 400 | `Not enough credits` | the credit (ALL: the code's and the pool's) has fewer than `Count` left; nothing changes |
//! | 400 | `The License Code has no credits` | LICENSE/ALL `Credits` on a code without a consumption counter and no such pool credit (`dna::dna_credits`) |
//! | 400 | `The License Code has no activation email, so it has no EMAIL credits` | `Target: EMAIL` consumption by a code without an email |
//! | 400 | `Invalid Count: must be between 0 and 20000`, `Count is required`, `Invalid Name` | bad body (`dna::dna_credits`) |
//! | 404 | `Credit Name not found for this license` | no credit of that name in any source the target covers |

pub mod admin;
mod admin_credits;
mod handlers;
pub(crate) mod wire;

use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use handlers::Ctx;
use std::net::IpAddr;
use wire::{DnaError, rate_limited};

/// The limiter scope of this dialect's requests.
const SCOPE: &str = "dna";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dna/v1/{*rest}", any(dispatch))
        .route("/dna/v1", any(unknown_resource))
}

pub fn admin_routes() -> Router<AppState> {
    admin::routes().merge(admin_credits::routes())
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = admin::openapi();
    doc.merge(admin_credits::openapi());
    doc
}

async fn unknown_resource() -> DnaError {
    DnaError::not_found("No such resource")
}

/// A DNA resource, after case-insensitive matching of its path.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    License,
    Status,
    Password,
    AdminPassword,
    PassRecovery,
    AdminPassRecovery,
    InfoTags,
    Device(String),
    Credits,
    CreditsConsume,
}

/// Splits `/dna/v1/<resource>/<productId>/<licenseId>[/…]`; resource names are matched
/// case-insensitively, ids kept as sent.
pub(crate) fn match_path(path: &str) -> Option<(Resource, String, String)> {
    let rest = path.strip_prefix("/dna/v1/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    let lower = |s: &str| s.to_ascii_lowercase();
    let (kind, product, license, tail) = match segments.as_slice() {
        [kind, product, license, tail @ ..] => (lower(kind), *product, *license, tail),
        _ => return None,
    };
    let tail: Vec<String> = tail.iter().map(|s| s.to_string()).collect();
    let resource = match (kind.as_str(), tail.as_slice()) {
        ("licenses", []) => Resource::License,
        ("licenses", [one]) => match lower(one).as_str() {
            "status" => Resource::Status,
            "password" => Resource::Password,
            "adminpassword" => Resource::AdminPassword,
            "passrecovery" => Resource::PassRecovery,
            "infotags" => Resource::InfoTags,
            _ => Resource::Device(one.clone()),
        },
        ("licenses", [admin, recovery]) if lower(admin) == "admin" && lower(recovery) == "passrecovery" => {
            Resource::AdminPassRecovery
        }
        ("credits", []) => Resource::Credits,
        ("credits", [consume]) if lower(consume) == "consume" => Resource::CreditsConsume,
        _ => return None,
    };
    Some((resource, product.to_string(), license.to_string()))
}

async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    match handle(state, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn handle(state: AppState, request: Request) -> Result<Response, DnaError> {
    let (parts, body) = request.into_parts();
    let client_ip: Option<IpAddr> = crate::http::client_ip(&parts, &state.settings.trusted_proxies);
    rate_limited(state.limiter.check_client(SCOPE, client_ip))?;
    let credential = wire::authenticate(&state, &parts.headers, client_ip).await?;
    rate_limited(state.limiter.check_credential(SCOPE, &credential.key_id))?;

    let (resource, product, license) =
        match_path(parts.uri.path()).ok_or_else(|| DnaError::not_found("No such resource"))?;
    let bytes = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| DnaError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large"))?;
    let query = parts.uri.query().unwrap_or("").to_string();
    let ctx = Ctx {
        now: state.now(),
        state,
        credential,
        client_ip: client_ip.map(|ip| ip.to_string()),
        peer: client_ip,
    };
    let method = parts.method;
    let ids = (product.as_str(), license.as_str());
    let not_allowed = || DnaError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here"));
    match (&resource, &method) {
        (Resource::Status, &Method::GET) => handlers::status(&ctx, ids).await,
        (Resource::License, &Method::GET) => handlers::details_get(&ctx, ids, &query).await,
        (Resource::License, &Method::POST) => handlers::details_post(&ctx, ids, &bytes).await,
        (Resource::License, &Method::PATCH) => handlers::update(&ctx, ids, &bytes).await,
        (Resource::Password, &Method::POST) => handlers::change_password(&ctx, ids, &bytes).await,
        (Resource::AdminPassword, &Method::POST) => handlers::change_admin_password(&ctx, ids, &bytes).await,
        (Resource::PassRecovery, &Method::POST) => handlers::password_recovery(&ctx, ids, &bytes, false).await,
        (Resource::AdminPassRecovery, &Method::POST) => handlers::password_recovery(&ctx, ids, &bytes, true).await,
        (Resource::InfoTags, &Method::GET) => handlers::info_tags(&ctx, ids).await,
        (Resource::Device(device), &Method::DELETE) => handlers::delete_device(&ctx, ids, device, &bytes).await,
        (Resource::Credits, &Method::GET) => handlers::credits(&ctx, ids, &bytes, &query).await,
        (Resource::CreditsConsume, &Method::POST) => handlers::consume(&ctx, ids, &bytes).await,
        _ => Err(not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_match_in_any_case_and_ids_keep_theirs() {
        let m = |p: &str| match_path(p);
        assert_eq!(
            m("/dna/v1/Licenses/P1/AbC/STATUS"),
            Some((Resource::Status, "P1".into(), "AbC".into()))
        );
        assert_eq!(
            m("/dna/v1/licenses/P1/AbC/status"),
            Some((Resource::Status, "P1".into(), "AbC".into()))
        );
        assert_eq!(
            m("/dna/v1/LICENSES/p/l"),
            Some((Resource::License, "p".into(), "l".into()))
        );
        assert_eq!(
            m("/dna/v1/licenses/p/l/Machine-1"),
            Some((Resource::Device("Machine-1".into()), "p".into(), "l".into()))
        );
        assert_eq!(
            m("/dna/v1/Licenses/p/l/Admin/PassRecovery"),
            Some((Resource::AdminPassRecovery, "p".into(), "l".into()))
        );
        assert_eq!(
            m("/dna/v1/Credits/p/l"),
            Some((Resource::Credits, "p".into(), "l".into()))
        );
        assert_eq!(
            m("/dna/v1/credits/p/l/Consume"),
            Some((Resource::CreditsConsume, "p".into(), "l".into()))
        );
        assert_eq!(m("/dna/v1/licenses/p"), None);
        assert_eq!(m("/dna/v1/other/p/l"), None);
        assert_eq!(m("/dna/v1/credits/p/l/x"), None);
        assert_eq!(m("/dna/v1/licenses/p/l/a/b"), None);
    }
}
