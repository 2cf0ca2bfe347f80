//! Issue 12: the native API's own fidelity points (transfers, the OpenAPI document agreeing with
//! the server).

use super::*;

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
}
