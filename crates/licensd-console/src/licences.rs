//! Licences: search and filter with keyset paging, issue one, bulk-issue N with a CSV of the keys,
//! and a licence's page with its terms, devices, users, consumption, floating leases, event
//! timeline and actions. Writes run the `/v1` handlers.
use licensd_domain::{DeviceId, LicenseId, ProductId};

use crate::layout::{self, Flash, date_field, int_field};
use crate::session::Shared;
use crate::session::{Session, Write};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect, Response};
use licensd_domain::keygen::KeyPattern;
use licensd_domain::{License, LicenseStatus, LicenseTerms};
use licensd_server::AppState;
use licensd_server::http::extract::{ApiJson, ApiPath};
use licensd_server::native::licenses as api;
use licensd_store::{EventFilter, LicenseFilter, LicenseSearch, Page};
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;

const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    product_id: Option<String>,
    status: Option<String>,
    before: Option<i64>,
}

pub async fn list(session: Session, State(state): State<AppState>, Query(query): Query<ListQuery>) -> Response {
    list_page(&session, &state, &query, StatusCode::OK, None).await
}

async fn list_page(
    session: &Session,
    state: &AppState,
    query: &ListQuery,
    status: StatusCode,
    flash: Option<Flash>,
) -> Response {
    let text = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty() && q.len() <= 512);
    let product_id = query.product_id.as_deref().and_then(|p| p.parse::<i64>().ok());
    let license_status = query.status.as_deref().and_then(LicenseStatus::parse);
    // A key is looked up by its digest; anything else searches order references and customers.
    let mut licences: Vec<License> = Vec::new();
    if let Some(text) = text
        && query.before.is_none()
    {
        match state.store.find_license_by_key(text).await {
            Ok(Some(found))
                if product_id.is_none_or(|p| p == found.product_id.get())
                    && license_status.is_none_or(|s| s == found.status) =>
            {
                licences.push(found)
            }
            Ok(_) => {}
            Err(e) => return layout::read_failed(e, "licence"),
        }
    }
    let search = LicenseSearch {
        product_id: product_id.map(ProductId::new),
        status: license_status,
        text: text.map(str::to_string),
        before: query.before,
        limit: PAGE,
    };
    let ids = match state.store.search_license_ids(&search).await {
        Ok(ids) => ids,
        Err(e) => return layout::read_failed(e, "licences"),
    };
    let next = (ids.len() as i64 >= PAGE).then(|| ids.last().copied()).flatten();
    for id in ids {
        if licences.iter().any(|l| l.id == LicenseId::new(id)) {
            continue;
        }
        match state.store.get_license(LicenseId::new(id)).await {
            Ok(licence) => licences.push(licence),
            Err(e) => return layout::read_failed(e, "licence"),
        }
    }
    let products = state
        .store
        .list_products(Page {
            after: None,
            limit: 1000,
        })
        .await
        .unwrap_or_default();
    let product_code = |id: i64| {
        products
            .iter()
            .find(|p| p.id == ProductId::new(id))
            .map(|p| p.code.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let mut next_link = String::new();
    if let Some(next) = next {
        next_link = format!(
            "/console/licenses?{}",
            serde_urlencoded::to_string([
                ("q", text.unwrap_or("")),
                ("product_id", &product_id.map(|p| p.to_string()).unwrap_or_default()),
                ("status", license_status.map(|s| s.as_str()).unwrap_or("")),
                ("before", &next.to_string()),
            ])
            .unwrap_or_default()
        );
    }
    let content = html! {
        form #search method="get" action="/console/licenses" role="search" {
            label for="q" { "Key, customer e-mail or name, order reference" }
            input #q type="search" name="q" value=(text.unwrap_or(""));
            label for="product_id" { "Product" }
            select #product_id name="product_id" {
                option value="" { "any" }
                @for p in &products { option value=(p.id) selected[product_id == Some(p.id.get())] { (p.code) } }
            }
            label for="status" { "Status" }
            select #status name="status" {
                option value="" { "any" }
                @for s in LicenseStatus::ALL { option value=(s.as_str()) selected[license_status == Some(*s)] { (s.as_str()) } }
            }
            button #search-button type="submit" { "Search" }
        }
        table #licences {
            thead { tr { th { "Id" } th { "Key" } th { "Product" } th { "Status" } th { "Expires" } th { "Order" } } }
            tbody {
                @for l in &licences {
                    tr {
                        td { a href=(format!("/console/licenses/{}", l.id)) { (l.id) } }
                        td { code.key { (layout::opt(&l.key)) } }
                        td { (product_code(l.product_id.get())) }
                        td { (l.status.as_str()) }
                        td { (layout::opt_time(l.expires_at)) }
                        td { (layout::opt(&l.order_ref)) }
                    }
                }
            }
        }
        @if !next_link.is_empty() { p { a #next-page href=(next_link) { "Older licences →" } } }
        @if !session.read_only() {
            h2 { "Issue a licence" }
            form #new-licence method="post" action="/console/licenses" {
                (layout::csrf(session))
                (licence_fields(&products, product_id))
                label for="key" { "Key (empty: generated)" } input #key name="key" maxlength="512";
                button #issue-licence type="submit" { "Issue licence" }
            }
        }
    };
    layout::page(session, "Licences", status, flash, content)
}

fn licence_fields(products: &[licensd_domain::Product], selected: Option<i64>) -> Markup {
    html! {
        label for="new-product" { "Product" }
        select #new-product name="product_id" required {
            @for p in products { option value=(p.id) selected[selected == Some(p.id.get())] { (p.code) " — " (p.name) } }
        }
        label for="policy_id" { "Policy id (optional)" } input #policy_id name="policy_id" inputmode="numeric";
        label for="max_activations" { "Max activations (empty: from the policy or unlimited)" } input #max_activations name="max_activations" inputmode="numeric";
        label for="expires" { "Expires on (optional)" } input #expires type="date" name="expires";
        label for="order_ref" { "Order reference" } input #order_ref name="order_ref" maxlength="256";
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LicenceForm {
    product_id: String,
    policy_id: String,
    max_activations: String,
    expires: String,
    order_ref: String,
    key: String,
    count: String,
}

fn fields(form: &LicenceForm) -> Result<api::LicenseFields, Flash> {
    let product_id = int_field("product", &form.product_id)?.ok_or_else(|| Flash::Error("choose a product".into()))?;
    let max_activations = int_field("max activations", &form.max_activations)?;
    let order_ref = form.order_ref.trim();
    let key = form.key.trim();
    Ok(api::LicenseFields {
        key: (!key.is_empty()).then(|| key.to_string()),
        product_id,
        policy_id: int_field("policy", &form.policy_id)?,
        terms: max_activations.map(|n| LicenseTerms {
            max_activations: Some(n),
            ..LicenseTerms::default()
        }),
        expires_at: date_field("expiry", &form.expires)?,
        order_ref: (!order_ref.is_empty()).then(|| order_ref.to_string()),
        ..api::LicenseFields::default()
    })
}

pub async fn create(State(state): State<AppState>, write: Write<LicenceForm>) -> Response {
    let Write { session, form } = write;
    let result = match fields(&form) {
        Ok(body) => api::create_license(session.admin(), State(state.clone()), ApiJson(body))
            .await
            .map_err(|e| (e.status, Flash::refused(&e))),
        Err(flash) => Err((StatusCode::UNPROCESSABLE_ENTITY, flash)),
    };
    match result {
        Ok((_, licence)) => Redirect::to(&format!("/console/licenses/{}", licence.0.id)).into_response(),
        Err((status, flash)) => list_page(&session, &state, &ListQuery::default(), status, Some(flash)).await,
    }
}

pub async fn page(session: Session, State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    licence_page(&session, &state, id, StatusCode::OK, None).await
}

async fn licence_page(
    session: &Session,
    state: &AppState,
    id: i64,
    status: StatusCode,
    flash: Option<Flash>,
) -> Response {
    let store = &state.store;
    let licence = match store.get_license(LicenseId::new(id)).await {
        Ok(licence) => licence,
        Err(e) => return layout::read_failed(e, "licence"),
    };
    let (devices, users, features, leases, events, product) = match async {
        Ok::<_, licensd_store::StoreError>((
            store.list_devices(LicenseId::new(id)).await?,
            store.users_of_license(LicenseId::new(id)).await?,
            store.license_features(LicenseId::new(id)).await?,
            store.live_leases(LicenseId::new(id), state.now()).await?,
            store
                .recent_events(
                    &EventFilter {
                        subject_type: Some("license".into()),
                        subject_id: Some(id),
                        action: None,
                    },
                    None,
                    50,
                )
                .await?,
            store.get_product(licence.product_id).await?,
        ))
    }
    .await
    {
        Ok(all) => all,
        Err(e) => return layout::read_failed(e, "licence"),
    };
    let ro = session.read_only();
    let terms = &licence.terms;
    let content = html! {
        dl.terms #terms {
            dt { "Key" } dd { code.key #licence-key { (layout::opt(&licence.key)) } }
            dt { "Product" } dd { a href=(format!("/console/products/{}", product.id)) { (product.code) } }
            dt { "Status" } dd #licence-status { (licence.status.as_str()) }
            dt { "Assignment" } dd { (licence.assignment.as_str()) }
            dt { "Type" } dd { (terms.license_type.as_str()) " / " (terms.kind.as_str()) }
            dt { "Max activations" } dd #max-activations { (layout::opt(&terms.max_activations)) }
            dt { "Starts" } dd { (layout::opt_time(licence.starts_at)) }
            dt { "Expires" } dd #licence-expires { (layout::opt_time(licence.expires_at)) }
            dt { "Maintenance until" } dd { (layout::opt_time(licence.maintenance_expires_at)) }
            dt { "Order" } dd { (layout::opt(&licence.order_ref)) }
            dt { "Customer" } dd { (layout::opt(&licence.customer_id)) }
            dt { "Consumption used" } dd #consumption { (licence.consumption_used) @if let Some(c) = &terms.consumption { " of " (layout::opt(&c.max_consumptions)) } }
            dt { "Transfers / deactivations" } dd { (licence.transfer_count) " / " (licence.deactivation_count) }
        }
        @if !ro {
            section.actions aria-label="Actions" {
                @if licence.status == LicenseStatus::Active {
                    (layout::action_button(session, &format!("/console/licenses/{id}/disable"), "Disable", "disable"))
                } @else {
                    (layout::action_button(session, &format!("/console/licenses/{id}/enable"), "Enable", "enable"))
                }
                (layout::action_button(session, &format!("/console/licenses/{id}/reset-consumption"), "Reset consumption", "reset-consumption"))
                form.inline #extend method="post" action=(format!("/console/licenses/{id}/extend")) {
                    (layout::csrf(session))
                    label for="new-expiry" { "New expiry" } input #new-expiry type="date" name="expires" required;
                    button #extend-button type="submit" { "Extend expiry" }
                }
            }
        }
        h2 { "Devices" }
        table #devices {
            thead { tr { th { "Fingerprint" } th { "Host" } th { "OS" } th { "IP" } th { "Activated" } th { "Last seen" } th { "State" } @if !ro { th { "Actions" } } } }
            tbody {
                @for d in &devices {
                    tr {
                        td { code { (d.fingerprint) } } td { (layout::opt(&d.hostname)) } td { (layout::opt(&d.os)) } td { (layout::opt(&d.ip)) }
                        td { (layout::time(d.activated_at)) } td { (layout::time(d.last_seen_at)) }
                        td { @if d.is_active() { "active" } @else { "deactivated " (layout::opt_time(d.deactivated_at)) } }
                        @if !ro {
                            td {
                                @if d.is_active() { (layout::action_button(session, &format!("/console/devices/{}/deactivate", d.id), "Deactivate", &format!("deactivate-{}", d.id))) }
                                (layout::action_button(session, &format!("/console/devices/{}/block", d.id), "Block", &format!("block-{}", d.id)))
                            }
                        }
                    }
                }
            }
        }
        h2 { "Users" }
        ul #users { @for u in &users { li { (u.email) } } @if users.is_empty() { li { "none" } } }
        h2 { "Features and consumption" }
        ul { @for f in &features { li { (f.definition.spec.code) ": " (f.consumption_used) " used" } } @if features.is_empty() { li { "none" } } }
        h2 { "Floating leases" }
        ul { @for l in &leases { li { code { (l.fingerprint) } " until " (layout::time(l.expires_at)) } } @if leases.is_empty() { li { "none" } } }
        h2 { "Timeline" }
        (crate::dashboard::event_table(&events.iter().collect::<Vec<_>>()))
    };
    layout::page(session, &format!("Licence {id}"), status, flash, content)
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    expires: String,
}

pub async fn action(
    State(state): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    write: Write<ActionForm>,
) -> Response {
    let Write { session, form } = write;
    let admin = session.admin();
    let result = match action.as_str() {
        "disable" => api::disable_license(admin, State(state.clone()), ApiPath(LicenseId::new(id)))
            .await
            .map(|_| "Licence disabled."),
        "enable" => api::enable_license(admin, State(state.clone()), ApiPath(LicenseId::new(id)))
            .await
            .map(|_| "Licence enabled."),
        "reset-consumption" => api::reset_consumption(admin, State(state.clone()), ApiPath(LicenseId::new(id)))
            .await
            .map(|_| "Consumption reset."),
        "extend" => match date_field("expiry", &form.expires) {
            Ok(Some(at)) => {
                let body = api::UpdateLicense {
                    customer_id: None,
                    status: None,
                    assignment: None,
                    terms: None,
                    starts_at: None,
                    expires_at: Some(Some(at)),
                    maintenance_expires_at: None,
                    trial_days: None,
                    order_ref: None,
                    metadata: None,
                    features: None,
                };
                api::update_license(admin, State(state.clone()), ApiPath(LicenseId::new(id)), ApiJson(body))
                    .await
                    .map(|_| "Expiry changed.")
            }
            Ok(None) => Err(licensd_server::error::ApiError::unprocessable(
                "choose the new expiry date",
            )),
            Err(Flash::Error(text) | Flash::Notice(text)) => Err(licensd_server::error::ApiError::unprocessable(text)),
        },
        _ => return layout::error_page(StatusCode::NOT_FOUND, "no such action"),
    };
    match result {
        Ok(done) => licence_page(&session, &state, id, StatusCode::OK, Some(Flash::Notice(done.into()))).await,
        Err(e) => licence_page(&session, &state, id, e.status, Some(Flash::refused(&e))).await,
    }
}

pub async fn device_action(
    State(state): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    write: Write<ActionForm>,
) -> Response {
    let Write { session, .. } = write;
    let device = match state.store.get_device(DeviceId::new(id)).await {
        Ok(device) => device,
        Err(e) => return layout::read_failed(e, "device"),
    };
    let admin = session.admin();
    let result = match action.as_str() {
        "deactivate" => api::deactivate_device(admin, State(state.clone()), ApiPath(DeviceId::new(id)))
            .await
            .map(|_| "Device deactivated."),
        "block" => {
            let product_id = match state.store.get_license(device.license_id).await {
                Ok(licence) => licence.product_id,
                Err(e) => return layout::read_failed(e, "licence"),
            };
            let body = api::BlockDevice {
                product_id: Some(product_id.get()),
                fingerprint: device.fingerprint.clone(),
                reason: Some("blocked in the console".into()),
            };
            api::block_device(admin, State(state.clone()), ApiJson(body))
                .await
                .map(|_| "Device blocked for this product.")
        }
        _ => return layout::error_page(StatusCode::NOT_FOUND, "no such action"),
    };
    match result {
        Ok(done) => {
            licence_page(
                &session,
                &state,
                device.license_id.get(),
                StatusCode::OK,
                Some(Flash::Notice(done.into())),
            )
            .await
        }
        Err(e) => {
            licence_page(
                &session,
                &state,
                device.license_id.get(),
                e.status,
                Some(Flash::refused(&e)),
            )
            .await
        }
    }
}

pub async fn bulk_page(session: Session, State(state): State<AppState>) -> Response {
    bulk_form(&session, &state, StatusCode::OK, None, html! {}).await
}

async fn bulk_form(
    session: &Session,
    state: &AppState,
    status: StatusCode,
    flash: Option<Flash>,
    result: Markup,
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
    let max = state.settings.max_bulk_licenses;
    let content = html! {
        (result)
        @if !session.read_only() {
            form #bulk method="post" action="/console/licenses/bulk" {
                (layout::csrf(session))
                label for="count" { "How many (1 to " (max) ")" } input #count name="count" required inputmode="numeric";
                (licence_fields(&products, None))
                button #bulk-issue type="submit" { "Issue licences" }
            }
            p.hint { "The keys are issued in one transaction: all or none. The next page shows the progress while it runs, then the download of the keys." }
        } @else {
            p { "This admin token is read-only." }
        }
    };
    layout::page(session, "Bulk issue", status, flash, content)
}

pub async fn bulk_issue(
    State(state): State<AppState>,
    Extension(shared): Extension<Arc<Shared>>,
    write: Write<LicenceForm>,
) -> Response {
    let Write { session, form } = write;
    let request = fields(&form).and_then(|license| {
        let count = int_field("count", &form.count)?.ok_or_else(|| Flash::Error("count is required".into()))?;
        Ok(api::BulkCreateLicenses {
            count: usize::try_from(count).map_err(|_| Flash::Error("count must be positive".into()))?,
            pattern: KeyPattern::default(),
            license,
        })
    });
    let body = match request {
        Ok(body) => body,
        Err(flash) => {
            return bulk_form(
                &session,
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(flash),
                html! {},
            )
            .await;
        }
    };
    // The `/v1` bulk handler runs as a job; its page shows the progress, then the result.
    match shared.bulk_jobs.start(&state, session.admin(), body).await {
        Ok(id) => Redirect::to(&format!("/console/licenses/bulk/jobs/{id}")).into_response(),
        Err(e) => bulk_form(&session, &state, e.status, Some(Flash::refused(&e)), html! {}).await,
    }
}

/// A bulk-issue job's page: progress while it runs, then the keys' download or the refusal.
pub async fn bulk_job(
    session: Session,
    State(state): State<AppState>,
    Extension(shared): Extension<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    crate::bulk::page(&session, &state, &shared.bulk_jobs, &id).await
}

/// `id,key,product_id,status,expires_at` of the licences a finished bulk-issue job issued, made
/// from their ids on whichever node serves it.
pub async fn keys_csv(
    session: Session,
    State(state): State<AppState>,
    Extension(shared): Extension<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    let job = match shared.bulk_jobs.get(&state, &id, session.session.admin_token_id).await {
        Ok(Some(job)) if job.status == licensd_store::BulkJobStatus::Done => job,
        Ok(_) => return layout::error_page(StatusCode::NOT_FOUND, "no finished bulk-issue job with this id"),
        Err(e) => return layout::error_page(e.status, &e.message),
    };
    let mut out = String::from("id,key,product_id,status,expires_at\n");
    for &(first, last) in &job.license_ids {
        if let Err(response) = csv_rows(&state, first, last, &mut out).await {
            return response;
        }
    }
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"licences-{id}.csv\""),
            ),
        ],
        out,
    )
        .into_response()
}

/// Appends the CSV rows of the licences with ids `first..=last`.
async fn csv_rows(state: &AppState, first: i64, last: i64, out: &mut String) -> Result<(), Response> {
    let mut after = first - 1;
    while after < last {
        let limit = (last - after).min(1000);
        let page = match state
            .store
            .list_licenses(
                LicenseFilter::default(),
                Page {
                    after: Some(after),
                    limit,
                },
            )
            .await
        {
            Ok(page) => page,
            Err(e) => return Err(layout::read_failed(e, "licences")),
        };
        let Some(tail) = page.last() else { break };
        after = tail.id.get();
        for l in page.iter().filter(|l| l.id <= LicenseId::new(last)) {
            let key = l.key.as_deref().unwrap_or("");
            out.push_str(&format!(
                "{},{},{},{},{}\n",
                l.id,
                csv_field(key),
                l.product_id,
                l.status.as_str(),
                l.expires_at.map(layout::time).unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// Quotes a CSV field when needed, and defuses spreadsheet formulas.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}
