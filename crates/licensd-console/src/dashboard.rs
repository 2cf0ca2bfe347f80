//! The dashboard: counts, activity over the last 30 days as an SVG chart made here, latest events.
//!
//! The counts and the daily activations and consumption records come from tallies the database's
//! triggers keep in each write's transaction (`licensd_store::DashboardStore::dashboard_counts`), so
//! the page reads a few dozen rows however many licences there are.
//!
//! The chart shows activations and consumption records (rows the database keeps) as bars and
//! validations as a line on its own scale: validation writes nothing, so each process counts its
//! validations in memory and adds them to a per-day table every few seconds
//! (`licensd_server::validations`); this page writes this process's pending count first.

use crate::layout::{self, Flash};
use crate::session::Session;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use licensd_server::AppState;
use licensd_store::{DailyActivity, EventFilter};
use maud::html;
use std::fmt::Write as _;

const DAYS: i64 = 30;
const DAY: i64 = 86_400_000;

pub async fn page(session: Session, State(state): State<AppState>) -> Response {
    let now = state.now();
    let today = now.div_euclid(DAY);
    let counts = match state.store.dashboard_counts(now).await {
        Ok(counts) => counts,
        Err(e) => return layout::read_failed(e, "dashboard"),
    };
    if let Err(error) = state.validations.flush(state.store.as_ref()).await {
        tracing::warn!(%error, "could not write the validation counts before the dashboard");
    }
    let daily = match state.store.daily_activity((today - DAYS + 1) * DAY).await {
        Ok(daily) => daily,
        Err(e) => return layout::read_failed(e, "dashboard"),
    };
    let events = match state.store.recent_events(&EventFilter::default(), None, 10).await {
        Ok(events) => events,
        Err(e) => return layout::read_failed(e, "events"),
    };
    let latest: Vec<_> = events.iter().collect();
    let total_licences: i64 = counts.licenses_by_status.iter().map(|(_, n)| n).sum();
    let content = html! {
        section.cards aria-label="Counts" {
            div.card { span.n #count-products { (counts.products) } span { "products" } }
            div.card { span.n #count-licences { (total_licences) } span { "licences" } }
            @for (status, n) in &counts.licenses_by_status {
                div.card { span.n id=(format!("count-{}", status.as_str())) { (n) } span { (status.as_str()) " licences" } }
            }
            div.card { span.n #count-expired { (counts.expired) } span { "active licences past their expiry" } }
            div.card { span.n #count-devices { (counts.active_devices) } span { "active devices" } }
            div.card { span.n #count-seats { (counts.seats_in_use) } span { "floating seats in use" } }
        }
        section {
            h2 { "Last 30 days" }
            (layout::raw(chart(&daily, today)))
            p.hint { "Activations and consumption records (bars) and validations (line, right-hand scale) per UTC day. Validations are counted by each server process and written every 10 seconds." }
        }
        section {
            h2 { "Latest events" }
            (event_table(&latest))
            p { a href="/console/events" { "All events" } }
        }
    };
    let flash: Option<Flash> = None;
    layout::page(&session, "Dashboard", StatusCode::OK, flash, content)
}

pub fn event_table(events: &[&licensd_domain::Event]) -> maud::Markup {
    html! {
        table.events {
            thead { tr { th { "When" } th { "Action" } th { "Subject" } th { "Actor" } th { "From" } } }
            tbody {
                @for event in events {
                    tr {
                        td { (layout::time(event.at)) }
                        td { code { (event.action) } }
                        td {
                            @match (event.subject_type.as_str(), event.subject_id) {
                                ("license", Some(id)) => a href=(format!("/console/licenses/{id}")) { "licence " (id) },
                                ("product", Some(id)) => a href=(format!("/console/products/{id}")) { "product " (id) },
                                (kind, Some(id)) => { (kind) " " (id) },
                                (kind, None) => { (kind) },
                            }
                        }
                        td { (event.actor) }
                        td { (layout::opt(&event.source_ip)) }
                    }
                }
            }
        }
    }
}

/// A chart of the last `DAYS` days ending `today` (days since the epoch): activations and
/// consumption records as bars side by side, validations as a line on its own (right-hand)
/// scale, with a readable title per bar and point.
pub fn chart(daily: &[DailyActivity], today: i64) -> String {
    let (width, height, left, right, bottom) = (720.0_f64, 200.0_f64, 40.0_f64, 48.0_f64, 24.0_f64);
    let plot_h = height - bottom - 10.0;
    let slot = (width - left - right) / DAYS as f64;
    let find = |day: i64| daily.iter().find(|d| d.day == day).copied().unwrap_or_default();
    let max = daily
        .iter()
        .map(|d| d.activations.max(d.consumptions))
        .max()
        .unwrap_or(0)
        .max(1);
    let max_validations = daily.iter().map(|d| d.validations).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="activity-chart" role="img" aria-label="Activations, consumption records and validations per day, last 30 days" viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">"#
    );
    let _ = write!(
        svg,
        r#"<line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" class="axis"/><text x="{tx}" y="14" class="label" text-anchor="end">{max}</text><text x="{tx}" y="{y}" class="label" text-anchor="end">0</text><text x="{rx}" y="14" class="label validations">{max_validations}</text>"#,
        y = height - bottom,
        x2 = width - right,
        tx = left - 4.0,
        rx = width - right + 4.0
    );
    let mut points = Vec::with_capacity(DAYS as usize);
    for i in 0..DAYS {
        let day = today - DAYS + 1 + i;
        let activity = find(day);
        let x = left + i as f64 * slot;
        let bar = (slot - 4.0) / 2.0;
        for (k, (value, class)) in [(activity.activations, "act"), (activity.consumptions, "use")]
            .iter()
            .enumerate()
        {
            let h = plot_h * (*value as f64) / (max as f64);
            let _ = write!(
                svg,
                r#"<rect class="{class}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{}: {value} {}</title></rect>"#,
                x + 2.0 + k as f64 * bar,
                height - bottom - h,
                bar,
                h,
                date(day),
                if k == 0 { "activations" } else { "consumption records" }
            );
        }
        let vy = height - bottom - plot_h * (activity.validations as f64) / (max_validations as f64);
        points.push((x + slot / 2.0, vy, day, activity.validations));
        if (DAYS - 1 - i) % 7 == 0 {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" class="label">{}</text>"#,
                x,
                height - 6.0,
                &date(day)[5..]
            );
        }
    }
    let line: Vec<String> = points.iter().map(|(x, y, _, _)| format!("{x:.1},{y:.1}")).collect();
    let _ = write!(
        svg,
        r#"<polyline id="validations-line" class="val" fill="none" points="{}"/>"#,
        line.join(" ")
    );
    for (x, y, day, n) in &points {
        let _ = write!(
            svg,
            r#"<circle class="val" cx="{x:.1}" cy="{y:.1}" r="2"><title>{}: {n} validations</title></circle>"#,
            date(*day)
        );
    }
    svg.push_str(r#"<g class="legend"><rect class="act" x="50" y="4" width="10" height="10"/><text x="64" y="13" class="label">activations</text><rect class="use" x="150" y="4" width="10" height="10"/><text x="164" y="13" class="label">consumption records</text><line class="val" x1="300" y1="9" x2="312" y2="9"/><text x="316" y="13" class="label">validations (right scale)</text></g></svg>"#);
    svg
}

fn date(day: i64) -> String {
    jiff::Timestamp::from_millisecond(day.saturating_mul(DAY))
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}
