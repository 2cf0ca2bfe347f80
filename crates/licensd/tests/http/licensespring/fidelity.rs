//! Issue 12: the LicenseSpring dialect behaves as the vendor's documents and official clients
//! expect (transfers, signed JSON that survives a JavaScript round trip).

use super::*;
use crate::harness::ADMIN_TOKEN;

/// A small deterministic generator (xorshift64*), seeded per run and printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A JSON number literal as a client might send it: whole-number floats, exponents, integers past
/// 2^53 and past u64, negative zero, random doubles in Rust's `{:e}` form.
fn number(rng: &mut Rng) -> String {
    const FIXED: &[&str] = &[
        "10.0",
        "1.0",
        "-0.0",
        "0.1",
        "1e21",
        "1E21",
        "1e20",
        "1.5e-7",
        "0.000001",
        "1e-7",
        "2.5E+3",
        "123456789012345678901234",
        "18446744073709551615",
        "9007199254740993",
        "-9223372036854775808",
        "4.35",
        "100",
        "-7",
        "1.7976931348623157e308",
        "5e-324",
    ];
    match rng.below(3) {
        0 => rng.pick(FIXED).to_string(),
        1 => {
            let digits: String = (0..1 + rng.below(25))
                .map(|i| char::from(b'0' + (rng.below(9) as u8) + u8::from(i == 0)))
                .collect();
            digits
        }
        _ => {
            let bits = rng.next();
            let value = f64::from_bits(bits);
            if value.is_finite() {
                format!("{value:e}")
            } else {
                format!("{}.{}", rng.below(1000), rng.below(1000))
            }
        }
    }
}

fn text(rng: &mut Rng) -> String {
    // JSON string-literal pieces: raw characters and escapes (surrogate pairs included).
    const PIECES: &[&str] = &[
        "a",
        "Z",
        " ",
        "é",
        "Čistý",
        "✓",
        "🎉",
        r#"\""#,
        r"\\",
        "/",
        r"\u0001",
        r"\u001f",
        r"\n",
        r"\t",
        r"\u2028",
        r"\u00e9",
        r"\ud83c\udf89",
        "<>&",
        r"\u007f",
    ];
    let mut out = String::from("\"");
    for _ in 0..rng.below(6) {
        out.push_str(rng.pick(PIECES));
    }
    out.push('"');
    out
}

/// Keys JavaScript orders first (array indices) mixed with others that merely look numeric.
fn key(rng: &mut Rng) -> String {
    const KEYS: &[&str] = &[
        "0",
        "7",
        "10",
        "2024",
        "4294967294",
        "4294967295",
        "07",
        "-1",
        "1.5",
        "1e3",
        "ratio",
        "Tier",
        "é",
        "a b",
        "_",
        "z9",
    ];
    if rng.below(4) == 0 {
        rng.below(100_000).to_string()
    } else {
        rng.pick(KEYS).to_string()
    }
}

fn value(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth == 0 { 4 } else { 6 }) {
        0 | 1 => number(rng),
        2 => text(rng),
        3 => rng.pick(&["true", "false", "null"]).to_string(),
        4 => {
            let items: Vec<String> = (0..rng.below(4)).map(|_| value(rng, depth - 1)).collect();
            format!("[{}]", items.join(","))
        }
        _ => object(rng, depth - 1),
    }
}

/// A JSON object text with distinct keys.
fn object(rng: &mut Rng, depth: usize) -> String {
    let mut keys = std::collections::BTreeSet::new();
    let mut members = Vec::new();
    for _ in 0..1 + rng.below(7) {
        let name = key(rng);
        if keys.insert(name.clone()) {
            members.push(format!(
                "{}:{}",
                serde_json::to_string(&name).expect("key"),
                value(rng, depth)
            ));
        }
    }
    format!("{{{}}}", members.join(","))
}

/// POSTs a raw JSON text to the management API (so numbers reach licensd as written).
async fn admin_raw(server: &Server, path: &str, body: String) -> i64 {
    let response = server
        .http
        .post(server.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("admin request");
    let status = response.status();
    let answer: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::CREATED, "{body} → {answer}");
    answer["id"].as_i64().expect("id")
}

/// Node as the oracle: for each (body, LicenseSignature), whether `JSON.stringify(JSON.parse(body))`
/// is the body byte for byte, and whether the official SDK's `checkSignatureV2` accepts it.
fn node_round_trip(pem: &str, replies: &[(Vec<u8>, String)]) -> Vec<Value> {
    let modules = std::env::var("LICENSD_INTEROP_NODE_MODULES")
        .expect("LICENSD_INTEROP_NODE_MODULES is not set: run scripts/test, which installs @licensespring/node-sdk");
    let input: Vec<Value> = replies
        .iter()
        .map(|(bytes, signature)| json!({"body": licensd_crypto::b64(bytes), "signature": signature}))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("replies.json");
    std::fs::write(
        &path,
        serde_json::to_vec(&json!({"pem": pem, "replies": input})).expect("json"),
    )
    .expect("write");
    let script = r#"
        const fs = require('fs');
        const common = require(process.env.LS_NODE_MODULES + '/@licensespring/node-sdk/dist/src/common.js');
        const input = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
        const out = input.replies.map(({ body, signature }) => {
            const text = Buffer.from(body, 'base64').toString('utf8');
            const again = JSON.stringify(JSON.parse(text));
            let verified;
            try { verified = common.checkSignatureV2(input.pem, JSON.parse(text), signature) === true; }
            catch (e) { verified = e.code || String(e); }
            return { same: again === text, verified, again: again === text ? null : again };
        });
        console.log(JSON.stringify(out));
    "#;
    let output = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(&path)
        .env("LS_NODE_MODULES", modules)
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("node prints JSON")
}

backend_tests! {
    async fn reactivating_the_same_device_is_not_a_transfer(server) {
        let cred = credential(&server, json!({})).await;
        let app = product(&server, "app", json!({})).await;
        let id = license(&server, json!({"product_id": app, "key": "FIXED", "terms": {"max_activations": 1, "max_transfers": 0}})).await;
        let activate = |hwid: &str| post(&server, &cred, "activate_license", ident("app", hwid, "FIXED"));
        let deactivate = |hwid: &str| post(&server, &cred, "deactivate_license", ident("app", hwid, "FIXED"));

        // The owner deactivates and reactivates their own machine, twice: no transfer is used.
        for _ in 0..2 {
            assert_eq!(activate("hw-own").await.ok()["times_activated"], json!(1));
            let released = deactivate("hw-own").await;
            assert_eq!((released.status, released.text()), (StatusCode::OK, "license_deactivated".to_string()));
        }
        let back = activate("hw-own").await;
        assert_eq!(back.ok()["transfer_count"], json!(0), "{}", String::from_utf8_lossy(&back.bytes));
        let (_, detail) = server.admin(Method::GET, &format!("/v1/licenses/{id}"), None).await;
        assert_eq!((detail["transfer_count"].clone(), detail["deactivation_count"].clone()), (json!(0), json!(2)));
        assert_eq!(devices(&server, id).await.len(), 1);

        // Another machine after a deactivation is a transfer, and none is allowed.
        deactivate("hw-own").await;
        activate("hw-other").await.error(400, "license_transferred_max_times");
        // The machine that left may still come back.
        activate("hw-own").await.ok();
    }

    async fn signed_json_survives_a_javascript_round_trip(server) {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("epoch").as_nanos() as u64 | 1;
        let mut rng = Rng(seed);
        let cred = credential(&server, json!({})).await;
        let pem = rsa_public_pem(&server).await;
        let mut replies = Vec::new();
        let mut sent = Vec::new();
        // The two cases of the issue first, then random documents.
        let fixed = [r#"{"ratio": 10.0}"#.to_string(), r#"{"2024": "year", "7": "seven", "name": "x", "0": 1e21}"#.to_string()];
        for round in 0..10 {
            let license_meta = fixed.get(round).cloned().unwrap_or_else(|| object(&mut rng, 2));
            let product_meta = object(&mut rng, 2);
            let feature_meta = object(&mut rng, 1);
            let code = format!("app{round}");
            let product_id = admin_raw(&server, "/v1/products", format!(r#"{{"code":"{code}","name":"{code}","metadata":{product_meta}}}"#)).await;
            admin_raw(&server, "/v1/features", format!(r#"{{"product_id":{product_id},"code":"f{round}","name":"F","metadata":{feature_meta}}}"#)).await;
            let key = format!("JS-KEY-{round}");
            admin_raw(&server, "/v1/licenses", format!(r#"{{"product_id":{product_id},"key":"{key}","features":[{{"code":"f{round}"}}],"metadata":{license_meta}}}"#)).await;
            sent.push(format!("license {license_meta} product {product_meta} feature {feature_meta}"));
            let activated = post(&server, &cred, "activate_license", ident(&code, "hw-1", &key)).await;
            activated.ok();
            let checked = check_license(&server, &cred, &code, "hw-1", &key).await;
            checked.ok();
            let details = get(&server, &cred, "product_details", &[("product", &code)]).await;
            details.ok();
            for reply in [activated, checked, details] {
                let signature = reply.headers.get("licensesignature").and_then(|v| v.to_str().ok()).expect("LicenseSignature").to_string();
                replies.push((reply.bytes, signature));
            }
        }
        let verdicts = node_round_trip(&pem, &replies);
        assert_eq!(verdicts.len(), replies.len());
        for (i, verdict) in verdicts.iter().enumerate() {
            assert_eq!(
                (&verdict["same"], &verdict["verified"]),
                (&json!(true), &json!(true)),
                "seed {seed}, reply {i} for {}\nsent bytes: {}\nnode wrote: {}",
                sent[i / 3],
                String::from_utf8_lossy(&replies[i].0),
                verdict["again"]
            );
        }
    }
}
