//! Products and their policies: list, create, edit. Writes run the `/v1` handlers.
use licensd_domain::ProductId;

use crate::layout::{self, Flash, int_field};
use crate::session::{Session, Write};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use licensd_domain::{AuthMethod, LicenseTerms, Product, ProductStatus};
use licensd_server::AppState;
use licensd_server::http::extract::{ApiJson, ApiPath};
use licensd_server::native::catalog as api;
use licensd_store::Page;
use maud::{Markup, html};
use serde::Deserialize;

pub async fn products(session: Session, State(state): State<AppState>) -> Response {
    products_page(&session, &state, StatusCode::OK, None).await
}

async fn products_page(session: &Session, state: &AppState, status: StatusCode, flash: Option<Flash>) -> Response {
    let list = match state
        .store
        .list_products(Page {
            after: None,
            limit: 1000,
        })
        .await
    {
        Ok(list) => list,
        Err(e) => return layout::read_failed(e, "products"),
    };
    let content = html! {
        table #products {
            thead { tr { th { "Code" } th { "Name" } th { "Authorisation" } th { "Status" } th { "Created" } } }
            tbody {
                @for p in &list {
                    tr {
                        td { a href=(format!("/console/products/{}", p.id)) { (p.code) } }
                        td { (p.name) } td { (p.auth_method.as_str()) } td { (p.status.as_str()) } td { (layout::time(p.created_at)) }
                    }
                }
            }
        }
        @if !session.read_only() {
            h2 { "New product" }
            form #new-product method="post" action="/console/products" {
                (layout::csrf(session))
                label for="code" { "Code" } input #code name="code" required maxlength="128";
                label for="name" { "Name" } input #name name="name" required maxlength="256";
                label for="auth_method" { "Authorisation" }
                select #auth_method name="auth_method" { option value="key" { "licence key" } option value="user" { "user" } }
                label for="trial_days" { "Trial days" } input #trial_days name="trial_days" inputmode="numeric";
                button #create-product type="submit" { "Create product" }
            }
        }
    };
    layout::page(session, "Products", status, flash, content)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProductForm {
    code: String,
    name: String,
    auth_method: String,
    status: String,
    trial_days: String,
}

fn auth_method(text: &str) -> Result<AuthMethod, Flash> {
    AuthMethod::parse(text).ok_or_else(|| Flash::Error("authorisation must be key or user".into()))
}

pub async fn create_product(State(state): State<AppState>, write: Write<ProductForm>) -> Response {
    let Write { session, form } = write;
    let body = (|| {
        Ok::<_, Flash>(api::CreateProduct {
            code: form.code.trim().to_string(),
            name: form.name.trim().to_string(),
            auth_method: auth_method(&form.auth_method)?,
            status: ProductStatus::Active,
            trial_allowed: false,
            trial_days: int_field("trial days", &form.trial_days)?.unwrap_or(0),
            metadata: None,
        })
    })();
    let body = match body {
        Ok(body) => body,
        Err(flash) => return products_page(&session, &state, StatusCode::UNPROCESSABLE_ENTITY, Some(flash)).await,
    };
    match api::create_product(session.admin(), State(state.clone()), ApiJson(body)).await {
        Ok((_, product)) => Redirect::to(&format!("/console/products/{}", product.0.id)).into_response(),
        Err(e) => products_page(&session, &state, e.status, Some(Flash::refused(&e))).await,
    }
}

pub async fn product(session: Session, State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    product_page(&session, &state, id, StatusCode::OK, None).await
}

async fn product_page(
    session: &Session,
    state: &AppState,
    id: i64,
    status: StatusCode,
    flash: Option<Flash>,
) -> Response {
    let product = match state.store.get_product(ProductId::new(id)).await {
        Ok(product) => product,
        Err(e) => return layout::read_failed(e, "product"),
    };
    let policies = match state.store.list_policies(Some(ProductId::new(id))).await {
        Ok(policies) => policies,
        Err(e) => return layout::read_failed(e, "policies"),
    };
    let content = html! {
        (product_form(session, &product))
        h2 { "Policies" }
        table #policies {
            thead { tr { th { "Code" } th { "Name" } th { "Max activations" } th { "Duration (days)" } @if !session.read_only() { th { "Edit" } } } }
            tbody {
                @for p in &policies {
                    tr {
                        td { (p.code) } td { (p.name) } td { (layout::opt(&p.terms.max_activations)) } td { (layout::opt(&p.duration_days)) }
                        @if !session.read_only() {
                            td {
                                form.inline method="post" action=(format!("/console/policies/{}", p.id)) {
                                    (layout::csrf(session))
                                    label { "Name " input name="name" value=(p.name) required; }
                                    label { "Max activations " input name="max_activations" value=(layout::opt(&p.terms.max_activations).replace('—', "")) inputmode="numeric"; }
                                    label { "Days " input name="duration_days" value=(layout::opt(&p.duration_days).replace('—', "")) inputmode="numeric"; }
                                    button type="submit" { "Save" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !session.read_only() {
            h3 { "New policy" }
            form #new-policy method="post" action=(format!("/console/products/{id}/policies")) {
                (layout::csrf(session))
                label for="policy-code" { "Code" } input #policy-code name="code" required maxlength="128";
                label for="policy-name" { "Name" } input #policy-name name="name" required maxlength="256";
                label for="policy-max" { "Max activations (empty: unlimited)" } input #policy-max name="max_activations" inputmode="numeric";
                label for="policy-days" { "Duration in days (empty: perpetual)" } input #policy-days name="duration_days" inputmode="numeric";
                button #create-policy type="submit" { "Create policy" }
            }
        }
        p { a href=(format!("/console/licenses?product_id={id}")) { "Licences of this product" } }
    };
    layout::page(session, &format!("Product {}", product.code), status, flash, content)
}

fn product_form(session: &Session, product: &Product) -> Markup {
    let ro = session.read_only();
    html! {
        form #edit-product method="post" action=(format!("/console/products/{}", product.id)) {
            (layout::csrf(session))
            label for="code" { "Code" } input #code name="code" value=(product.code) required disabled[ro];
            label for="name" { "Name" } input #name name="name" value=(product.name) required disabled[ro];
            label for="auth_method" { "Authorisation" }
            select #auth_method name="auth_method" disabled[ro] {
                @for m in AuthMethod::ALL { option value=(m.as_str()) selected[*m == product.auth_method] { (m.as_str()) } }
            }
            label for="status" { "Status" }
            select #status name="status" disabled[ro] {
                @for s in ProductStatus::ALL { option value=(s.as_str()) selected[*s == product.status] { (s.as_str()) } }
            }
            label for="trial_days" { "Trial days" } input #trial_days name="trial_days" value=(product.trial_days) disabled[ro];
            @if !ro { button #save-product type="submit" { "Save product" } }
        }
    }
}

pub async fn update_product(State(state): State<AppState>, Path(id): Path<i64>, write: Write<ProductForm>) -> Response {
    let Write { session, form } = write;
    let body = (|| {
        Ok::<_, Flash>(api::UpdateProduct {
            code: Some(form.code.trim().to_string()),
            name: Some(form.name.trim().to_string()),
            auth_method: Some(auth_method(&form.auth_method)?),
            status: Some(
                ProductStatus::parse(&form.status).ok_or_else(|| Flash::Error("unknown product status".into()))?,
            ),
            trial_allowed: None,
            trial_days: int_field("trial days", &form.trial_days)?,
            metadata: None,
        })
    })();
    let body = match body {
        Ok(body) => body,
        Err(flash) => return product_page(&session, &state, id, StatusCode::UNPROCESSABLE_ENTITY, Some(flash)).await,
    };
    match api::update_product(
        session.admin(),
        State(state.clone()),
        ApiPath(ProductId::new(id)),
        ApiJson(body),
    )
    .await
    {
        Ok(_) => {
            product_page(
                &session,
                &state,
                id,
                StatusCode::OK,
                Some(Flash::Notice("Product saved.".into())),
            )
            .await
        }
        Err(e) => product_page(&session, &state, id, e.status, Some(Flash::refused(&e))).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PolicyForm {
    code: String,
    name: String,
    max_activations: String,
    duration_days: String,
}

pub async fn create_policy(
    State(state): State<AppState>,
    Path(product_id): Path<i64>,
    write: Write<PolicyForm>,
) -> Response {
    let Write { session, form } = write;
    let body = (|| {
        let terms = LicenseTerms {
            max_activations: int_field("max activations", &form.max_activations)?,
            ..LicenseTerms::default()
        };
        Ok::<_, Flash>(api::CreatePolicy {
            product_id,
            code: form.code.trim().to_string(),
            name: form.name.trim().to_string(),
            terms,
            duration_days: int_field("duration", &form.duration_days)?,
            maintenance_days: None,
            features: Vec::new(),
            metadata: None,
        })
    })();
    let result = match body {
        Ok(body) => api::create_policy(session.admin(), State(state.clone()), ApiJson(body))
            .await
            .map_err(|e| (e.status, Flash::refused(&e))),
        Err(flash) => Err((StatusCode::UNPROCESSABLE_ENTITY, flash)),
    };
    match result {
        Ok(_) => {
            product_page(
                &session,
                &state,
                product_id,
                StatusCode::OK,
                Some(Flash::Notice("Policy created.".into())),
            )
            .await
        }
        Err((status, flash)) => product_page(&session, &state, product_id, status, Some(flash)).await,
    }
}

pub async fn update_policy(State(state): State<AppState>, Path(id): Path<i64>, write: Write<PolicyForm>) -> Response {
    let Write { session, form } = write;
    let policy = match state.store.get_policy(id).await {
        Ok(policy) => policy,
        Err(e) => return layout::read_failed(e, "policy"),
    };
    let body = (|| {
        let terms = LicenseTerms {
            max_activations: int_field("max activations", &form.max_activations)?,
            ..policy.terms.clone()
        };
        Ok::<_, Flash>(api::UpdatePolicy {
            name: Some(form.name.trim().to_string()),
            terms: Some(terms),
            duration_days: Some(int_field("duration", &form.duration_days)?),
            maintenance_days: None,
            features: None,
            metadata: None,
        })
    })();
    let result = match body {
        Ok(body) => api::update_policy(session.admin(), State(state.clone()), ApiPath(id), ApiJson(body))
            .await
            .map_err(|e| (e.status, Flash::refused(&e))),
        Err(flash) => Err((StatusCode::UNPROCESSABLE_ENTITY, flash)),
    };
    match result {
        Ok(_) => {
            product_page(
                &session,
                &state,
                policy.product_id.get(),
                StatusCode::OK,
                Some(Flash::Notice("Policy saved.".into())),
            )
            .await
        }
        Err((status, flash)) => product_page(&session, &state, policy.product_id.get(), status, Some(flash)).await,
    }
}
