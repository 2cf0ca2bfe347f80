//! The DNA dialect's own setting: each product's IP lockout policy (how many failed end-user
//! password attempts from one address within a window lock that address out, and for how long).
//! Listed per product; set and reset (to the default policy) through the DNA admin handler
//! (`PUT /v1/dna/products/{id}/ip-lockout`), so the console runs the same checks, the same store
//! command and logs the same `dna.ip_lockout_policy_set` event.

use crate::layout::{self, Flash};
use crate::session::{Session, Write};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use licensd_domain::ProductId;
use licensd_domain::lockout::IpLockoutPolicy;
use licensd_server::AppState;
use licensd_server::dialects::dna::admin as dna;
use licensd_server::http::extract::{ApiJson, ApiPath};
use licensd_store::Page;
use maud::html;
use serde::Deserialize;

/// Products shown on one page.
const PAGE: i64 = 100;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    after: Option<i64>,
}

pub async fn lockout(session: Session, State(state): State<AppState>, Query(query): Query<ListQuery>) -> Response {
    lockout_page(&session, &state, query.after, StatusCode::OK, None).await
}

async fn lockout_page(
    session: &Session,
    state: &AppState,
    after: Option<i64>,
    status: StatusCode,
    flash: Option<Flash>,
) -> Response {
    let products = match state.store.list_products(Page { after, limit: PAGE }).await {
        Ok(products) => products,
        Err(e) => return layout::read_failed(e, "products"),
    };
    let mut rows = Vec::with_capacity(products.len());
    for product in &products {
        match dna::get_ip_lockout(session.admin(), State(state.clone()), ApiPath(product.id)).await {
            Ok(policy) => rows.push((product, policy.0)),
            Err(e) => return layout::error_page(e.status, &e.message),
        }
    }
    let next = (products.len() as i64 >= PAGE)
        .then(|| products.last().map(|p| p.id))
        .flatten();
    let default = IpLockoutPolicy::default();
    let ro = session.read_only();
    let content = html! {
        p.hint { "Failed end-user password attempts (DNA's ValidatePassword) from one address within the window lock that address out of the licence for the lockout time. Products without a policy of their own use the default: "
            (default.max_failures) " failures in " (default.window_seconds) " s lock out for " (default.lockout_seconds) " s." }
        table #dna-lockout {
            thead { tr { th { "Product" } th { "Max failures" } th { "Window (s)" } th { "Lockout (s)" } th { "Policy" } @if !ro { th { "Actions" } } } }
            tbody {
                @for (product, policy) in &rows {
                    tr id=(format!("lockout-{}", product.id)) {
                        td { (product.code) " (" (product.id) ")" }
                        td.max { (policy.max_failures) } td.window { (policy.window_seconds) } td.lockout { (policy.lockout_seconds) }
                        td.kind { @if *policy == default { "default" } @else { "custom" } }
                        @if !ro {
                            td { @if *policy != default {
                                (layout::action_button(session, &format!("/console/dialects/dna/{}/reset", product.id), "Reset to default", &format!("reset-lockout-{}", product.id)))
                            } }
                        }
                    }
                }
            }
        }
        @if let Some(after) = next { p { a #next-page href=(format!("/console/dialects/dna?after={after}")) { "More products →" } } }
        @if !ro {
            h2 { "Set a product's policy" }
            form #set-lockout method="post" action="/console/dialects/dna" {
                (layout::csrf(session))
                label for="lockout-product" { "Product" }
                select #lockout-product name="product_id" required {
                    @for (product, _) in &rows { option value=(product.id) { (product.code) } }
                }
                label for="max-failures" { "Max failures" } input #max-failures name="max_failures" required inputmode="numeric" value=(default.max_failures);
                label for="window-seconds" { "Window (seconds)" } input #window-seconds name="window_seconds" required inputmode="numeric" value=(default.window_seconds);
                label for="lockout-seconds" { "Lockout (seconds)" } input #lockout-seconds name="lockout_seconds" required inputmode="numeric" value=(default.lockout_seconds);
                button #save-lockout type="submit" { "Save policy" }
            }
        }
    };
    layout::page(session, "DNA IP lockout policies", status, flash, content)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LockoutForm {
    product_id: String,
    max_failures: String,
    window_seconds: String,
    lockout_seconds: String,
}

fn required_int(name: &str, value: &str) -> Result<i64, Flash> {
    layout::int_field(name, value)?.ok_or_else(|| Flash::Error(format!("{name} is required")))
}

pub async fn set_lockout(State(state): State<AppState>, write: Write<LockoutForm>) -> Response {
    let Write { session, form } = write;
    let parsed = (|| {
        Ok::<_, Flash>((
            required_int("product", &form.product_id)?,
            IpLockoutPolicy {
                max_failures: required_int("max failures", &form.max_failures)?,
                window_seconds: required_int("window", &form.window_seconds)?,
                lockout_seconds: required_int("lockout", &form.lockout_seconds)?,
            },
        ))
    })();
    let (product_id, policy) = match parsed {
        Ok(parsed) => parsed,
        Err(flash) => return lockout_page(&session, &state, None, StatusCode::UNPROCESSABLE_ENTITY, Some(flash)).await,
    };
    save(&session, &state, ProductId::new(product_id), policy, "Policy saved.").await
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn reset_lockout(
    State(state): State<AppState>,
    Path(product_id): Path<ProductId>,
    write: Write<Empty>,
) -> Response {
    let Write { session, .. } = write;
    save(
        &session,
        &state,
        product_id,
        IpLockoutPolicy::default(),
        "Policy reset to the default.",
    )
    .await
}

async fn save(
    session: &Session,
    state: &AppState,
    product_id: ProductId,
    policy: IpLockoutPolicy,
    done: &str,
) -> Response {
    match dna::set_ip_lockout(
        session.admin(),
        State(state.clone()),
        ApiPath(product_id),
        ApiJson(policy),
    )
    .await
    {
        Ok(_) => lockout_page(session, state, None, StatusCode::OK, Some(Flash::Notice(done.into()))).await,
        Err(e) => lockout_page(session, state, None, e.status, Some(Flash::refused(&e))).await,
    }
}
