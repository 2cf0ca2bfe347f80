//! Floating sessions. A session belongs to a `session_id` of a client: each open session is a
//! floating lease (a seat) of its own, remembered with its client, session id and user
//! (`SlasconeSessionStore`). Opening with a session id the client holds live renews that session
//! for the license's lease time (`session_period`); a `checkout_period` (minutes) borrows it for
//! offline use; a session not renewed in time is a zombie and frees its seat. Closing names the
//! session id. The limits are the domain's (`licensd_domain::floating_sessions`), checked by the
//! store under the license row lock:
//!
//! * every live session is a floating token (seat): none free → 1007;
//! * a client holds at most `sessions_per_client` live sessions (license floating terms, absent =
//!   1): another session id from that client → 12002 (the same session id again renews);
//! * on a Users floating license (a product with `auth_method: user`) the `user_id` (12004 when
//!   missing) must be one of the license's assigned users (`POST /licenses/{id}/users`).
//!   **Decision:** an unassigned user gets no seat and the answer is 1010 "Unknown license user."
//!   (the seed's code for a user the license does not know; SLASCONE documents no other code
//!   for it). A user with a live session on another client → 12006; the same user may open
//!   further sessions on the same client within the per-client limit;
//! * close with a session id the client holds no live session under → 12001. SLASCONE has no
//!   separate renew call: reopening renews, and reopening a session that expired opens it anew.
//!
//! Session ids made of hex digits and hyphens (GUIDs) compare without regard to case; other
//! session ids, client ids and user ids compare exactly (user ids are emails, lowercased as the
//! license-user paths store them).

use super::codes::Conflict;
use super::info;
use super::provisioning::{event, license_by_guid};
use super::wire::{Call, Caller, SlError, SlResult, WriteCall, json_ok, required, text_ok};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use licensd_domain::clock::MINUTE;
use licensd_domain::floating_sessions::SessionRefusal;
use licensd_domain::*;
use licensd_store::{SessionOpen, StoreError};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SessionRequest {
    pub license_id: Option<String>,
    pub client_id: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    /// Minutes the session may be used offline (borrowing).
    pub checkout_period: Option<i64>,
}

struct Parsed {
    license: License,
    client_id: String,
    session_id: String,
    /// The license user on a Users floating license; `None` on a Devices one.
    user_id: Option<String>,
}

/// A session id as compared: GUID-like ids (hex digits and hyphens) in lower case.
fn session_key(id: &str) -> String {
    let id = id.trim();
    if id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        id.to_ascii_lowercase()
    } else {
        id.to_owned()
    }
}

/// Checks the request in SLASCONE's order: license, named vs floating (12000), client (2010),
/// session id (12005), user id for user-type products (12004).
async fn parse(state: &AppState, caller: &Caller, request: &SessionRequest) -> SlResult<Parsed> {
    let license = license_by_guid(state, caller, request.license_id.clone()).await?;
    if license.terms.floating.is_none() {
        return Err(Conflict::LicenseIsNamed.into());
    }
    let client_id = required(request.client_id.as_deref(), Conflict::MissingClientId)?;
    let session_id = match &request.session_id {
        Some(id) if !id.trim().is_empty() => session_key(id),
        _ => return Err(Conflict::SessionIdMandatory.into()),
    };
    let product = state
        .store
        .get_product(license.product_id)
        .await
        .map_err(SlError::from_store)?;
    let user_id = if product.auth_method == AuthMethod::User {
        match &request.user_id {
            Some(id) if !id.trim().is_empty() => Some(id.trim().to_ascii_lowercase()),
            _ => return Err(Conflict::UserIdMandatory.into()),
        }
    } else {
        None
    };
    Ok(Parsed {
        license,
        client_id,
        session_id,
        user_id,
    })
}

/// POST /provisioning/session/open
pub async fn open(
    State(state): State<AppState>,
    Call(caller, request): WriteCall<SessionRequest>,
) -> SlResult<Response> {
    let parsed = parse(&state, &caller, &request).await?;
    let now = state.now();
    let borrow_until = match request.checkout_period {
        None => None,
        Some(minutes) if minutes <= 0 => return Err(Conflict::CheckoutPeriodNotPositive.into()),
        Some(minutes) => Some(now.saturating_add(minutes.saturating_mul(MINUTE))),
    };
    let open = SessionOpen {
        license_id: parsed.license.id,
        client_id: parsed.client_id,
        session_id: parsed.session_id,
        user_id: parsed.user_id,
        borrow_until,
    };
    let lease = match state
        .store
        .open_session(open, event(&caller, "slascone.session_opened"), now)
        .await
        .map_err(SlError::from_store)?
    {
        Ok(lease) => lease,
        Err(SessionRefusal::Denied(denial)) => return Err(SlError::from_store(StoreError::Denied(denial))),
        Err(SessionRefusal::ClientSessionLimit) => return Err(Conflict::MaxSessionsSameClient.into()),
        Err(SessionRefusal::UserActiveElsewhere) => return Err(Conflict::UserSessionActive.into()),
    };
    let seats = parsed.license.terms.floating.as_ref().map_or(0, |f| f.seats);
    json_ok(&info::session_status(&lease, seats, now))
}

/// POST /provisioning/session/close
pub async fn close(
    State(state): State<AppState>,
    Call(caller, request): WriteCall<SessionRequest>,
) -> SlResult<Response> {
    let parsed = parse(&state, &caller, &request).await?;
    let closed = state
        .store
        .close_session(
            parsed.license.id,
            &parsed.client_id,
            &parsed.session_id,
            event(&caller, "slascone.session_closed"),
            state.now(),
        )
        .await
        .map_err(SlError::from_store)?;
    if closed {
        Ok(text_ok("The session was closed."))
    } else {
        // The client holds no live session under this id: SLASCONE's "no open session".
        crate::metrics::note_denial(Denial::DeviceNotActivated);
        Err(Conflict::NoOpenSession.into())
    }
}
