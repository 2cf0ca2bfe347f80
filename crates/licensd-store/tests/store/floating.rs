//! Floating seats: checkout, renewal, release, expiry, borrowing.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;

async fn release(db: &Db, lic: &License, fingerprint: &str, now: Millis) -> Result<()> {
    db.release_lease(key_of(lic), fingerprint, ev_on("lease.release", "license", lic.id), now)
        .await
}

async fn live(db: &Db, lic: &License, now: Millis) -> Vec<String> {
    let mut fps: Vec<String> = db
        .live_leases(lic.id, now)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.fingerprint)
        .collect();
    fps.sort();
    fps
}

pub async fn floating_seats_are_exact(db: Db) {
    let (_, lic) = product_and_license(&db, floating_terms(2, 600)).await;
    let a = checkout(&db, &lic, "A", None, NOW).await.expect("first seat");
    assert_eq!(
        a,
        FloatingLease {
            id: a.id,
            license_id: lic.id,
            feature_id: None,
            fingerprint: "A".into(),
            expires_at: NOW + 600 * SECOND,
            borrowed_until: None,
            created_at: NOW
        }
    );
    checkout(&db, &lic, "B", None, NOW + SECOND).await.expect("second seat");

    let before = state(&db, lic.id).await;
    assert_denied(
        checkout(&db, &lic, "C", None, NOW + 2 * SECOND).await,
        Denial::FloatingSeatsExhausted,
    );
    assert_unchanged(&db, &before, "a checkout with no seat left").await;

    let leases = db.live_leases(lic.id, NOW + 2 * SECOND).await.unwrap();
    assert_eq!(leases.len(), 2);
    assert!(
        leases
            .iter()
            .any(|l| l.fingerprint == "A" && l.expires_at == NOW + 600 * SECOND)
    );
    assert!(
        leases
            .iter()
            .any(|l| l.fingerprint == "B" && l.expires_at == NOW + 601 * SECOND)
    );

    // Floating licenses validate without an activation.
    let report = db.validate(key_of(&lic), Some("C"), NOW).await.unwrap();
    assert!(report.outcome.is_ok(), "{:?}", report.outcome);
    // Leases are per license.
    let other = license(&db, lic.product_id, "KEY-2", floating_terms(1, 600)).await;
    checkout(&db, &other, "C", None, NOW)
        .await
        .expect("another license has its own seats");
    assert_eq!(live(&db, &lic, NOW + 2 * SECOND).await, ["A", "B"]);
}

pub async fn lease_renewal_release_and_expiry(db: Db) {
    let (_, lic) = product_and_license(&db, floating_terms(2, 600)).await;
    checkout(&db, &lic, "A", None, NOW).await.unwrap();
    checkout(&db, &lic, "B", None, NOW + 60 * SECOND).await.unwrap();

    // Renewal of one's own lease needs no free seat and extends it.
    let renewed = checkout(&db, &lic, "A", None, NOW + 120 * SECOND)
        .await
        .expect("renewal");
    assert_eq!(renewed.expires_at, NOW + 720 * SECOND);
    let leases = db.live_leases(lic.id, NOW + 120 * SECOND).await.unwrap();
    assert_eq!(leases.len(), 2, "a renewal takes no second seat");
    assert_eq!(
        leases.iter().find(|l| l.fingerprint == "A").unwrap().expires_at,
        NOW + 720 * SECOND
    );
    assert_denied(
        checkout(&db, &lic, "C", None, NOW + 130 * SECOND).await,
        Denial::FloatingSeatsExhausted,
    );

    // Release frees the seat.
    release(&db, &lic, "A", NOW + 140 * SECOND).await.expect("release");
    assert_eq!(live(&db, &lic, NOW + 140 * SECOND).await, ["B"]);
    checkout(&db, &lic, "C", None, NOW + 150 * SECOND)
        .await
        .expect("the released seat");
    assert_eq!(live(&db, &lic, NOW + 150 * SECOND).await, ["B", "C"]);

    // Releasing what one does not hold is denied and changes nothing.
    let before = state(&db, lic.id).await;
    let denial = expect_denied(release(&db, &lic, "A", NOW + 160 * SECOND).await);
    expect_denied(release(&db, &lic, "never", NOW + 160 * SECOND).await);
    eprintln!("releasing a lease one does not hold is denied with {denial:?}");
    assert_unchanged(&db, &before, "releasing a lease one does not hold").await;

    // B's lease (taken at +60 s) ends at +660 s exactly.
    assert_denied(
        checkout(&db, &lic, "D", None, NOW + 660 * SECOND - 1).await,
        Denial::FloatingSeatsExhausted,
    );
    assert_eq!(live(&db, &lic, NOW + 660 * SECOND - 1).await, ["B", "C"]);
    assert_eq!(live(&db, &lic, NOW + 660 * SECOND).await, ["C"]);
    checkout(&db, &lic, "D", None, NOW + 660 * SECOND)
        .await
        .expect("an expired lease frees its seat");
    assert_eq!(live(&db, &lic, NOW + 660 * SECOND).await, ["C", "D"]);

    // B comes back after its lease ran out: it needs a free seat like anyone else.
    assert_denied(
        checkout(&db, &lic, "B", None, NOW + 700 * SECOND).await,
        Denial::FloatingSeatsExhausted,
    );
    let later = NOW + 2 * HOUR;
    assert!(live(&db, &lic, later).await.is_empty());
    let b = checkout(&db, &lic, "B", None, later)
        .await
        .expect("B again once everything expired");
    assert_eq!(b.expires_at, later + 600 * SECOND);
    assert_eq!(live(&db, &lic, later).await, ["B"]);
}

pub async fn borrowing(db: Db) {
    let (_, lic) = product_and_license(&db, floating_terms(1, 600)).await;
    let before = state(&db, lic.id).await;
    assert_denied(
        checkout(&db, &lic, "A", Some(NOW + 24 * HOUR + 1), NOW).await,
        Denial::BorrowPeriodInvalid,
    );
    assert_denied(
        checkout(&db, &lic, "A", Some(NOW), NOW).await,
        Denial::BorrowPeriodInvalid,
    );
    assert_denied(
        checkout(&db, &lic, "A", Some(NOW - HOUR), NOW).await,
        Denial::BorrowPeriodInvalid,
    );
    assert_unchanged(&db, &before, "refused borrows").await;

    let a = checkout(&db, &lic, "A", Some(NOW + 2 * HOUR), NOW)
        .await
        .expect("borrow for two hours");
    assert_eq!(a.borrowed_until, Some(NOW + 2 * HOUR));
    assert_eq!(a.expires_at, NOW + 600 * SECOND);

    // The borrowed seat outlives its lease until the borrow ends.
    assert_eq!(live(&db, &lic, NOW + HOUR).await, ["A"]);
    assert_denied(
        checkout(&db, &lic, "B", None, NOW + HOUR).await,
        Denial::FloatingSeatsExhausted,
    );
    assert_denied(
        checkout(&db, &lic, "B", None, NOW + 2 * HOUR - 1).await,
        Denial::FloatingSeatsExhausted,
    );
    assert!(live(&db, &lic, NOW + 2 * HOUR).await.is_empty());
    checkout(&db, &lic, "B", None, NOW + 2 * HOUR)
        .await
        .expect("the borrow ended");

    // The longest borrow is allowed exactly.
    let other = license(&db, lic.product_id, "KEY-2", floating_terms(1, 600)).await;
    assert_eq!(
        checkout(&db, &other, "A", Some(NOW + 24 * HOUR), NOW)
            .await
            .unwrap()
            .borrowed_until,
        Some(NOW + 24 * HOUR)
    );

    // Borrowing where it is not allowed.
    let no_borrow = license(
        &db,
        lic.product_id,
        "KEY-3",
        LicenseTerms {
            floating: Some(FloatingTerms {
                seats: 1,
                lease_seconds: 600,
                borrow_allowed: false,
                max_borrow_hours: 24,
                sessions_per_client: None,
            }),
            ..floating_terms(1, 600)
        },
    )
    .await;
    assert_denied(
        checkout(&db, &no_borrow, "A", Some(NOW + HOUR), NOW).await,
        Denial::BorrowNotAllowed,
    );
    checkout(&db, &no_borrow, "A", None, NOW)
        .await
        .expect("a plain checkout is fine");
}

pub async fn floating_denials(db: Db) {
    let (p, lic) = product_and_license(&db, terms(Some(3))).await;
    let before = state(&db, lic.id).await;
    assert_denied(checkout(&db, &lic, "A", None, NOW).await, Denial::NotFloating);
    assert_unchanged(&db, &before, "a checkout on a non-floating license").await;

    let floating = license(&db, p.id, "FLOAT", floating_terms(2, 600)).await;
    assert_denied(
        checkout(&db, &floating, " ", None, NOW).await,
        Denial::FingerprintRequired,
    );
    db.block_device(
        NewBlockedDevice {
            product_id: Some(p.id),
            fingerprint: "evil".into(),
            reason: None,
        },
        ev("device.block", "blocked_device"),
        NOW,
    )
    .await
    .unwrap();
    assert_denied(checkout(&db, &floating, "evil", None, NOW).await, Denial::DeviceBlocked);
    assert!(db.live_leases(floating.id, NOW).await.unwrap().is_empty());

    let disabled = create_license(&db, {
        let mut l = new_license(p.id, "FLOAT-DIS", floating_terms(2, 600));
        l.settings.status = LicenseStatus::Disabled;
        l
    })
    .await;
    assert_denied(checkout(&db, &disabled, "A", None, NOW).await, Denial::LicenseDisabled);
    let expired = create_license(&db, {
        let mut l = new_license(p.id, "FLOAT-EXP", floating_terms(2, 600));
        l.settings.expires_at = Some(NOW);
        l
    })
    .await;
    assert_denied(checkout(&db, &expired, "A", None, NOW).await, Denial::LicenseExpired);
    assert_denied(
        db.checkout_lease(
            LicenseRef::Key("NOPE".into()),
            "A",
            None,
            ev("lease.checkout", "license"),
            NOW,
        )
        .await,
        Denial::LicenseNotFound,
    );
    assert_denied(
        db.release_lease(LicenseRef::Key("NOPE".into()), "A", ev("lease.release", "license"), NOW)
            .await,
        Denial::LicenseNotFound,
    );
}
