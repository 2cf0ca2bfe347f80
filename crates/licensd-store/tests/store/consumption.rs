//! License and feature consumption: caps, overages, negatives, idempotency, periods.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;

fn with_consumption(
    max: Option<i64>,
    allow_overages: bool,
    max_overages: Option<i64>,
    allow_negative: bool,
    reset_period: ResetPeriod,
) -> LicenseTerms {
    LicenseTerms {
        license_type: LicenseType::Consumption,
        max_activations: None,
        consumption: Some(ConsumptionTerms {
            max_consumptions: max,
            allow_overages,
            max_overages,
            allow_negative,
            reset_period,
        }),
        ..LicenseTerms::default()
    }
}

async fn consumption_sum(db: &Db, license_id: LicenseId) -> i64 {
    db.raw
        .i64(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM consumption_events WHERE license_id = ?",
            &[Arg::I(license_id.get())],
        )
        .await
}

pub async fn consumption_cap_is_exact(db: Db) {
    let (_, lic) = product_and_license(&db, consumption_terms(Some(10))).await;
    let first = consume(&db, &lic, 4, None, NOW).await.expect("consume 4");
    assert_eq!(first.total, 4);
    assert!(!first.replayed);
    assert_eq!(first.license.consumption_used, 4);
    assert_eq!(
        first.event,
        ConsumptionEvent {
            id: first.event.id,
            license_id: lic.id,
            feature_id: None,
            amount: 4,
            total_after: 4,
            idempotency_key: None,
            at: NOW
        }
    );
    let second = consume(&db, &lic, 6, None, NOW + 1)
        .await
        .expect("consume up to the cap");
    assert_eq!(second.total, 10);
    assert_eq!(second.event.total_after, 10);
    assert!(second.event.id > first.event.id);
    assert_eq!(db.get_license(lic.id).await.unwrap().consumption_used, 10);

    let before = state(&db, lic.id).await;
    assert_denied(
        consume(&db, &lic, 1, None, NOW + 2).await,
        Denial::ConsumptionLimitReached,
    );
    assert_denied(
        consume(&db, &lic, 0, None, NOW + 2).await,
        Denial::ConsumptionAmountInvalid,
    );
    assert_unchanged(&db, &before, "a refused consumption").await;
    assert_eq!(consumption_sum(&db, lic.id).await, 10);
    assert_eq!(count_where_license(&db, "consumption_events", lic.id).await, 2);

    // One request over the cap is refused whole, not partially applied.
    let other = license(&db, lic.product_id, "KEY-2", consumption_terms(Some(10))).await;
    consume(&db, &other, 7, None, NOW).await.unwrap();
    assert_denied(
        consume(&db, &other, 4, None, NOW).await,
        Denial::ConsumptionLimitReached,
    );
    assert_eq!(consume(&db, &other, 3, None, NOW).await.unwrap().total, 10);

    // No cap, or no consumption terms at all on a consumption license: unlimited.
    let unlimited = license(&db, lic.product_id, "KEY-U", consumption_terms(None)).await;
    assert_eq!(
        consume(&db, &unlimited, 1_000_000, None, NOW).await.unwrap().total,
        1_000_000
    );
    let bare = license(
        &db,
        lic.product_id,
        "KEY-B",
        LicenseTerms {
            license_type: LicenseType::Consumption,
            consumption: None,
            ..terms(None)
        },
    )
    .await;
    assert_eq!(consume(&db, &bare, 42, None, NOW).await.unwrap().total, 42);
}

pub async fn consumption_overages(db: Db) {
    let p = product(&db, "app").await;
    let capped = license(
        &db,
        p.id,
        "CAPPED",
        with_consumption(Some(10), true, Some(5), false, ResetPeriod::Never),
    )
    .await;
    assert_eq!(
        consume(&db, &capped, 15, None, NOW)
            .await
            .expect("cap plus overage")
            .total,
        15
    );
    let before = state(&db, capped.id).await;
    assert_denied(
        consume(&db, &capped, 1, None, NOW).await,
        Denial::ConsumptionLimitReached,
    );
    assert_unchanged(&db, &before, "consumption past cap + overage").await;

    let unlimited_overage = license(
        &db,
        p.id,
        "OVER",
        with_consumption(Some(10), true, None, false, ResetPeriod::Never),
    )
    .await;
    assert_eq!(consume(&db, &unlimited_overage, 10, None, NOW).await.unwrap().total, 10);
    assert_eq!(
        consume(&db, &unlimited_overage, 990, None, NOW).await.unwrap().total,
        1_000
    );

    // Overage units without allow_overages do not count.
    let no_overages = license(
        &db,
        p.id,
        "NO-OVER",
        with_consumption(Some(10), false, Some(5), false, ResetPeriod::Never),
    )
    .await;
    assert_denied(
        consume(&db, &no_overages, 11, None, NOW).await,
        Denial::ConsumptionLimitReached,
    );
    assert_eq!(consume(&db, &no_overages, 10, None, NOW).await.unwrap().total, 10);
}

pub async fn negative_consumption(db: Db) {
    let p = product(&db, "app").await;
    let strict = license(
        &db,
        p.id,
        "STRICT",
        with_consumption(Some(10), false, None, false, ResetPeriod::Never),
    )
    .await;
    consume(&db, &strict, 5, None, NOW).await.unwrap();
    let before = state(&db, strict.id).await;
    assert_denied(
        consume(&db, &strict, -1, None, NOW).await,
        Denial::NegativeConsumptionNotAllowed,
    );
    assert_unchanged(&db, &before, "a refused negative consumption").await;

    let lenient = license(
        &db,
        p.id,
        "LENIENT",
        with_consumption(Some(10), false, None, true, ResetPeriod::Never),
    )
    .await;
    assert_eq!(consume(&db, &lenient, 10, None, NOW).await.unwrap().total, 10);
    // Giving back works at the cap.
    let back = consume(&db, &lenient, -3, None, NOW).await.expect("negative allowed");
    assert_eq!(back.total, 7);
    assert_eq!(back.license.consumption_used, 7);
    // The counter never goes below zero.
    assert_eq!(consume(&db, &lenient, -100, None, NOW).await.unwrap().total, 0);
    assert_eq!(db.get_license(lenient.id).await.unwrap().consumption_used, 0);
    assert_eq!(consume(&db, &lenient, 10, None, NOW).await.unwrap().total, 10);
}

pub async fn idempotency_key_replays_without_counting(db: Db) {
    let (_, lic) = product_and_license(&db, consumption_terms(Some(10))).await;
    let first = consume(&db, &lic, 3, Some("req-1"), NOW).await.unwrap();
    assert!(!first.replayed);
    assert_eq!(first.total, 3);
    assert_eq!(first.event.idempotency_key.as_deref(), Some("req-1"));

    let replay = consume(&db, &lic, 3, Some("req-1"), NOW + 1_000).await.expect("replay");
    assert!(replay.replayed);
    assert_eq!(replay.total, 3);
    assert_eq!(replay.event, first.event, "the first result is returned");
    // Even with a different amount, the key decides.
    let replay2 = consume(&db, &lic, 5, Some("req-1"), NOW + 2_000).await.unwrap();
    assert!(replay2.replayed);
    assert_eq!((replay2.total, replay2.event.amount), (3, 3));
    assert_eq!(db.get_license(lic.id).await.unwrap().consumption_used, 3);
    assert_eq!(count_where_license(&db, "consumption_events", lic.id).await, 1);

    // New keys count; no key always counts.
    assert_eq!(consume(&db, &lic, 2, Some("req-2"), NOW).await.unwrap().total, 5);
    assert_eq!(consume(&db, &lic, 1, None, NOW).await.unwrap().total, 6);
    assert_eq!(consume(&db, &lic, 1, None, NOW).await.unwrap().total, 7);

    // A refused request records nothing, so its key can succeed later.
    assert_denied(
        consume(&db, &lic, 5, Some("req-3"), NOW).await,
        Denial::ConsumptionLimitReached,
    );
    let later = consume(&db, &lic, 3, Some("req-3"), NOW).await.unwrap();
    assert!(!later.replayed);
    assert_eq!(later.total, 10);

    // At the cap, a replay still answers with its first result instead of a denial.
    let again = consume(&db, &lic, 3, Some("req-3"), NOW)
        .await
        .expect("replay at the cap");
    assert!(again.replayed);
    assert_eq!(again.total, 10);
    let first_again = consume(&db, &lic, 3, Some("req-1"), NOW)
        .await
        .expect("old replay at the cap");
    assert!(first_again.replayed);
    assert_eq!(first_again.total, 3, "the first result, not the current counter");
    assert_eq!(db.get_license(lic.id).await.unwrap().consumption_used, 10);
    assert_eq!(consumption_sum(&db, lic.id).await, 10);

    // Keys are per license.
    let other = license(&db, lic.product_id, "KEY-2", consumption_terms(Some(10))).await;
    let o = consume(&db, &other, 4, Some("req-1"), NOW).await.unwrap();
    assert!(!o.replayed);
    assert_eq!(o.total, 4);
}

pub async fn consumption_on_non_consumption_license_is_denied(db: Db) {
    let (p, lic) = product_and_license(&db, terms(Some(1))).await;
    let before = state(&db, lic.id).await;
    assert_denied(consume(&db, &lic, 1, None, NOW).await, Denial::NotConsumption);
    assert_denied(consume(&db, &lic, 1, Some("k"), NOW).await, Denial::NotConsumption);
    assert_unchanged(&db, &before, "consumption on a non-consumption license").await;

    // License state is checked first.
    let disabled = create_license(&db, {
        let mut l = new_license(p.id, "DIS", consumption_terms(Some(10)));
        l.settings.status = LicenseStatus::Disabled;
        l
    })
    .await;
    assert_denied(consume(&db, &disabled, 1, None, NOW).await, Denial::LicenseDisabled);
    let expired = create_license(&db, {
        let mut l = new_license(p.id, "EXP", consumption_terms(Some(10)));
        l.settings.expires_at = Some(NOW);
        l
    })
    .await;
    assert_denied(consume(&db, &expired, 1, None, NOW).await, Denial::LicenseExpired);
    assert_denied(
        db.consume(
            LicenseRef::Key("NOPE".into()),
            1,
            None,
            ev("license.consume", "license"),
            NOW,
        )
        .await,
        Denial::LicenseNotFound,
    );
    assert_eq!(db.get_license(disabled.id).await.unwrap().consumption_used, 0);
}

pub async fn consumption_resets_each_period(db: Db) {
    let (_, lic) = product_and_license(&db, with_consumption(Some(5), false, None, false, ResetPeriod::Daily)).await;
    // NOW is 2026-01-01T00:00:00Z.
    assert_eq!(consume(&db, &lic, 5, None, NOW + HOUR).await.unwrap().total, 5);
    assert_denied(
        consume(&db, &lic, 1, None, NOW + 23 * HOUR).await,
        Denial::ConsumptionLimitReached,
    );
    let next_day = consume(&db, &lic, 2, None, NOW + DAY + HOUR)
        .await
        .expect("a new day resets the counter");
    assert_eq!(next_day.total, 2);
    assert_eq!(next_day.license.consumption_used, 2);
    assert_eq!(next_day.license.consumption_period_start, NOW + DAY);
    assert_eq!(
        db.get_license(lic.id).await.unwrap().consumption_period_start,
        NOW + DAY
    );
    assert_eq!(
        consume(&db, &lic, 3, None, NOW + DAY + 2 * HOUR).await.unwrap().total,
        5
    );
    assert_denied(
        consume(&db, &lic, 1, None, NOW + 2 * DAY - 1).await,
        Denial::ConsumptionLimitReached,
    );
}

async fn api_setup(db: &Db) -> (Product, FeatureDefinition, License) {
    let p = product(db, "app").await;
    let api = db
        .create_feature(
            FeatureSpec {
                max_consumptions: Some(5),
                ..new_feature(p.id, "api", FeatureType::Consumption)
            },
            ev("feature.create", "feature"),
            NOW,
        )
        .await
        .unwrap();
    db.create_feature(
        new_feature(p.id, "pro", FeatureType::Activation),
        ev("feature.create", "feature"),
        NOW,
    )
    .await
    .unwrap();
    db.create_feature(
        new_feature(p.id, "ungranted", FeatureType::Consumption),
        ev("feature.create", "feature"),
        NOW,
    )
    .await
    .unwrap();
    let lic = create_license(
        db,
        NewLicense {
            features: vec![
                FeatureGrant {
                    code: "api".into(),
                    overrides: FeatureOverrides {
                        max_consumptions: Some(8),
                        ..FeatureOverrides::default()
                    },
                },
                FeatureGrant {
                    code: "pro".into(),
                    overrides: FeatureOverrides::default(),
                },
            ],
            ..new_license(p.id, "KEY-1", terms(Some(1)))
        },
    )
    .await;
    (p, api, lic)
}

fn consume_feature<'a>(
    db: &'a Db,
    lic: &License,
    code: &'a str,
    amount: i64,
    key: Option<&str>,
    now: Millis,
) -> impl std::future::Future<Output = Result<ConsumptionOutcome>> + 'a {
    db.consume_feature(
        key_of(lic),
        code,
        amount,
        key.map(str::to_owned),
        ev_on("feature.consume", "license", lic.id),
        now,
    )
}

pub async fn feature_consumption_with_override_cap(db: Db) {
    let (p, api, lic) = api_setup(&db).await;
    let out = consume_feature(&db, &lic, "api", 8, None, NOW)
        .await
        .expect("up to the override cap");
    assert_eq!(out.total, 8);
    assert!(!out.replayed);
    assert_eq!(out.event.feature_id, Some(api.id));
    assert_eq!(out.event.license_id, lic.id);
    assert_eq!((out.event.amount, out.event.total_after), (8, 8));
    assert_eq!(out.license.consumption_used, 0, "the license counter is separate");

    let before = state(&db, lic.id).await;
    assert_denied(
        consume_feature(&db, &lic, "api", 1, None, NOW).await,
        Denial::FeatureConsumptionLimitReached,
    );
    assert_unchanged(&db, &before, "a feature consumption past its cap").await;
    let api_row = db
        .license_features(lic.id)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.definition.spec.code == "api")
        .unwrap();
    assert_eq!(api_row.consumption_used, 8);
    assert_eq!(db.get_license(lic.id).await.unwrap().consumption_used, 0);

    // Without an override the definition's cap (5) applies.
    let plain = create_license(
        &db,
        NewLicense {
            features: vec![FeatureGrant {
                code: "api".into(),
                overrides: FeatureOverrides::default(),
            }],
            ..new_license(p.id, "KEY-2", terms(Some(1)))
        },
    )
    .await;
    assert_denied(
        consume_feature(&db, &plain, "api", 6, None, NOW).await,
        Denial::FeatureConsumptionLimitReached,
    );
    assert_eq!(
        consume_feature(&db, &plain, "api", 5, None, NOW).await.unwrap().total,
        5
    );

    // Idempotency applies to features too.
    let fresh = create_license(
        &db,
        NewLicense {
            features: vec![FeatureGrant {
                code: "api".into(),
                overrides: FeatureOverrides::default(),
            }],
            ..new_license(p.id, "KEY-3", terms(Some(1)))
        },
    )
    .await;
    let a = consume_feature(&db, &fresh, "api", 2, Some("f-1"), NOW).await.unwrap();
    let b = consume_feature(&db, &fresh, "api", 2, Some("f-1"), NOW).await.unwrap();
    assert!(!a.replayed);
    assert!(b.replayed);
    assert_eq!((a.total, b.total), (2, 2));
    let fresh_api = db
        .license_features(fresh.id)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.definition.spec.code == "api")
        .unwrap();
    assert_eq!(fresh_api.consumption_used, 2);
}

pub async fn feature_consumption_denials(db: Db) {
    let (p, _api, lic) = api_setup(&db).await;
    let before = state(&db, lic.id).await;
    assert_denied(
        consume_feature(&db, &lic, "nope", 1, None, NOW).await,
        Denial::FeatureNotFound,
    );
    assert_denied(
        consume_feature(&db, &lic, "ungranted", 1, None, NOW).await,
        Denial::FeatureNotFound,
    );
    assert_denied(
        consume_feature(&db, &lic, "pro", 1, None, NOW).await,
        Denial::FeatureNotConsumption,
    );
    assert_denied(
        consume_feature(&db, &lic, "api", 0, None, NOW).await,
        Denial::ConsumptionAmountInvalid,
    );
    assert_denied(
        consume_feature(&db, &lic, "api", -1, None, NOW).await,
        Denial::NegativeConsumptionNotAllowed,
    );
    assert_unchanged(&db, &before, "refused feature consumptions").await;

    let expired = create_license(
        &db,
        NewLicense {
            features: vec![FeatureGrant {
                code: "api".into(),
                overrides: FeatureOverrides {
                    expires_at: Some(NOW),
                    ..FeatureOverrides::default()
                },
            }],
            ..new_license(p.id, "KEY-EXP", terms(Some(1)))
        },
    )
    .await;
    assert_denied(
        consume_feature(&db, &expired, "api", 1, None, NOW).await,
        Denial::FeatureExpired,
    );
    assert_eq!(
        consume_feature(&db, &expired, "api", 1, None, NOW - 1)
            .await
            .unwrap()
            .total,
        1
    );

    let disabled = create_license(&db, {
        let mut l = new_license(p.id, "KEY-DIS", terms(Some(1)));
        l.settings.status = LicenseStatus::Disabled;
        l.features = vec![FeatureGrant {
            code: "api".into(),
            overrides: FeatureOverrides::default(),
        }];
        l
    })
    .await;
    assert_denied(
        consume_feature(&db, &disabled, "api", 1, None, NOW).await,
        Denial::LicenseDisabled,
    );
}

pub async fn feature_consumption_resets_each_period(db: Db) {
    let p = product(&db, "app").await;
    db.create_feature(
        FeatureSpec {
            max_consumptions: Some(2),
            reset_period: ResetPeriod::Daily,
            ..new_feature(p.id, "daily", FeatureType::Consumption)
        },
        ev("feature.create", "feature"),
        NOW,
    )
    .await
    .unwrap();
    let lic = create_license(
        &db,
        NewLicense {
            features: vec![FeatureGrant {
                code: "daily".into(),
                overrides: FeatureOverrides::default(),
            }],
            ..new_license(p.id, "KEY-1", terms(Some(1)))
        },
    )
    .await;
    assert_eq!(
        consume_feature(&db, &lic, "daily", 2, None, NOW + HOUR)
            .await
            .unwrap()
            .total,
        2
    );
    assert_denied(
        consume_feature(&db, &lic, "daily", 1, None, NOW + 2 * HOUR).await,
        Denial::FeatureConsumptionLimitReached,
    );
    let next = consume_feature(&db, &lic, "daily", 1, None, NOW + DAY + HOUR)
        .await
        .expect("a new day");
    assert_eq!(next.total, 1);
    let row = db.license_features(lic.id).await.unwrap().remove(0);
    assert_eq!((row.consumption_used, row.period_start), (1, NOW + DAY));
}
