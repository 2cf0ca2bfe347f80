//! The SLASCONE dialect's storage: token keys per (license, client), found by their keyed digest.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::LicenseRef;

pub async fn slascone_token_keys_are_issued_once_and_found(db: Db) {
    let (product, lic) = product_and_license(&db, terms(Some(2))).await;
    let other = license(&db, product.id, "SECOND-LICENSE", terms(Some(2))).await;
    assert!(db.token_of(lic.id, "client-a").await.unwrap().is_none());
    let token = db.token_for(lic.id, "client-a", "TOKEN-A", NOW).await.unwrap();
    assert_eq!(
        (
            token.license_id,
            token.client_id.as_str(),
            token.token_key.as_str(),
            token.created_at
        ),
        (lic.id, "client-a", "TOKEN-A", NOW)
    );
    // The first key stays: a later candidate for the same (license, client) is ignored.
    let again = db.token_for(lic.id, "client-a", "TOKEN-B", NOW + 5).await.unwrap();
    assert_eq!(again, token);
    assert_eq!(db.token_of(lic.id, "client-a").await.unwrap(), Some(token.clone()));
    assert_eq!(db.find_token("TOKEN-A").await.unwrap(), Some(token.clone()));
    assert!(db.find_token("TOKEN-B").await.unwrap().is_none());
    assert!(db.find_token("token-a").await.unwrap().is_none());
    // The same client on another license gets its own token; both are listed, oldest first.
    let second = db.token_for(other.id, "client-a", "TOKEN-C", NOW + 10).await.unwrap();
    let listed = db.client_tokens("client-a").await.unwrap();
    assert_eq!(listed, vec![token, second]);
    assert!(db.client_tokens("client-z").await.unwrap().is_empty());
    // A token key is unique across licenses.
    assert_conflict(db.token_for(other.id, "client-b", "TOKEN-A", NOW).await);
    assert_not_found(db.token_for(LicenseId::new(999_999), "client-a", "TOKEN-X", NOW).await);
}

pub async fn slascone_token_keys_are_stored_sealed(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(1))).await;
    db.token_for(lic.id, "client-a", "SECRET-TOKEN-KEY", NOW).await.unwrap();
    let contains = |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    for column in ["token_sealed", "token_digest"] {
        let stored = db
            .raw
            .bytes(
                &format!("SELECT {column} FROM slascone_tokens WHERE client_id = 'client-a'"),
                &[],
            )
            .await;
        assert!(!stored.is_empty());
        assert!(!contains(&stored, b"SECRET-TOKEN-KEY"), "{column} holds the plain key");
    }
}

pub async fn slascone_concurrent_token_issue_agrees(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(1))).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            db.token_for(lic.id, "client-a", &format!("TOKEN-{i}"), NOW)
                .await
                .unwrap()
        }));
    }
    let mut keys = std::collections::HashSet::new();
    for task in tasks {
        keys.insert(task.await.unwrap().token_key);
    }
    assert_eq!(keys.len(), 1);
}

pub async fn slascone_rollback_gives_units_back_once(db: Db) {
    let product = product(&db, "cons-product").await;
    let mut feature = new_feature(product.id, "documents", FeatureType::Consumption);
    feature.max_consumptions = Some(10);
    db.create_feature(feature, ev("feature.create", "feature"), NOW)
        .await
        .unwrap();
    let mut new = new_license(product.id, "CONS-1", terms(Some(1)));
    new.features = vec![FeatureGrant {
        code: "documents".into(),
        overrides: FeatureOverrides::default(),
    }];
    let lic = create_license(&db, new).await;
    let consumed = db
        .consume_feature(
            LicenseRef::Id(lic.id),
            "documents",
            4,
            None,
            ev("consume", "license"),
            NOW,
        )
        .await
        .unwrap();
    let other = product_and_license(&db, terms(Some(1))).await.0;
    // A key scoped to another product cannot reach the transaction.
    assert_not_found(
        db.rollback_consumption(consumed.event.id, Some(other.id), ev("rollback", "license"), NOW)
            .await,
    );
    let rolled = db
        .rollback_consumption(consumed.event.id, Some(product.id), ev("rollback", "license"), NOW + 1)
        .await
        .unwrap();
    assert_eq!((rolled.license_id, rolled.total, rolled.replayed), (lic.id, 0, false));
    let events = event_count(&db).await;
    let again = db
        .rollback_consumption(consumed.event.id, None, ev("rollback", "license"), NOW + 2)
        .await
        .unwrap();
    assert_eq!((again.total, again.replayed), (0, true));
    assert_eq!(event_count(&db).await, events);
    let features = db.license_features(lic.id).await.unwrap();
    assert_eq!(features[0].consumption_used, 0);
    assert_not_found(
        db.rollback_consumption(999_999, None, ev("rollback", "license"), NOW)
            .await,
    );
    // The rollback's own event is not a transaction that can be rolled back.
    let rollback_event: i64 = db.raw.i64("SELECT MAX(id) FROM consumption_events", &[]).await;
    assert_denied(
        db.rollback_consumption(rollback_event, None, ev("rollback", "license"), NOW)
            .await,
        Denial::ConsumptionAmountInvalid,
    );
}

pub async fn slascone_data_gathering_definitions_and_reports(db: Db) {
    use licensd_domain::analytics::AnalyticalFieldType;
    use licensd_store::dialects::slascone::{AnalyticalReport, UsageReport, UsageTotal};
    let (product, lic) = product_and_license(&db, terms(Some(1))).await;
    let field = db
        .create_analytical_field(
            product.id,
            "cores",
            AnalyticalFieldType::Numeric,
            ev("def", "product"),
            NOW,
        )
        .await
        .unwrap();
    assert_conflict(
        db.create_analytical_field(
            product.id,
            "cores",
            AnalyticalFieldType::Boolean,
            ev("def", "product"),
            NOW,
        )
        .await,
    );
    assert_conflict(
        db.create_analytical_field(
            ProductId::new(999_999),
            "cores",
            AnalyticalFieldType::Numeric,
            ev("def", "product"),
            NOW,
        )
        .await,
    );
    assert_eq!(db.analytical_fields(product.id).await.unwrap(), vec![field.clone()]);
    let feature = db
        .create_usage_feature(product.id, "export", ev("def", "product"), NOW)
        .await
        .unwrap();
    assert_conflict(
        db.create_usage_feature(product.id, "export", ev("def", "product"), NOW)
            .await,
    );
    let module = db
        .create_usage_module(feature.id, "pdf", ev("def", "product"), NOW)
        .await
        .unwrap();
    assert_conflict(
        db.create_usage_module(feature.id, "pdf", ev("def", "product"), NOW)
            .await,
    );
    assert_not_found(db.create_usage_module(999_999, "pdf", ev("def", "product"), NOW).await);
    assert_eq!(db.usage_features(product.id).await.unwrap(), vec![feature.clone()]);
    assert_eq!(db.usage_modules(feature.id).await.unwrap(), vec![module.clone()]);
    let report = AnalyticalReport {
        field_id: field.id,
        value: "8".into(),
        reported_at: NOW - 5,
    };
    db.record_analytics(lic.id, "c1", vec![report.clone()], NOW)
        .await
        .unwrap();
    // All or nothing: an unknown field refuses the whole report.
    let bad = AnalyticalReport {
        field_id: 999_999,
        value: "1".into(),
        reported_at: NOW,
    };
    assert_conflict(db.record_analytics(lic.id, "c1", vec![report.clone(), bad], NOW).await);
    assert_eq!(db.analytical_values(lic.id).await.unwrap(), vec![report]);
    let usage = |module: Option<i64>, value: i64| UsageReport {
        usage_feature_id: feature.id,
        usage_module_id: module,
        value,
        reported_at: NOW,
    };
    db.record_usage(
        lic.id,
        "c1",
        vec![usage(Some(module.id), 3), usage(None, 2), usage(Some(module.id), 4)],
        NOW,
    )
    .await
    .unwrap();
    assert_conflict(
        db.record_usage(lic.id, "c1", vec![usage(None, 9), usage(Some(999_999), 1)], NOW)
            .await,
    );
    assert_eq!(
        db.usage_totals(lic.id).await.unwrap(),
        vec![
            UsageTotal {
                usage_feature_id: feature.id,
                usage_module_id: None,
                total: 2
            },
            UsageTotal {
                usage_feature_id: feature.id,
                usage_module_id: Some(module.id),
                total: 7
            },
        ]
    );
}

pub async fn slascone_licenses_of_a_user(db: Db) {
    let (product, lic) = product_and_license(&db, terms(Some(1))).await;
    let other = license(&db, product.id, "USER-LICENSE-2", terms(Some(1))).await;
    let user = db
        .create_license_user(
            licensd_store::NewLicenseUser {
                customer_id: None,
                email: "ann@example.com".into(),
                name: None,
                password_hash: None,
            },
            ev("user.create", "license_user"),
            NOW,
        )
        .await
        .unwrap();
    assert!(db.license_ids_of_user(user.id).await.unwrap().is_empty());
    db.assign_license_user(other.id, user.id, ev("assign", "license"), NOW)
        .await
        .unwrap();
    db.assign_license_user(lic.id, user.id, ev("assign", "license"), NOW)
        .await
        .unwrap();
    assert_eq!(db.license_ids_of_user(user.id).await.unwrap(), vec![lic.id, other.id]);
    assert!(db.license_ids_of_user(999_999).await.unwrap().is_empty());
}
