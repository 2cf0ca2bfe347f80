//! The dialects' own settings: Key Manager API keys with their capabilities (list, create with the
//! API key shown once, revoke). The Key Manager admin handlers (`/v1/keymanager/api-keys`) run
//! them; revoking is the client-credential revoke.

use crate::layout::{self, Flash, int_field};
use crate::session::{Session, Write};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use licensd_server::AppState;
use licensd_server::dialects::keymanager::admin as km;
use licensd_server::http::extract::ApiJson;
use maud::{Markup, html};
use serde::Deserialize;

pub async fn keymanager(session: Session, State(state): State<AppState>) -> Response {
    keymanager_page(&session, &state, StatusCode::OK, None, html! {}).await
}

async fn keymanager_page(
    session: &Session,
    state: &AppState,
    status: StatusCode,
    flash: Option<Flash>,
    created: Markup,
) -> Response {
    let keys = match km::list_api_keys(session.admin(), State(state.clone())).await {
        Ok(keys) => keys.0,
        Err(e) => return layout::error_page(e.status, &e.message),
    };
    let ro = session.read_only();
    let content = html! {
        (created)
        table #km-keys {
            thead { tr { th { "Name" } th { "Key id" } th { "Capabilities" } th { "Product" } th { "State" } @if !ro { th { "Actions" } } } }
            tbody {
                @for k in &keys {
                    tr id=(format!("km-key-{}", k.credential.id)) {
                        td { (k.credential.name) } td { code { (k.credential.key_id) } }
                        td { (k.capabilities.join(", ")) } td { (layout::opt(&k.credential.product_id)) }
                        td.state { @if k.credential.revoked_at.is_some() { "revoked" } @else if k.active { "active" } @else { "inactive" } }
                        @if !ro {
                            td { @if k.credential.revoked_at.is_none() { (layout::action_button(session, &format!("/console/credentials/{}/revoke", k.credential.id), "Revoke", &format!("revoke-{}", k.credential.id))) } }
                        }
                    }
                }
            }
        }
        @if !ro {
            h2 { "New API key" }
            form #new-km-key method="post" action="/console/dialects/keymanager" {
                (layout::csrf(session))
                label for="km-name" { "Name" } input #km-name name="name" required maxlength="256";
                label for="km-caps" { "Capabilities (comma-separated endpoint names, `all`; empty: the client capabilities)" } input #km-caps name="capabilities";
                label for="km-product" { "Product id (empty: every product)" } input #km-product name="product_id" inputmode="numeric";
                label for="km-ro" { input #km-ro type="checkbox" name="read_only" value="on"; " Read-only" }
                button #create-km-key type="submit" { "Create API key" }
            }
        }
    };
    layout::page(session, "Key Manager API keys", status, flash, content)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct KeyForm {
    name: String,
    capabilities: String,
    product_id: String,
    read_only: Option<String>,
}

pub async fn create_keymanager_key(State(state): State<AppState>, write: Write<KeyForm>) -> Response {
    let Write { session, form } = write;
    let capabilities: Vec<String> = form
        .capabilities
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let body = int_field("product", &form.product_id).map(|product_id| km::CreateApiKey {
        name: form.name.trim().to_string(),
        capabilities: (!capabilities.is_empty()).then_some(capabilities),
        ip_allowlist: Vec::new(),
        product_id,
        read_only: form.read_only.is_some(),
    });
    let result = match body {
        Ok(body) => km::create_api_key(session.admin(), State(state.clone()), ApiJson(body))
            .await
            .map_err(|e| (e.status, Flash::refused(&e))),
        Err(flash) => Err((StatusCode::UNPROCESSABLE_ENTITY, flash)),
    };
    match result {
        Ok((_, created)) => {
            let shown = html! {
                section #created-secret role="status" {
                    p { "API key " strong { (created.0.key.credential.name) } " created. Copy it now: it is shown only once." }
                    code #new-api-key { (created.0.api_key) }
                }
            };
            keymanager_page(&session, &state, StatusCode::CREATED, None, shown).await
        }
        Err((status, flash)) => keymanager_page(&session, &state, status, Some(flash), html! {}).await,
    }
}
