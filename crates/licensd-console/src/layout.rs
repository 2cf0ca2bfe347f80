//! The page shell (navigation, who is signed in, sign-out), messages, and small formatting
//! helpers every page uses.

use crate::session::Session;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use licensd_domain::Millis;
use licensd_server::error::ApiError;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// A message shown above a page's content.
#[derive(Debug, Clone)]
pub enum Flash {
    Notice(String),
    Error(String),
}

impl Flash {
    /// A refusal of a `/v1` handler, as it explains itself.
    pub fn refused(error: &ApiError) -> Self {
        Flash::Error(format!("Refused ({}): {}", error.code, error.message))
    }
}

pub fn flash(flash: &Option<Flash>) -> Markup {
    html! {
        @match flash {
            Some(Flash::Notice(text)) => p.notice role="status" { (text) },
            Some(Flash::Error(text)) => p.error #error role="alert" { (text) },
            None => {},
        }
    }
}

/// A complete HTML document (no navigation: sign-in and error pages).
pub fn document(title: &str, body: Markup) -> Markup {
    document_with(title, body, false)
}

/// A complete HTML document; with `refresh` it reloads itself every second (a running job).
fn document_with(title: &str, body: Markup, refresh: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                @if refresh { meta http-equiv="refresh" content="1"; }
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · licensd" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body { (body) }
        }
    }
}

const NAV: &[(&str, &str)] = &[
    ("/console", "Dashboard"),
    ("/console/products", "Products"),
    ("/console/licenses", "Licences"),
    ("/console/licenses/bulk", "Bulk issue"),
    ("/console/customers", "Customers"),
    ("/console/credentials", "Credentials"),
    ("/console/dialects/keymanager", "Key Manager keys"),
    ("/console/dialects/dna", "DNA lockout"),
    ("/console/dialects/slascone/customers", "SLASCONE customers"),
    ("/console/dialects/slascone/editions", "SLASCONE editions"),
    ("/console/signing-keys", "Signing keys"),
    ("/console/events", "Events"),
];

/// A console page with navigation, the signed-in administrator and a sign-out button.
pub fn page(
    session: &Session,
    title: &str,
    status: StatusCode,
    flash_message: Option<Flash>,
    content: Markup,
) -> Response {
    page_with_refresh(session, title, status, flash_message, content, false)
}

/// A console page that, with `refresh`, reloads itself every second (a running job's page).
pub fn page_with_refresh(
    session: &Session,
    title: &str,
    status: StatusCode,
    flash_message: Option<Flash>,
    content: Markup,
    refresh: bool,
) -> Response {
    let body = html! {
        header {
            a.brand href="/console" { "licensd" }
            nav aria-label="Main" {
                ul { @for (href, label) in NAV { li { a href=(href) { (label) } } } }
            }
            div.who {
                span #signed-in-as { (session.session.admin_name) }
                @if session.read_only() { " " span.badge #read-only { "read-only" } }
                form method="post" action="/console/sign-out" {
                    (csrf(session))
                    button #sign-out type="submit" { "Sign out" }
                }
            }
        }
        main {
            h1 { (title) }
            (flash(&flash_message))
            (content)
        }
    };
    html_response(status, document_with(title, body, refresh))
}

pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store")],
        markup.into_string(),
    )
        .into_response()
}

/// A page that only says what went wrong (no session needed).
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let body = html! {
        main.narrow {
            h1 { "licensd console" }
            p.error #error role="alert" { (message) }
            p { a href="/console" { "Back to the console" } }
        }
    };
    html_response(status, document("Error", body))
}

/// The hidden CSRF field every form carries.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf()); }
}

/// A POST button in a form of its own (hidden for read-only tokens by the caller).
pub fn action_button(session: &Session, action: &str, label: &str, id: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf(session))
            button id=(id) type="submit" { (label) }
        }
    }
}

/// An instant as `2026-12-06 06:30 UTC`.
pub fn time(at: Millis) -> String {
    jiff::Timestamp::from_millisecond(at)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| at.to_string())
}

pub fn opt_time(at: Option<Millis>) -> String {
    at.map(time).unwrap_or_else(|| "—".into())
}

pub fn opt<T: std::fmt::Display>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_else(|| "—".into())
}

/// A store error on a read: the page cannot be shown.
pub fn read_failed(error: licensd_store::StoreError, what: &str) -> Response {
    let api = ApiError::from_store(error, what);
    error_page(api.status, &api.message)
}

/// Parses an optional integer form field ("" is none).
pub fn int_field(name: &str, value: &str) -> Result<Option<i64>, Flash> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| Flash::Error(format!("{name} must be a whole number")))
}

/// A date field (`YYYY-MM-DD`, the end of that UTC day is meant) as an instant.
pub fn date_field(name: &str, value: &str) -> Result<Option<Millis>, Flash> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let date: jiff::civil::Date = value
        .parse()
        .map_err(|_| Flash::Error(format!("{name} must be a date (YYYY-MM-DD)")))?;
    date.at(23, 59, 59, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_millisecond())
        .map(Some)
        .map_err(|_| Flash::Error(format!("{name} is out of range")))
}

/// Raw markup (server-made SVG).
pub fn raw(text: String) -> Markup {
    PreEscaped(text)
}
