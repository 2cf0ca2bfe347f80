//! Issue 12: the native API's own fidelity points (transfers, the OpenAPI document agreeing with
//! the server).

use super::*;
use crate::harness::ADMIN_TOKEN;

backend_tests! {
    async fn native_reactivating_the_same_device_is_not_a_transfer(server) {
        let product = server.product("app").await;
        let id = server.license(product, "FIXED", json!({"max_activations": 1, "max_transfers": 0})).await;
        let deactivate = |fingerprint: &str| server.client_post("/v1/licenses/actions/deactivate", json!({"key": "FIXED", "fingerprint": fingerprint}));
        for _ in 0..2 {
            let (status, body) = activate(&server, "FIXED", "own").await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let (status, body, _, _) = deactivate("own").await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let (status, body) = activate(&server, "FIXED", "own").await;
        assert_eq!(status, StatusCode::CREATED, "the device that left comes back: {body}");
        let (_, detail) = server.admin(Method::GET, &format!("/v1/licenses/{id}"), None).await;
        assert_eq!((detail["transfer_count"].clone(), detail["deactivation_count"].clone()), (json!(0), json!(2)));
        // A different device after a deactivation is a transfer, and none is allowed.
        deactivate("own").await;
        let (status, body) = activate(&server, "FIXED", "other").await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "TRANSFER_LIMIT_REACHED");
    }

    async fn native_openapi_enums_agree_with_the_server(server) {
        let document: Value = server.http.get(server.url("/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
        let enums = enum_schemas(&document);
        assert!(enums.contains_key("LicenseKind"), "{enums:?}");

        // Every enum slot of every request the document describes.
        let mut slots: BTreeMap<(String, String), Vec<(Slot, String)>> = BTreeMap::new();
        for (template, operations) in document["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                let mut found = Vec::new();
                if let Some(schema) = operation.pointer("/requestBody/content/application~1json/schema") {
                    let mut fields = Vec::new();
                    enum_fields(&document, &enums, schema, Vec::new(), &BTreeSet::new(), &mut fields);
                    found.extend(fields.into_iter().map(|(path, name)| (Slot::Body(path), name)));
                }
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    // A query parameter documented as a path parameter cannot be sent as documented.
                    let name = parameter["name"].as_str().unwrap();
                    match parameter["in"].as_str() {
                        Some("path") => assert!(template.contains(&format!("{{{name}}}")), "{method} {template}: path parameter {name} is not in the path"),
                        Some("query") => {}
                        other => panic!("{method} {template}: parameter {name} in {other:?}"),
                    }
                    let mut fields = Vec::new();
                    enum_fields(&document, &enums, &parameter["schema"], Vec::new(), &BTreeSet::new(), &mut fields);
                    let name = parameter["name"].as_str().unwrap().to_string();
                    for (_, enum_name) in fields {
                        let slot = if parameter["in"] == "path" { Slot::Path(name.clone()) } else { Slot::Query(name.clone()) };
                        found.push((slot, enum_name));
                    }
                }
                if !found.is_empty() {
                    slots.insert((method.to_uppercase(), template.clone()), found);
                }
            }
        }

        // The things requests refer to.
        let product = server.product("app").await;
        let spare = server.product("spare").await;
        let license = server.license(product, "OA-1", json!({})).await;
        let (status, feature) = server.admin(Method::POST, "/v1/features", Some(json!({"product_id": product, "code": "oa-f", "name": "F"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{feature}");
        let feature = feature["id"].as_i64().unwrap();
        let (status, policy) = server.admin(Method::POST, "/v1/policies", Some(json!({"product_id": product, "code": "oa-p", "name": "P"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{policy}");
        let policy = policy["id"].as_i64().unwrap();
        let (status, reseller) = server.admin(Method::POST, "/v1/slascone/entries/reseller", Some(json!({"name": "Reseller"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{reseller}");
        let reseller = reseller["id"].as_i64().unwrap();
        let expires = now_ms() + 30 * 86_400_000;
        let counter = std::sync::atomic::AtomicUsize::new(0);

        // A request that is valid apart from the probed slot: (concrete path, body), several
        // variants tried in turn (entry scopes differ by kind).
        let base = |method: &str, template: &str, slot: &Slot, value: &str| -> Vec<(String, Option<Value>)> {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Consumption slots and the consumption license type need consumption terms.
            let consumption = matches!(slot, Slot::Body(path) if path.iter().any(|p| p == "consumption")) || value == "consumption";
            let terms = if consumption { json!({"license_type": "consumption", "consumption": {"max_consumptions": 10}}) } else { json!({}) };
            let one = |path: String, body: Value| vec![(path, Some(body))];
            match (method, template) {
                ("GET", "/v1/credentials") | ("GET", "/v1/licenses") => vec![(template.to_string(), None)],
                ("POST", "/v1/credentials") => one(template.into(), json!({"name": format!("c{n}")})),
                ("POST", "/v1/features") => one(template.into(), json!({"product_id": product, "code": format!("f{n}"), "name": "F"})),
                ("PATCH", "/v1/features/{id}") => one(format!("/v1/features/{feature}"), json!({})),
                ("POST", "/v1/keymanager/access-blocks") => {
                    let value = match value { "ip" => format!("192.0.2.{}", n % 250), "domain" => format!("d{n}.example.com"), _ => format!("id-{n}") };
                    one(template.into(), json!({"value": value}))
                }
                ("POST", "/v1/licenses") => one(template.into(), json!({"product_id": product, "key": format!("K-{n}"), "expires_at": expires, "terms": terms})),
                ("POST", "/v1/licenses/bulk") => one(template.into(), json!({"count": 1, "license": {"product_id": product, "expires_at": expires, "terms": terms}})),
                ("PATCH", "/v1/licenses/{id}") => one(format!("/v1/licenses/{license}"), json!({"expires_at": expires, "terms": terms})),
                ("POST", "/v1/policies") => one(template.into(), json!({"product_id": product, "code": format!("pol{n}"), "name": format!("Pol {n}"), "terms": terms})),
                ("PATCH", "/v1/policies/{id}") => one(format!("/v1/policies/{policy}"), json!({"terms": terms})),
                ("POST", "/v1/products") => one(template.into(), json!({"code": format!("p{n}"), "name": "P"})),
                ("PATCH", "/v1/products/{id}") => one(format!("/v1/products/{spare}"), json!({})),
                ("GET", "/v1/slascone/entries/{kind}") => vec![(template.to_string(), None)],
                ("POST", "/v1/slascone/entries/{kind}") => {
                    let name = match value { "webhook" => format!("https://example.com/hook/{n}"), "reseller_contact" => format!("c{n}@example.com"), _ => format!("entry {n}") };
                    [0, product, reseller].into_iter().map(|scope| (template.to_string(), Some(json!({"name": name, "scope_id": scope})))).collect()
                }
                ("POST", "/v1/slascone/products/{id}/analytical-fields") => one(format!("/v1/slascone/products/{product}/analytical-fields"), json!({"name": format!("field {n}")})),
                _ => panic!("{method} {template} has enum slots {slot:?} the test has no request for: add one"),
            }
        };
        let send = |method: &str, path: String, body: Option<Value>| {
            let mut request = server.http.request(method.parse().unwrap(), server.url(&path)).bearer_auth(ADMIN_TOKEN);
            if let Some(body) = body {
                request = request.json(&body);
            }
            async move {
                let response = request.send().await.unwrap();
                let status = response.status();
                let text = response.text().await.unwrap();
                (status, serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)))
            }
        };
        let place = |path: &str, body: &Option<Value>, slot: &Slot, value: &str| -> (String, Option<Value>) {
            match slot {
                Slot::Body(fields) => {
                    let mut body = body.clone().unwrap_or_else(|| json!({}));
                    set_path(&mut body, fields, json!(value));
                    (path.to_string(), Some(body))
                }
                Slot::Query(name) => (format!("{path}?{name}={value}"), body.clone()),
                Slot::Path(name) => (path.replace(&format!("{{{name}}}"), value), body.clone()),
            }
        };

        let mut checked_responses = 0;
        let mut probes = 0;
        for ((method, template), found) in &slots {
            for (slot, name) in found {
                let values = &enums[name];
                for value in values {
                    let mut answers = Vec::new();
                    let mut accepted = None;
                    for (path, body) in base(method, template, slot, value) {
                        let (path, body) = place(&path, &body, slot, value);
                        let (status, answer) = send(method, path.clone(), body.clone()).await;
                        if status.is_success() {
                            accepted = Some((status, answer));
                            break;
                        }
                        answers.push(format!("{path} {body:?} → {status} {answer}"));
                    }
                    let (status, answer) = accepted.unwrap_or_else(|| panic!("{method} {template} {slot:?} = documented {name} value {value:?} refused: {answers:#?}"));
                    probes += 1;
                    let schema = document["paths"][template.as_str()][method.to_lowercase().as_str()]["responses"][status.as_str()]["content"]["application/json"]["schema"].clone();
                    checked_responses += check_response_enums(&document, &enums, &schema, &answer, &format!("{method} {template} → {status}"));
                }
                // Values the document does not list: the variant names and other spellings.
                let first = &values[0];
                let mut capitalised = first.clone();
                capitalised[..1].make_ascii_uppercase();
                for undocumented in [capitalised, first.to_ascii_uppercase(), format!("{first}x"), "nope".to_string()] {
                    if values.contains(&undocumented) {
                        continue;
                    }
                    for (path, body) in base(method, template, slot, &undocumented) {
                        let (path, body) = place(&path, &body, slot, &undocumented);
                        let (status, answer) = send(method, path.clone(), body.clone()).await;
                        assert!(status.is_client_error(), "{method} {path} {body:?}: undocumented {name} value {undocumented:?} → {status} {answer}");
                    }
                }
            }
        }
        assert!(probes >= 40, "{probes} documented values probed");

        // Responses outside the probes: lists, reads and the client API (on a license the
        // probes did not change).
        server.license(product, "OA-2", json!({})).await;
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/activate", json!({"key": "OA-2", "fingerprint": "fp"})).await;
        let schema = document.pointer(&format!("/paths/~1v1~1licenses~1actions~1activate/post/responses/{}/content/application~1json/schema", status.as_str())).cloned().unwrap_or_else(|| panic!("{status} {body}"));
        checked_responses += check_response_enums(&document, &enums, &schema, &body, "activate");
        let (status, body, _, _) = server.client_post("/v1/licenses/actions/validate", json!({"key": "OA-2", "fingerprint": "fp"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let schema = document.pointer("/paths/~1v1~1licenses~1actions~1validate/post/responses/200/content/application~1json/schema").cloned().unwrap();
        checked_responses += check_response_enums(&document, &enums, &schema, &body, "validate");
        for (template, path) in [
            ("/v1/licenses", "/v1/licenses".to_string()),
            ("/v1/licenses/{id}", format!("/v1/licenses/{license}")),
            ("/v1/products", "/v1/products".to_string()),
            ("/v1/features", "/v1/features".to_string()),
            ("/v1/policies", "/v1/policies".to_string()),
            ("/v1/credentials", "/v1/credentials".to_string()),
        ] {
            let (status, body) = server.admin(Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            let schema = document["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"].clone();
            checked_responses += check_response_enums(&document, &enums, &schema, &body, &path);
        }
        assert!(checked_responses >= 100, "{checked_responses} enum values checked in responses");
    }
}

/// Where an enum sits in a request: a JSON body field (by its path of property names) or a
/// query or path parameter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Body(Vec<String>),
    Query(String),
    Path(String),
}

/// The enum schemas of the document: name → documented values.
fn enum_schemas(document: &Value) -> BTreeMap<String, Vec<String>> {
    document["components"]["schemas"]
        .as_object()
        .expect("components.schemas")
        .iter()
        .filter_map(|(name, schema)| {
            let values = schema["enum"].as_array()?;
            Some((
                name.clone(),
                values
                    .iter()
                    .map(|v| v.as_str().expect("string enum").to_string())
                    .collect(),
            ))
        })
        .collect()
}

/// Every (field path, enum name) reachable from `schema` through `$ref`s, compositions,
/// properties and array items (`[]` in the path).
fn enum_fields(
    document: &Value,
    enums: &BTreeMap<String, Vec<String>>,
    schema: &Value,
    path: Vec<String>,
    seen: &BTreeSet<String>,
    out: &mut Vec<(Vec<String>, String)>,
) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().expect("ref name").to_string();
        if enums.contains_key(&name) {
            out.push((path, name));
        } else if !seen.contains(&name) {
            let mut seen = seen.clone();
            seen.insert(name.clone());
            enum_fields(
                document,
                enums,
                &document["components"]["schemas"][&name],
                path,
                &seen,
                out,
            );
        }
        return;
    }
    assert!(
        schema.get("enum").is_none() || path.is_empty(),
        "inline enum at {path:?}: name it so the test can probe it"
    );
    for key in ["oneOf", "anyOf", "allOf"] {
        for sub in schema[key].as_array().into_iter().flatten() {
            enum_fields(document, enums, sub, path.clone(), seen, out);
        }
    }
    for (name, sub) in schema["properties"].as_object().into_iter().flatten() {
        let mut next = path.clone();
        next.push(name.clone());
        enum_fields(document, enums, sub, next, seen, out);
    }
    if let Some(items) = schema.get("items") {
        let mut next = path;
        next.push("[]".into());
        enum_fields(document, enums, items, next, seen, out);
    }
}

/// Sets `path` in `body` to `value`, creating objects on the way.
fn set_path(body: &mut Value, path: &[String], value: Value) {
    let mut at = body;
    for (i, name) in path.iter().enumerate() {
        if i + 1 == path.len() {
            at[name.as_str()] = value;
            return;
        }
        if !at[name.as_str()].is_object() {
            at[name.as_str()] = json!({});
        }
        at = &mut at[name.as_str()];
    }
}

/// Every enum value found in `value` where the document's response schema puts an enum.
fn check_response_enums(
    document: &Value,
    enums: &BTreeMap<String, Vec<String>>,
    schema: &Value,
    value: &Value,
    context: &str,
) -> usize {
    let mut fields = Vec::new();
    enum_fields(document, enums, schema, Vec::new(), &BTreeSet::new(), &mut fields);
    let mut checked = 0;
    for (path, name) in fields {
        let mut found = vec![value];
        for step in &path {
            found = found
                .into_iter()
                .flat_map(|v| match step.as_str() {
                    "[]" => v.as_array().map(|a| a.iter().collect::<Vec<_>>()).unwrap_or_default(),
                    name => v.get(name).into_iter().collect(),
                })
                .collect();
        }
        for got in found.into_iter().filter(|v| !v.is_null()) {
            let text = got
                .as_str()
                .unwrap_or_else(|| panic!("{context} {path:?}: {got} is not a string"));
            assert!(
                enums[&name].iter().any(|v| v == text),
                "{context} {path:?}: {text:?} is not in the document's {name} {:?}",
                enums[&name]
            );
            checked += 1;
        }
    }
    checked
}
