//! The SLASCONE dialect's own settings: customers with their SLASCONE profile (customer number,
//! prospect number, country, language) and editions (SLASCONE's templates, which are licensd
//! policies of a product).
//!
//! - Customers are created by the SLASCONE admin handler (`POST /v1/slascone/customers`) and
//!   deleted by the native customer delete (`DELETE /v1/customers/{id}`, the profile goes with the
//!   customer): SLASCONE itself has no customer delete.
//! - Editions are created and deleted by the back office's own commands
//!   (`POST /products/{id}/templates`, `DELETE /templates/{id}`), with their refusals (a product
//!   keeps at least one edition, conflict 8000; an edition with licences stays).
use licensd_domain::{CustomerId, ProductId};

use crate::layout::{self, Flash};
use crate::session::{Session, Write};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use licensd_server::AppState;
use licensd_server::dialects::slascone::{self as sl, admin as sl_admin};
use licensd_server::http::extract::{ApiJson, ApiPath};
use licensd_server::native::people;
use licensd_store::Page;
use maud::{Markup, html};
use serde::Deserialize;

/// Customers shown on one page.
const PAGE: i64 = 100;

#[derive(Deserialize, Default)]
pub struct CustomerQuery {
    before: Option<i64>,
}

pub async fn customers(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<CustomerQuery>,
) -> Response {
    customers_page(&session, &state, query.before, StatusCode::OK, None).await
}

async fn customers_page(
    session: &Session,
    state: &AppState,
    before: Option<i64>,
    status: StatusCode,
    flash: Option<Flash>,
) -> Response {
    let rows = match state.store.slascone_customer_rows(before, PAGE).await {
        Ok(rows) => rows,
        Err(e) => return layout::read_failed(e, "customers"),
    };
    let next = (rows.len() as i64 >= PAGE)
        .then(|| rows.last().map(|c| c.customer_id))
        .flatten();
    let ro = session.read_only();
    let content = html! {
        table #slascone-customers {
            thead { tr { th { "Id" } th { "Customer number" } th { "Company" } th { "E-mail" } th { "Prospect number" } th { "Country" } th { "Language" } th { "Created" } @if !ro { th { "Actions" } } } }
            tbody {
                @for c in &rows {
                    tr id=(format!("sl-customer-{}", c.customer_id)) {
                        td { (c.customer_id) } td.number { (c.customer_number) } td { (layout::opt(&c.company)) } td { (layout::opt(&c.email)) }
                        td { (layout::opt(&c.prospect_number)) } td { (layout::opt(&c.country)) } td { (layout::opt(&c.language)) } td { (layout::time(c.created_at)) }
                        @if !ro {
                            td { (layout::action_button(session, &format!("/console/dialects/slascone/customers/{}/delete", c.customer_id), "Delete", &format!("delete-customer-{}", c.customer_id))) }
                        }
                    }
                }
            }
        }
        @if let Some(before) = next { p { a #next-page href=(format!("/console/dialects/slascone/customers?before={before}")) { "Older customers →" } } }
        @if !ro {
            h2 { "New SLASCONE customer" }
            form #new-sl-customer method="post" action="/console/dialects/slascone/customers" {
                (layout::csrf(session))
                label for="sl-email" { "E-mail" } input #sl-email name="email" type="email" required maxlength="254";
                label for="sl-company" { "Company" } input #sl-company name="company" required maxlength="256";
                label for="sl-number" { "Customer number" } input #sl-number name="customer_number" required maxlength="128";
                label for="sl-prospect" { "Prospect number (optional)" } input #sl-prospect name="prospect_number" maxlength="128";
                label for="sl-country" { "Country (ISO 3166-1 alpha-2, optional)" } input #sl-country name="country" maxlength="2";
                label for="sl-language" { "Language (ISO 639-1, optional)" } input #sl-language name="language" maxlength="2";
                button #create-sl-customer type="submit" { "Create customer" }
            }
        }
    };
    layout::page(session, "SLASCONE customers", status, flash, content)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CustomerForm {
    email: String,
    company: String,
    customer_number: String,
    prospect_number: String,
    country: String,
    language: String,
}

fn optional(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

pub async fn create_customer(State(state): State<AppState>, write: Write<CustomerForm>) -> Response {
    let Write { session, form } = write;
    let body = sl_admin::CreateCustomer {
        email: form.email,
        company: form.company,
        customer_number: form.customer_number,
        prospect_number: optional(&form.prospect_number),
        customer_type_id: None,
        country: optional(&form.country),
        language: optional(&form.language),
    };
    match sl_admin::create_customer(session.admin(), State(state.clone()), ApiJson(body)).await {
        Ok((_, created)) => {
            let notice = format!("Customer {} created.", created.0.profile.customer_number);
            customers_page(&session, &state, None, StatusCode::CREATED, Some(Flash::Notice(notice))).await
        }
        Err(e) => customers_page(&session, &state, None, e.status, Some(Flash::refused(&e))).await,
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn delete_customer(State(state): State<AppState>, Path(id): Path<i64>, write: Write<Empty>) -> Response {
    let Write { session, .. } = write;
    // Only a customer of this list: the button must not delete customers SLASCONE never saw.
    match state.store.customer_profile(CustomerId::new(id)).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            let flash = Flash::Error("Refused (not_found): no SLASCONE customer with this id".into());
            return customers_page(&session, &state, None, StatusCode::NOT_FOUND, Some(flash)).await;
        }
        Err(e) => return layout::read_failed(e, "customer"),
    }
    match people::delete_customer(session.admin(), State(state.clone()), ApiPath(CustomerId::new(id))).await {
        Ok(_) => {
            let flash = Flash::Notice("Customer deleted.".into());
            customers_page(&session, &state, None, StatusCode::OK, Some(flash)).await
        }
        Err(e) => customers_page(&session, &state, None, e.status, Some(Flash::refused(&e))).await,
    }
}

#[derive(Deserialize, Default)]
pub struct EditionQuery {
    product: Option<i64>,
}

pub async fn editions(session: Session, State(state): State<AppState>, Query(query): Query<EditionQuery>) -> Response {
    editions_page(&session, &state, query.product, StatusCode::OK, None).await
}

async fn editions_page(
    session: &Session,
    state: &AppState,
    product: Option<i64>,
    status: StatusCode,
    flash: Option<Flash>,
) -> Response {
    let products = match state
        .store
        .list_products(Page {
            after: None,
            limit: 1000,
        })
        .await
    {
        Ok(products) => products,
        Err(e) => return layout::read_failed(e, "products"),
    };
    let product = product.or_else(|| products.first().map(|p| p.id.get()));
    let editions = match product {
        Some(id) => match state.store.list_policies(Some(ProductId::new(id))).await {
            Ok(list) => list,
            Err(e) => return layout::read_failed(e, "editions"),
        },
        None => Vec::new(),
    };
    let ro = session.read_only();
    let content = html! {
        form #pick-product method="get" action="/console/dialects/slascone/editions" {
            label for="edition-product" { "Product" }
            select #edition-product name="product" {
                @for p in &products { option value=(p.id) selected[Some(p.id) == product.map(ProductId::new)] { (p.code) } }
            }
            button type="submit" { "Show" }
        }
        table #editions {
            thead { tr { th { "Name" } th { "Template id" } th { "Provisioning" } th { "Temporary" } th { "Token limit" } th { "Floating tokens" } th { "Session (min)" } th { "User limit" } th { "Expiration (days)" } @if !ro { th { "Actions" } } } }
            tbody {
                @for policy in &editions {
                    @let view = sl::template_view(policy);
                    tr id=(format!("edition-{}", policy.id)) {
                        td { (view.name) } td { code { (view.id) } }
                        td { @if view.provisioning_mode == 1 { "floating" } @else { "named" } }
                        td { @if view.is_temporary { "yes" } @else { "no" } }
                        td { (layout::opt(&view.token_limit)) } td { (layout::opt(&view.floating_token_limit)) } td { (layout::opt(&view.session_period)) }
                        td { (layout::opt(&view.user_limit)) } td { (layout::opt(&view.expiration_days)) }
                        @if !ro {
                            td { (layout::action_button(session, &format!("/console/dialects/slascone/editions/{}/delete", policy.id), "Delete", &format!("delete-edition-{}", policy.id))) }
                        }
                    }
                }
            }
        }
        @if !ro { @if let Some(product) = product { (new_edition_form(session, product)) } }
    };
    layout::page(session, "SLASCONE editions", status, flash, content)
}

fn new_edition_form(session: &Session, product: i64) -> Markup {
    html! {
        h2 { "New edition" }
        form #new-edition method="post" action="/console/dialects/slascone/editions" {
            (layout::csrf(session))
            input type="hidden" name="product_id" value=(product);
            label for="edition-name" { "Name" } input #edition-name name="name" required maxlength="256";
            label for="edition-mode" { "Provisioning mode" }
            select #edition-mode name="provisioning_mode" { option value="0" { "Named" } option value="1" { "Floating" } }
            label for="edition-temporary" { input #edition-temporary type="checkbox" name="is_temporary" value="on"; " Temporary (trial)" }
            label for="edition-tokens" { "Token limit (optional)" } input #edition-tokens name="token_limit" inputmode="numeric";
            label for="edition-floating" { "Floating token limit (floating only, optional)" } input #edition-floating name="floating_token_limit" inputmode="numeric";
            label for="edition-session" { "Session period in minutes (floating only, optional)" } input #edition-session name="session_period" inputmode="numeric";
            label for="edition-users" { "User limit (optional)" } input #edition-users name="user_limit" inputmode="numeric";
            label for="edition-days" { "Expiration in days (empty: never)" } input #edition-days name="expiration_days" inputmode="numeric";
            button #create-edition type="submit" { "Create edition" }
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EditionForm {
    product_id: String,
    name: String,
    provisioning_mode: String,
    is_temporary: Option<String>,
    token_limit: String,
    floating_token_limit: String,
    session_period: String,
    user_limit: String,
    expiration_days: String,
}

pub async fn create_edition(State(state): State<AppState>, write: Write<EditionForm>) -> Response {
    let Write { session, form } = write;
    let int = layout::int_field;
    let parsed = (|| {
        let product_id = int("product", &form.product_id)?.ok_or_else(|| Flash::Error("product is required".into()))?;
        let request = sl::TemplateRequest {
            name: Some(form.name.clone()),
            provisioning_mode: int("provisioning mode", &form.provisioning_mode)?,
            is_temporary: Some(form.is_temporary.is_some()),
            token_limit: int("token limit", &form.token_limit)?,
            floating_token_limit: int("floating token limit", &form.floating_token_limit)?,
            session_period: int("session period", &form.session_period)?,
            user_limit: int("user limit", &form.user_limit)?,
            expiration_days: int("expiration days", &form.expiration_days)?,
        };
        Ok::<_, Flash>((product_id, request))
    })();
    let (product_id, request) = match parsed {
        Ok(parsed) => parsed,
        Err(flash) => {
            return editions_page(&session, &state, None, StatusCode::UNPROCESSABLE_ENTITY, Some(flash)).await;
        }
    };
    // The product must exist (the back office finds it by its code first).
    if let Err(e) = state.store.get_product(ProductId::new(product_id)).await {
        let api = licensd_server::error::ApiError::from_store(e, "product");
        return editions_page(&session, &state, None, api.status, Some(Flash::refused(&api))).await;
    }
    let event = session.admin().event("slascone.template_created", "policy");
    match sl::create_edition(&state, ProductId::new(product_id), &request, event).await {
        Ok(policy) => {
            let notice = Flash::Notice(format!("Edition {} created.", policy.name));
            editions_page(&session, &state, Some(product_id), StatusCode::CREATED, Some(notice)).await
        }
        Err(e) => {
            let (status, text) = e.explain();
            let flash = Flash::Error(format!("Refused: {text}"));
            editions_page(&session, &state, Some(product_id), status, Some(flash)).await
        }
    }
}

pub async fn delete_edition(State(state): State<AppState>, Path(id): Path<i64>, write: Write<Empty>) -> Response {
    let Write { session, .. } = write;
    let product = state.store.get_policy(id).await.ok().map(|p| p.product_id);
    let event = session.admin().event("slascone.template_deleted", "policy").subject(id);
    match sl::delete_edition(&state, id, event).await {
        Ok(()) => {
            let notice = Flash::Notice("Edition deleted.".into());
            editions_page(&session, &state, product.map(i64::from), StatusCode::OK, Some(notice)).await
        }
        Err(e) => {
            let (status, text) = e.explain();
            let flash = Flash::Error(format!("Refused: {text}"));
            editions_page(&session, &state, product.map(i64::from), status, Some(flash)).await
        }
    }
}
