//! Floating sessions inside a client's seat (SLASCONE's `session_id`s): one client may hold several
//! sessions of a floating license, each a floating lease of its own, and on a user-type product
//! (SLASCONE's client type Users) a session belongs to one of the license's users.
//!
//! The rule reads what the store counted under the license lock and decides, in this order:
//! 1. the license is usable and floating (`rules::check_license_usable`, `NotFloating`);
//! 2. on a user-type product, the user is one of the license's assigned users
//!    (`Denial::LicenseUserNotFound`);
//! 3. a live session with the same id of the same client is renewed: no limit applies to it;
//! 4. otherwise a new session is refused when the user holds a live session on another client
//!    (`UserActiveElsewhere`, user-type products only), or when the client already holds
//!    `sessions_per_client` live sessions (`ClientSessionLimit`);
//! 5. then the floating seat rule (`rules::plan_lease`): blocked client, borrow policy, seats —
//!    every live session is a seat.

use crate::clock::Millis;
use crate::denial::Denial;
use crate::model::{AuthMethod, FloatingLease, License, Product};
use crate::rules::{self, LeasePlan, LeaseState};

/// Sessions a client may hold when the license's floating terms do not say.
pub const DEFAULT_SESSIONS_PER_CLIENT: i64 = 1;

/// What the store read under the license lock for one session open.
#[derive(Debug, Clone)]
pub struct SessionState<'a> {
    pub product: &'a Product,
    pub license: &'a License,
    pub client_id: &'a str,
    /// Whether the client is blocked for the product.
    pub blocked: bool,
    /// This session's lease (same client, same session id), live or not.
    pub own_session: Option<&'a FloatingLease>,
    /// Live leases of the license other than this session (every session is a seat).
    pub other_live_leases: i64,
    /// Live sessions of the same client other than this one.
    pub client_other_sessions: i64,
    /// `None` when the request named no user; else whether the user is assigned to the license.
    pub user_assigned: Option<bool>,
    /// Live sessions of the same user held by other clients.
    pub user_sessions_on_other_clients: i64,
    /// Requested borrow end (checkout period), if any.
    pub borrow_until: Option<Millis>,
}

/// Why a session is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefusal {
    /// A refusal every dialect knows (license state, unknown user, seats, borrow policy).
    Denied(Denial),
    /// The client holds as many live sessions as the license allows per client.
    ClientSessionLimit,
    /// The user holds a live session on another client (user-type products).
    UserActiveElsewhere,
}

impl From<Denial> for SessionRefusal {
    fn from(denial: Denial) -> Self {
        SessionRefusal::Denied(denial)
    }
}

/// The sessions one client may hold on a license.
pub fn sessions_per_client(license: &License) -> i64 {
    license
        .terms
        .floating
        .as_ref()
        .and_then(|floating| floating.sessions_per_client)
        .unwrap_or(DEFAULT_SESSIONS_PER_CLIENT)
        .max(1)
}

/// Opens or renews a session (see the module documentation for the order of the checks).
pub fn plan_session(state: &SessionState<'_>, now: Millis) -> Result<LeasePlan, SessionRefusal> {
    rules::check_license_usable(state.product, state.license, now)?;
    if state.license.terms.floating.is_none() {
        return Err(Denial::NotFloating.into());
    }
    let users = state.product.auth_method == AuthMethod::User;
    if users && state.user_assigned != Some(true) {
        return Err(Denial::LicenseUserNotFound.into());
    }
    let renewal = state.own_session.is_some_and(|lease| rules::lease_is_live(lease, now));
    if !renewal {
        if users && state.user_sessions_on_other_clients > 0 {
            return Err(SessionRefusal::UserActiveElsewhere);
        }
        if state.client_other_sessions >= sessions_per_client(state.license) {
            return Err(SessionRefusal::ClientSessionLimit);
        }
    }
    let lease = LeaseState {
        product: state.product,
        license: state.license,
        fingerprint: state.client_id,
        blocked: state.blocked,
        other_live_leases: state.other_live_leases,
        own_lease: state.own_session,
        borrow_until: state.borrow_until,
    };
    Ok(rules::plan_lease(&lease, now)?)
}

#[cfg(test)]
mod tests;
