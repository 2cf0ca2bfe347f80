//! The DNA dialect's storage: end-user passwords and reset codes, the IP lockout, license data,
//! per-product policy, InfoTags and the counts behind the status KeyWords.

use crate::harness::*;
use licensd_domain::lockout::{self, IpLockoutPolicy};
use licensd_domain::*;
use licensd_store::dialects::dna::{DnaPassword, PasswordAttempt};
use licensd_store::*;

pub async fn dna_ip_lockout_counts_failures_per_ip(db: Db) {
    let (product, lic) = product_and_license(&db, terms(Some(1))).await;
    assert_eq!(
        db.ip_lockout_policy(product.id).await.unwrap(),
        IpLockoutPolicy::default()
    );
    let policy = IpLockoutPolicy {
        max_failures: 2,
        window_seconds: 60,
        lockout_seconds: 30,
    };
    db.set_ip_lockout_policy(product.id, policy, ev("dna.policy", "product"), NOW)
        .await
        .unwrap();
    assert_eq!(db.ip_lockout_policy(product.id).await.unwrap(), policy);
    assert_not_found(db.ip_lockout_policy(ProductId::new(999_999)).await);
    assert_not_found(
        db.set_ip_lockout_policy(ProductId::new(999_999), policy, ev("dna.policy", "product"), NOW)
            .await,
    );

    let attempt = |ip: &'static str, ok: bool, at: Millis| {
        let db = &db;
        async move {
            db.password_attempt(lic.id, ip, ok, ev("dna.password_failed", "license"), at)
                .await
        }
    };
    assert_eq!(
        attempt("192.0.2.1", false, NOW).await.unwrap(),
        PasswordAttempt::Rejected { locked: false }
    );
    assert_eq!(
        attempt("192.0.2.2", false, NOW).await.unwrap(),
        PasswordAttempt::Rejected { locked: false }
    );
    assert!(!db.license_facts(&lic, NOW).await.unwrap().ip_locked);
    assert_eq!(
        attempt("192.0.2.1", true, NOW).await.unwrap(),
        PasswordAttempt::Accepted
    );
    assert_eq!(
        attempt("192.0.2.1", false, NOW + 1_000).await.unwrap(),
        PasswordAttempt::Rejected { locked: true }
    );
    assert!(db.ip_locked(lic.id, "192.0.2.1", NOW + 1_000).await.unwrap());
    assert!(!db.ip_locked(lic.id, "192.0.2.2", NOW + 1_000).await.unwrap());
    assert!(db.license_facts(&lic, NOW + 1_000).await.unwrap().ip_locked);
    // A locked IP is refused even with the right password, and nothing more is recorded.
    let events = event_count(&db).await;
    assert_denied(attempt("192.0.2.1", true, NOW + 2_000).await, Denial::IpLockout);
    assert_denied(attempt("192.0.2.1", false, NOW + 2_000).await, Denial::IpLockout);
    assert_eq!(event_count(&db).await, events);
    // The cooling period ends.
    assert!(!db.ip_locked(lic.id, "192.0.2.1", NOW + 31_000).await.unwrap());
    assert_eq!(
        attempt("192.0.2.1", true, NOW + 31_000).await.unwrap(),
        PasswordAttempt::Accepted
    );
    // An administrator can end a lockout early.
    attempt("192.0.2.2", false, NOW + 40_000).await.unwrap();
    assert!(db.ip_locked(lic.id, "192.0.2.2", NOW + 40_000).await.unwrap());
    assert_eq!(
        db.clear_ip_lockouts(lic.id, ev("dna.unlock", "license"), NOW)
            .await
            .unwrap(),
        2
    );
    assert!(!db.ip_locked(lic.id, "192.0.2.2", NOW + 40_000).await.unwrap());
    assert_not_found(
        db.password_attempt(LicenseId::new(999_999), "192.0.2.1", false, ev("x", "license"), NOW)
            .await,
    );
}

pub async fn dna_passwords_reset_codes_and_license_data(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(1))).await;
    let fresh = db.license_account(lic.id).await.unwrap();
    assert_eq!(
        (fresh.password_hash, fresh.admin_password_hash, fresh.activation_email),
        (None, None, None)
    );
    assert_not_found(db.license_account(LicenseId::new(999_999)).await);

    db.set_license_password(
        lic.id,
        DnaPassword::User,
        Some("hash-1".into()),
        ev("dna.password", "license"),
        NOW,
    )
    .await
    .unwrap();
    db.set_password_reset_code(
        lic.id,
        DnaPassword::User,
        "CODE-1",
        NOW + 1_000,
        ev("dna.reset", "license"),
        NOW,
    )
    .await
    .unwrap();
    assert!(
        db.password_reset_code_matches(lic.id, DnaPassword::User, "CODE-1", NOW)
            .await
            .unwrap()
    );
    assert!(
        !db.password_reset_code_matches(lic.id, DnaPassword::User, "CODE-2", NOW)
            .await
            .unwrap()
    );
    assert!(
        !db.password_reset_code_matches(lic.id, DnaPassword::Admin, "CODE-1", NOW)
            .await
            .unwrap()
    );
    assert!(
        !db.password_reset_code_matches(lic.id, DnaPassword::User, "CODE-1", NOW + 1_000)
            .await
            .unwrap(),
        "expired"
    );
    // Setting the password voids the reset code.
    db.set_license_password(
        lic.id,
        DnaPassword::User,
        Some("hash-2".into()),
        ev("dna.password", "license"),
        NOW,
    )
    .await
    .unwrap();
    assert!(
        !db.password_reset_code_matches(lic.id, DnaPassword::User, "CODE-1", NOW)
            .await
            .unwrap()
    );
    db.set_license_password(
        lic.id,
        DnaPassword::Admin,
        Some("admin-hash".into()),
        ev("dna.password", "license"),
        NOW,
    )
    .await
    .unwrap();
    let stored = db.license_account(lic.id).await.unwrap();
    assert_eq!(stored.password_hash.as_deref(), Some("hash-2"));
    assert_eq!(stored.admin_password_hash.as_deref(), Some("admin-hash"));

    let updated = db
        .update_license_account(
            lic.id,
            Some("a@example.com".into()),
            None,
            ev("dna.update", "license"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(updated.activation_email.as_deref(), Some("a@example.com"));
    let updated = db
        .update_license_account(lic.id, None, Some("seat=7".into()), ev("dna.update", "license"), NOW)
        .await
        .unwrap();
    assert_eq!(updated.activation_email.as_deref(), Some("a@example.com"));
    assert_eq!(updated.license_data.as_deref(), Some("seat=7"));
    assert_eq!(updated.password_hash.as_deref(), Some("hash-2"));
    assert_not_found(
        db.update_license_account(LicenseId::new(999_999), None, None, ev("dna.update", "license"), NOW)
            .await,
    );
}

pub async fn dna_info_tags_and_facts(db: Db) {
    let (_, lic) = product_and_license(
        &db,
        LicenseTerms {
            reactivation_lockout: Some(ReactivationLockout {
                limit: 2,
                window_hours: 1,
            }),
            ..terms(Some(1))
        },
    )
    .await;
    assert_eq!(db.latest_info_tag(lic.id).await.unwrap(), None);
    let first = db
        .add_info_tag(lic.id, "v1", ev("dna.infotag", "license"), NOW)
        .await
        .unwrap();
    let second = db
        .add_info_tag(lic.id, "v2", ev("dna.infotag", "license"), NOW + 1)
        .await
        .unwrap();
    assert_eq!(db.latest_info_tag(lic.id).await.unwrap(), Some(second.clone()));
    assert_eq!(
        db.list_info_tags(lic.id, all()).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        db.list_info_tags(
            lic.id,
            Page {
                after: Some(first.id),
                limit: 10
            }
        )
        .await
        .unwrap(),
        vec![second]
    );
    assert_not_found(db.list_info_tags(LicenseId::new(999_999), all()).await);
    assert_not_found(
        db.add_info_tag(LicenseId::new(999_999), "x", ev("dna.infotag", "license"), NOW)
            .await,
    );

    let facts = db.license_facts(&lic, NOW).await.unwrap();
    assert_eq!(
        (facts.active_devices, facts.recent_activations, facts.ip_locked),
        (0, 0, false)
    );
    activate(&db, &lic, "A", NOW).await.unwrap();
    deactivate(&db, &lic, "A", NOW + 1).await.unwrap();
    activate(&db, &lic, "B", NOW + 2).await.unwrap();
    let facts = db.license_facts(&lic, NOW + 3).await.unwrap();
    assert_eq!((facts.active_devices, facts.recent_activations), (1, 2));
    let facts = db.license_facts(&lic, NOW + clock::HOUR + 1).await.unwrap();
    assert_eq!(facts.recent_activations, 1, "the first activation left the window");

    // Resetting the lockout takes past activations out of the count, keeping them for audit.
    let locked = db.license_facts(&lic, NOW + 3).await.unwrap();
    assert!(lockout::reactivation_locked(&lic, locked.recent_activations));
    deactivate(&db, &lic, "B", NOW + 4).await.unwrap();
    assert_denied(activate(&db, &lic, "C", NOW + 5).await, Denial::ReactivationLockout);
    assert_eq!(
        db.reset_reactivation_lockout(lic.id, ev("dna.reactlockout_reset", "license"), NOW + 6)
            .await
            .unwrap(),
        2
    );
    assert_eq!(db.license_facts(&lic, NOW + 6).await.unwrap().recent_activations, 0);
    assert_eq!(count_where_license(&db, "dna_cleared_activations", lic.id).await, 2);
    assert!(activate(&db, &lic, "C", NOW + 7).await.unwrap().newly_activated);
    assert_not_found(
        db.reset_reactivation_lockout(LicenseId::new(999_999), ev("x", "license"), NOW)
            .await,
    );

    // Deleting the license takes its DNA rows with it.
    db.set_license_password(
        lic.id,
        DnaPassword::User,
        Some("h".into()),
        ev("dna.password", "license"),
        NOW,
    )
    .await
    .unwrap();
    db.password_attempt(lic.id, "192.0.2.9", false, ev("x", "license"), NOW)
        .await
        .unwrap();
    db.delete_license(lic.id, ev("license.delete", "license"), NOW)
        .await
        .unwrap();
    for table in [
        "dna_licenses",
        "dna_ip_attempts",
        "dna_info_tags",
        "dna_cleared_activations",
    ] {
        assert_eq!(count_where_license(&db, table, lic.id).await, 0, "{table}");
    }
}

/// Concurrent wrong passwords are all counted: the attempt that reaches the limit locks the IP.
pub async fn dna_concurrent_failures_are_all_counted(db: Db) {
    let (product, lic) = product_and_license(&db, terms(Some(1))).await;
    let policy = IpLockoutPolicy {
        max_failures: 12,
        window_seconds: 600,
        lockout_seconds: 600,
    };
    db.set_ip_lockout_policy(product.id, policy, ev("dna.policy", "product"), NOW)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let store = db.store.clone();
        let id = lic.id;
        tasks.push(tokio::spawn(async move {
            store
                .password_attempt(id, "192.0.2.50", false, ev("dna.password_failed", "license"), NOW)
                .await
        }));
    }
    let mut locked = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == (PasswordAttempt::Rejected { locked: true }) {
            locked += 1;
        }
    }
    assert_eq!(locked, 1, "exactly the twelfth failure locks");
    assert!(db.ip_locked(lic.id, "192.0.2.50", NOW).await.unwrap());
}
