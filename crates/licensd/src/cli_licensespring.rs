//! `licensd licensespring …`: managing what the LicenseSpring dialect adds (product versions and
//! their installation files, the `/v1/products/{id}/versions` routes).

use crate::cli::{CliError, Client};
use crate::output;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Subcommand)]
pub enum LicenseSpringCommand {
    /// List a product's versions.
    Versions { product: i64 },
    /// Add a product version with its installation file.
    AddVersion(Box<AddVersionArgs>),
    /// Delete a product version.
    DeleteVersion { id: i64 },
}

#[derive(Debug, Args)]
pub struct AddVersionArgs {
    product: i64,
    version: String,
    /// Where the installation file is downloaded from.
    #[arg(long)]
    url: String,
    /// Target environment (win64, linux, mac, …); omitted serves every environment.
    #[arg(long)]
    environment: Option<String>,
    /// Release channel; omitted is the default channel.
    #[arg(long)]
    channel: Option<String>,
    /// Release instant, ms since the epoch [default: now].
    #[arg(long)]
    release_date: Option<i64>,
    #[arg(long)]
    md5: Option<String>,
    #[arg(long)]
    size: Option<i64>,
    #[arg(long)]
    eula_link: Option<String>,
    #[arg(long)]
    release_notes_link: Option<String>,
    /// The lowest installed version this version installs over.
    #[arg(long)]
    requires_version: Option<String>,
    /// Record it disabled (not offered to clients).
    #[arg(long)]
    disabled: bool,
}

const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("VERSION", "version"),
    ("ENV", "environment"),
    ("CHANNEL", "channel"),
    ("ENABLED", "enabled"),
    ("URL", "download_url"),
];

fn show(value: &Value, json: bool) -> String {
    if json {
        return value.to_string();
    }
    match value.as_array() {
        Some(rows) => output::table(rows, COLUMNS),
        None => output::record(value, COLUMNS),
    }
}

pub async fn execute(client: &Client, command: LicenseSpringCommand, json: bool) -> Result<String, CliError> {
    match command {
        LicenseSpringCommand::Versions { product } => {
            let value = client
                .call(Method::GET, &format!("/v1/products/{product}/versions"), None)
                .await?;
            Ok(show(&value, json))
        }
        LicenseSpringCommand::AddVersion(args) => {
            let AddVersionArgs {
                product,
                version,
                url,
                environment,
                channel,
                release_date,
                md5,
                size,
                eula_link,
                release_notes_link,
                requires_version,
                disabled,
            } = *args;
            let body = json!({
                "version": version,
                "download_url": url,
                "environment": environment,
                "channel": channel,
                "release_date": release_date,
                "hash_md5": md5,
                "size": size,
                "eula_link": eula_link,
                "release_notes_link": release_notes_link,
                "requires_version": requires_version,
                "enabled": !disabled,
            });
            let value = client
                .call(Method::POST, &format!("/v1/products/{product}/versions"), Some(body))
                .await?;
            Ok(show(&value, json))
        }
        LicenseSpringCommand::DeleteVersion { id } => {
            client
                .call(Method::DELETE, &format!("/v1/product-versions/{id}"), None)
                .await?;
            Ok(if json {
                json!({"deleted": id}).to_string()
            } else {
                format!("deleted product version {id}")
            })
        }
    }
}
