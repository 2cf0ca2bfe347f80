//! A request body must be a JSON object. serde's derived `Deserialize` also reads a JSON array
//! into a struct by position, so `["arr","Arr","key","active",false,0,null]` used to create a
//! product and `["p","c"]` reached SLASCONE's and DNA's handlers as a body. Every body-taking
//! API now answers an array, string, number or null with its own malformed-body error, and so
//! it does for a struct nested in a body (a policy's feature grants, its terms) given as an array.

use crate::harness::{ADMIN_TOKEN, SLASCONE_ISV, Server, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Each body, with what serde_json names it and where it stops reading.
const BODIES: &[(&str, &str, u32)] = &[
    ("[]", "sequence", 0),
    (r#"["OBJ-1","dev-1"]"#, "sequence", 0),
    (r#""x""#, r#"string "x""#, 3),
    ("1", "integer `1`", 1),
    ("null", "null", 4),
];

fn refusal(found: &str, column: u32) -> String {
    format!("invalid type: {found}, expected a JSON object at line 1 column {column}")
}

async fn post_raw(server: &Server, path: &str, headers: &[(&str, &str)], body: &str) -> (StatusCode, Value) {
    let mut request = server
        .http
        .post(server.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn credential(server: &Server, dialect: &str) -> (String, String) {
    let (status, created) = server
        .admin(
            Method::POST,
            "/v1/credentials",
            Some(json!({"dialect": dialect, "name": "objects"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["credential"]["key_id"].as_str().expect("key id").to_string(),
        created["secret"].as_str().expect("secret").to_string(),
    )
}

backend_tests! {
    async fn bodies_that_are_not_json_objects_are_each_apis_malformed_body_error(server) {
        let product = server.product("app").await;
        let license = server.license(product, "OBJ-1", json!({"max_activations": 5})).await;
        let admin = format!("Bearer {ADMIN_TOKEN}");
        let (sl_id, sl_secret) = credential(&server, "slascone").await;
        let provisioning_key = format!("{sl_id}.{sl_secret}");
        let (dna_id, dna_key) = credential(&server, "dna").await;
        let dna_auth = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{dna_id}:{dna_key}"))
        );

        // Seven elements in CreateProduct's field order: created product "arr" before the fix.
        let positional_product = r#"["arr","Arr","key","active",false,0,null]"#;
        let native_cases = BODIES.iter().copied().chain([(positional_product, "sequence", 0)]);
        for (body, found, column) in native_cases {
            let (status, answer) = post_raw(&server, "/v1/products", &[("authorization", &admin)], body).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "native {body}: {answer}");
            let message = format!("Failed to deserialize the JSON body into the target type: {}", refusal(found, column));
            assert_eq!(answer, json!({"error": {"code": "invalid_body", "message": message}}), "native {body}");
        }
        for (body, found, column) in BODIES.iter().copied() {
            let (status, answer) = post_raw(&server, "/v1/licenses/actions/activate", &[], body).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "native client {body}: {answer}");
            let message = format!("Failed to deserialize the JSON body into the target type: {}", refusal(found, column));
            assert_eq!(answer, json!({"error": {"code": "invalid_body", "message": message}}), "native client {body}");

            // Key Manager's per-product signing key: `[null]` generated one before the fix.
            let signing_key = format!("/v1/keymanager/products/{product}/signing-key");
            for body in [body, "[null]"] {
                let (found, column) = if body == "[null]" { ("sequence", 0) } else { (found, column) };
                let (status, answer) = post_raw(&server, &signing_key, &[("authorization", &admin)], body).await;
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "keymanager {body}: {answer}");
                let message = format!("invalid body: {}", refusal(found, column));
                assert_eq!(answer, json!({"error": {"code": "invalid_body", "message": message}}), "keymanager {body}");
            }

            let activations = format!("/api/v2/isv/{SLASCONE_ISV}/provisioning/activations");
            let (status, answer) = post_raw(&server, &activations, &[("ProvisioningKey", &provisioning_key)], body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "slascone {body}: {answer}");
            // SLASCONE reads a `Value` first (to bound its strings), so its message has no position.
            let detail = format!("invalid JSON body: invalid type: {found}, expected a JSON object");
            assert_eq!(answer, json!({"title": "Bad Request", "status": 400, "detail": detail}), "slascone {body}");

            let (status, answer) = post_raw(&server, "/dna/v1/Licenses/app/OBJ-1", &[("authorization", &dna_auth)], body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "dna {body}: {answer}");
            assert_eq!(answer, json!({"Message": format!("Invalid request body: {}", refusal(found, column))}), "dna {body}");

            // LicenseSpring already read its body as an object (`Params::from_json`).
            let (status, answer) = post_raw(&server, "/api/v4/activate_license", &[], body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "licensespring {body}: {answer}");
            assert_eq!(
                answer,
                json!({"code": "invalid_json", "message": "request body must be a JSON object", "status": 400}),
                "licensespring {body}"
            );
        }

        // Nothing was created: one product, no device, no signing key.
        let (_, products) = server.admin(Method::GET, "/v1/products", None).await;
        let codes: Vec<&str> = products["data"].as_array().expect("products").iter().filter_map(|p| p["code"].as_str()).collect();
        assert_eq!(codes, ["app"], "{products}");
        let (status, devices) = server.admin(Method::GET, &format!("/v1/licenses/{license}/devices"), None).await;
        assert_eq!(status, StatusCode::OK, "{devices}");
        assert_eq!(devices, json!([]));
        let (status, key) = server.admin(Method::GET, &format!("/v1/keymanager/products/{product}/signing-key"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{key}");

        // Object bodies go through as before.
        let (status, created) = server.admin(Method::POST, "/v1/products", Some(json!({"code": "obj", "name": "Obj"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let (status, _) = post_raw(&server, &format!("/v1/keymanager/products/{product}/signing-key"), &[("authorization", &admin)], "").await;
        assert_eq!(status, StatusCode::CREATED, "an empty body still asks for the default key");
    }

    async fn nested_structs_given_as_arrays_are_refused_and_change_nothing(server) {
        let product = server.product("app").await;
        let (status, feature) = server.admin(Method::POST, "/v1/features", Some(json!({"product_id": product, "code": "pro", "name": "Pro"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{feature}");
        let admin = format!("Bearer {ADMIN_TOKEN}");
        // A feature grant read by position (`["pro"]` = {"code": "pro"}) created this policy before;
        // so did terms given as an array of LicenseTerms' fields in order.
        let grant_as_array = json!({"product_id": product, "code": "p1", "name": "P1", "features": [{"code": "pro"}, ["pro"]]});
        let terms_as_array = json!({"product_id": product, "code": "p2", "name": "P2", "terms": ["perpetual", "normal", 3, null, 0, false]});
        // axum names the path of the refused value.
        for (body, at) in [(grant_as_array, "features[1]: "), (terms_as_array, "terms: ")] {
            let text = body.to_string();
            let column = text.find("[\"").expect("the array");
            let (status, answer) = post_raw(&server, "/v1/policies", &[("authorization", &admin)], &text).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}: {answer}");
            let message = format!(
                "Failed to deserialize the JSON body into the target type: {at}{}",
                refusal("sequence", column as u32)
            );
            assert_eq!(answer, json!({"error": {"code": "invalid_body", "message": message}}), "{text}");
        }
        let (status, policies) = server.admin(Method::GET, "/v1/policies", None).await;
        assert_eq!((status, policies), (StatusCode::OK, json!([])));
        // The same bodies with objects go through.
        let (status, policy) = server
            .admin(Method::POST, "/v1/policies", Some(json!({"product_id": product, "code": "p1", "name": "P1", "features": [{"code": "pro"}], "terms": {"max_activations": 3}})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{policy}");
    }
}
