//! Activation, deactivation, transfers, trials, lockouts and block lists.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;
use serde_json::json;

pub async fn activate_new_device_records_it(db: Db) {
    let (p, lic) = product_and_license(&db, terms(Some(3))).await;
    let info = DeviceInfo {
        fingerprint: "fp-laptop".into(),
        name: Some("Laptop".into()),
        hostname: Some("host-a".into()),
        os: Some("linux".into()),
        app_version: Some("1.2.3".into()),
        ip: Some("10.0.0.1".into()),
        mac: Some("aa:bb:cc:dd:ee:ff".into()),
        is_vm: false,
        variables: Some(json!({"cpu": 8, "edition": "pro"})),
    };
    let act = db
        .activate(
            key_of(&lic),
            info,
            None,
            ev_on("device.activate", "license", lic.id),
            NOW,
        )
        .await
        .expect("activate");
    assert!(act.newly_activated);
    assert_eq!(act.active_devices, 1);
    assert_eq!(act.product, p);
    assert_eq!(act.license.id, lic.id);
    assert_eq!((act.license.transfer_count, act.license.deactivation_count), (0, 0));
    assert_eq!(
        act.device,
        Device {
            id: act.device.id,
            license_id: lic.id,
            fingerprint: "fp-laptop".into(),
            name: Some("Laptop".into()),
            hostname: Some("host-a".into()),
            os: Some("linux".into()),
            app_version: Some("1.2.3".into()),
            ip: Some("10.0.0.1".into()),
            mac: Some("aa:bb:cc:dd:ee:ff".into()),
            is_vm: false,
            user_id: None,
            variables: json!({"cpu": 8, "edition": "pro"}),
            activated_at: NOW,
            last_seen_at: NOW,
            deactivated_at: None,
        }
    );
    assert_eq!(db.get_device(act.device.id).await.unwrap(), act.device);
    assert_eq!(db.list_devices(lic.id).await.unwrap(), vec![act.device.clone()]);
    assert_eq!(count_where_license(&db, "activation_log", lic.id).await, 1);
    assert_not_found(db.get_device(DeviceId::new(999_999)).await);

    // By id works as well as by key.
    let by_id = db
        .activate(
            LicenseRef::Id(lic.id),
            dev("fp-2"),
            None,
            ev_on("device.activate", "license", lic.id),
            NOW + 1,
        )
        .await
        .unwrap();
    assert!(by_id.newly_activated);
    assert_eq!(by_id.active_devices, 2);
    assert_eq!(
        active_fingerprints(&db.list_devices(lic.id).await.unwrap()),
        ["fp-2", "fp-laptop"]
    );

    // Unknown licenses.
    assert_denied(
        db.activate(
            LicenseRef::Key("NOPE".into()),
            dev("x"),
            None,
            ev("device.activate", "license"),
            NOW,
        )
        .await,
        Denial::LicenseNotFound,
    );
    assert_denied(
        db.activate(
            LicenseRef::Id(LicenseId::new(999_999)),
            dev("x"),
            None,
            ev("device.activate", "license"),
            NOW,
        )
        .await,
        Denial::LicenseNotFound,
    );
}

pub async fn activating_an_active_device_again_consumes_nothing(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(1))).await;
    let first = activate(&db, &lic, "fp-a", NOW).await.unwrap();
    assert!(first.newly_activated);
    let again = activate(&db, &lic, "fp-a", NOW + 60_000)
        .await
        .expect("re-activation of the active device");
    assert!(!again.newly_activated);
    assert_eq!(again.active_devices, 1);
    assert_eq!(again.device.id, first.device.id);
    assert_eq!(again.device.activated_at, NOW);
    assert_eq!(again.device.last_seen_at, NOW + 60_000, "last-seen data is refreshed");
    assert_eq!(db.list_devices(lic.id).await.unwrap().len(), 1);
    assert_eq!(
        count_where_license(&db, "activation_log", lic.id).await,
        1,
        "not a new activation"
    );
    let l = db.get_license(lic.id).await.unwrap();
    assert_eq!((l.transfer_count, l.deactivation_count), (0, 0));
    // Even at the limit (1 of 1) the same device is let in.
    assert!(
        !activate(&db, &lic, "fp-a", NOW + 120_000)
            .await
            .unwrap()
            .newly_activated
    );
}

pub async fn activation_limit_is_exact(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(2))).await;
    assert_eq!(activate(&db, &lic, "A", NOW).await.unwrap().active_devices, 1);
    assert_eq!(activate(&db, &lic, "B", NOW).await.unwrap().active_devices, 2);

    let before = state(&db, lic.id).await;
    assert_denied(activate(&db, &lic, "C", NOW + 1).await, Denial::ActivationLimitReached);
    assert_unchanged(&db, &before, "an activation past the limit").await;
    assert_eq!(active_fingerprints(&before.devices), ["A", "B"]);

    // Unlimited.
    let open = license(&db, lic.product_id, "OPEN", terms(None)).await;
    for i in 0..25 {
        assert_eq!(
            activate(&db, &open, &format!("d{i}"), NOW)
                .await
                .unwrap()
                .active_devices,
            i + 1
        );
    }
}

pub async fn blocked_devices_are_refused(db: Db) {
    let p1 = product(&db, "p1").await;
    let p2 = product(&db, "p2").await;
    let l1 = license(&db, p1.id, "L1", terms(Some(10))).await;
    let l2 = license(&db, p2.id, "L2", terms(Some(10))).await;

    let global = db
        .block_device(
            NewBlockedDevice {
                product_id: None,
                fingerprint: "bad-global".into(),
                reason: Some("fraud".into()),
            },
            ev("device.block", "blocked_device"),
            NOW,
        )
        .await
        .expect("block");
    assert_eq!(
        global,
        BlockedDevice {
            id: global.id,
            product_id: None,
            fingerprint: "bad-global".into(),
            reason: Some("fraud".into()),
            created_at: NOW
        }
    );
    let local = db
        .block_device(
            NewBlockedDevice {
                product_id: Some(p1.id),
                fingerprint: "bad-p1".into(),
                reason: None,
            },
            ev("device.block", "blocked_device"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(local.product_id, Some(p1.id));

    // Duplicates conflict.
    assert_conflict(
        db.block_device(
            NewBlockedDevice {
                product_id: None,
                fingerprint: "bad-global".into(),
                reason: None,
            },
            ev("device.block", "blocked_device"),
            NOW,
        )
        .await,
    );
    assert_conflict(
        db.block_device(
            NewBlockedDevice {
                product_id: Some(p1.id),
                fingerprint: "bad-p1".into(),
                reason: None,
            },
            ev("device.block", "blocked_device"),
            NOW,
        )
        .await,
    );

    let before1 = state(&db, l1.id).await;
    let before2 = state(&db, l2.id).await;
    assert_denied(activate(&db, &l1, "bad-global", NOW).await, Denial::DeviceBlocked);
    assert_denied(activate(&db, &l2, "bad-global", NOW).await, Denial::DeviceBlocked);
    assert_denied(activate(&db, &l1, "bad-p1", NOW).await, Denial::DeviceBlocked);
    assert_unchanged(&db, &before1, "activating a blocked device").await;
    assert_unchanged(&db, &before2, "activating a blocked device").await;
    // A per-product block does not reach other products.
    assert!(activate(&db, &l2, "bad-p1", NOW).await.unwrap().newly_activated);

    let listed: Vec<i64> = db
        .list_blocked_devices(Some(p1.id))
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert!(listed.contains(&local.id), "{listed:?}");
    assert!(
        !db.list_blocked_devices(Some(p2.id))
            .await
            .unwrap()
            .iter()
            .any(|b| b.id == local.id)
    );
    let all_blocked: Vec<i64> = db
        .list_blocked_devices(None)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert!(all_blocked.contains(&global.id), "{all_blocked:?}");

    // An active device that gets blocked cannot "re-activate" either.
    activate(&db, &l1, "later-bad", NOW).await.unwrap();
    db.block_device(
        NewBlockedDevice {
            product_id: Some(p1.id),
            fingerprint: "later-bad".into(),
            reason: None,
        },
        ev("device.block", "blocked_device"),
        NOW,
    )
    .await
    .unwrap();
    assert_denied(activate(&db, &l1, "later-bad", NOW + 1).await, Denial::DeviceBlocked);

    // Unblocking lets it in.
    db.unblock_device(global.id, ev_on("device.unblock", "blocked_device", global.id), NOW)
        .await
        .unwrap();
    assert!(activate(&db, &l1, "bad-global", NOW + 2).await.unwrap().newly_activated);
    assert!(
        !db.list_blocked_devices(None)
            .await
            .unwrap()
            .iter()
            .any(|b| b.id == global.id)
    );
}

pub async fn vm_refused_when_not_allowed(db: Db) {
    let (_, lic) = product_and_license(
        &db,
        LicenseTerms {
            vm_allowed: false,
            ..terms(Some(3))
        },
    )
    .await;
    let before = state(&db, lic.id).await;
    let vm = DeviceInfo {
        is_vm: true,
        ..dev("vm-1")
    };
    assert_denied(
        db.activate(
            key_of(&lic),
            vm.clone(),
            None,
            ev_on("device.activate", "license", lic.id),
            NOW,
        )
        .await,
        Denial::VmNotAllowed,
    );
    assert_unchanged(&db, &before, "a refused VM activation").await;
    assert!(activate(&db, &lic, "metal-1", NOW).await.unwrap().newly_activated);

    let allowed = license(&db, lic.product_id, "VM-OK", terms(Some(3))).await;
    let act = db
        .activate(
            key_of(&allowed),
            vm,
            None,
            ev_on("device.activate", "license", allowed.id),
            NOW,
        )
        .await
        .unwrap();
    assert!(act.device.is_vm);
}

pub async fn license_and_product_states_are_refused(db: Db) {
    let p = product(&db, "app").await;
    let cases = [
        (
            "DISABLED",
            {
                let mut l = new_license(p.id, "DISABLED", terms(Some(1)));
                l.settings.status = LicenseStatus::Disabled;
                l
            },
            Denial::LicenseDisabled,
        ),
        (
            "BLOCKED",
            {
                let mut l = new_license(p.id, "BLOCKED", terms(Some(1)));
                l.settings.status = LicenseStatus::Blocked;
                l
            },
            Denial::LicenseBlocked,
        ),
        (
            "SUSPENDED",
            {
                let mut l = new_license(p.id, "SUSPENDED", terms(Some(1)));
                l.settings.status = LicenseStatus::Suspended;
                l
            },
            Denial::LicenseSuspended,
        ),
        (
            "STOCK",
            {
                let mut l = new_license(p.id, "STOCK", terms(Some(1)));
                l.settings.assignment = Assignment::InStock;
                l
            },
            Denial::LicenseNotAssigned,
        ),
        (
            "FUTURE",
            {
                let mut l = new_license(p.id, "FUTURE", terms(Some(1)));
                l.settings.starts_at = Some(NOW + 1);
                l
            },
            Denial::LicenseNotStarted,
        ),
        (
            "EXPIRED",
            {
                let mut l = new_license(p.id, "EXPIRED", terms(Some(1)));
                l.settings.expires_at = Some(NOW);
                l
            },
            Denial::LicenseExpired,
        ),
    ];
    for (key, new, denial) in cases {
        let lic = create_license(&db, new).await;
        let before = state(&db, lic.id).await;
        match activate(&db, &lic, "fp", NOW).await {
            Err(StoreError::Denied(got)) if got == denial => {}
            other => panic!("license {key}: expected Denied({denial:?}), got {other:?}"),
        }
        assert_unchanged(&db, &before, key).await;
    }
    // Reserved licenses have left stock and activate.
    let reserved = create_license(&db, {
        let mut l = new_license(p.id, "RESERVED", terms(Some(1)));
        l.settings.assignment = Assignment::Reserved;
        l
    })
    .await;
    assert!(activate(&db, &reserved, "fp", NOW).await.unwrap().newly_activated);

    // Blank fingerprint.
    let ok = license(&db, p.id, "OK", terms(Some(1))).await;
    assert_denied(activate(&db, &ok, "", NOW).await, Denial::FingerprintRequired);
    assert_denied(activate(&db, &ok, "   ", NOW).await, Denial::FingerprintRequired);

    // Product state.
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
    let before = state(&db, ok.id).await;
    assert_denied(activate(&db, &ok, "fp", NOW).await, Denial::ProductDisabled);
    assert_unchanged(&db, &before, "activation on a disabled product").await;
    db.update_product(
        Product {
            status: ProductStatus::Archived,
            ..p.clone()
        },
        ev_on("product.update", "product", p.id),
        NOW,
    )
    .await
    .unwrap();
    assert_denied(activate(&db, &ok, "fp", NOW).await, Denial::ProductArchived);
    db.update_product(
        Product {
            status: ProductStatus::Active,
            ..p.clone()
        },
        ev_on("product.update", "product", p.id),
        NOW,
    )
    .await
    .unwrap();
    assert!(activate(&db, &ok, "fp", NOW).await.unwrap().newly_activated);
}

pub async fn deactivate_frees_the_slot(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(1))).await;
    let act = activate(&db, &lic, "A", NOW).await.unwrap();
    let after = deactivate(&db, &lic, "A", NOW + 1_000).await.expect("deactivate");
    assert_eq!(after.deactivation_count, 1);
    assert_eq!(after.transfer_count, 0);
    assert_eq!(db.get_license(lic.id).await.unwrap().deactivation_count, 1);
    let device = db.get_device(act.device.id).await.unwrap();
    assert_eq!(device.deactivated_at, Some(NOW + 1_000));
    assert!(!device.is_active());
    assert_eq!(db.list_devices(lic.id).await.unwrap(), vec![device]);

    // The slot is free: another device activates (a transfer).
    let b = activate(&db, &lic, "B", NOW + 2_000).await.unwrap();
    assert!(b.newly_activated);
    assert_eq!(b.active_devices, 1);
    assert_eq!(b.license.transfer_count, 1);
    assert_eq!(active_fingerprints(&db.list_devices(lic.id).await.unwrap()), ["B"]);

    // Deactivating by license id works too.
    let l = db
        .deactivate(
            LicenseRef::Id(lic.id),
            "B",
            ev_on("device.deactivate", "license", lic.id),
            NOW + 3_000,
        )
        .await
        .unwrap();
    assert_eq!(l.deactivation_count, 2);
    assert!(active_fingerprints(&db.list_devices(lic.id).await.unwrap()).is_empty());
}

pub async fn deactivate_unknown_device_is_denied(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(2))).await;
    activate(&db, &lic, "A", NOW).await.unwrap();
    let before = state(&db, lic.id).await;
    assert_denied(deactivate(&db, &lic, "ghost", NOW).await, Denial::DeviceNotActivated);
    assert_unchanged(&db, &before, "deactivating an unknown device").await;

    // Already deactivated: denied again, counted once.
    deactivate(&db, &lic, "A", NOW + 1).await.unwrap();
    let before = state(&db, lic.id).await;
    assert_denied(deactivate(&db, &lic, "A", NOW + 2).await, Denial::DeviceNotActivated);
    assert_unchanged(&db, &before, "deactivating an inactive device").await;
    assert_eq!(before.license.deactivation_count, 1);

    // A device of another license is not this license's.
    let other = license(&db, lic.product_id, "KEY-2", terms(Some(2))).await;
    activate(&db, &other, "B", NOW).await.unwrap();
    assert_denied(deactivate(&db, &lic, "B", NOW + 3).await, Denial::DeviceNotActivated);
    assert_denied(
        db.deactivate(
            LicenseRef::Key("NOPE".into()),
            "B",
            ev("device.deactivate", "license"),
            NOW,
        )
        .await,
        Denial::LicenseNotFound,
    );
    assert_eq!(active_fingerprints(&db.list_devices(other.id).await.unwrap()), ["B"]);
}

pub async fn transfer_limit_is_exact(db: Db) {
    let (_, lic) = product_and_license(
        &db,
        LicenseTerms {
            max_transfers: Some(1),
            ..terms(Some(1))
        },
    )
    .await;
    let a = activate(&db, &lic, "A", NOW).await.unwrap();
    assert_eq!(a.license.transfer_count, 0, "the first device is not a transfer");
    deactivate(&db, &lic, "A", NOW + 1).await.unwrap();
    let b = activate(&db, &lic, "B", NOW + 2).await.expect("first transfer");
    assert_eq!(b.license.transfer_count, 1);
    assert_eq!(db.get_license(lic.id).await.unwrap().transfer_count, 1);
    let l = deactivate(&db, &lic, "B", NOW + 3).await.unwrap();
    assert_eq!((l.deactivation_count, l.transfer_count), (2, 1));

    let before = state(&db, lic.id).await;
    assert_denied(activate(&db, &lic, "C", NOW + 4).await, Denial::TransferLimitReached);
    assert_unchanged(&db, &before, "a transfer past the limit").await;

    // max_transfers = 0 forbids moving at all.
    let fixed = license(
        &db,
        lic.product_id,
        "FIXED",
        LicenseTerms {
            max_transfers: Some(0),
            ..terms(Some(1))
        },
    )
    .await;
    activate(&db, &fixed, "A", NOW).await.unwrap();
    deactivate(&db, &fixed, "A", NOW + 1).await.unwrap();
    assert_denied(activate(&db, &fixed, "B", NOW + 2).await, Denial::TransferLimitReached);
}

pub async fn reactivating_a_deactivated_device_reuses_its_row(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(1))).await;
    let first = activate(&db, &lic, "A", NOW).await.unwrap();
    deactivate(&db, &lic, "A", NOW + 1_000).await.unwrap();
    let again = activate(&db, &lic, "A", NOW + 2_000).await.expect("reactivate");
    assert!(
        again.newly_activated,
        "an inactive device activating is a new activation"
    );
    assert_eq!(again.active_devices, 1);
    assert_eq!(again.device.id, first.device.id, "one row per (license, fingerprint)");
    assert_eq!(again.device.deactivated_at, None);
    assert_eq!(
        again.license.transfer_count, 0,
        "the same device coming back is not a transfer"
    );
    let devices = db.list_devices(lic.id).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert!(devices[0].is_active());
    assert_eq!(count_where_license(&db, "activation_log", lic.id).await, 2);
}

pub async fn trial_expiry_starts_at_first_activation(db: Db) {
    let p = db
        .create_product(
            NewProduct {
                trial_allowed: true,
                trial_days: 14,
                ..new_product("app")
            },
            ev("product.create", "product"),
            NOW,
        )
        .await
        .unwrap();
    let lic = create_license(&db, {
        let mut l = new_license(
            p.id,
            "TRIAL",
            LicenseTerms {
                kind: LicenseKind::Trial,
                ..terms(Some(2))
            },
        );
        l.settings.trial_days = Some(14);
        l
    })
    .await;
    assert_eq!(lic.expires_at, None);

    let start = NOW + 3 * DAY;
    let a = activate(&db, &lic, "A", start).await.unwrap();
    assert_eq!(a.license.expires_at, Some(start + 14 * DAY));
    assert_eq!(db.get_license(lic.id).await.unwrap().expires_at, Some(start + 14 * DAY));

    // A second device does not restart the clock.
    let b = activate(&db, &lic, "B", start + DAY).await.unwrap();
    assert_eq!(b.license.expires_at, Some(start + 14 * DAY));

    // And it ends.
    assert_eq!(
        db.validate(key_of(&lic), Some("A"), start + 14 * DAY - 1)
            .await
            .unwrap()
            .outcome
            .map(|_| ()),
        Ok(())
    );
    assert_eq!(
        db.validate(key_of(&lic), Some("A"), start + 14 * DAY)
            .await
            .unwrap()
            .outcome,
        Err(Denial::TrialExpired)
    );
    deactivate(&db, &lic, "B", start + 2 * DAY).await.unwrap();
    assert_denied(activate(&db, &lic, "C", start + 15 * DAY).await, Denial::TrialExpired);

    // Trials with a fixed expiry keep it.
    let fixed = create_license(&db, {
        let mut l = new_license(
            p.id,
            "TRIAL-FIXED",
            LicenseTerms {
                kind: LicenseKind::Trial,
                ..terms(Some(2))
            },
        );
        l.settings.trial_days = Some(14);
        l.settings.expires_at = Some(NOW + 5 * DAY);
        l
    })
    .await;
    assert_eq!(
        activate(&db, &fixed, "A", NOW).await.unwrap().license.expires_at,
        Some(NOW + 5 * DAY)
    );
}

pub async fn reactivation_lockout(db: Db) {
    let (_, lic) = product_and_license(
        &db,
        LicenseTerms {
            reactivation_lockout: Some(ReactivationLockout {
                limit: 2,
                window_hours: 24,
            }),
            ..terms(Some(1))
        },
    )
    .await;
    activate(&db, &lic, "A", NOW).await.unwrap();
    deactivate(&db, &lic, "A", NOW + MINUTE).await.unwrap();
    activate(&db, &lic, "B", NOW + 2 * MINUTE).await.unwrap();
    deactivate(&db, &lic, "B", NOW + 3 * MINUTE).await.unwrap();

    let before = state(&db, lic.id).await;
    assert_denied(
        activate(&db, &lic, "C", NOW + 4 * MINUTE).await,
        Denial::ReactivationLockout,
    );
    // Reactivating a known device counts as a new activation too.
    assert_denied(
        activate(&db, &lic, "A", NOW + 5 * MINUTE).await,
        Denial::ReactivationLockout,
    );
    assert_unchanged(&db, &before, "a locked-out activation").await;

    // Once the first activation leaves the window, one more fits.
    let c = activate(&db, &lic, "C", NOW + 24 * HOUR + MINUTE)
        .await
        .expect("after the window");
    assert!(c.newly_activated);
}

pub async fn deactivate_device_by_id(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(1))).await;
    let a = activate(&db, &lic, "A", NOW).await.unwrap();
    let d = db
        .deactivate_device(
            a.device.id,
            ev_on("device.deactivate", "device", a.device.id),
            NOW + 1_000,
        )
        .await
        .expect("deactivate by id");
    assert_eq!(d.id, a.device.id);
    assert_eq!(d.deactivated_at, Some(NOW + 1_000));
    assert_eq!(db.get_device(a.device.id).await.unwrap(), d);
    assert!(active_fingerprints(&db.list_devices(lic.id).await.unwrap()).is_empty());
    // The seat is free.
    assert!(activate(&db, &lic, "B", NOW + 2_000).await.unwrap().newly_activated);
    // Deactivating an inactive device is denied and changes nothing.
    let before = state(&db, lic.id).await;
    assert_denied(
        db.deactivate_device(
            a.device.id,
            ev_on("device.deactivate", "device", a.device.id),
            NOW + 3_000,
        )
        .await,
        Denial::DeviceNotActivated,
    );
    assert_unchanged(&db, &before, "deactivating an inactive device by id").await;
}

pub async fn per_user_activation_limit(db: Db) {
    let (_, lic) = product_and_license(
        &db,
        LicenseTerms {
            max_activations_per_user: Some(1),
            ..terms(Some(5))
        },
    )
    .await;
    let mut users = Vec::new();
    for i in 0..2 {
        let u = db
            .create_license_user(
                NewLicenseUser {
                    customer_id: None,
                    email: format!("u{i}@x.org"),
                    name: None,
                    password_hash: None,
                },
                ev("user.create", "license_user"),
                NOW,
            )
            .await
            .unwrap();
        db.assign_license_user(lic.id, u.id, ev_on("license.assign_user", "license", lic.id), NOW)
            .await
            .unwrap();
        users.push(u);
    }
    let act = |fp: &str, user: i64| {
        db.activate(
            key_of(&lic),
            dev(fp),
            Some(user),
            ev_on("device.activate", "license", lic.id),
            NOW,
        )
    };
    let a = act("A", users[0].id).await.unwrap();
    assert_eq!(a.device.user_id, Some(users[0].id));
    let before = state(&db, lic.id).await;
    assert_denied(act("B", users[0].id).await, Denial::UserActivationLimitReached);
    assert_unchanged(&db, &before, "an activation past the per-user limit").await;
    let b = act("B", users[1].id).await.expect("another user");
    assert_eq!(b.device.user_id, Some(users[1].id));
    assert_eq!(b.active_devices, 2);
}
