//! Migrations, health, backend identity, corrupt data.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;
use serde_json::json;

pub async fn migrate_is_idempotent_and_ping_reports_backend(db: Db) {
    // The harness migrated once already; more runs are no-ops.
    db.migrate(NOW).await.expect("second migrate");
    db.migrate(NOW).await.expect("third migrate");
    db.ping().await.expect("ping");
    assert_eq!(db.backend(), db.expected_backend());

    // Data written before a re-migration survives it.
    let p = product(&db, "keep").await;
    db.migrate(NOW).await.expect("migrate after writes");
    assert_eq!(db.get_product(p.id).await.unwrap(), p);
    db.ping().await.expect("ping after migrate");

    // Every migration is recorded as applied at the caller's `now` (the harness migrated at NOW).
    let recorded = db.raw.i64("SELECT COUNT(*) FROM licensd_migrations", &[]).await;
    assert!(recorded > 0, "no migration recorded");
    let at_now = db
        .raw
        .i64(
            "SELECT COUNT(*) FROM licensd_migrations WHERE applied_at = ?",
            &[Arg::I(NOW)],
        )
        .await;
    assert_eq!(at_now, recorded);
}

pub async fn concurrent_migrations_of_a_fresh_database(db: Db) {
    let url = db.fresh_url().await;
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(db.connect_store(&url).await);
    }
    // "safe to run from several nodes at once"
    let mut tasks = tokio::task::JoinSet::new();
    for store in stores.clone() {
        tasks.spawn(async move { store.migrate(NOW).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("task").expect("concurrent migrate");
    }
    for store in &stores {
        assert_eq!(store.backend(), db.expected_backend());
        store.ping().await.unwrap();
        store.migrate(NOW).await.expect("migrate again");
    }
    // The schema works and every node sees the same data.
    let p = stores[0]
        .create_product(new_product("fresh"), ev("product.create", "product"), NOW)
        .await
        .unwrap();
    for store in &stores {
        assert_eq!(store.get_product_by_code("fresh").await.unwrap(), p);
    }
    // A store reopened on the same database sees it too.
    let reopened = db.connect_store(&url).await;
    reopened.migrate(NOW).await.unwrap();
    assert_eq!(reopened.get_product(p.id).await.unwrap(), p);
}

pub async fn corrupt_rows_are_reported_as_corrupt(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(1))).await;
    let other = license(&db, lic.product_id, "KEY-2", terms(Some(1))).await;

    // An unsealable key (one flipped byte in the sealed blob).
    let mut sealed = db
        .raw
        .bytes("SELECT key_sealed FROM licenses WHERE id = ?", &[Arg::I(lic.id.get())])
        .await;
    let last = sealed.len() - 1;
    sealed[last] ^= 0x55;
    assert_eq!(
        db.raw
            .exec(
                "UPDATE licenses SET key_sealed = ? WHERE id = ?",
                &[Arg::B(sealed), Arg::I(lic.id.get())]
            )
            .await,
        1
    );
    assert_corrupt(db.get_license(lic.id).await);

    // Unknown enum text.
    assert_eq!(
        db.raw
            .exec(
                "UPDATE licenses SET status = 'bogus' WHERE id = ?",
                &[Arg::I(other.id.get())]
            )
            .await,
        1
    );
    assert_corrupt(db.get_license(other.id).await);

    // Unknown enum text on a product.
    let p = product(&db, "meta").await;
    assert_eq!(
        db.raw
            .exec(
                "UPDATE products SET auth_method = 'telepathy' WHERE id = ?",
                &[Arg::I(p.id.get())]
            )
            .await,
        1
    );
    assert_corrupt(db.get_product(p.id).await);

    // Untouched rows still read fine.
    let fine = product(&db, "fine").await;
    assert_eq!(db.get_product(fine.id).await.unwrap().metadata, json!({}));
}

pub async fn unknown_ids_are_not_found(db: Db) {
    const GHOST: i64 = 987_654;
    let p = product(&db, "app").await;
    let feature = db
        .create_feature(
            new_feature(p.id, "f", FeatureType::Activation),
            ev("feature.create", "feature"),
            NOW,
        )
        .await
        .unwrap();
    let customer = db
        .create_customer(
            NewCustomer {
                email: None,
                name: None,
                company: None,
                reference: None,
                metadata: json!({}),
            },
            ev("customer.create", "customer"),
            NOW,
        )
        .await
        .unwrap();
    let policy = db
        .create_policy(
            NewPolicy {
                product_id: p.id,
                code: "pol".into(),
                name: "Pol".into(),
                terms: LicenseTerms::default(),
                duration_days: None,
                maintenance_days: None,
                features: vec![],
                metadata: json!({}),
            },
            ev("policy.create", "policy"),
            NOW,
        )
        .await
        .unwrap();
    let events_before = event_count(&db).await;

    assert_not_found(db.get_feature(GHOST).await);
    assert_not_found(
        db.update_feature(
            FeatureDefinition {
                id: GHOST,
                spec: FeatureSpec {
                    code: "ghost".into(),
                    ..feature.spec
                },
                ..feature
            },
            ev("feature.update", "feature"),
            NOW,
        )
        .await,
    );
    assert_not_found(db.delete_feature(GHOST, ev("feature.delete", "feature"), NOW).await);
    assert_not_found(db.get_policy(GHOST).await);
    assert_not_found(
        db.update_policy(
            Policy {
                id: GHOST,
                code: "ghost".into(),
                ..policy
            },
            ev("policy.update", "policy"),
            NOW,
        )
        .await,
    );
    assert_not_found(db.delete_policy(GHOST, ev("policy.delete", "policy"), NOW).await);
    assert_not_found(db.get_customer(CustomerId::new(GHOST)).await);
    assert_not_found(
        db.update_customer(
            Customer {
                id: CustomerId::new(GHOST),
                ..customer
            },
            ev("customer.update", "customer"),
            NOW,
        )
        .await,
    );
    assert_not_found(
        db.delete_customer(CustomerId::new(GHOST), ev("customer.delete", "customer"), NOW)
            .await,
    );
    assert_not_found(db.get_license_user(GHOST).await);
    assert_not_found(
        db.set_license_user_password(GHOST, "hash", ev("user.password", "license_user"), NOW)
            .await,
    );
    assert_not_found(
        db.delete_license_user(GHOST, ev("user.delete", "license_user"), NOW)
            .await,
    );
    assert_not_found(db.get_license(LicenseId::new(GHOST)).await);
    assert_not_found(
        db.delete_license(LicenseId::new(GHOST), ev("license.delete", "license"), NOW)
            .await,
    );
    assert_not_found(db.get_device(DeviceId::new(GHOST)).await);
    assert_not_found(
        db.deactivate_device(DeviceId::new(GHOST), ev("device.deactivate", "device"), NOW)
            .await,
    );
    assert_not_found(
        db.unblock_device(GHOST, ev("device.unblock", "blocked_device"), NOW)
            .await,
    );
    assert_not_found(
        db.revoke_credential(GHOST, ev("credential.revoke", "credential"), NOW)
            .await,
    );
    assert_not_found(
        db.revoke_admin_token(GHOST, ev("admin_token.revoke", "admin_token"), NOW)
            .await,
    );
    assert_eq!(
        event_count(&db).await,
        events_before,
        "failed admin commands append no events"
    );
}

#[tokio::test]
async fn connect_rejects_unknown_url_schemes() {
    let codec = std::sync::Arc::new(TestCodec::new(1));
    match connect("mysql://localhost/db", codec, 1, SqliteSynchronous::default()).await {
        Err(StoreError::Database(message)) => assert!(message.contains("mysql"), "{message}"),
        Err(other) => panic!("expected Database error, got {other:?}"),
        Ok(_) => panic!("a mysql:// URL must be refused"),
    }
}
