//! Floating sessions: a session is a floating lease of the license held by the client (the lease's
//! fingerprint is the `client_id`). Opening checks out or renews the seat for the license's lease
//! time (`session_period`); a `checkout_period` (minutes) borrows it for offline use; a session
//! not renewed in time is a zombie and frees its seat (the store drops dead leases when it counts
//! seats). One client holds one session per license: reopening renews it.

use super::codes::Conflict;
use super::info;
use super::provisioning::{event, isv, license_by_guid, respond};
use super::wire::Use;
use super::wire::{SlError, SlResult, authenticate, json_ok, parse_body, text_ok};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use licensd_domain::clock::MINUTE;
use licensd_domain::*;
use licensd_store::{LicenseRef, StoreError};
use serde::Deserialize;
use std::net::IpAddr;

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
}

/// Checks the request in SLASCONE's order: license, named vs floating (12000), client (2010),
/// session id (12005), user id for user-type products (12004).
async fn parse(
    state: &AppState,
    peer: Option<IpAddr>,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    body: &Bytes,
) -> SlResult<(super::wire::Caller, SessionRequest, Parsed)> {
    isv(path)?;
    let caller = authenticate(state, headers, peer, Use::Write).await?;
    let request: SessionRequest = parse_body(body)?;
    let license = license_by_guid(state, &caller, request.license_id.clone()).await?;
    if license.terms.floating.is_none() {
        return Err(Conflict::LicenseIsNamed.into());
    }
    let client_id = match &request.client_id {
        Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => return Err(Conflict::MissingClientId.into()),
    };
    if request.session_id.as_deref().is_none_or(|id| id.trim().is_empty()) {
        return Err(Conflict::SessionIdMandatory.into());
    }
    let product = state
        .store
        .get_product(license.product_id)
        .await
        .map_err(SlError::from_store)?;
    if product.auth_method == AuthMethod::User && request.user_id.as_deref().is_none_or(|id| id.trim().is_empty()) {
        return Err(Conflict::UserIdMandatory.into());
    }
    Ok((caller, request, Parsed { license, client_id }))
}

/// POST /provisioning/session/open
pub async fn open(
    ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let (caller, request, parsed) = parse(&state, ip.0, path, &headers, &body).await?;
        let now = state.now();
        let borrow_until = match request.checkout_period {
            None => None,
            Some(minutes) if minutes <= 0 => return Err(Conflict::CheckoutPeriodNotPositive.into()),
            Some(minutes) => Some(now.saturating_add(minutes.saturating_mul(MINUTE))),
        };
        let lease = state
            .store
            .checkout_lease(
                LicenseRef::Id(parsed.license.id),
                &parsed.client_id,
                borrow_until,
                event(&caller, "slascone.session_opened"),
                now,
            )
            .await
            .map_err(SlError::from_store)?;
        let seats = parsed.license.terms.floating.as_ref().map_or(0, |f| f.seats);
        json_ok(&info::session_status(&lease, seats, now))
    }
    .await;
    respond(&state, &headers, result).await
}

/// POST /provisioning/session/close
pub async fn close(
    ip: super::wire::IpGate,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    super::wire::SlBody(body): super::wire::SlBody,
) -> Response {
    let result = async {
        let (caller, _request, parsed) = parse(&state, ip.0, path, &headers, &body).await?;
        match state
            .store
            .release_lease(
                LicenseRef::Id(parsed.license.id),
                &parsed.client_id,
                event(&caller, "slascone.session_closed"),
                state.now(),
            )
            .await
        {
            Ok(()) => Ok(text_ok("The session was closed.")),
            // The client holds no live lease: SLASCONE's "no open session".
            Err(StoreError::Denied(Denial::DeviceNotActivated)) => Err(Conflict::NoOpenSession.into()),
            Err(other) => Err(SlError::from_store(other)),
        }
    }
    .await;
    respond(&state, &headers, result).await
}
