//! Read-only validation reports.

use crate::harness::*;
use licensd_domain::rules::Validity;
use licensd_domain::*;
use licensd_store::*;

const VALID: Validity = Validity {
    in_grace_period: false,
    maintenance_active: true,
};

pub async fn validate_fresh_license_without_fingerprint(db: Db) {
    let (p, lic) = product_and_license(&db, terms(Some(2))).await;
    let report = db.validate(key_of(&lic), None, NOW).await.expect("validate");
    assert_eq!(report.outcome, Ok(VALID));
    assert_eq!(report.product, p);
    assert_eq!(report.license, lic);
    assert_eq!(report.device, None);
    assert!(report.features.is_empty());
    assert_eq!(report.active_devices, 0);

    // By id too.
    let by_id = db.validate(LicenseRef::Id(lic.id), None, NOW).await.unwrap();
    assert_eq!(by_id.outcome, Ok(VALID));
    assert_eq!(by_id.license, lic);

    // Maintenance over: still valid, flagged.
    let m = create_license(&db, {
        let mut l = new_license(p.id, "KEY-M", terms(Some(1)));
        l.settings.maintenance_expires_at = Some(NOW - 1);
        l
    })
    .await;
    let report = db.validate(key_of(&m), None, NOW).await.unwrap();
    assert_eq!(
        report.outcome,
        Ok(Validity {
            in_grace_period: false,
            maintenance_active: false
        })
    );
}

pub async fn validate_device_states(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(2))).await;

    // Unknown fingerprint.
    let report = db.validate(key_of(&lic), Some("fp-a"), NOW).await.unwrap();
    assert_eq!(report.outcome, Err(Denial::DeviceNotActivated));
    assert_eq!(report.device, None);
    assert_eq!(report.active_devices, 0);

    // After activation.
    let act = activate(&db, &lic, "fp-a", NOW).await.unwrap();
    let report = db.validate(key_of(&lic), Some("fp-a"), NOW + 1_000).await.unwrap();
    assert_eq!(report.outcome, Ok(VALID));
    assert_eq!(report.device.as_ref().map(|d| d.id), Some(act.device.id));
    assert!(report.device.as_ref().unwrap().is_active());
    assert_eq!(report.active_devices, 1);
    // Another, unknown device on the same license.
    let report = db.validate(key_of(&lic), Some("fp-b"), NOW + 1_000).await.unwrap();
    assert_eq!(report.outcome, Err(Denial::DeviceNotActivated));
    assert_eq!(report.active_devices, 1);

    // Deactivated: the row is reported, inactive, and the device no longer validates.
    deactivate(&db, &lic, "fp-a", NOW + 2_000).await.unwrap();
    let report = db.validate(key_of(&lic), Some("fp-a"), NOW + 3_000).await.unwrap();
    assert_eq!(report.outcome, Err(Denial::DeviceNotActivated));
    let device = report.device.expect("the inactive row is reported");
    assert_eq!(device.id, act.device.id);
    assert_eq!(device.deactivated_at, Some(NOW + 2_000));
    assert_eq!(report.active_devices, 0);

    // Blank fingerprint.
    let report = db.validate(key_of(&lic), Some("  "), NOW).await.unwrap();
    assert_eq!(report.outcome, Err(Denial::FingerprintRequired));

    // A blocked device that is active no longer validates.
    activate(&db, &lic, "fp-c", NOW + 4_000).await.unwrap();
    db.block_device(
        NewBlockedDevice {
            product_id: None,
            fingerprint: "fp-c".into(),
            reason: None,
        },
        ev("device.block", "blocked_device"),
        NOW + 5_000,
    )
    .await
    .unwrap();
    let report = db.validate(key_of(&lic), Some("fp-c"), NOW + 6_000).await.unwrap();
    assert_eq!(report.outcome, Err(Denial::DeviceBlocked));

    // A device activated on one license does not validate another.
    let other = license(&db, lic.product_id, "KEY-2", terms(Some(2))).await;
    let report = db.validate(key_of(&other), Some("fp-c"), NOW + 6_000).await.unwrap();
    assert_eq!(report.outcome, Err(Denial::DeviceBlocked));
    activate(&db, &other, "fp-d", NOW).await.unwrap();
    let report = db.validate(key_of(&lic), Some("fp-d"), NOW + 6_000).await.unwrap();
    assert_eq!(report.outcome, Err(Denial::DeviceNotActivated));
    assert_eq!(report.device, None);
}

pub async fn validate_expiry_and_grace(db: Db) {
    let p = product(&db, "app").await;
    let expired = create_license(&db, {
        let mut l = new_license(p.id, "EXPIRED", terms(Some(1)));
        l.settings.expires_at = Some(NOW - 1);
        l
    })
    .await;
    assert_eq!(
        db.validate(key_of(&expired), None, NOW).await.unwrap().outcome,
        Err(Denial::LicenseExpired)
    );

    // Exactly at expiry it no longer validates; one millisecond before it does.
    let edge = create_license(&db, {
        let mut l = new_license(p.id, "EDGE", terms(Some(1)));
        l.settings.expires_at = Some(NOW);
        l
    })
    .await;
    assert_eq!(
        db.validate(key_of(&edge), None, NOW).await.unwrap().outcome,
        Err(Denial::LicenseExpired)
    );
    assert_eq!(
        db.validate(key_of(&edge), None, NOW - 1).await.unwrap().outcome,
        Ok(VALID)
    );

    // Grace period.
    let grace = create_license(&db, {
        let mut l = new_license(
            p.id,
            "GRACE",
            LicenseTerms {
                grace_period_hours: 24,
                ..terms(Some(1))
            },
        );
        l.settings.expires_at = Some(NOW - HOUR);
        l
    })
    .await;
    assert_eq!(
        db.validate(key_of(&grace), None, NOW).await.unwrap().outcome,
        Ok(Validity {
            in_grace_period: true,
            maintenance_active: true
        })
    );
    assert_eq!(
        db.validate(key_of(&grace), None, NOW + 23 * HOUR)
            .await
            .unwrap()
            .outcome,
        Err(Denial::LicenseExpired)
    );

    // Trials say so.
    let trial = create_license(&db, {
        let mut l = new_license(
            p.id,
            "TRIAL",
            LicenseTerms {
                kind: LicenseKind::Trial,
                ..terms(Some(1))
            },
        );
        l.settings.expires_at = Some(NOW - 1);
        l
    })
    .await;
    assert_eq!(
        db.validate(key_of(&trial), None, NOW).await.unwrap().outcome,
        Err(Denial::TrialExpired)
    );

    // Not started yet.
    let future = create_license(&db, {
        let mut l = new_license(p.id, "FUTURE", terms(Some(1)));
        l.settings.starts_at = Some(NOW + DAY);
        l
    })
    .await;
    assert_eq!(
        db.validate(key_of(&future), None, NOW).await.unwrap().outcome,
        Err(Denial::LicenseNotStarted)
    );
    assert_eq!(
        db.validate(key_of(&future), None, NOW + DAY).await.unwrap().outcome,
        Ok(VALID)
    );

    // License and product states come before dates.
    let disabled = create_license(&db, {
        let mut l = new_license(p.id, "DISABLED", terms(Some(1)));
        l.settings.status = LicenseStatus::Disabled;
        l.settings.expires_at = Some(NOW - 1);
        l
    })
    .await;
    assert_eq!(
        db.validate(key_of(&disabled), None, NOW).await.unwrap().outcome,
        Err(Denial::LicenseDisabled)
    );
    db.update_product(
        Product {
            status: ProductStatus::Disabled,
            ..p.clone()
        },
        ev_on("product.update", "product", p.id),
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(
        db.validate(key_of(&disabled), None, NOW).await.unwrap().outcome,
        Err(Denial::ProductDisabled)
    );
    let report = db.validate(key_of(&expired), None, NOW).await.unwrap();
    assert_eq!(report.outcome, Err(Denial::ProductDisabled));
    assert_eq!(report.product.status, ProductStatus::Disabled);
}

pub async fn validate_unknown_license(db: Db) {
    product_and_license(&db, terms(Some(1))).await;
    match db.validate(LicenseRef::Key("NO-SUCH-KEY".into()), None, NOW).await {
        Err(StoreError::Denied(Denial::LicenseNotFound)) => {}
        other => panic!("expected Err(Denied(LicenseNotFound)), got {other:?}"),
    }
    assert_denied(
        db.validate(LicenseRef::Key("NO-SUCH-KEY".into()), Some("fp"), NOW)
            .await,
        Denial::LicenseNotFound,
    );
    assert_denied(
        db.validate(LicenseRef::Id(LicenseId::new(999_999)), None, NOW).await,
        Denial::LicenseNotFound,
    );
}

pub async fn validate_writes_nothing(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(2))).await;
    activate(&db, &lic, "fp-a", NOW).await.unwrap();
    let before = state(&db, lic.id).await;
    for (i, fp) in [None, Some("fp-a"), Some("fp-b")].into_iter().enumerate() {
        db.validate(key_of(&lic), fp, NOW + HOUR * (i as i64 + 1))
            .await
            .unwrap();
    }
    db.validate(LicenseRef::Key("NOPE".into()), Some("fp-a"), NOW + DAY)
        .await
        .unwrap_err();
    assert_unchanged(&db, &before, "validation").await;
    // last_seen_at is not refreshed by a read.
    assert_eq!(db.list_devices(lic.id).await.unwrap()[0].last_seen_at, NOW);
}
