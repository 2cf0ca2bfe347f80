//! The admin CLI: every command is one or more calls to the server's `/v1` API.

pub use crate::cli_args::*;
use crate::output;
use reqwest::Method;
use serde_json::{Value, json};
use std::process::ExitCode;

/// A failure with the exit code scripts rely on (see main.rs).
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
}

pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            token: token.map(str::to_string),
            http: reqwest::Client::new(),
        }
    }

    /// The admin token (exit code 6 without one).
    pub(crate) fn token(&self) -> Result<&str, CliError> {
        self.token.as_deref().ok_or_else(|| CliError {
            code: 6,
            message: "no admin token: pass --token or set LICENSD_TOKEN".into(),
        })
    }

    /// The server base URL and HTTP client, for requests `call` cannot make (raw uploads).
    pub(crate) fn endpoint(&self) -> (&str, &reqwest::Client) {
        (&self.base, &self.http)
    }

    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, CliError> {
        let token = self.token()?;
        let mut request = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|error| CliError {
            code: 1,
            message: format!("cannot reach {}: {error}", self.base),
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|error| CliError {
            code: 1,
            message: format!("broken response: {error}"),
        })?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(value);
        }
        let code = exit_code(status);
        let detail = match (value.pointer("/error/code"), value.pointer("/error/message")) {
            (Some(Value::String(code)), Some(Value::String(message))) => format!("{code}: {message}"),
            _ => value.to_string(),
        };
        Err(CliError {
            code,
            message: format!("{status}: {detail}"),
        })
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.call(Method::GET, path, None).await
    }
    pub(crate) async fn post(&self, path: &str, body: Value) -> Result<Value, CliError> {
        self.call(Method::POST, path, Some(body)).await
    }
    pub(crate) async fn put(&self, path: &str, body: Value) -> Result<Value, CliError> {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub(crate) async fn patch(&self, path: &str, body: Value) -> Result<Value, CliError> {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub(crate) async fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.call(Method::DELETE, path, None).await
    }
}

/// The exit code of a refused request: 3 not found, 4 conflict, 5 bad input, 6 not allowed, 1
/// anything else.
pub(crate) fn exit_code(status: reqwest::StatusCode) -> u8 {
    match status.as_u16() {
        404 => 3,
        409 => 4,
        400 | 413 | 415 | 422 => 5,
        401 | 403 => 6,
        _ => 1,
    }
}

/// Runs one admin command and maps the outcome to an exit code.
pub async fn run(client: Client, command: AdminCommand, json: bool) -> ExitCode {
    match execute(&client, command, json).await {
        Ok(text) => {
            if !text.is_empty() {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("licensd: {}", error.message);
            ExitCode::from(error.code)
        }
    }
}

const PRODUCT_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("CODE", "code"),
    ("NAME", "name"),
    ("AUTH", "auth_method"),
    ("STATUS", "status"),
    ("CREATED", "created_at"),
];
const POLICY_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("PRODUCT", "product_id"),
    ("CODE", "code"),
    ("NAME", "name"),
    ("TYPE", "terms.license_type"),
    ("MAX ACT", "terms.max_activations"),
    ("DAYS", "duration_days"),
];
const FEATURE_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("PRODUCT", "product_id"),
    ("CODE", "code"),
    ("NAME", "name"),
    ("TYPE", "feature_type"),
    ("MAX", "max_consumptions"),
    ("SEATS", "floating_seats"),
];
const LICENSE_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("KEY", "key"),
    ("PRODUCT", "product_id"),
    ("STATUS", "status"),
    ("TYPE", "terms.license_type"),
    ("MAX ACT", "terms.max_activations"),
    ("EXPIRES", "expires_at"),
];
const DEVICE_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("FINGERPRINT", "fingerprint"),
    ("HOSTNAME", "hostname"),
    ("IP", "ip"),
    ("ACTIVATED", "activated_at"),
    ("DEACTIVATED", "deactivated_at"),
];
const BLOCKED_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("PRODUCT", "product_id"),
    ("FINGERPRINT", "fingerprint"),
    ("REASON", "reason"),
    ("CREATED", "created_at"),
];
const CUSTOMER_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("EMAIL", "email"),
    ("NAME", "name"),
    ("COMPANY", "company"),
    ("REFERENCE", "reference"),
];
const USER_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("EMAIL", "email"),
    ("NAME", "name"),
    ("CUSTOMER", "customer_id"),
];
const CREDENTIAL_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("DIALECT", "dialect"),
    ("NAME", "name"),
    ("KEY ID", "key_id"),
    ("PRODUCT", "product_id"),
    ("READ ONLY", "read_only"),
    ("IPS", "ip_allowlist"),
    ("REVOKED", "revoked_at"),
];
const TOKEN_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("READ ONLY", "read_only"),
    ("EXPIRES", "expires_at"),
    ("IPS", "ip_allowlist"),
    ("CREATED", "created_at"),
    ("REVOKED", "revoked_at"),
];
const KEY_COLUMNS: &[(&str, &str)] = &[
    ("KID", "kid"),
    ("ALGORITHM", "algorithm"),
    ("ACTIVE", "active"),
    ("CREATED", "created_at"),
    ("RETIRED", "retired_at"),
];
const EVENT_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("AT", "at"),
    ("ACTOR", "actor"),
    ("ACTION", "action"),
    ("SUBJECT", "subject_type"),
    ("SUBJECT ID", "subject_id"),
];

/// `output::show`, and a page of a paginated list (`{data, next_after}`) as a table with the
/// `--after` that continues it.
fn render(value: &Value, json: bool, columns: &[(&str, &str)]) -> String {
    match value {
        Value::Object(map) if !json && map.contains_key("data") && map.contains_key("next_after") => {
            let rows = map.get("data").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut text = output::table(&rows, columns);
            if let Some(next) = map.get("next_after").and_then(Value::as_i64) {
                text.push_str(&format!("\n(more: --after {next})"));
            }
            text
        }
        other => output::show(other, json, columns),
    }
}

/// A created credential or admin token with its secret, which the server returns only in
/// this answer (`{"<record>": {…}, "secret": "…"}`).
fn created_with_secret(created: &Value, json: bool, record: &str, columns: &[(&str, &str)]) -> String {
    if json {
        return created.to_string();
    }
    let row = created.get(record).cloned().unwrap_or(Value::Null);
    let secret = created.get("secret").and_then(Value::as_str).unwrap_or("-");
    format!("{}\nsecret (shown once)  {secret}", output::record(&row, columns))
}

/// A list's path, narrowed to one product's rows when the command names a product
/// (`?product_id=`).
pub(crate) fn for_product(path: &str, product: Option<i64>) -> String {
    match product {
        Some(product) => format!("{path}?product_id={product}"),
        None => path.to_owned(),
    }
}

fn parse_json(flag: &str, text: &str) -> Result<Value, CliError> {
    serde_json::from_str(text).map_err(|error| CliError::usage(format!("--{flag} is not valid JSON: {error}")))
}

fn page_query(page: &PageArgs) -> String {
    let mut query = format!("limit={}", page.limit);
    if let Some(after) = page.after {
        query.push_str(&format!("&after={after}"));
    }
    query
}

fn license_body(fields: &LicenseFieldArgs) -> Result<Value, CliError> {
    let mut body = json!({"product_id": fields.product});
    if let Some(policy) = fields.policy {
        body["policy_id"] = json!(policy);
    }
    if let Some(customer) = fields.customer {
        body["customer_id"] = json!(customer);
    }
    if let Some(terms) = &fields.terms {
        body["terms"] = parse_json("terms", terms)?;
    }
    if let Some(max) = fields.max_activations {
        if body.get("terms").is_none() {
            body["terms"] = json!({});
        }
        body["terms"]["max_activations"] = json!(max);
    }
    if let Some(expires) = &fields.expires {
        let at = licensd_domain::clock::parse_rfc3339(expires)
            .ok_or_else(|| CliError::usage("--expires must be RFC 3339, e.g. 2027-01-01T00:00:00Z"))?;
        body["expires_at"] = json!(at);
    }
    if let Some(order_ref) = &fields.order_ref {
        body["order_ref"] = json!(order_ref);
    }
    Ok(body)
}

async fn execute(client: &Client, command: AdminCommand, json: bool) -> Result<String, CliError> {
    match command {
        AdminCommand::Product(command) => match command {
            ProductCommand::Create {
                code,
                name,
                auth,
                trial_days,
            } => {
                let mut body = json!({"code": code, "name": name, "auth_method": auth});
                if let Some(days) = trial_days {
                    body["trial_days"] = json!(days);
                    body["trial_allowed"] = json!(days > 0);
                }
                Ok(render(&client.post("/v1/products", body).await?, json, PRODUCT_COLUMNS))
            }
            ProductCommand::List(page) => Ok(render(
                &client.get(&format!("/v1/products?{}", page_query(&page))).await?,
                json,
                PRODUCT_COLUMNS,
            )),
            ProductCommand::Show { id } => Ok(render(
                &client.get(&format!("/v1/products/{id}")).await?,
                json,
                PRODUCT_COLUMNS,
            )),
            ProductCommand::Update { id, name, status } => {
                let mut body = json!({});
                if let Some(name) = name {
                    body["name"] = json!(name);
                }
                if let Some(status) = status {
                    body["status"] = json!(status);
                }
                Ok(render(
                    &client.patch(&format!("/v1/products/{id}"), body).await?,
                    json,
                    PRODUCT_COLUMNS,
                ))
            }
            ProductCommand::Delete { id } => client
                .delete(&format!("/v1/products/{id}"))
                .await
                .map(|_| String::new()),
        },
        AdminCommand::Policy(command) => match command {
            PolicyCommand::Create {
                product,
                code,
                name,
                terms,
                max_activations,
                duration_days,
                maintenance_days,
            } => {
                let mut body = json!({"product_id": product, "code": code, "name": name});
                if let Some(terms) = terms {
                    body["terms"] = parse_json("terms", &terms)?;
                }
                if let Some(max) = max_activations {
                    if body.get("terms").is_none() {
                        body["terms"] = json!({});
                    }
                    body["terms"]["max_activations"] = json!(max);
                }
                if let Some(days) = duration_days {
                    body["duration_days"] = json!(days);
                }
                if let Some(days) = maintenance_days {
                    body["maintenance_days"] = json!(days);
                }
                Ok(render(&client.post("/v1/policies", body).await?, json, POLICY_COLUMNS))
            }
            PolicyCommand::List { product } => {
                let path = for_product("/v1/policies", product);
                Ok(render(&client.get(&path).await?, json, POLICY_COLUMNS))
            }
            PolicyCommand::Show { id } => Ok(render(
                &client.get(&format!("/v1/policies/{id}")).await?,
                json,
                POLICY_COLUMNS,
            )),
            PolicyCommand::Delete { id } => client
                .delete(&format!("/v1/policies/{id}"))
                .await
                .map(|_| String::new()),
        },
        AdminCommand::Feature(command) => match command {
            FeatureCommand::Create {
                product,
                code,
                name,
                r#type,
                max_consumptions,
                floating_seats,
            } => {
                let body = json!({"product_id": product, "code": code, "name": name, "feature_type": r#type, "max_consumptions": max_consumptions, "floating_seats": floating_seats});
                Ok(render(&client.post("/v1/features", body).await?, json, FEATURE_COLUMNS))
            }
            FeatureCommand::List { product } => {
                let path = for_product("/v1/features", product);
                Ok(render(&client.get(&path).await?, json, FEATURE_COLUMNS))
            }
            FeatureCommand::Delete { id } => client
                .delete(&format!("/v1/features/{id}"))
                .await
                .map(|_| String::new()),
        },
        AdminCommand::License(command) => license(client, command, json).await,
        AdminCommand::Device(command) => match command {
            DeviceCommand::List { license } => Ok(render(
                &client.get(&format!("/v1/licenses/{license}/devices")).await?,
                json,
                DEVICE_COLUMNS,
            )),
            DeviceCommand::Deactivate { id } => Ok(render(
                &client.post(&format!("/v1/devices/{id}/deactivate"), json!({})).await?,
                json,
                DEVICE_COLUMNS,
            )),
            DeviceCommand::Block {
                fingerprint,
                product,
                reason,
            } => {
                let body = json!({"fingerprint": fingerprint, "product_id": product, "reason": reason});
                Ok(render(
                    &client.post("/v1/blocked-devices", body).await?,
                    json,
                    BLOCKED_COLUMNS,
                ))
            }
            DeviceCommand::Unblock { id } => client
                .delete(&format!("/v1/blocked-devices/{id}"))
                .await
                .map(|_| String::new()),
            DeviceCommand::Blocked { product } => {
                let path = for_product("/v1/blocked-devices", product);
                Ok(render(&client.get(&path).await?, json, BLOCKED_COLUMNS))
            }
        },
        AdminCommand::Customer(command) => match command {
            CustomerCommand::Create {
                email,
                name,
                company,
                reference,
            } => {
                let body = json!({"email": email, "name": name, "company": company, "reference": reference});
                Ok(render(
                    &client.post("/v1/customers", body).await?,
                    json,
                    CUSTOMER_COLUMNS,
                ))
            }
            CustomerCommand::List(page) => Ok(render(
                &client.get(&format!("/v1/customers?{}", page_query(&page))).await?,
                json,
                CUSTOMER_COLUMNS,
            )),
            CustomerCommand::Show { id } => Ok(render(
                &client.get(&format!("/v1/customers/{id}")).await?,
                json,
                CUSTOMER_COLUMNS,
            )),
            CustomerCommand::Delete { id } => client
                .delete(&format!("/v1/customers/{id}"))
                .await
                .map(|_| String::new()),
        },
        AdminCommand::User(command) => match command {
            UserCommand::Create {
                email,
                customer,
                name,
                password_from_env,
            } => {
                let mut body = json!({"email": email, "customer_id": customer, "name": name});
                if password_from_env {
                    let password = std::env::var("LICENSD_USER_PASSWORD")
                        .map_err(|_| CliError::usage("LICENSD_USER_PASSWORD is not set"))?;
                    body["password"] = json!(password);
                }
                Ok(render(
                    &client.post("/v1/license-users", body).await?,
                    json,
                    USER_COLUMNS,
                ))
            }
            UserCommand::List { customer } => {
                let path = customer
                    .map(|c| format!("/v1/license-users?customer_id={c}"))
                    .unwrap_or_else(|| "/v1/license-users".into());
                Ok(render(&client.get(&path).await?, json, USER_COLUMNS))
            }
            UserCommand::Assign { license, user } => client
                .post(&format!("/v1/licenses/{license}/users"), json!({"user_id": user}))
                .await
                .map(|_| String::new()),
        },
        AdminCommand::Credential(command) => match command {
            CredentialCommand::Create {
                dialect,
                name,
                product,
                read_only,
                allow_ip,
            } => {
                let body = json!({"dialect": dialect, "name": name, "product_id": product, "read_only": read_only, "ip_allowlist": allow_ip});
                let created = client.post("/v1/credentials", body).await?;
                Ok(created_with_secret(&created, json, "credential", CREDENTIAL_COLUMNS))
            }
            CredentialCommand::List { dialect } => {
                let path = dialect
                    .map(|d| format!("/v1/credentials?dialect={d}"))
                    .unwrap_or_else(|| "/v1/credentials".into());
                Ok(render(&client.get(&path).await?, json, CREDENTIAL_COLUMNS))
            }
            CredentialCommand::Revoke { id } => Ok(render(
                &client.post(&format!("/v1/credentials/{id}/revoke"), json!({})).await?,
                json,
                CREDENTIAL_COLUMNS,
            )),
        },
        AdminCommand::Token(command) => match command {
            TokenCommand::Create {
                name,
                read_only,
                expires_at,
                ip,
            } => {
                let expires_at = expires_at
                    .map(|text| {
                        licensd_domain::clock::parse_rfc3339(&text)
                            .ok_or_else(|| CliError::usage("--expires-at must be RFC 3339, e.g. 2027-01-01T00:00:00Z"))
                    })
                    .transpose()?;
                let body = json!({"name": name, "read_only": read_only, "expires_at": expires_at, "ip_allowlist": ip});
                let created = client.post("/v1/admin-tokens", body).await?;
                Ok(created_with_secret(&created, json, "token", TOKEN_COLUMNS))
            }
            TokenCommand::List => Ok(render(&client.get("/v1/admin-tokens").await?, json, TOKEN_COLUMNS)),
            TokenCommand::Revoke { id } => Ok(render(
                &client.post(&format!("/v1/admin-tokens/{id}/revoke"), json!({})).await?,
                json,
                TOKEN_COLUMNS,
            )),
        },
        AdminCommand::Keys(command) => {
            let value = match command {
                KeysCommand::List => client.get("/v1/signing-keys").await?,
                KeysCommand::Rotate { algorithm } => {
                    client
                        .post("/v1/signing-keys/rotate", json!({"algorithm": algorithm}))
                        .await?
                }
            };
            let keys = value.get("keys").cloned().unwrap_or(Value::Array(vec![]));
            Ok(render(&keys, json, KEY_COLUMNS))
        }
        AdminCommand::Dna(command) => crate::cli_dna::execute(client, command, json).await,
        AdminCommand::Keymanager(command) => crate::cli_keymanager::execute(client, command, json).await,
        AdminCommand::Licensespring(command) => crate::cli_licensespring::execute(client, command, json).await,
        AdminCommand::Slascone(command) => crate::cli_slascone::execute(client, command, json).await,
        AdminCommand::Webhooks(command) => crate::cli_webhooks::execute(client, command, json).await,
        AdminCommand::Events(args) => {
            let mut path = format!("/v1/events?{}", page_query(&args.page));
            if let Some(subject_type) = args.subject_type {
                path.push_str(&format!("&subject_type={subject_type}"));
            }
            if let Some(subject_id) = args.subject_id {
                path.push_str(&format!("&subject_id={subject_id}"));
            }
            Ok(render(&client.get(&path).await?, json, EVENT_COLUMNS))
        }
    }
}

async fn license(client: &Client, command: LicenseCommand, json: bool) -> Result<String, CliError> {
    match command {
        LicenseCommand::Create { fields, key } => {
            let mut body = license_body(&fields)?;
            if let Some(key) = key {
                body["key"] = json!(key);
            }
            Ok(render(&client.post("/v1/licenses", body).await?, json, LICENSE_COLUMNS))
        }
        LicenseCommand::Bulk {
            fields,
            count,
            batch_size,
            prefix,
            chunks,
            chunk_length,
            uuid,
            out,
        } => {
            if count == 0 || batch_size == 0 {
                return Err(CliError::usage("--count and --batch-size must be at least 1"));
            }
            let license = license_body(&fields)?;
            let pattern = json!({"prefix": prefix, "chunks": chunks, "chunk_length": chunk_length, "uuid": uuid});
            let progress = indicatif::ProgressBar::new(count as u64);
            if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            progress.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} licenses ({per_sec}, eta {eta})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let mut issued: Vec<Value> = Vec::with_capacity(count);
            while issued.len() < count {
                let size = batch_size.min(count - issued.len());
                let created = client
                    .post(
                        "/v1/licenses/bulk",
                        json!({"count": size, "pattern": pattern, "license": license}),
                    )
                    .await?;
                let batch = created
                    .get("licenses")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                progress.inc(batch.len() as u64);
                issued.extend(batch);
            }
            progress.finish_and_clear();
            let keys: Vec<&str> = issued
                .iter()
                .filter_map(|l| l.get("key").and_then(Value::as_str))
                .collect();
            if let Some(path) = out {
                std::fs::write(&path, keys.join("\n") + "\n").map_err(|error| CliError {
                    code: 1,
                    message: format!("cannot write {}: {error}", path.display()),
                })?;
                return Ok(if json {
                    json!({"created": issued.len(), "out": path}).to_string()
                } else {
                    format!("{} licenses issued; keys written to {}", issued.len(), path.display())
                });
            }
            Ok(if json {
                json!({"created": issued.len(), "licenses": issued}).to_string()
            } else {
                keys.join("\n")
            })
        }
        LicenseCommand::List {
            product,
            customer,
            status,
            page,
        } => {
            let mut path = format!("/v1/licenses?{}", page_query(&page));
            if let Some(product) = product {
                path.push_str(&format!("&product_id={product}"));
            }
            if let Some(customer) = customer {
                path.push_str(&format!("&customer_id={customer}"));
            }
            if let Some(status) = status {
                path.push_str(&format!("&status={status}"));
            }
            Ok(render(&client.get(&path).await?, json, LICENSE_COLUMNS))
        }
        LicenseCommand::Show { id } => {
            let value = client.get(&format!("/v1/licenses/{id}")).await?;
            if json {
                return Ok(value.to_string());
            }
            let mut text = output::record(
                &value,
                &[
                    ("ID", "id"),
                    ("KEY", "key"),
                    ("PRODUCT", "product_id"),
                    ("POLICY", "policy_id"),
                    ("CUSTOMER", "customer_id"),
                    ("STATUS", "status"),
                    ("TYPE", "terms.license_type"),
                    ("KIND", "terms.kind"),
                    ("MAX ACTIVATIONS", "terms.max_activations"),
                    ("STARTS", "starts_at"),
                    ("EXPIRES", "expires_at"),
                    ("CONSUMED", "consumption_used"),
                    ("CREATED", "created_at"),
                ],
            );
            let devices = value
                .get("devices")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            text.push_str("\n\nDevices:\n");
            text.push_str(&output::table(&devices, DEVICE_COLUMNS));
            Ok(text)
        }
        LicenseCommand::Block { id } => Ok(render(
            &client.post(&format!("/v1/licenses/{id}/block"), json!({})).await?,
            json,
            LICENSE_COLUMNS,
        )),
        LicenseCommand::Enable { id } => Ok(render(
            &client.post(&format!("/v1/licenses/{id}/enable"), json!({})).await?,
            json,
            LICENSE_COLUMNS,
        )),
        LicenseCommand::Disable { id } => Ok(render(
            &client.post(&format!("/v1/licenses/{id}/disable"), json!({})).await?,
            json,
            LICENSE_COLUMNS,
        )),
        LicenseCommand::Delete { id } => client
            .delete(&format!("/v1/licenses/{id}"))
            .await
            .map(|_| String::new()),
    }
}
