//! `licensd dna …`: managing what the Softworkz DNA dialect adds (the `/v1/dna/…` routes).

use crate::cli::{CliError, Client};
use crate::output::show;
use clap::Subcommand;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum DnaCommand {
    /// Show a product's IP lockout policy.
    IpLockout { product: i64 },
    /// Set a product's IP lockout policy (failed end-user password attempts per IP).
    SetIpLockout {
        product: i64,
        /// Failures that lock an IP out.
        #[arg(long)]
        max_failures: i64,
        /// The window the failures are counted in, in seconds.
        #[arg(long)]
        window_seconds: i64,
        /// How long the IP stays locked out, in seconds.
        #[arg(long)]
        lockout_seconds: i64,
    },
    /// Show a license's DNA data and status KeyWords.
    Show { license: i64 },
    /// Change a license's activation email and/or license data.
    Update {
        license: i64,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        data: Option<String>,
    },
    /// Set the end user's license password (`--clear` removes it).
    SetPassword {
        license: i64,
        #[arg(required_unless_present = "clear")]
        password: Option<String>,
        #[arg(long, conflicts_with = "password")]
        clear: bool,
    },
    /// Set a multi-user license's admin password (`--clear` removes it).
    SetAdminPassword {
        license: i64,
        #[arg(required_unless_present = "clear")]
        password: Option<String>,
        #[arg(long, conflicts_with = "password")]
        clear: bool,
    },
    /// End every IP lockout of a license.
    Unlock { license: i64 },
    /// Reset a license's reactivation lockout (REACTLOCKOUT).
    ResetReactlockout { license: i64 },
    /// List a license's InfoTags.
    InfoTags { license: i64 },
    /// Record an InfoTag for a license.
    AddInfoTag { license: i64, tag: String },
    /// List a product's credit pools per buyer email (DNA `Target: EMAIL`).
    Pools {
        product: i64,
        /// Only this buyer email's pools.
        #[arg(long)]
        email: Option<String>,
    },
    /// Set the balance of a buyer email's credit pool (creating it).
    SetPool {
        product: i64,
        #[command(flatten)]
        pool: PoolArgs,
    },
    /// Add credits to a buyer email's credit pool (a replenishment; creates it).
    AddPoolCredits {
        product: i64,
        #[command(flatten)]
        pool: PoolArgs,
    },
}

/// A buyer email's credit pool and a count, as `set-pool` and `add-pool-credits` send them.
#[derive(Debug, clap::Args, serde::Serialize)]
pub struct PoolArgs {
    #[arg(long)]
    email: String,
    /// The credit name DNA clients send as `Name`.
    #[arg(long)]
    name: String,
    #[arg(long, allow_hyphen_values = true)]
    count: i64,
}

const POLICY_FIELDS: &[(&str, &str)] = &[
    ("MAX FAILURES", "max_failures"),
    ("WINDOW (s)", "window_seconds"),
    ("LOCKOUT (s)", "lockout_seconds"),
];
const LICENSE_FIELDS: &[(&str, &str)] = &[
    ("LICENSE", "license_id"),
    ("STATUS", "status"),
    ("PASSWORD SET", "password_set"),
    ("ADMIN PASSWORD SET", "admin_password_set"),
    ("EMAIL", "activation_email"),
    ("DATA", "license_data"),
    ("IP LOCKED", "ip_locked"),
];
const TAG_COLUMNS: &[(&str, &str)] = &[("ID", "id"), ("TAG", "tag"), ("AT", "at")];
const POOL_COLUMNS: &[(&str, &str)] = &[
    ("PRODUCT", "product_id"),
    ("EMAIL", "email"),
    ("NAME", "name"),
    ("COUNT", "count"),
    ("CONSUMED", "consumed"),
];

/// `a@b` → `a%40b`: a query value with every byte outside the unreserved set escaped.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub async fn execute(client: &Client, command: DnaCommand, json: bool) -> Result<String, CliError> {
    match command {
        DnaCommand::IpLockout { product } => {
            let value = client.get(&format!("/v1/dna/products/{product}/ip-lockout")).await?;
            Ok(show(&value, json, POLICY_FIELDS))
        }
        DnaCommand::SetIpLockout {
            product,
            max_failures,
            window_seconds,
            lockout_seconds,
        } => {
            let body = json!({"max_failures": max_failures, "window_seconds": window_seconds, "lockout_seconds": lockout_seconds});
            let value = client
                .put(&format!("/v1/dna/products/{product}/ip-lockout"), body)
                .await?;
            Ok(show(&value, json, POLICY_FIELDS))
        }
        DnaCommand::Show { license } => {
            let value = client.get(&format!("/v1/dna/licenses/{license}")).await?;
            Ok(show(&value, json, LICENSE_FIELDS))
        }
        DnaCommand::Update { license, email, data } => {
            if email.is_none() && data.is_none() {
                return Err(CliError {
                    code: 2,
                    message: "give --email and/or --data".into(),
                });
            }
            let body = json!({"activation_email": email, "license_data": data});
            let value = client.patch(&format!("/v1/dna/licenses/{license}"), body).await?;
            Ok(show(&value, json, LICENSE_FIELDS))
        }
        DnaCommand::SetPassword { license, password, .. } => {
            client
                .put(
                    &format!("/v1/dna/licenses/{license}/password"),
                    json!({ "password": password }),
                )
                .await?;
            Ok(String::new())
        }
        DnaCommand::SetAdminPassword { license, password, .. } => {
            client
                .put(
                    &format!("/v1/dna/licenses/{license}/admin-password"),
                    json!({ "password": password }),
                )
                .await?;
            Ok(String::new())
        }
        DnaCommand::Unlock { license } => {
            let value = client
                .post(&format!("/v1/dna/licenses/{license}/unlock"), json!({}))
                .await?;
            Ok(if json {
                value.to_string()
            } else {
                format!("cleared {} IP(s)", value["cleared"])
            })
        }
        DnaCommand::ResetReactlockout { license } => {
            let value = client
                .post(
                    &format!("/v1/dna/licenses/{license}/reset-reactivation-lockout"),
                    json!({}),
                )
                .await?;
            Ok(if json {
                value.to_string()
            } else {
                format!("cleared {} activation(s)", value["cleared"])
            })
        }
        DnaCommand::InfoTags { license } => {
            let value = client.get(&format!("/v1/dna/licenses/{license}/info-tags")).await?;
            Ok(show(&value, json, TAG_COLUMNS))
        }
        DnaCommand::AddInfoTag { license, tag } => {
            let value = client
                .post(&format!("/v1/dna/licenses/{license}/info-tags"), json!({ "tag": tag }))
                .await?;
            Ok(show(&value, json, TAG_COLUMNS))
        }
        DnaCommand::Pools { product, email } => {
            let query = email.map(|e| format!("?email={}", query_value(&e))).unwrap_or_default();
            let value = client
                .get(&format!("/v1/dna/products/{product}/credit-pools{query}"))
                .await?;
            Ok(show(&value, json, POOL_COLUMNS))
        }
        DnaCommand::SetPool { product, pool } => {
            let value = client
                .put(&format!("/v1/dna/products/{product}/credit-pools"), json!(pool))
                .await?;
            Ok(show(&value, json, POOL_COLUMNS))
        }
        DnaCommand::AddPoolCredits { product, pool } => {
            let value = client
                .post(&format!("/v1/dna/products/{product}/credit-pools/add"), json!(pool))
                .await?;
            Ok(show(&value, json, POOL_COLUMNS))
        }
    }
}
