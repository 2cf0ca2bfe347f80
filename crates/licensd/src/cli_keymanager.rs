//! `licensd admin keymanager …`: managing what the Key Manager dialect adds (the
//! `/v1/keymanager/…` routes): API keys with capabilities, the access block list and per-product
//! signing keys.

use crate::cli::{CliError, Client, for_product};
use crate::output::{self, show};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Debug, Subcommand)]
pub enum KeyManagerCommand {
    /// List the capabilities (one per Key Manager endpoint) and the client default.
    Capabilities,
    /// Create a Key Manager API key; prints the key clients send (shown once).
    CreateKey {
        name: String,
        /// A capability (endpoint name) the key gets; repeat it; `all` for every one.
        /// Default: the client capabilities.
        #[arg(long = "capability")]
        capabilities: Vec<String>,
        /// An address or CIDR range the key may be used from; repeat it.
        #[arg(long = "allow-ip")]
        allow_ip: Vec<String>,
        /// Limit the key to one product's license keys.
        #[arg(long)]
        product: Option<i64>,
        /// Keep only the capabilities of endpoints that read.
        #[arg(long)]
        read_only: bool,
    },
    /// List Key Manager API keys with their capabilities.
    Keys,
    /// Replace a key's capabilities and/or switch it off or on.
    UpdateKey {
        /// The key's credential id.
        id: i64,
        #[arg(long = "capability")]
        capabilities: Vec<String>,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Put an IP (or CIDR range), a domain or an identifier on the access block list (code 150).
    Block {
        /// ip, domain or identifier
        kind: String,
        value: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Show the access block list.
    Blocks,
    /// Remove an entry from the access block list.
    Unblock {
        id: i64,
    },
    /// Generate (or replace) a product's own signing key; prints its public key.
    ProductKey {
        product: i64,
        /// RSA-2048 (default) or RSA-4096.
        #[arg(long)]
        algorithm: Option<String>,
    },
    /// Show a product's public signing key.
    ShowProductKey {
        product: i64,
    },
    /// Remove a product's own key (the global key signs again).
    DeleteProductKey {
        product: i64,
    },
    /// Create a generator (key pattern) for a product.
    CreateGenerator {
        product: i64,
        name: String,
        /// UUID keys instead of chunks.
        #[arg(long)]
        uuid: bool,
        #[arg(long)]
        charset: Option<String>,
        #[arg(long)]
        chunks: Option<u32>,
        #[arg(long)]
        chunk_length: Option<u32>,
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long, default_value = "")]
        suffix: String,
        /// Activations per minted key; 0 is unlimited.
        #[arg(long, default_value_t = 0)]
        activation_limit: i64,
        /// Days of validity from assignment; 0 never expires.
        #[arg(long, default_value_t = 0)]
        validity_days: i64,
        #[arg(long)]
        inactive: bool,
    },
    /// List generators (of one product with --product).
    Generators {
        #[arg(long)]
        product: Option<i64>,
    },
    DeleteGenerator {
        id: i64,
    },
    /// Create a downloadable version of a product.
    CreateDownloadable {
        product: i64,
        numeric_version: i64,
        version: String,
        #[arg(long)]
        summary: Option<String>,
        #[arg(long)]
        changelog: Option<String>,
        #[arg(long)]
        published: bool,
    },
    /// Upload a downloadable's file.
    UploadFile {
        id: i64,
        path: std::path::PathBuf,
    },
    /// List downloadables (of one product with --product).
    Downloadables {
        #[arg(long)]
        product: Option<i64>,
    },
    DeleteDownloadable {
        id: i64,
    },
    /// Create a contract (a key quota for a third party); prints its contract key.
    CreateContract {
        product: i64,
        name: String,
        /// Keys the contract may hold.
        quantity: i64,
        /// The holder's secret; generated when absent.
        #[arg(long)]
        contract_key: Option<String>,
        #[arg(long)]
        information: Option<String>,
        #[arg(long)]
        can_destroy: bool,
        #[arg(long)]
        can_destroy_all: bool,
    },
    Contracts,
    DeleteContract {
        id: i64,
    },
}

const KEY_COLUMNS: &[(&str, &str)] = &[
    ("ID", "credential.id"),
    ("NAME", "credential.name"),
    ("KEY ID", "credential.key_id"),
    ("ACTIVE", "active"),
    ("CAPABILITIES", "capabilities"),
];
const BLOCK_COLUMNS: &[(&str, &str)] = &[("ID", "id"), ("KIND", "kind"), ("VALUE", "value"), ("REASON", "reason")];
const GENERATOR_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("PRODUCT", "product_id"),
    ("NAME", "name"),
    ("PREFIX", "pattern.prefix"),
    ("UUID", "pattern.uuid"),
    ("LIMIT", "activation_limit"),
    ("VALIDITY", "validity_days"),
    ("ACTIVE", "active"),
];
const DOWNLOADABLE_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("PRODUCT", "product_id"),
    ("NUMERIC", "numeric_version"),
    ("VERSION", "version"),
    ("PUBLISHED", "published"),
    ("FILE", "file_name"),
    ("SIZE", "file_size"),
    ("DOWNLOADS", "download_counter"),
];
const CONTRACT_COLUMNS: &[(&str, &str)] = &[
    ("ID", "contract.id"),
    ("PRODUCT", "contract.product_id"),
    ("NAME", "contract.name"),
    ("QUOTA", "contract.license_keys_quantity"),
    ("KEYS", "license_keys_count"),
    ("ACTIVE", "contract.active"),
    ("CONTRACT KEY", "contract_key"),
];
const PRODUCT_KEY_FIELDS: &[(&str, &str)] = &[("PRODUCT", "product_id"), ("KID", "kid"), ("ALGORITHM", "algorithm")];

/// A `/v1/keymanager/…` collection whose records are listed (of one product with `--product`
/// where the command has it) and deleted by id the same way.
struct Collection {
    path: &'static str,
    columns: &'static [(&'static str, &'static str)],
}

const API_KEYS: Collection = Collection {
    path: "/v1/keymanager/api-keys",
    columns: KEY_COLUMNS,
};
const ACCESS_BLOCKS: Collection = Collection {
    path: "/v1/keymanager/access-blocks",
    columns: BLOCK_COLUMNS,
};
const GENERATORS: Collection = Collection {
    path: "/v1/keymanager/generators",
    columns: GENERATOR_COLUMNS,
};
const DOWNLOADABLES: Collection = Collection {
    path: "/v1/keymanager/downloadables",
    columns: DOWNLOADABLE_COLUMNS,
};
const CONTRACTS: Collection = Collection {
    path: "/v1/keymanager/contracts",
    columns: CONTRACT_COLUMNS,
};

impl Collection {
    async fn list(&self, client: &Client, product: Option<i64>, json: bool) -> Result<String, CliError> {
        let value = client.get(&for_product(self.path, product)).await?;
        Ok(show(&value, json, self.columns))
    }

    /// Deletes one record; prints nothing.
    async fn delete(&self, client: &Client, id: i64) -> Result<String, CliError> {
        client.delete(&format!("{}/{id}", self.path)).await?;
        Ok(String::new())
    }
}

pub async fn execute(client: &Client, command: KeyManagerCommand, json: bool) -> Result<String, CliError> {
    match command {
        KeyManagerCommand::Capabilities => {
            let value = client.get("/v1/keymanager/capabilities").await?;
            Ok(if json {
                value.to_string()
            } else {
                let join = |v: &Value| {
                    v.as_array()
                        .map(|items| items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n  "))
                        .unwrap_or_default()
                };
                format!(
                    "all:\n  {}\nclient default:\n  {}",
                    join(&value["all"]),
                    join(&value["client_default"])
                )
            })
        }
        KeyManagerCommand::CreateKey {
            name,
            capabilities,
            allow_ip,
            product,
            read_only,
        } => {
            let capabilities = (!capabilities.is_empty()).then_some(capabilities);
            let body = json!({"name": name, "capabilities": capabilities, "ip_allowlist": allow_ip, "product_id": product, "read_only": read_only});
            let value = client.post("/v1/keymanager/api-keys", body).await?;
            Ok(if json {
                value.to_string()
            } else {
                format!(
                    "{}\napi_key (shown once): {}",
                    show(&value, false, KEY_COLUMNS),
                    value["api_key"].as_str().unwrap_or_default()
                )
            })
        }
        KeyManagerCommand::Keys => API_KEYS.list(client, None, json).await,
        KeyManagerCommand::UpdateKey {
            id,
            capabilities,
            disable,
            enable,
        } => {
            if capabilities.is_empty() && !disable && !enable {
                return Err(CliError {
                    code: 2,
                    message: "give --capability, --disable or --enable".into(),
                });
            }
            let active = if disable {
                Some(false)
            } else if enable {
                Some(true)
            } else {
                None
            };
            let capabilities = (!capabilities.is_empty()).then_some(capabilities);
            let body = json!({"capabilities": capabilities, "active": active});
            let value = client.put(&format!("/v1/keymanager/api-keys/{id}"), body).await?;
            Ok(show(&value, json, KEY_COLUMNS))
        }
        KeyManagerCommand::Block { kind, value, reason } => {
            let body = json!({"kind": kind, "value": value, "reason": reason});
            let value = client.post("/v1/keymanager/access-blocks", body).await?;
            Ok(show(&value, json, BLOCK_COLUMNS))
        }
        KeyManagerCommand::Blocks => ACCESS_BLOCKS.list(client, None, json).await,
        KeyManagerCommand::Unblock { id } => ACCESS_BLOCKS.delete(client, id).await,
        KeyManagerCommand::ProductKey { product, algorithm } => {
            let value = client
                .post(
                    &format!("/v1/keymanager/products/{product}/signing-key"),
                    json!({ "algorithm": algorithm }),
                )
                .await?;
            Ok(product_key(&value, json))
        }
        KeyManagerCommand::ShowProductKey { product } => {
            let value = client
                .get(&format!("/v1/keymanager/products/{product}/signing-key"))
                .await?;
            Ok(product_key(&value, json))
        }
        KeyManagerCommand::DeleteProductKey { product } => {
            client
                .delete(&format!("/v1/keymanager/products/{product}/signing-key"))
                .await?;
            Ok(String::new())
        }
        KeyManagerCommand::CreateGenerator {
            product,
            name,
            uuid,
            charset,
            chunks,
            chunk_length,
            prefix,
            suffix,
            activation_limit,
            validity_days,
            inactive,
        } => {
            let mut pattern = json!({"uuid": uuid, "prefix": prefix, "suffix": suffix});
            if let Some(charset) = charset {
                pattern["charset"] = json!(charset);
            }
            if let Some(chunks) = chunks {
                pattern["chunks"] = json!(chunks);
            }
            if let Some(length) = chunk_length {
                pattern["chunk_length"] = json!(length);
            }
            let body = json!({"name": name, "pattern": pattern, "activation_limit": activation_limit, "validity_days": validity_days, "active": !inactive});
            let value = client
                .post(&format!("/v1/keymanager/products/{product}/generators"), body)
                .await?;
            Ok(show(&value, json, GENERATOR_COLUMNS))
        }
        KeyManagerCommand::Generators { product } => GENERATORS.list(client, product, json).await,
        KeyManagerCommand::DeleteGenerator { id } => GENERATORS.delete(client, id).await,
        KeyManagerCommand::CreateDownloadable {
            product,
            numeric_version,
            version,
            summary,
            changelog,
            published,
        } => {
            let body = json!({"numeric_version": numeric_version, "version": version, "update_summary": summary, "changelog": changelog, "published": published});
            let value = client
                .post(&format!("/v1/keymanager/products/{product}/downloadables"), body)
                .await?;
            Ok(show(&value, json, DOWNLOADABLE_COLUMNS))
        }
        KeyManagerCommand::UploadFile { id, path } => {
            let content = std::fs::read(&path).map_err(|error| CliError {
                code: 2,
                message: format!("cannot read {}: {error}", path.display()),
            })?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(encode_query)
                .ok_or_else(|| CliError {
                    code: 2,
                    message: format!("{} has no usable file name", path.display()),
                })?;
            let value = upload(
                client,
                &format!("/v1/keymanager/downloadables/{id}/file?name={name}"),
                content,
            )
            .await?;
            Ok(show(&value, json, DOWNLOADABLE_COLUMNS))
        }
        KeyManagerCommand::Downloadables { product } => DOWNLOADABLES.list(client, product, json).await,
        KeyManagerCommand::DeleteDownloadable { id } => DOWNLOADABLES.delete(client, id).await,
        KeyManagerCommand::CreateContract {
            product,
            name,
            quantity,
            contract_key,
            information,
            can_destroy,
            can_destroy_all,
        } => {
            let body = json!({"product_id": product, "name": name, "license_keys_quantity": quantity, "contract_key": contract_key, "information": information, "can_destroy": can_destroy, "can_destroy_all": can_destroy_all});
            let value = client.post("/v1/keymanager/contracts", body).await?;
            Ok(show(&value, json, CONTRACT_COLUMNS))
        }
        KeyManagerCommand::Contracts => CONTRACTS.list(client, None, json).await,
        KeyManagerCommand::DeleteContract { id } => CONTRACTS.delete(client, id).await,
    }
}

/// PUTs raw bytes (a downloadable's file), which `Client::call` (JSON only) cannot.
async fn upload(client: &Client, path: &str, content: Vec<u8>) -> Result<Value, CliError> {
    let token = client.token()?;
    let (base, http) = client.endpoint();
    let response = http
        .put(format!("{base}{path}"))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(content)
        .send()
        .await
        .map_err(|error| CliError {
            code: 1,
            message: format!("cannot reach {base}: {error}"),
        })?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status.is_success() {
        return Ok(value);
    }
    let code = crate::cli::exit_code(status);
    Err(CliError {
        code,
        message: format!("{status}: {value}"),
    })
}

/// Percent-encodes a query value.
fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn product_key(value: &Value, json: bool) -> String {
    if json {
        return value.to_string();
    }
    format!(
        "{}\n{}",
        output::record(value, PRODUCT_KEY_FIELDS),
        value["pem"].as_str().unwrap_or_default().trim_end()
    )
}
