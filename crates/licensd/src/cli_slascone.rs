//! `licensd slascone …`: managing what the SLASCONE dialect adds — analytical fields, usage
//! features and modules of a product, and what a license's clients reported (the
//! `/v1/slascone/…` routes), and the ISV id the dialect answers to.

use crate::cli::{CliError, Client};
use crate::output::show;
use clap::Subcommand;
use reqwest::Method;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum SlasconeCommand {
    /// List a product's analytical fields.
    AnalyticalFields { product: i64 },
    /// Define an analytical field (type: numeric, alphanumeric or boolean).
    AddAnalyticalField {
        product: i64,
        name: String,
        field_type: String,
    },
    /// List a product's usage features.
    UsageFeatures { product: i64 },
    /// Define a usage feature.
    AddUsageFeature { product: i64, name: String },
    /// List a usage feature's modules.
    UsageModules { usage_feature: i64 },
    /// Define a usage module of a usage feature.
    AddUsageModule { usage_feature: i64, name: String },
    /// Summed usage a license's clients reported.
    Usage { license: i64 },
    /// Analytical values a license's clients reported.
    Analytics { license: i64 },
    /// The ISV id the SLASCONE API answers to (`/api/v2/isv/<id>`): `--slascone-isv-id`, or the
    /// one generated on the first start. Prints the bare id (`--json`: the object).
    IsvId,
}

const DEFINITION_COLUMNS: &[(&str, &str)] = &[("ID", "id"), ("NAME", "name"), ("TYPE", "field_type")];
const USAGE_COLUMNS: &[(&str, &str)] = &[
    ("FEATURE", "usage_feature_id"),
    ("MODULE", "usage_module_id"),
    ("TOTAL", "total"),
];
const ANALYTICS_COLUMNS: &[(&str, &str)] = &[("FIELD", "field_id"), ("VALUE", "value"), ("AT", "reported_at")];

pub async fn execute(client: &Client, command: SlasconeCommand, json: bool) -> Result<String, CliError> {
    let (method, path, body, columns) = match command {
        SlasconeCommand::IsvId => {
            let value = client.get("/v1/slascone/isv").await?;
            return Ok(match value["isv_id"].as_str() {
                Some(id) if !json => id.to_owned(),
                _ => value.to_string(),
            });
        }
        SlasconeCommand::AnalyticalFields { product } => (
            Method::GET,
            format!("/v1/slascone/products/{product}/analytical-fields"),
            None,
            DEFINITION_COLUMNS,
        ),
        SlasconeCommand::AddAnalyticalField {
            product,
            name,
            field_type,
        } => (
            Method::POST,
            format!("/v1/slascone/products/{product}/analytical-fields"),
            Some(json!({"name": name, "field_type": field_type})),
            DEFINITION_COLUMNS,
        ),
        SlasconeCommand::UsageFeatures { product } => (
            Method::GET,
            format!("/v1/slascone/products/{product}/usage-features"),
            None,
            DEFINITION_COLUMNS,
        ),
        SlasconeCommand::AddUsageFeature { product, name } => (
            Method::POST,
            format!("/v1/slascone/products/{product}/usage-features"),
            Some(json!({"name": name})),
            DEFINITION_COLUMNS,
        ),
        SlasconeCommand::UsageModules { usage_feature } => (
            Method::GET,
            format!("/v1/slascone/usage-features/{usage_feature}/modules"),
            None,
            DEFINITION_COLUMNS,
        ),
        SlasconeCommand::AddUsageModule { usage_feature, name } => (
            Method::POST,
            format!("/v1/slascone/usage-features/{usage_feature}/modules"),
            Some(json!({"name": name})),
            DEFINITION_COLUMNS,
        ),
        SlasconeCommand::Usage { license } => (
            Method::GET,
            format!("/v1/slascone/licenses/{license}/usage"),
            None,
            USAGE_COLUMNS,
        ),
        SlasconeCommand::Analytics { license } => (
            Method::GET,
            format!("/v1/slascone/licenses/{license}/analytics"),
            None,
            ANALYTICS_COLUMNS,
        ),
    };
    let value = client.call(method, &path, body).await?;
    Ok(show(&value, json, columns))
}
