//! Client credentials (create with the secret shown once, revoke), signing keys (list, rotate,
//! public PEM), the event log with filters, and customers with their licence users.

use crate::layout::{self, Flash, int_field};
use crate::session::{Session, Write};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use licensd_domain::Dialect;
use licensd_server::AppState;
use licensd_server::http::extract::{ApiJson, ApiPath};
use licensd_server::native::access as api;
use licensd_store::{EventFilter, Page};
use maud::{Markup, html};
use serde::Deserialize;

pub async fn credentials(session: Session, State(state): State<AppState>) -> Response {
    credentials_page(&session, &state, StatusCode::OK, None, html! {}).await
}

async fn credentials_page(
    session: &Session,
    state: &AppState,
    status: StatusCode,
    flash: Option<Flash>,
    created: Markup,
) -> Response {
    let list = match state.store.list_credentials(None).await {
        Ok(list) => list,
        Err(e) => return layout::read_failed(e, "credentials"),
    };
    let ro = session.read_only();
    let content = html! {
        (created)
        table #credentials {
            thead { tr { th { "Name" } th { "Dialect" } th { "Key id" } th { "Product" } th { "Read-only" } th { "IP allow-list" } th { "State" } @if !ro { th { "Actions" } } } }
            tbody {
                @for c in &list {
                    tr id=(format!("credential-{}", c.id)) {
                        td { (c.name) } td { (c.dialect.as_str()) } td { code { (c.key_id) } } td { (layout::opt(&c.product_id)) }
                        td { @if c.read_only { "yes" } @else { "no" } }
                        td { (c.ip_allowlist.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")) }
                        td.state { @if let Some(at) = c.revoked_at { "revoked " (layout::time(at)) } @else { "active" } }
                        @if !ro {
                            td { @if c.revoked_at.is_none() { (layout::action_button(session, &format!("/console/credentials/{}/revoke", c.id), "Revoke", &format!("revoke-{}", c.id))) } }
                        }
                    }
                }
            }
        }
        @if !ro {
            h2 { "New credential" }
            form #new-credential method="post" action="/console/credentials" {
                (layout::csrf(session))
                label for="cred-name" { "Name" } input #cred-name name="name" required maxlength="256";
                label for="dialect" { "Dialect" }
                select #dialect name="dialect" { @for d in Dialect::ALL { option value=(d.as_str()) { (d.as_str()) } } }
                label for="cred-product" { "Product id (empty: every product)" } input #cred-product name="product_id" inputmode="numeric";
                label for="cred-ro" { input #cred-ro type="checkbox" name="read_only" value="on"; " Read-only" }
                label for="cred-ips" { "IP allow-list (addresses or CIDR ranges, comma-separated; empty: any)" } input #cred-ips name="ip_allowlist";
                button #create-credential type="submit" { "Create credential" }
            }
        }
    };
    layout::page(session, "Client credentials", status, flash, content)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CredentialForm {
    name: String,
    dialect: String,
    product_id: String,
    read_only: Option<String>,
    ip_allowlist: String,
}

pub async fn create_credential(State(state): State<AppState>, write: Write<CredentialForm>) -> Response {
    let Write { session, form } = write;
    let body = (|| {
        Ok::<_, Flash>(api::CreateCredential {
            dialect: Dialect::parse(&form.dialect).ok_or_else(|| Flash::Error("unknown dialect".into()))?,
            name: form.name.trim().to_string(),
            product_id: int_field("product", &form.product_id)?,
            read_only: form.read_only.is_some(),
            ip_allowlist: form
                .ip_allowlist
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        })
    })();
    let result = match body {
        Ok(body) => api::create_credential(session.admin(), State(state.clone()), ApiJson(body))
            .await
            .map_err(|e| (e.status, Flash::refused(&e))),
        Err(flash) => Err((StatusCode::UNPROCESSABLE_ENTITY, flash)),
    };
    match result {
        Ok((_, created)) => {
            let shown = html! {
                section #created-secret role="status" {
                    p { "Credential " strong { (created.0.credential.name) } " created. Copy the secret now: it is shown only once." }
                    dl { dt { "Key id" } dd { code #new-key-id { (created.0.credential.key_id) } } dt { "Secret" } dd { code #new-secret { (created.0.secret) } } }
                }
            };
            credentials_page(&session, &state, StatusCode::CREATED, None, shown).await
        }
        Err((status, flash)) => credentials_page(&session, &state, status, Some(flash), html! {}).await,
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn revoke_credential(State(state): State<AppState>, Path(id): Path<i64>, write: Write<Empty>) -> Response {
    let Write { session, .. } = write;
    match api::revoke_credential(session.admin(), State(state.clone()), ApiPath(id)).await {
        Ok(_) => {
            credentials_page(
                &session,
                &state,
                StatusCode::OK,
                Some(Flash::Notice("Credential revoked.".into())),
                html! {},
            )
            .await
        }
        Err(e) => credentials_page(&session, &state, e.status, Some(Flash::refused(&e)), html! {}).await,
    }
}

pub async fn signing_keys(session: Session, State(state): State<AppState>) -> Response {
    signing_keys_page(&session, &state, StatusCode::OK, None)
}

fn signing_keys_page(session: &Session, state: &AppState, status: StatusCode, flash: Option<Flash>) -> Response {
    let keys = state.keys.published();
    let content = html! {
        table #signing-keys {
            thead { tr { th { "Key id" } th { "Algorithm" } th { "State" } th { "Created" } th { "Public key" } } }
            tbody {
                @for k in &keys {
                    tr {
                        td { code { (k.public.kid) } } td { (k.public.algorithm.as_str()) }
                        td { @if k.active { "active" } @else { "retired " (layout::opt_time(k.retired_at)) } }
                        td { (layout::time(k.created_at)) }
                        td { a href=(format!("/console/signing-keys/{}", k.public.kid)) download { "PEM" } }
                    }
                }
            }
        }
        @if !session.read_only() {
            h2 { "Rotate" }
            p.hint { "The new key signs from now on; the retired key stays published so older signatures verify." }
            form #rotate method="post" action="/console/signing-keys/rotate" {
                (layout::csrf(session))
                label for="algorithm" { "Algorithm" }
                select #algorithm name="algorithm" { option value="Ed25519" { "Ed25519" } option value="RSA" { "RSA" } }
                button #rotate-key type="submit" { "Rotate key" }
            }
        }
    };
    layout::page(session, "Signing keys", status, flash, content)
}

#[derive(Deserialize)]
pub struct RotateForm {
    #[serde(default)]
    algorithm: String,
}

pub async fn rotate_signing_key(State(state): State<AppState>, write: Write<RotateForm>) -> Response {
    let Write { session, form } = write;
    let body = api::RotateKey {
        algorithm: form.algorithm,
    };
    match api::rotate_signing_key(session.admin(), State(state.clone()), ApiJson(body)).await {
        Ok(_) => signing_keys_page(
            &session,
            &state,
            StatusCode::OK,
            Some(Flash::Notice("Key rotated.".into())),
        ),
        Err(e) => signing_keys_page(&session, &state, e.status, Some(Flash::refused(&e))),
    }
}

pub async fn public_pem(_session: Session, State(state): State<AppState>, Path(kid): Path<String>) -> Response {
    let Some(key) = state.keys.published().into_iter().find(|k| k.public.kid == kid) else {
        return layout::error_page(StatusCode::NOT_FOUND, "no such signing key");
    };
    let safe: String = kid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (
        [
            (CONTENT_TYPE, "application/x-pem-file".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"licensd-{safe}.pem\""),
            ),
        ],
        key.public.to_pem(),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
pub struct EventQuery {
    action: Option<String>,
    subject_type: Option<String>,
    subject_id: Option<String>,
    before: Option<i64>,
}

pub async fn events(session: Session, State(state): State<AppState>, Query(query): Query<EventQuery>) -> Response {
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_string)
    };
    let filter = EventFilter {
        subject_type: clean(&query.subject_type),
        subject_id: query.subject_id.as_deref().and_then(|v| v.trim().parse().ok()),
        action: clean(&query.action),
    };
    let events = match state.store.recent_events(&filter, query.before, 100).await {
        Ok(events) => events,
        Err(e) => return layout::read_failed(e, "events"),
    };
    let next = (events.len() >= 100).then(|| events.last().map(|e| e.id)).flatten();
    let next_link = next.map(|before| {
        format!(
            "/console/events?{}",
            serde_urlencoded::to_string([
                ("action", filter.action.clone().unwrap_or_default()),
                ("subject_type", filter.subject_type.clone().unwrap_or_default()),
                (
                    "subject_id",
                    filter.subject_id.map(|i| i.to_string()).unwrap_or_default()
                ),
                ("before", before.to_string()),
            ])
            .unwrap_or_default()
        )
    });
    let content = html! {
        form #event-filter method="get" action="/console/events" {
            label for="action" { "Action" } input #action name="action" value=(filter.action.clone().unwrap_or_default()) placeholder="license.activated";
            label for="subject_type" { "Subject type" } input #subject_type name="subject_type" value=(filter.subject_type.clone().unwrap_or_default()) placeholder="license";
            label for="subject_id" { "Subject id" } input #subject_id name="subject_id" value=(filter.subject_id.map(|i| i.to_string()).unwrap_or_default()) inputmode="numeric";
            button type="submit" { "Filter" }
        }
        (crate::dashboard::event_table(&events.iter().collect::<Vec<_>>()))
        @if let Some(link) = next_link { p { a #next-page href=(link) { "Older events →" } } }
    };
    layout::page(&session, "Event log", StatusCode::OK, None, content)
}

#[derive(Deserialize, Default)]
pub struct CustomerQuery {
    after: Option<i64>,
}

pub async fn customers(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<CustomerQuery>,
) -> Response {
    let page = Page {
        after: query.after,
        limit: 100,
    };
    let (customers, users) = match async {
        Ok::<_, licensd_store::StoreError>((
            state.store.list_customers(page).await?,
            state
                .store
                .list_license_users(
                    None,
                    Page {
                        after: None,
                        limit: 100,
                    },
                )
                .await?,
        ))
    }
    .await
    {
        Ok(both) => both,
        Err(e) => return layout::read_failed(e, "customers"),
    };
    let next = (customers.len() >= 100)
        .then(|| customers.last().map(|c| c.id))
        .flatten();
    let content = html! {
        table #customers {
            thead { tr { th { "Id" } th { "E-mail" } th { "Name" } th { "Company" } th { "Reference" } th { "Licences" } } }
            tbody {
                @for c in &customers {
                    tr {
                        td { (c.id) } td { (layout::opt(&c.email)) } td { (layout::opt(&c.name)) } td { (layout::opt(&c.company)) } td { (layout::opt(&c.reference)) }
                        td { @if let Some(email) = &c.email { a href=(format!("/console/licenses?{}", serde_urlencoded::to_string([("q", email)]).unwrap_or_default())) { "search" } } }
                    }
                }
            }
        }
        @if let Some(after) = next { p { a href=(format!("/console/customers?after={after}")) { "More customers →" } } }
        h2 { "Licence users" }
        table #licence-users {
            thead { tr { th { "Id" } th { "E-mail" } th { "Customer" } } }
            tbody { @for u in &users { tr { td { (u.id) } td { (u.email) } td { (layout::opt(&u.customer_id)) } } } }
        }
    };
    layout::page(&session, "Customers and licence users", StatusCode::OK, None, content)
}
