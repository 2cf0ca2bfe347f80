//! LicenseSpringStore: floating feature seats (checkout, renewal, borrow, release), exact under
//! concurrent checkouts.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;
use std::sync::Arc;

/// A floating license ("app" / "KEY-1", borrowing allowed for 24 h) granting feature "f" with
/// `seats` floating seats of 600 s, and an activation feature "plain".
async fn setup(db: &Db, seats: i64) -> License {
    let product = product(db, "app").await;
    let mut floating = new_feature(product.id, "f", FeatureType::Activation);
    floating.floating_seats = Some(seats);
    db.create_feature(floating, ev("feature.create", "feature"), NOW)
        .await
        .expect("feature");
    db.create_feature(
        new_feature(product.id, "plain", FeatureType::Activation),
        ev("feature.create", "feature"),
        NOW,
    )
    .await
    .expect("feature");
    let mut new = new_license(product.id, "KEY-1", floating_terms(5, 600));
    new.features = vec![
        FeatureGrant {
            code: "f".into(),
            overrides: FeatureOverrides::default(),
        },
        FeatureGrant {
            code: "plain".into(),
            overrides: FeatureOverrides::default(),
        },
    ];
    create_license(db, new).await
}

async fn take(
    db: &Db,
    lic: &License,
    code: &str,
    fp: &str,
    borrow: Option<Millis>,
    now: Millis,
) -> Result<FloatingLease> {
    db.checkout_feature_lease(lic.id, code, fp, borrow, ev_on("feature.lease", "license", lic.id), now)
        .await
}

async fn give_back(db: &Db, lic: &License, code: &str, fp: &str, now: Millis) -> Result<()> {
    db.release_feature_lease(lic.id, code, fp, ev_on("feature.release", "license", lic.id), now)
        .await
}

pub async fn feature_seats_checkout_renew_release(db: Db) {
    let lic = setup(&db, 1).await;
    let feature_id = db.license_features(lic.id).await.unwrap()[0].definition.id;
    let lease = take(&db, &lic, "f", "A", None, NOW).await.expect("first seat");
    assert_eq!(
        lease,
        FloatingLease {
            id: lease.id,
            license_id: lic.id,
            feature_id: Some(feature_id),
            fingerprint: "A".into(),
            expires_at: NOW + 600 * SECOND,
            borrowed_until: None,
            created_at: NOW,
        }
    );
    // Feature seats are counted apart from license seats.
    checkout(&db, &lic, "B", None, NOW).await.expect("license seat");

    let before = state(&db, lic.id).await;
    assert_denied(
        take(&db, &lic, "f", "B", None, NOW + SECOND).await,
        Denial::FeatureSeatsExhausted,
    );
    assert_denied(
        take(&db, &lic, "plain", "A", None, NOW).await,
        Denial::FeatureNotFloating,
    );
    assert_denied(take(&db, &lic, "nope", "A", None, NOW).await, Denial::FeatureNotFound);
    assert_denied(give_back(&db, &lic, "f", "B", NOW).await, Denial::FeatureNotInUse);
    assert_denied(
        give_back(&db, &lic, "plain", "A", NOW).await,
        Denial::FeatureNotFloating,
    );
    assert_unchanged(&db, &before, "refused feature seat commands").await;

    // Renewal extends the own seat.
    let renewed = take(&db, &lic, "f", "A", None, NOW + 60 * SECOND)
        .await
        .expect("renewal");
    assert_eq!((renewed.id, renewed.expires_at), (lease.id, NOW + 660 * SECOND));
    // An expired seat frees itself.
    take(&db, &lic, "f", "B", None, NOW + 661 * SECOND)
        .await
        .expect("seat after expiry");
    give_back(&db, &lic, "f", "B", NOW + 662 * SECOND)
        .await
        .expect("release");
    take(&db, &lic, "f", "A", None, NOW + 663 * SECOND)
        .await
        .expect("seat after release");
}

pub async fn feature_seat_borrowing(db: Db) {
    let lic = setup(&db, 1).await;
    let until = NOW + 2 * HOUR;
    let lease = take(&db, &lic, "f", "A", Some(until), NOW).await.expect("borrow");
    assert_eq!(lease.borrowed_until, Some(until));
    // A borrowed seat stays held past its lease timeout, and a plain renewal keeps the borrow.
    assert_denied(
        take(&db, &lic, "f", "B", None, NOW + HOUR).await,
        Denial::FeatureSeatsExhausted,
    );
    let renewed = take(&db, &lic, "f", "A", None, NOW + HOUR).await.expect("renewal");
    assert_eq!(renewed.borrowed_until, Some(until));
    assert_denied(
        take(&db, &lic, "f", "A", Some(NOW + 25 * HOUR), NOW).await,
        Denial::BorrowPeriodInvalid,
    );
    // Without a borrow policy on the license, borrowing is refused.
    let product = db.get_product(lic.product_id).await.unwrap();
    let mut new = new_license(product.id, "KEY-2", terms(Some(3)));
    new.features = vec![FeatureGrant {
        code: "f".into(),
        overrides: FeatureOverrides::default(),
    }];
    let plain = create_license(&db, new).await;
    assert_denied(
        take(&db, &plain, "f", "A", Some(until), NOW).await,
        Denial::BorrowNotAllowed,
    );
}

pub async fn concurrent_feature_checkouts_respect_seats(db: Db) {
    let lic = Arc::new(setup(&db, 3).await);
    let db = Arc::new(db);
    let mut handles = Vec::new();
    let barrier = Arc::new(tokio::sync::Barrier::new(12));
    for i in 0..12 {
        let (db, lic, barrier) = (db.clone(), lic.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            take(&db, &lic, "f", &format!("dev-{i}"), None, NOW).await
        }));
    }
    let mut granted = 0;
    for handle in handles {
        match handle.await.expect("task") {
            Ok(_) => granted += 1,
            Err(StoreError::Denied(Denial::FeatureSeatsExhausted)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(granted, 3);
    let live = db.live_leases(lic.id, NOW).await.unwrap();
    assert_eq!(live.iter().filter(|l| l.feature_id.is_some()).count(), 3);
}

pub async fn user_licenses_and_customer_lookup(db: Db) {
    let customer = db
        .create_customer(
            NewCustomer {
                email: Some("buyer@example.com".into()),
                name: None,
                company: None,
                reference: None,
                metadata: serde_json::json!({}),
            },
            ev("customer.create", "customer"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        db.customer_id_by_email("buyer@example.com").await.unwrap(),
        Some(customer.id)
    );
    assert_eq!(db.customer_id_by_email("nobody@example.com").await.unwrap(), None);
    let product = product(&db, "app").await;
    let first = license(&db, product.id, "K1", terms(Some(2))).await;
    let second = license(&db, product.id, "K2", terms(Some(2))).await;
    let user = db
        .create_license_user(
            NewLicenseUser {
                customer_id: Some(customer.id),
                email: "u@example.com".into(),
                name: None,
                password_hash: None,
            },
            ev("user.create", "license_user"),
            NOW,
        )
        .await
        .unwrap();
    assert!(db.license_ids_of_user(user.id).await.unwrap().is_empty());
    for lic in [&second, &first] {
        db.assign_license_user(lic.id, user.id, ev("user.assign", "license"), NOW)
            .await
            .unwrap();
    }
    assert_eq!(
        db.license_ids_of_user(user.id).await.unwrap(),
        vec![first.id, second.id]
    );
}

pub async fn device_variables_merge_under_the_lock(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(2))).await;
    activate(&db, &lic, "A", NOW).await.unwrap();
    let mut first = serde_json::Map::new();
    first.insert("seat".into(), serde_json::json!("1"));
    first.insert("gpu".into(), serde_json::json!("none"));
    let (device_id, after) = db
        .track_device_variables(lic.id, "A", first, ev_on("vars", "license", lic.id), NOW + SECOND)
        .await
        .unwrap();
    assert_eq!(after, serde_json::json!({"seat": "1", "gpu": "none"}));
    let mut second = serde_json::Map::new();
    second.insert("gpu".into(), serde_json::json!("rtx"));
    let (_, after) = db
        .track_device_variables(
            lic.id,
            "A",
            second.clone(),
            ev_on("vars", "license", lic.id),
            NOW + 2 * SECOND,
        )
        .await
        .unwrap();
    assert_eq!(after, serde_json::json!({"seat": "1", "gpu": "rtx"}));
    let device = db.get_device(device_id).await.unwrap();
    assert_eq!(device.variables, after);
    assert_eq!(device.last_seen_at, NOW + 2 * SECOND);
    let before = state(&db, lic.id).await;
    assert_denied(
        db.track_device_variables(lic.id, "B", second, ev_on("vars", "license", lic.id), NOW)
            .await,
        Denial::DeviceNotActivated,
    );
    assert_unchanged(&db, &before, "variables for a device that is not active").await;
}

fn new_version(product_id: i64, version: &str) -> licensd_domain::product_version::ProductVersionSpec {
    licensd_domain::product_version::ProductVersionSpec {
        product_id: licensd_domain::ProductId::new(product_id),
        version: version.into(),
        environment: Some("linux".into()),
        channel: None,
        release_date: NOW,
        download_url: format!("https://example.com/app-{version}.tar.gz"),
        hash_md5: Some("abc".into()),
        size: Some(1234),
        eula_link: None,
        release_notes_link: None,
        requires_version: Some("0.9".into()),
        enabled: true,
    }
}

pub async fn product_versions_crud(db: Db) {
    let product = product(&db, "app").await;
    let created = db
        .create_product_version(
            new_version(product.id.get(), "1.0"),
            ev("version.create", "product_version"),
            NOW,
        )
        .await
        .unwrap();
    // Everything recorded reads back as given.
    assert_eq!(created.spec, new_version(product.id.get(), "1.0"));
    assert_eq!(created.created_at, NOW);
    // The same version, environment and channel again is a conflict; another environment is not.
    assert_conflict(
        db.create_product_version(
            new_version(product.id.get(), "1.0"),
            ev("version.create", "product_version"),
            NOW,
        )
        .await,
    );
    let mut windows = new_version(product.id.get(), "1.0");
    windows.environment = Some("win64".into());
    db.create_product_version(windows, ev("version.create", "product_version"), NOW)
        .await
        .unwrap();
    assert_conflict(
        db.create_product_version(new_version(9999, "1.0"), ev("version.create", "product_version"), NOW)
            .await,
    );
    let listed = db.list_product_versions(product.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], created);
    db.delete_product_version(created.id, ev("version.delete", "product_version"), NOW)
        .await
        .unwrap();
    assert_not_found(
        db.delete_product_version(created.id, ev("version.delete", "product_version"), NOW)
            .await,
    );
    assert_eq!(db.list_product_versions(product.id).await.unwrap().len(), 1);
}
