//! `licenses.active_devices`: the count the `devices` triggers keep on the licence row (migration
//! 3), which validation and activation read instead of counting devices. Every path that changes
//! devices must leave it equal to `COUNT(*)` of the licence's active devices: the core commands
//! (SQLite's writer thread included), bundles, moves, the LicenseSpring deactivation with
//! consumptions, licence deletion, and even a raw statement no command makes.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;

/// Asserts that every licence's stored count equals its active devices, and returns the stored
/// count of `license_id`.
async fn assert_exact(db: &Db, license_id: LicenseId, after: &str) -> i64 {
    let wrong = db
        .raw
        .i64(
            "SELECT COUNT(*) FROM licenses l WHERE l.active_devices <> \
             (SELECT COUNT(*) FROM devices d WHERE d.license_id = l.id AND d.deactivated_at IS NULL)",
            &[],
        )
        .await;
    assert_eq!(
        wrong, 0,
        "after {after}: a licence's active_devices differs from its devices"
    );
    let stored = db
        .raw
        .i64(
            "SELECT active_devices FROM licenses WHERE id = ?",
            &[Arg::I(license_id.get())],
        )
        .await;
    let counted = db
        .raw
        .i64(
            "SELECT COUNT(*) FROM devices WHERE license_id = ? AND deactivated_at IS NULL",
            &[Arg::I(license_id.get())],
        )
        .await;
    assert_eq!(stored, counted, "after {after}");
    stored
}

pub async fn active_device_count_is_exact_on_every_path(db: Db) {
    let p = product(&db, "app").await;
    let lic = license(&db, p.id, "KEY-1", terms(Some(3))).await;
    let other = license(&db, p.id, "KEY-2", terms(None)).await;
    let third = license(&db, p.id, "KEY-3", terms(None)).await;
    assert_eq!(assert_exact(&db, lic.id, "creation").await, 0);

    // Activation (SQLite: the writer thread), a repeat that only touches the row, a refusal.
    activate(&db, &lic, "A", NOW).await.expect("activate A");
    assert_eq!(assert_exact(&db, lic.id, "activate A").await, 1);
    activate(&db, &lic, "A", NOW + 1).await.expect("activate A again");
    assert_eq!(assert_exact(&db, lic.id, "activate A again").await, 1);
    activate(&db, &lic, "B", NOW + 2).await.expect("activate B");
    activate(&db, &lic, "C", NOW + 3).await.expect("activate C");
    assert_denied(activate(&db, &lic, "D", NOW + 4).await, Denial::ActivationLimitReached);
    assert_eq!(assert_exact(&db, lic.id, "a refused activation").await, 3);
    let report = db.validate(key_of(&lic), Some("A"), NOW + 5).await.expect("validate");
    assert_eq!(report.active_devices, 3, "validation reads the stored count");

    // Deactivation by fingerprint, then a reactivation of the same row.
    deactivate(&db, &lic, "B", NOW + 6).await.expect("deactivate B");
    assert_eq!(assert_exact(&db, lic.id, "deactivate B").await, 2);
    assert_denied(deactivate(&db, &lic, "B", NOW + 7).await, Denial::DeviceNotActivated);
    assert_eq!(assert_exact(&db, lic.id, "a refused deactivation").await, 2);
    let again = activate(&db, &lic, "B", NOW + 8).await.expect("reactivate B");
    assert_eq!(again.active_devices, 3);
    assert_eq!(assert_exact(&db, lic.id, "reactivate B").await, 3);

    // Administrative deactivation by device id.
    db.deactivate_device(
        again.device.id,
        ev_on("device.deactivate", "device", again.device.id),
        NOW + 9,
    )
    .await
    .expect("deactivate by id");
    assert_eq!(assert_exact(&db, lic.id, "deactivate_device").await, 2);

    // Bundles: activate_many and deactivate_many (the sqlx write path on both databases).
    let both = [lic.id, other.id];
    let many = db
        .activate_many(&both, dev("E"), None, ev("bundle.activate", "license"), NOW + 10)
        .await
        .expect("activate_many");
    assert_eq!(many.iter().map(|a| a.active_devices).collect::<Vec<_>>(), vec![3, 1]);
    assert_eq!(assert_exact(&db, lic.id, "activate_many").await, 3);
    assert_eq!(assert_exact(&db, other.id, "activate_many").await, 1);
    assert_denied(
        db.activate_many(&both, dev("F"), None, ev("bundle.activate", "license"), NOW + 11)
            .await,
        Denial::ActivationLimitReached,
    );
    assert_eq!(assert_exact(&db, other.id, "a refused activate_many").await, 1);
    db.deactivate_many(&both, "E", ev("bundle.deactivate", "license"), NOW + 12)
        .await
        .expect("deactivate_many");
    assert_eq!(assert_exact(&db, lic.id, "deactivate_many").await, 2);
    assert_eq!(assert_exact(&db, other.id, "deactivate_many").await, 0);

    // A client moving from one licence to another (SLASCONE): release and activate in one go.
    activate(&db, &other, "G", NOW + 13).await.expect("activate G on KEY-2");
    db.activate_moving(
        third.id,
        &[other.id],
        dev("G"),
        None,
        ev("device.activate", "license"),
        ev("device.deactivate", "license"),
        NOW + 14,
    )
    .await
    .expect("activate_moving");
    assert_eq!(assert_exact(&db, other.id, "activate_moving (released)").await, 0);
    assert_eq!(assert_exact(&db, third.id, "activate_moving (activated)").await, 1);

    // LicenseSpring's deactivation with consumptions (its own SQL).
    db.deactivate_with_consumptions(
        third.id,
        "G",
        0,
        Vec::new(),
        None,
        ev("device.deactivate", "license"),
        NOW + 15,
    )
    .await
    .expect("deactivate_with_consumptions");
    assert_eq!(assert_exact(&db, third.id, "deactivate_with_consumptions").await, 0);

    // Blocking a fingerprint refuses it but leaves the licence's devices as they are.
    db.block_device(
        NewBlockedDevice {
            product_id: None,
            fingerprint: "A".into(),
            reason: None,
        },
        ev("device.block", "blocked_device"),
        NOW + 16,
    )
    .await
    .expect("block A");
    assert_eq!(assert_exact(&db, lic.id, "block_device").await, 2);

    // Statements no command makes: a device moved between licences, one deleted, one inserted
    // inactive. The triggers keep the count whoever writes.
    let c = db
        .raw
        .i64(
            "SELECT id FROM devices WHERE license_id = ? AND fingerprint = 'C'",
            &[Arg::I(lic.id.get())],
        )
        .await;
    db.raw
        .exec(
            "UPDATE devices SET license_id = ? WHERE id = ?",
            &[Arg::I(other.id.get()), Arg::I(c)],
        )
        .await;
    assert_eq!(assert_exact(&db, lic.id, "a device moved away").await, 1);
    assert_eq!(assert_exact(&db, other.id, "a device moved in").await, 1);
    db.raw.exec("DELETE FROM devices WHERE id = ?", &[Arg::I(c)]).await;
    assert_eq!(assert_exact(&db, other.id, "a device deleted").await, 0);
    db.raw
        .exec(
            "INSERT INTO devices (license_id, fingerprint, is_vm, variables, activated_at, last_seen_at, deactivated_at) \
             VALUES (?, 'H', FALSE, '{}', ?, ?, ?)",
            &[Arg::I(other.id.get()), Arg::I(NOW), Arg::I(NOW), Arg::I(NOW)],
        )
        .await;
    assert_eq!(assert_exact(&db, other.id, "an inactive device inserted").await, 0);

    // Deleting a licence deletes its devices (cascade) and leaves every other count exact.
    db.delete_license(other.id, ev_on("license.delete", "license", other.id), NOW + 17)
        .await
        .expect("delete license");
    assert_eq!(assert_exact(&db, lic.id, "delete_license").await, 1);
}

/// Migration 3 counts the devices a database already holds: undone by hand on a database with
/// active and inactive devices, then applied again by `migrate`.
pub async fn active_device_count_migration_back_fills(db: Db) {
    let p = product(&db, "app").await;
    let lic = license(&db, p.id, "KEY-1", terms(None)).await;
    let other = license(&db, p.id, "KEY-2", terms(None)).await;
    for fingerprint in ["A", "B", "C"] {
        activate(&db, &lic, fingerprint, NOW).await.expect("activate");
    }
    deactivate(&db, &lic, "B", NOW + 1).await.expect("deactivate B");
    activate(&db, &other, "A", NOW + 2).await.expect("activate on KEY-2");
    let undo: &[&str] = match db.kind {
        Kind::Sqlite => &[
            "DROP TRIGGER devices_count_active_insert",
            "DROP TRIGGER devices_count_active_delete",
            "DROP TRIGGER devices_count_active_update",
            "ALTER TABLE licenses DROP COLUMN active_devices",
        ],
        Kind::Postgres => &[
            "DROP FUNCTION devices_count_active() CASCADE",
            "ALTER TABLE licenses DROP COLUMN active_devices",
        ],
    };
    for statement in undo {
        db.raw.exec(statement, &[]).await;
    }
    db.raw
        .exec("DELETE FROM licensd_migrations WHERE version = 3", &[])
        .await;
    db.migrate(NOW).await.expect("migrate again");
    assert_eq!(assert_exact(&db, lic.id, "the back-fill").await, 2);
    assert_eq!(assert_exact(&db, other.id, "the back-fill").await, 1);
    // The triggers are back.
    deactivate(&db, &lic, "A", NOW + 3).await.expect("deactivate A");
    assert_eq!(assert_exact(&db, lic.id, "a deactivation after the back-fill").await, 1);
}
