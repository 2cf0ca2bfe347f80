//! License users of a license (SLASCONE named users), under AdminKey paths of licensd's choosing:
//! `POST /licenses/{license_id}/users` `{user_id, name}` (`user_id` is the user's email, as the
//! WPF sample uses it) and `DELETE /licenses/{license_id}/users/{user_id}`. The user limit is the
//! license's `max_users`, enforced by the store under the license lock (1009).

use super::codes::Conflict;
use super::lookup::license_by_guid;
use super::wire::{AdminCall, AdminKey, SlPath};
use super::wire::{SlError, SlResult, json_ok, parse_body, text_ok};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use licensd_domain::*;
use licensd_store::dialects::slascone::CONFLICT_USER_ASSIGNED;
use licensd_store::{NewLicenseUser, StoreError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AddUser {
    pub user_id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub user_id: String,
    pub name: Option<String>,
    pub is_active: bool,
}

/// POST /licenses/{license_id}/users (AdminKey)
pub async fn add(
    State(state): State<AppState>,
    SlPath((_isv_id, license_guid)): SlPath<(String, String)>,
    AdminCall(actor, body): AdminCall,
) -> SlResult<Response> {
    let license = license_by_guid(&state, &license_guid).await?;
    let request: AddUser = parse_body(&body)?;
    let email = request.user_id.unwrap_or_default().trim().to_ascii_lowercase();
    if !contact::is_plausible_email(&email) {
        return Err(Conflict::InvalidEmail.into());
    }
    // Finding or creating the user and assigning it are one store transaction: a refused
    // assignment leaves no user and no event behind.
    let new = NewLicenseUser {
        customer_id: license.customer_id,
        email,
        name: request.name,
        password_hash: None,
    };
    let created = EventDraft::new(actor.clone(), "slascone.license_user_created", "license_user");
    let assigned = EventDraft::new(actor, "slascone.license_user_assigned", "license");
    let (user, _) = state
        .store
        .add_license_user(license.id, new, created, assigned, state.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(text) if text == CONFLICT_USER_ASSIGNED => Conflict::UserIdExists.into(),
            other => SlError::from_store(other),
        })?;
    json_ok(&UserView {
        user_id: user.email,
        name: user.name,
        is_active: true,
    })
}

/// DELETE /licenses/{license_id}/users/{user_id} (AdminKey)
pub async fn remove(
    State(state): State<AppState>,
    SlPath((_isv_id, license_guid, email)): SlPath<(String, String, String)>,
    AdminKey(actor): AdminKey,
) -> SlResult<Response> {
    let license = license_by_guid(&state, &license_guid).await?;
    let email = email.trim().to_ascii_lowercase();
    let user = state
        .store
        .find_license_user_by_email(&email)
        .await
        .map_err(SlError::from_store)?
        .ok_or(SlError::Conflict(Conflict::UnknownLicenseUser))?;
    let event = EventDraft::new(actor, "slascone.license_user_unassigned", "license");
    state
        .store
        .unassign_license_user(license.id, user.id, event, state.now())
        .await
        .map_err(SlError::not_found_as(Conflict::UnknownLicenseUser))?;
    Ok(text_ok("The license user was removed."))
}
