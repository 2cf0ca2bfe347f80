//! `licensd webhooks …`: outbound webhook endpoints (`/v1/webhooks`). `create` prints the
//! endpoint and its signing secret, which is shown only then.

use crate::cli::{CliError, Client};
use crate::output;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value, json};

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add an endpoint; prints its signing secret (shown once).
    Create {
        url: String,
        /// Event-log types to deliver (repeat, or comma-separated); `*` is every type.
        #[arg(long = "event", value_delimiter = ',', required = true)]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    List,
    Show {
        id: i64,
    },
    /// Change an endpoint; only the given settings change.
    Update {
        id: i64,
        #[arg(long)]
        url: Option<String>,
        /// Replaces the subscribed event types (repeat, or comma-separated).
        #[arg(long = "event", value_delimiter = ',')]
        events: Option<Vec<String>>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
    },
    Delete {
        id: i64,
    },
    /// The delivery log of an endpoint: each delivery's status, attempts and last answer.
    Deliveries {
        /// The endpoint's id.
        id: i64,
        /// Deliveries with an id greater than this (the last id of the previous page).
        #[arg(long)]
        after: Option<i64>,
        /// 1 to 1000 (default 100).
        #[arg(long)]
        limit: Option<i64>,
    },
    /// Sends a delivery again (its `webhook-id` stays the same).
    Redeliver {
        /// The delivery's id (from `licensd webhooks deliveries`).
        id: i64,
    },
}

const DELIVERY_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("STATUS", "status"),
    ("ATTEMPTS", "attempts"),
    ("LAST STATUS", "last_status"),
    ("LAST ERROR", "last_error"),
    ("CREATED", "created_at"),
];

const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("URL", "url"),
    ("EVENTS", "event_types"),
    ("ENABLED", "enabled"),
    ("DESCRIPTION", "description"),
];

fn show(value: &Value, json: bool) -> String {
    output::show(value, json, COLUMNS)
}

pub async fn execute(client: &Client, command: WebhooksCommand, json: bool) -> Result<String, CliError> {
    match command {
        WebhooksCommand::Create {
            url,
            events,
            description,
            disabled,
        } => {
            let body = json!({"url": url, "event_types": events, "description": description, "enabled": !disabled});
            let created = client.post("/v1/webhooks", body).await?;
            if json {
                return Ok(created.to_string());
            }
            Ok(format!(
                "{}\nsecret: {} (shown only now)",
                output::record(&created["webhook"], COLUMNS),
                created["secret"].as_str().unwrap_or_default()
            ))
        }
        WebhooksCommand::List => Ok(show(&client.get("/v1/webhooks").await?, json)),
        WebhooksCommand::Show { id } => Ok(show(&client.get(&format!("/v1/webhooks/{id}")).await?, json)),
        WebhooksCommand::Update {
            id,
            url,
            events,
            description,
            enable,
            disable,
        } => {
            let mut body = Map::new();
            if let Some(url) = url {
                body.insert("url".into(), json!(url));
            }
            if let Some(events) = events {
                body.insert("event_types".into(), json!(events));
            }
            if let Some(description) = description {
                body.insert("description".into(), json!(description));
            }
            if enable || disable {
                body.insert("enabled".into(), json!(enable));
            }
            let value = client.patch(&format!("/v1/webhooks/{id}"), Value::Object(body)).await?;
            Ok(show(&value, json))
        }
        WebhooksCommand::Delete { id } => client
            .delete(&format!("/v1/webhooks/{id}"))
            .await
            .map(|_| String::new()),
        WebhooksCommand::Deliveries { id, after, limit } => {
            let mut query = Vec::new();
            if let Some(after) = after {
                query.push(format!("after={after}"));
            }
            if let Some(limit) = limit {
                query.push(format!("limit={limit}"));
            }
            let path = if query.is_empty() {
                format!("/v1/webhooks/{id}/deliveries")
            } else {
                format!("/v1/webhooks/{id}/deliveries?{}", query.join("&"))
            };
            let page = client.get(&path).await?;
            if json {
                return Ok(page.to_string());
            }
            let rows = page["data"].as_array().map(Vec::as_slice).unwrap_or_default();
            let mut text = output::table(rows, DELIVERY_COLUMNS);
            if let Some(next) = page["next_after"].as_i64() {
                text.push_str(&format!("\nmore: --after {next}"));
            }
            Ok(text)
        }
        WebhooksCommand::Redeliver { id } => {
            let delivery = client
                .call(Method::POST, &format!("/v1/webhooks/deliveries/{id}/redeliver"), None)
                .await?;
            if json {
                return Ok(delivery.to_string());
            }
            Ok(output::record(&delivery, DELIVERY_COLUMNS))
        }
    }
}
