//! The admin console's page latency at scale (issue 15: "console pages answer in under 50 ms at
//! 1M licences"): seeds products, customers and licences through the native API of a running
//! licensd (bulk issue, 10 000 a request), signs in to `/console` like a browser, then requests
//! each page `--samples` times, one at a time, and prints p50, p95 and the slowest answer per page.
//!
//! Driven by `bench/console` (which starts licensd on SQLite and PostgreSQL); by default 1 000 000
//! licences: run it on a machine of its own.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    server: String,
    #[arg(long)]
    token: String,
    /// Licences to seed (in batches of 10 000 per bulk request).
    #[arg(long, default_value_t = 1_000_000)]
    licenses: usize,
    /// Customers to seed; each bulk batch belongs to one of them.
    #[arg(long, default_value_t = 1_000)]
    customers: usize,
    /// Requests per page (after one unmeasured warm-up request).
    #[arg(long, default_value_t = 20)]
    samples: usize,
    /// Skip seeding (the database already holds the dataset of an earlier run).
    #[arg(long)]
    no_seed: bool,
}

const BATCH: usize = 10_000;
const PRODUCTS: usize = 3;

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| path.to_string())?;
        let status = response.status();
        let value: Value = response.json().await.with_context(|| format!("{path}: body"))?;
        if !status.is_success() {
            bail!("{path}: {status} {value}");
        }
        Ok(value)
    }
}

/// The seeded dataset's handles the measured pages use.
struct Dataset {
    products: Vec<i64>,
    customer_email: String,
    customer_name_prefix: String,
    order_ref: String,
    middle_id: i64,
    some_licence: i64,
}

async fn seed(api: &Api, args: &Args) -> anyhow::Result<()> {
    let mut products = Vec::new();
    for i in 0..PRODUCTS {
        let product = api
            .admin(
                reqwest::Method::POST,
                "/v1/products",
                Some(json!({"code": format!("console-bench-{i}"), "name": format!("Console bench {i}")})),
            )
            .await?;
        products.push(product["id"].as_i64().context("product id")?);
    }
    let mut customers = Vec::new();
    for i in 0..args.customers.max(1) {
        let customer = api
            .admin(
                reqwest::Method::POST,
                "/v1/customers",
                Some(json!({"email": format!("buyer{i}@example.com"), "name": format!("Buyer {i}")})),
            )
            .await?;
        customers.push(customer["id"].as_i64().context("customer id")?);
    }
    let mut issued = 0;
    let mut batch_no = 0;
    let started = Instant::now();
    while issued < args.licenses {
        let count = (args.licenses - issued).min(BATCH);
        // Every 20th batch is disabled, so the status filter has something rare to find.
        let status = if batch_no % 20 == 19 { "disabled" } else { "active" };
        api.admin(
            reqwest::Method::POST,
            "/v1/licenses/bulk",
            Some(json!({"count": count, "license": {
                "product_id": products[batch_no % products.len()],
                "customer_id": customers[batch_no % customers.len()],
                "order_ref": format!("ORDER-{batch_no}"),
                "status": status,
            }})),
        )
        .await?;
        issued += count;
        batch_no += 1;
        eprintln!(
            "console bench: issued {issued}/{} ({:.0} s)",
            args.licenses,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

async fn dataset(api: &Api, licenses: usize) -> anyhow::Result<Dataset> {
    let products: Vec<i64> = api.admin(reqwest::Method::GET, "/v1/products?limit=1000", None).await?["data"]
        .as_array()
        .context("products")?
        .iter()
        .filter(|p| p["code"].as_str().is_some_and(|c| c.starts_with("console-bench-")))
        .filter_map(|p| p["id"].as_i64())
        .collect();
    if products.is_empty() {
        bail!("no console-bench products: seed first (drop --no-seed)");
    }
    // `/v1/licenses` lists oldest first; the seeded ids are consecutive from the first one.
    let oldest = api.admin(reqwest::Method::GET, "/v1/licenses?limit=1", None).await?;
    let first = oldest["data"][0]["id"].as_i64().context("a licence")?;
    let half = i64::try_from(licenses / 2).unwrap_or(0);
    Ok(Dataset {
        products,
        customer_email: "buyer7@example.com".into(),
        customer_name_prefix: "buyer 12".into(),
        order_ref: "ORDER-3".into(),
        middle_id: first + half,
        some_licence: first + half + 1,
    })
}

/// A signed-in console session (the sign-in form's double-submit cookie, then the session cookie).
async fn sign_in(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let page = http.get(format!("{base}/console/sign-in")).send().await?;
    let login = cookie(page.headers(), "licensd_console_login").context("login cookie")?;
    let answer = http
        .post(format!("{base}/console/sign-in"))
        .header("cookie", format!("licensd_console_login={login}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("login={login}&token={token}"))
        .send()
        .await?;
    cookie(answer.headers(), "licensd_console").context("signed in (session cookie)")
}

fn cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim_start_matches(&format!("{name}=")).to_string())
        .filter(|v| !v.is_empty())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let api = Api {
        base: args.server.trim_end_matches('/').to_string(),
        token: args.token.clone(),
        http: http.clone(),
    };
    if !args.no_seed {
        seed(&api, &args).await?;
    }
    let data = dataset(&api, args.licenses).await?;
    let session = sign_in(&http, &api.base, &args.token).await?;
    let product = data.products[0];
    let pages: Vec<(&str, String)> = vec![
        ("dashboard", "/console".into()),
        ("licences, first page", "/console/licenses".into()),
        (
            "licences, a middle page",
            format!("/console/licenses?before={}", data.middle_id),
        ),
        ("licences by product", format!("/console/licenses?product_id={product}")),
        ("licences, disabled", "/console/licenses?status=disabled".into()),
        (
            "licences by product, disabled",
            format!("/console/licenses?product_id={product}&status=disabled"),
        ),
        (
            "search: customer e-mail",
            format!("/console/licenses?q={}", data.customer_email),
        ),
        (
            "search: name prefix",
            format!("/console/licenses?q={}", data.customer_name_prefix.replace(' ', "+")),
        ),
        (
            "search: order reference",
            format!("/console/licenses?q={}", data.order_ref),
        ),
        ("search: no match", "/console/licenses?q=nobody%40example.com".into()),
        ("licence page", format!("/console/licenses/{}", data.some_licence)),
        ("customers", "/console/customers".into()),
        ("events", "/console/events".into()),
        ("events: action filter", "/console/events?action=product.created".into()),
        (
            "events: subject type filter",
            "/console/events?subject_type=customer".into(),
        ),
        ("bulk-issue form", "/console/licenses/bulk".into()),
        ("products", "/console/products".into()),
    ];
    println!(
        "{:<34} {:>9} {:>9} {:>9}   ({} samples each)",
        "page", "p50 ms", "p95 ms", "max ms", args.samples
    );
    for (name, path) in pages {
        let url = format!("{}{path}", api.base);
        let mut times = Vec::with_capacity(args.samples);
        for i in 0..=args.samples {
            let started = Instant::now();
            let answer = http
                .get(&url)
                .header("cookie", format!("licensd_console={session}"))
                .send()
                .await?;
            let status = answer.status();
            let _ = answer.bytes().await?;
            if status != reqwest::StatusCode::OK {
                bail!("{path}: {status}");
            }
            if i > 0 {
                times.push(started.elapsed());
            }
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:<34} {:>9.2} {:>9.2} {:>9.2}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(times.last().copied().unwrap_or_default())
        );
    }
    Ok(())
}
