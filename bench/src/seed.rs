//! Builds the benchmark dataset through licensd's native API and writes one key file per scenario.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    server: String,
    #[arg(long)]
    token: String,
    /// Licenses (each with one activated device) for the validation scenarios.
    #[arg(long, default_value_t = 10_000)]
    licenses: usize,
    /// Licenses for each write scenario (activation, consumption, floating).
    #[arg(long, default_value_t = 200)]
    write_licenses: usize,
    /// Directory for the key files.
    #[arg(long)]
    out: PathBuf,
    /// Requests in flight while activating the seeded devices.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn post(&self, path: &str, body: Value, admin: bool) -> anyhow::Result<Value> {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        if admin {
            request = request.bearer_auth(&self.token);
        }
        let response = request.send().await.with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let value: Value = response.json().await.with_context(|| format!("POST {path}: body"))?;
        if !status.is_success() {
            bail!("POST {path}: {status} {value}");
        }
        Ok(value)
    }

    /// Issues `count` licenses with `terms` in batches; returns their keys.
    async fn issue(&self, product_id: i64, count: usize, terms: Value) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::with_capacity(count);
        while keys.len() < count {
            let batch = (count - keys.len()).min(10_000);
            let created = self
                .post(
                    "/v1/licenses/bulk",
                    json!({"count": batch, "license": {"product_id": product_id, "terms": terms}}),
                    true,
                )
                .await?;
            for license in created["licenses"].as_array().context("bulk answer has licenses")? {
                keys.push(license["key"].as_str().context("license has a key")?.to_string());
            }
            eprintln!("seed: issued {}/{count}", keys.len());
        }
        Ok(keys)
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let api = Arc::new(Api {
        base: args.server.trim_end_matches('/').to_string(),
        token: args.token.clone(),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .build()?,
    });
    let product = api
        .post("/v1/products", json!({"code": "bench", "name": "Benchmark"}), true)
        .await?;
    let product_id = product["id"].as_i64().context("product id")?;

    let validate = api
        .issue(product_id, args.licenses, json!({"max_activations": 5}))
        .await?;
    activate_all(&api, &validate, args.concurrency).await?;
    let lines: Vec<String> = validate.iter().map(|key| format!("{key} bench-device-{key}")).collect();
    std::fs::write(args.out.join("validate.txt"), lines.join("\n") + "\n")?;

    let unlimited = api
        .issue(product_id, args.write_licenses, json!({"max_activations": null}))
        .await?;
    std::fs::write(args.out.join("activate.txt"), unlimited.join("\n") + "\n")?;
    let consumption = api
        .issue(
            product_id,
            args.write_licenses,
            json!({"license_type": "consumption", "max_activations": null, "consumption": {"max_consumptions": null}}),
        )
        .await?;
    std::fs::write(args.out.join("consume.txt"), consumption.join("\n") + "\n")?;
    let floating = api
        .issue(
            product_id,
            args.write_licenses,
            json!({"max_activations": null, "floating": {"seats": 1_000_000, "lease_seconds": 600}}),
        )
        .await?;
    std::fs::write(args.out.join("floating.txt"), floating.join("\n") + "\n")?;

    // LicenseSpring: a credential and an OAuth bearer token for it (wrk cannot compute the
    // per-request HMAC signature, so the bench authenticates the way OAuth clients do).
    let credential = api
        .post(
            "/v1/credentials",
            json!({"dialect": "licensespring", "name": "bench"}),
            true,
        )
        .await?;
    let client_id = credential["credential"]["key_id"]
        .as_str()
        .context("credential key id")?;
    let client_secret = credential["secret"].as_str().context("credential secret")?;
    let response = api
        .http
        .post(format!("{}/api/v4/oauth/token", api.base))
        // The id is a UUID and the secret base64url: both are form-safe as they are.
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={client_id}&client_secret={client_secret}"
        ))
        .send()
        .await
        .context("POST /api/v4/oauth/token")?;
    let status = response.status();
    let token: Value = response.json().await.context("oauth token body")?;
    if !status.is_success() {
        bail!("POST /api/v4/oauth/token: {status} {token}");
    }
    let access_token = token["access_token"].as_str().context("access_token")?;
    std::fs::write(args.out.join("ls_token.txt"), format!("{access_token}\n"))?;
    std::fs::write(args.out.join("ls_client.txt"), format!("{client_id} {client_secret}\n"))?;
    eprintln!("seed: done");
    Ok(())
}

/// Activates `bench-device-<key>` on every license, `concurrency` requests at a time.
async fn activate_all(api: &Arc<Api>, keys: &[String], concurrency: usize) -> anyhow::Result<()> {
    let keys = Arc::new(keys.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (api, keys, next) = (api.clone(), keys.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(key) = keys.get(index) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let body = json!({"key": key, "fingerprint": format!("bench-device-{key}")});
                api.post("/v1/licenses/actions/activate", body, false).await?;
                if (index + 1) % 10_000 == 0 {
                    eprintln!("seed: activated {}", index + 1);
                }
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(())
}
