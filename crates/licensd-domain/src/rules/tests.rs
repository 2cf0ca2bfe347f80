use super::*;
use crate::clock::MINUTE;
use crate::ids::{DeviceId, LicenseId, ProductId};

const NOW: Millis = 1_767_225_600_000; // 2026-01-01T00:00:00Z, a Thursday

fn product() -> Product {
    Product {
        trial_allowed: true,
        trial_days: 14,
        ..crate::test_fixtures::product()
    }
}

fn license() -> License {
    License {
        terms: LicenseTerms {
            max_activations: Some(2),
            ..LicenseTerms::default()
        },
        ..crate::test_fixtures::license()
    }
}

fn device(fingerprint: &str, active: bool) -> Device {
    Device {
        id: DeviceId::new(3),
        license_id: LicenseId::new(7),
        fingerprint: fingerprint.into(),
        name: None,
        hostname: None,
        os: None,
        app_version: None,
        ip: None,
        mac: None,
        is_vm: false,
        user_id: None,
        variables: serde_json::Value::Null,
        activated_at: 0,
        last_seen_at: 0,
        deactivated_at: if active { None } else { Some(1) },
    }
}

fn info(fingerprint: &str) -> DeviceInfo {
    DeviceInfo {
        fingerprint: fingerprint.into(),
        ..DeviceInfo::default()
    }
}

fn activation<'a>(product: &'a Product, license: &'a License, device: &'a DeviceInfo) -> ActivationState<'a> {
    ActivationState {
        product,
        license,
        device,
        existing: None,
        blocked: false,
        active_devices: 0,
        user_active_devices: None,
        recent_activations: 0,
    }
}

fn no_device() -> DeviceState<'static> {
    DeviceState {
        fingerprint: None,
        device: None,
        blocked: false,
    }
}

#[test]
fn usable_license_validates() {
    let v = validate(&product(), &license(), no_device(), NOW).unwrap();
    assert_eq!(
        v,
        Validity {
            in_grace_period: false,
            maintenance_active: true
        }
    );
}

#[test]
fn validation_order_product_before_license_before_dates() {
    // Every fault at once: the product's state is reported first.
    let mut p = product();
    let mut l = license();
    p.status = ProductStatus::Disabled;
    l.status = LicenseStatus::Blocked;
    l.starts_at = Some(NOW + DAY);
    l.expires_at = Some(NOW - DAY);
    assert_eq!(validate(&p, &l, no_device(), NOW), Err(Denial::ProductDisabled));
    p.status = ProductStatus::Archived;
    assert_eq!(validate(&p, &l, no_device(), NOW), Err(Denial::ProductArchived));
    p.status = ProductStatus::Active;
    assert_eq!(validate(&p, &l, no_device(), NOW), Err(Denial::LicenseBlocked));
    l.status = LicenseStatus::Disabled;
    assert_eq!(validate(&p, &l, no_device(), NOW), Err(Denial::LicenseDisabled));
    l.status = LicenseStatus::Suspended;
    assert_eq!(validate(&p, &l, no_device(), NOW), Err(Denial::LicenseSuspended));
    l.status = LicenseStatus::Active;
    l.assignment = Assignment::InStock;
    assert_eq!(validate(&p, &l, no_device(), NOW), Err(Denial::LicenseNotAssigned));
    l.assignment = Assignment::Reserved;
    assert_eq!(validate(&p, &l, no_device(), NOW), Err(Denial::LicenseNotStarted));
    l.starts_at = None;
    assert_eq!(validate(&p, &l, no_device(), NOW), Err(Denial::LicenseExpired));
    l.terms.kind = LicenseKind::Trial;
    assert_eq!(validate(&p, &l, no_device(), NOW), Err(Denial::TrialExpired));
}

#[test]
fn expiry_boundary_and_grace_period() {
    let mut l = license();
    l.expires_at = Some(NOW);
    assert!(validate(&product(), &l, no_device(), NOW - 1).is_ok());
    assert_eq!(validate(&product(), &l, no_device(), NOW), Err(Denial::LicenseExpired));
    l.terms.grace_period_hours = 2;
    let v = validate(&product(), &l, no_device(), NOW + HOUR).unwrap();
    assert!(v.in_grace_period);
    assert_eq!(
        validate(&product(), &l, no_device(), NOW + 2 * HOUR),
        Err(Denial::LicenseExpired)
    );
    assert!(!in_grace_period(&l, NOW - 1));
}

#[test]
fn start_date_boundary() {
    let mut l = license();
    l.starts_at = Some(NOW);
    assert_eq!(
        validate(&product(), &l, no_device(), NOW - 1),
        Err(Denial::LicenseNotStarted)
    );
    assert!(validate(&product(), &l, no_device(), NOW).is_ok());
}

#[test]
fn maintenance_does_not_invalidate() {
    let mut l = license();
    l.maintenance_expires_at = Some(NOW - 1);
    let v = validate(&product(), &l, no_device(), NOW).unwrap();
    assert!(!v.maintenance_active);
}

#[test]
fn device_checks_in_validation() {
    let l = license();
    let p = product();
    let active = device("a", true);
    let inactive = device("a", false);
    let with = |fp, dev, blocked| DeviceState {
        fingerprint: fp,
        device: dev,
        blocked,
    };
    assert_eq!(
        validate(&p, &l, with(Some(" "), None, false), NOW),
        Err(Denial::FingerprintRequired)
    );
    assert_eq!(
        validate(&p, &l, with(Some("a"), Some(&active), true), NOW),
        Err(Denial::DeviceBlocked)
    );
    assert_eq!(
        validate(&p, &l, with(Some("a"), None, false), NOW),
        Err(Denial::DeviceNotActivated)
    );
    assert_eq!(
        validate(&p, &l, with(Some("a"), Some(&inactive), false), NOW),
        Err(Denial::DeviceNotActivated)
    );
    assert!(validate(&p, &l, with(Some("a"), Some(&active), false), NOW).is_ok());
    // Floating licenses hold seats through leases, not activations.
    let mut floating = l.clone();
    floating.terms.floating = Some(FloatingTerms {
        seats: 1,
        lease_seconds: 60,
        borrow_allowed: false,
        max_borrow_hours: 0,
        sessions_per_client: None,
    });
    assert!(validate(&p, &floating, with(Some("a"), None, false), NOW).is_ok());
}

#[test]
fn activation_of_new_device_within_limit() {
    let (p, l, d) = (product(), license(), info("a"));
    let mut s = activation(&p, &l, &d);
    s.active_devices = 1;
    assert_eq!(
        plan_activation(&s, NOW),
        Ok(ActivationPlan::Activate {
            is_transfer: false,
            start_trial_expiry: None
        })
    );
}

#[test]
fn activation_limit_is_exact() {
    let (p, l, d) = (product(), license(), info("a"));
    let mut s = activation(&p, &l, &d);
    s.active_devices = 2;
    assert_eq!(plan_activation(&s, NOW), Err(Denial::ActivationLimitReached));
    let mut unlimited = l.clone();
    unlimited.terms.max_activations = None;
    let mut s = activation(&p, &unlimited, &d);
    s.active_devices = 1_000_000;
    assert!(plan_activation(&s, NOW).is_ok());
}

#[test]
fn reactivating_an_active_device_is_free_even_at_the_limit() {
    let (p, l, d) = (product(), license(), info("a"));
    let existing = device("a", true);
    let mut s = activation(&p, &l, &d);
    s.active_devices = 2;
    s.existing = Some(&existing);
    assert_eq!(plan_activation(&s, NOW), Ok(ActivationPlan::AlreadyActive));
}

#[test]
fn activation_refusals_in_order() {
    let (p, mut l, mut d) = (product(), license(), info(""));
    l.terms.vm_allowed = false;
    let s = activation(&p, &l, &d);
    assert_eq!(plan_activation(&s, NOW), Err(Denial::FingerprintRequired));
    d.fingerprint = "a".into();
    d.is_vm = true;
    let mut s = activation(&p, &l, &d);
    s.blocked = true;
    assert_eq!(plan_activation(&s, NOW), Err(Denial::DeviceBlocked));
    s.blocked = false;
    assert_eq!(plan_activation(&s, NOW), Err(Denial::VmNotAllowed));
    l.status = LicenseStatus::Disabled;
    let s = activation(&p, &l, &d);
    assert_eq!(plan_activation(&s, NOW), Err(Denial::LicenseDisabled));
}

#[test]
fn per_user_activation_limit() {
    let (p, mut l, d) = (product(), license(), info("a"));
    l.terms.max_activations_per_user = Some(1);
    let mut s = activation(&p, &l, &d);
    s.user_active_devices = Some(1);
    assert_eq!(plan_activation(&s, NOW), Err(Denial::UserActivationLimitReached));
    s.user_active_devices = Some(0);
    assert!(plan_activation(&s, NOW).is_ok());
}

#[test]
fn transfers_count_new_devices_after_deactivations() {
    let (p, mut l, d) = (product(), license(), info("b"));
    l.terms.max_transfers = Some(1);
    l.deactivation_count = 1;
    let s = activation(&p, &l, &d);
    assert_eq!(
        plan_activation(&s, NOW),
        Ok(ActivationPlan::Activate {
            is_transfer: true,
            start_trial_expiry: None
        })
    );
    l.transfer_count = 1;
    l.deactivation_count = 2;
    let s = activation(&p, &l, &d);
    assert_eq!(plan_activation(&s, NOW), Err(Denial::TransferLimitReached));
    l.terms.max_transfers = Some(0);
    l.transfer_count = 0;
    l.deactivation_count = 1;
    let s = activation(&p, &l, &d);
    assert_eq!(plan_activation(&s, NOW), Err(Denial::TransferLimitReached));
    // The device that left coming back is a reactivation, not a transfer, even with no
    // transfers allowed (issue 12, point 1).
    let returning = device("b", false);
    let mut s = activation(&p, &l, &d);
    s.existing = Some(&returning);
    assert_eq!(
        plan_activation(&s, NOW),
        Ok(ActivationPlan::Activate {
            is_transfer: false,
            start_trial_expiry: None
        })
    );
    // No deactivation yet: not a transfer.
    l.deactivation_count = 0;
    let s = activation(&p, &l, &d);
    assert_eq!(
        plan_activation(&s, NOW),
        Ok(ActivationPlan::Activate {
            is_transfer: false,
            start_trial_expiry: None
        })
    );
}

#[test]
fn reactivation_lockout() {
    let (p, mut l, d) = (product(), license(), info("a"));
    l.terms.reactivation_lockout = Some(ReactivationLockout {
        limit: 3,
        window_hours: 24,
    });
    let mut s = activation(&p, &l, &d);
    s.recent_activations = 3;
    assert_eq!(plan_activation(&s, NOW), Err(Denial::ReactivationLockout));
    s.recent_activations = 2;
    assert!(plan_activation(&s, NOW).is_ok());
}

#[test]
fn evaluation_and_test_codes_start_their_clock_at_first_activation() {
    let (p, mut l, d) = (product(), license(), info("a"));
    let starts = |l: &License| match plan_activation(&activation(&p, l, &d), NOW) {
        Ok(ActivationPlan::Activate { start_trial_expiry, .. }) => start_trial_expiry,
        other => panic!("{other:?}"),
    };
    l.terms.kind = LicenseKind::Evaluation;
    assert_eq!(starts(&l), None, "an evaluation code without ExpiryNoDays has no clock");
    l.trial_days = Some(30);
    assert_eq!(starts(&l), Some(NOW + 30 * DAY));
    l.terms.kind = LicenseKind::Test;
    assert_eq!(starts(&l), Some(NOW + 30 * DAY), "the license's own days win");
    l.trial_days = None;
    assert_eq!(starts(&l), Some(NOW + TEST_CODE_DAYS * DAY));
    l.expires_at = Some(NOW + DAY);
    assert_eq!(starts(&l), None, "a fixed expiry is kept");
    l.expires_at = None;
    // DNA's uploaded codes carry an expiry period whatever their type.
    l.terms.kind = LicenseKind::Normal;
    l.trial_days = Some(30);
    assert_eq!(starts(&l), Some(NOW + 30 * DAY));
    l.trial_days = None;
    assert_eq!(starts(&l), None, "a normal license without days has no clock");
}

#[test]
fn trial_expiry_starts_at_first_activation() {
    let (p, mut l, d) = (product(), license(), info("a"));
    l.terms.kind = LicenseKind::Trial;
    l.trial_days = Some(14);
    let s = activation(&p, &l, &d);
    assert_eq!(
        plan_activation(&s, NOW),
        Ok(ActivationPlan::Activate {
            is_transfer: false,
            start_trial_expiry: Some(NOW + 14 * DAY)
        })
    );
    l.expires_at = Some(NOW + DAY);
    let s = activation(&p, &l, &d);
    assert_eq!(
        plan_activation(&s, NOW),
        Ok(ActivationPlan::Activate {
            is_transfer: false,
            start_trial_expiry: None
        })
    );
}

#[test]
fn deactivation_needs_an_active_device() {
    assert_eq!(check_deactivation(None), Err(Denial::DeviceNotActivated));
    assert_eq!(
        check_deactivation(Some(&device("a", false))),
        Err(Denial::DeviceNotActivated)
    );
    assert_eq!(check_deactivation(Some(&device("a", true))), Ok(()));
}

fn consumption_license(max: Option<i64>) -> License {
    let mut l = license();
    l.terms.license_type = LicenseType::Consumption;
    l.terms.consumption = Some(ConsumptionTerms {
        max_consumptions: max,
        allow_overages: false,
        max_overages: None,
        allow_negative: false,
        reset_period: ResetPeriod::Never,
    });
    l
}

#[test]
fn consumption_respects_cap_exactly() {
    let p = product();
    let mut l = consumption_license(Some(10));
    l.consumption_used = 7;
    assert_eq!(plan_consumption(&p, &l, 3, NOW).map(|c| c.used), Ok(10));
    assert_eq!(plan_consumption(&p, &l, 4, NOW), Err(Denial::ConsumptionLimitReached));
    assert_eq!(plan_consumption(&p, &l, 0, NOW), Err(Denial::ConsumptionAmountInvalid));
    assert_eq!(
        plan_consumption(&p, &l, -1, NOW),
        Err(Denial::NegativeConsumptionNotAllowed)
    );
    assert_eq!(plan_consumption(&p, &license(), 1, NOW), Err(Denial::NotConsumption));
}

#[test]
fn consumption_overages_and_negative() {
    let p = product();
    let mut l = consumption_license(Some(10));
    let terms = l.terms.consumption.as_mut().unwrap();
    terms.allow_overages = true;
    terms.max_overages = Some(5);
    terms.allow_negative = true;
    l.consumption_used = 10;
    assert_eq!(plan_consumption(&p, &l, 5, NOW).map(|c| c.used), Ok(15));
    assert_eq!(plan_consumption(&p, &l, 6, NOW), Err(Denial::ConsumptionLimitReached));
    assert_eq!(plan_consumption(&p, &l, -4, NOW).map(|c| c.used), Ok(6));
    assert_eq!(plan_consumption(&p, &l, -40, NOW).map(|c| c.used), Ok(0));
    // Unlimited overage.
    l.terms.consumption.as_mut().unwrap().max_overages = None;
    assert_eq!(plan_consumption(&p, &l, 1_000, NOW).map(|c| c.used), Ok(1_010));
    // No cap at all.
    let l = consumption_license(None);
    assert_eq!(plan_consumption(&p, &l, i64::MAX, NOW).map(|c| c.used), Ok(i64::MAX));
}

#[test]
fn consumption_resets_at_period_boundaries() {
    let p = product();
    let mut l = consumption_license(Some(10));
    l.terms.consumption.as_mut().unwrap().reset_period = ResetPeriod::Monthly;
    l.consumption_used = 10;
    l.consumption_period_start = period_start(ResetPeriod::Monthly, NOW);
    assert_eq!(
        plan_consumption(&p, &l, 1, NOW + DAY),
        Err(Denial::ConsumptionLimitReached)
    );
    let next_month = NOW + 31 * DAY;
    let after = plan_consumption(&p, &l, 1, next_month).unwrap();
    assert_eq!(after.used, 1);
    assert_eq!(after.period_start, period_start(ResetPeriod::Monthly, next_month));
}

#[test]
fn period_starts() {
    // NOW is Thursday 2026-01-01T00:00Z; take an instant in the middle of 2026-03-18 (a Wednesday).
    let mid = 1_773_835_200_000 + 5 * HOUR + 7 * MINUTE; // 2026-03-18T12:00Z + 5h07
    assert_eq!(
        crate::clock::to_rfc3339(period_start(ResetPeriod::Daily, mid)),
        "2026-03-18T00:00:00.000Z"
    );
    assert_eq!(
        crate::clock::to_rfc3339(period_start(ResetPeriod::Weekly, mid)),
        "2026-03-16T00:00:00.000Z"
    );
    assert_eq!(
        crate::clock::to_rfc3339(period_start(ResetPeriod::Monthly, mid)),
        "2026-03-01T00:00:00.000Z"
    );
    assert_eq!(
        crate::clock::to_rfc3339(period_start(ResetPeriod::Yearly, mid)),
        "2026-01-01T00:00:00.000Z"
    );
    assert_eq!(period_start(ResetPeriod::Never, mid), i64::MIN);
}

fn feature(kind: FeatureType) -> LicenseFeature {
    LicenseFeature {
        definition: FeatureDefinition {
            id: 9,
            spec: FeatureSpec {
                product_id: ProductId::new(1),
                code: "f".into(),
                name: "F".into(),
                feature_type: kind,
                max_consumptions: Some(5),
                allow_overages: false,
                max_overages: None,
                allow_negative: false,
                reset_period: ResetPeriod::Never,
                floating_seats: None,
                floating_lease_seconds: 60,
                metadata: serde_json::Value::Null,
            },
            created_at: 0,
        },
        overrides: FeatureOverrides::default(),
        consumption_used: 0,
        period_start: 0,
    }
}

#[test]
fn feature_consumption_uses_overrides() {
    let (p, l) = (product(), license());
    let mut f = feature(FeatureType::Consumption);
    assert_eq!(
        plan_feature_consumption(&p, &l, &f, 6, NOW),
        Err(Denial::FeatureConsumptionLimitReached)
    );
    f.overrides.max_consumptions = Some(6);
    assert_eq!(plan_feature_consumption(&p, &l, &f, 6, NOW).map(|c| c.used), Ok(6));
    f.overrides.expires_at = Some(NOW);
    assert_eq!(
        plan_feature_consumption(&p, &l, &f, 1, NOW),
        Err(Denial::FeatureExpired)
    );
    let activation_feature = feature(FeatureType::Activation);
    assert_eq!(
        plan_feature_consumption(&p, &l, &activation_feature, 1, NOW),
        Err(Denial::FeatureNotConsumption)
    );
}

fn floating_license(borrow: bool) -> License {
    let mut l = license();
    l.terms.floating = Some(FloatingTerms {
        seats: 2,
        lease_seconds: 30,
        borrow_allowed: borrow,
        max_borrow_hours: 24,
        sessions_per_client: None,
    });
    l
}

fn lease(expires_at: Millis, borrowed_until: Option<Millis>) -> FloatingLease {
    FloatingLease {
        id: 1,
        license_id: LicenseId::new(7),
        feature_id: None,
        fingerprint: "a".into(),
        expires_at,
        borrowed_until,
        created_at: 0,
    }
}

fn lease_state<'a>(p: &'a Product, l: &'a License) -> LeaseState<'a> {
    LeaseState {
        product: p,
        license: l,
        fingerprint: "a",
        blocked: false,
        other_live_leases: 0,
        own_lease: None,
        borrow_until: None,
    }
}

#[test]
fn floating_seats_are_exact_and_renewals_free() {
    let p = product();
    let l = floating_license(false);
    let mut s = lease_state(&p, &l);
    s.other_live_leases = 1;
    assert_eq!(
        plan_lease(&s, NOW),
        Ok(LeasePlan {
            expires_at: NOW + 30 * SECOND,
            borrowed_until: None,
            new_seat: true
        })
    );
    s.other_live_leases = 2;
    assert_eq!(plan_lease(&s, NOW), Err(Denial::FloatingSeatsExhausted));
    let own = lease(NOW + 1, None);
    s.own_lease = Some(&own);
    assert_eq!(plan_lease(&s, NOW).map(|plan| plan.new_seat), Ok(false));
    // An expired own lease does not hold a seat.
    let stale = lease(NOW, None);
    s.own_lease = Some(&stale);
    assert_eq!(plan_lease(&s, NOW), Err(Denial::FloatingSeatsExhausted));
    assert_eq!(plan_lease(&lease_state(&p, &license()), NOW), Err(Denial::NotFloating));
}

#[test]
fn borrowing_rules() {
    let p = product();
    let l = floating_license(false);
    let mut s = lease_state(&p, &l);
    s.borrow_until = Some(NOW + HOUR);
    assert_eq!(plan_lease(&s, NOW), Err(Denial::BorrowNotAllowed));
    let l = floating_license(true);
    let mut s = lease_state(&p, &l);
    s.borrow_until = Some(NOW + HOUR);
    assert_eq!(
        plan_lease(&s, NOW).map(|plan| plan.borrowed_until),
        Ok(Some(NOW + HOUR))
    );
    s.borrow_until = Some(NOW + 25 * HOUR);
    assert_eq!(plan_lease(&s, NOW), Err(Denial::BorrowPeriodInvalid));
    s.borrow_until = Some(NOW);
    assert_eq!(plan_lease(&s, NOW), Err(Denial::BorrowPeriodInvalid));
}

#[test]
fn lease_liveness_and_release() {
    assert!(lease_is_live(&lease(NOW + 1, None), NOW));
    assert!(!lease_is_live(&lease(NOW, None), NOW));
    assert!(lease_is_live(&lease(NOW - 1, Some(NOW + 1)), NOW));
    assert_eq!(
        check_release(None, NOW, Denial::FeatureNotInUse),
        Err(Denial::FeatureNotInUse)
    );
    assert_eq!(
        check_release(Some(&lease(NOW - 1, None)), NOW, Denial::DeviceNotActivated),
        Err(Denial::DeviceNotActivated)
    );
    assert_eq!(
        check_release(Some(&lease(NOW + 1, None)), NOW, Denial::DeviceNotActivated),
        Ok(())
    );
}

#[test]
fn feature_leases() {
    let (p, l) = (product(), license());
    let mut f = feature(FeatureType::Activation);
    assert_eq!(
        plan_feature_lease(&p, &l, &f, 0, None, NOW),
        Err(Denial::FeatureNotFloating)
    );
    f.definition.spec.floating_seats = Some(1);
    assert!(plan_feature_lease(&p, &l, &f, 0, None, NOW).is_ok());
    assert_eq!(
        plan_feature_lease(&p, &l, &f, 1, None, NOW),
        Err(Denial::FeatureSeatsExhausted)
    );
    f.overrides.floating_seats = Some(2);
    assert!(plan_feature_lease(&p, &l, &f, 1, None, NOW).is_ok());
}

#[test]
fn policy_stamping() {
    let policy = Policy {
        id: 1,
        product_id: ProductId::new(1),
        code: "std".into(),
        name: "Standard".into(),
        terms: LicenseTerms::default(),
        duration_days: Some(30),
        maintenance_days: Some(365),
        features: vec![],
        metadata: serde_json::Value::Null,
        created_at: 0,
        updated_at: 0,
    };
    let (terms, expires, maintenance) = stamp_from_policy(&policy, NOW);
    assert_eq!(terms, LicenseTerms::default());
    assert_eq!(expires, Some(NOW + 30 * DAY));
    assert_eq!(maintenance, Some(NOW + 365 * DAY));
    let mut trial = policy.clone();
    trial.terms.kind = LicenseKind::Trial;
    assert_eq!(stamp_from_policy(&trial, NOW).1, None);
}

#[test]
fn text_enums_round_trip() {
    for status in LicenseStatus::ALL {
        assert_eq!(LicenseStatus::parse(status.as_str()), Some(*status));
    }
    for kind in LicenseType::ALL {
        assert_eq!(LicenseType::parse(kind.as_str()), Some(*kind));
    }
    assert_eq!(Dialect::parse("licensespring"), Some(Dialect::LicenseSpring));
    assert_eq!(Dialect::parse("nope"), None);
    assert_eq!(serde_json::to_string(&Assignment::InStock).unwrap(), "\"in_stock\"");
}

#[test]
fn user_assignment_limit() {
    let mut l = license();
    assert_eq!(check_user_assignment(&l, 1_000), Ok(()));
    l.terms.max_users = Some(2);
    assert_eq!(check_user_assignment(&l, 1), Ok(()));
    assert_eq!(check_user_assignment(&l, 2), Err(Denial::LicenseUserLimitReached));
}

#[test]
fn is_expired_counts_the_grace_period_as_not_expired() {
    let mut l = license();
    assert!(!is_expired(&l, NOW), "no expiry never expires");
    l.expires_at = Some(NOW);
    assert!(!is_expired(&l, NOW - 1));
    assert!(is_expired(&l, NOW), "expired at the instant itself");
    l.terms.grace_period_hours = 2;
    assert!(!is_expired(&l, NOW), "inside the grace period");
    assert!(!is_expired(&l, NOW + 2 * HOUR - 1));
    assert!(in_grace_period(&l, NOW + HOUR));
    assert!(is_expired(&l, NOW + 2 * HOUR));
    // A negative grace counts as none; a huge one saturates instead of overflowing.
    l.terms.grace_period_hours = -5;
    assert!(is_expired(&l, NOW));
    l.terms.grace_period_hours = i64::MAX;
    assert!(!is_expired(&l, Millis::MAX - 1));
}

#[test]
fn is_expired_agrees_with_validation() {
    let mut l = license();
    l.expires_at = Some(NOW);
    l.terms.grace_period_hours = 1;
    for at in [NOW - 1, NOW, NOW + HOUR - 1, NOW + HOUR, NOW + DAY] {
        let refused = validate(&product(), &l, no_device(), at) == Err(Denial::LicenseExpired);
        assert_eq!(is_expired(&l, at), refused, "at {at}");
    }
}

#[test]
fn feature_active_until_its_own_expiry() {
    let mut f = feature(FeatureType::Activation);
    assert!(feature_active(&f, NOW));
    f.overrides.expires_at = Some(NOW);
    assert!(feature_active(&f, NOW - 1));
    assert!(!feature_active(&f, NOW), "inactive at the instant itself");
    // Consumption and floating refuse exactly where the feature stops being active.
    let mut c = feature(FeatureType::Consumption);
    c.overrides.expires_at = Some(NOW);
    assert!(plan_feature_consumption(&product(), &license(), &c, 1, NOW - 1).is_ok());
    assert_eq!(
        plan_feature_consumption(&product(), &license(), &c, 1, NOW),
        Err(Denial::FeatureExpired)
    );
}
