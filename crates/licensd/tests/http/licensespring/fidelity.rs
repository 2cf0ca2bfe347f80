//! Issue 12: the LicenseSpring dialect behaves as the vendor's documents and official clients
//! expect (transfers, signed JSON that survives a JavaScript round trip).

use super::*;

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
}
