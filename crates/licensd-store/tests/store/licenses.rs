//! Licenses: bulk issue, lookup, lists, edits, feature grants, deletion.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;
use serde_json::json;

pub async fn bulk_create_licenses(db: Db) {
    let p = product(&db, "app").await;
    let batch: Vec<NewLicense> = (0..50)
        .map(|i| new_license(p.id, &format!("BULK-{i:04}"), terms(Some(2))))
        .collect();
    let created = db
        .create_licenses(batch, ev("license.create", "license"), NOW)
        .await
        .expect("bulk create");
    assert_eq!(created.len(), 50);
    for (i, lic) in created.iter().enumerate() {
        assert_eq!(
            lic,
            &License {
                id: lic.id,
                product_id: p.id,
                policy_id: None,
                customer_id: None,
                key: Some(format!("BULK-{i:04}")),
                status: LicenseStatus::Active,
                assignment: Assignment::Assigned,
                terms: terms(Some(2)),
                starts_at: None,
                expires_at: None,
                maintenance_expires_at: None,
                trial_days: None,
                transfer_count: 0,
                deactivation_count: 0,
                consumption_used: 0,
                consumption_period_start: lic.consumption_period_start,
                order_ref: None,
                metadata: json!({}),
                created_at: NOW,
                updated_at: NOW,
            }
        );
    }
    let mut ids: Vec<LicenseId> = created.iter().map(|l| l.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 50, "distinct ids");

    let listed = db.list_licenses(LicenseFilter::default(), all()).await.unwrap();
    assert_eq!(listed.len(), 50);
    let mut keys: Vec<String> = listed.iter().map(|l| l.key.clone().unwrap()).collect();
    keys.sort();
    assert_eq!(keys, (0..50).map(|i| format!("BULK-{i:04}")).collect::<Vec<_>>());
    for lic in &created {
        assert_eq!(&db.get_license(lic.id).await.unwrap(), lic);
    }

    // Keyless (user-based) licenses may share the absence of a key.
    let keyless = db
        .create_licenses(
            vec![
                NewLicense {
                    key: None,
                    ..new_license(p.id, "", terms(Some(1)))
                },
                NewLicense {
                    key: None,
                    ..new_license(p.id, "", terms(Some(1)))
                },
            ],
            ev("license.create", "license"),
            NOW,
        )
        .await
        .expect("two keyless licenses");
    assert_eq!(keyless.len(), 2);
    assert!(keyless.iter().all(|l| l.key.is_none()));
    assert_eq!(db.get_license(keyless[1].id).await.unwrap().key, None);

    // Every enum value round-trips.
    for status in LicenseStatus::ALL {
        for assignment in Assignment::ALL {
            let lic = create_license(&db, {
                let mut l = new_license(p.id, &format!("E-{status}-{assignment}"), terms(None));
                l.settings.status = *status;
                l.settings.assignment = *assignment;
                l
            })
            .await;
            let got = db.get_license(lic.id).await.unwrap();
            assert_eq!((got.status, got.assignment), (*status, *assignment));
        }
    }
}

pub async fn bulk_create_is_all_or_nothing(db: Db) {
    let p = product(&db, "app").await;
    db.create_feature(
        new_feature(p.id, "pro", FeatureType::Activation),
        ev("feature.create", "feature"),
        NOW,
    )
    .await
    .unwrap();
    let events_before = event_count(&db).await;

    // A duplicate key inside the batch.
    let mut batch: Vec<NewLicense> = (0..10)
        .map(|i| new_license(p.id, &format!("K-{i}"), terms(Some(1))))
        .collect();
    batch[7].key = Some("K-2".into());
    assert_conflict(db.create_licenses(batch, ev("license.create", "license"), NOW).await);
    assert!(
        db.list_licenses(LicenseFilter::default(), all())
            .await
            .unwrap()
            .is_empty(),
        "nothing inserted"
    );
    assert_eq!(db.find_license_by_key("K-0").await.unwrap(), None);
    assert_eq!(event_count(&db).await, events_before, "no event for a refused batch");

    // A duplicate of an existing key.
    let existing = license(&db, p.id, "EXISTING", terms(Some(1))).await;
    let batch = vec![
        new_license(p.id, "NEW-1", terms(Some(1))),
        new_license(p.id, "EXISTING", terms(Some(1))),
        new_license(p.id, "NEW-2", terms(Some(1))),
    ];
    assert_conflict(db.create_licenses(batch, ev("license.create", "license"), NOW).await);
    let listed = db.list_licenses(LicenseFilter::default(), all()).await.unwrap();
    assert_eq!(listed, vec![existing.clone()]);
    assert_eq!(db.find_license_by_key("NEW-1").await.unwrap(), None);

    // An unknown feature code in one license of the batch.
    let good = NewLicense {
        features: vec![FeatureGrant {
            code: "pro".into(),
            overrides: FeatureOverrides::default(),
        }],
        ..new_license(p.id, "F-1", terms(Some(1)))
    };
    let bad = NewLicense {
        features: vec![FeatureGrant {
            code: "nope".into(),
            overrides: FeatureOverrides::default(),
        }],
        ..new_license(p.id, "F-2", terms(Some(1)))
    };
    assert_conflict(
        db.create_licenses(vec![good.clone(), bad], ev("license.create", "license"), NOW)
            .await,
    );
    assert_eq!(
        db.list_licenses(LicenseFilter::default(), all()).await.unwrap(),
        vec![existing.clone()]
    );
    assert_eq!(db.raw.i64("SELECT COUNT(*) FROM license_features", &[]).await, 0);

    // The same batch without the bad license goes through.
    let ok = db
        .create_licenses(vec![good], ev("license.create", "license"), NOW)
        .await
        .expect("valid batch");
    assert_eq!(db.license_features(ok[0].id).await.unwrap().len(), 1);
}

pub async fn license_keys_are_found_and_stored_sealed(db: Db) {
    let p = product(&db, "app").await;
    let lic = license(&db, p.id, "ABCDE-FGHJK-LMNPQ-RSTUV", terms(Some(1))).await;
    assert_eq!(lic.key.as_deref(), Some("ABCDE-FGHJK-LMNPQ-RSTUV"));
    let found = db
        .find_license_by_key("ABCDE-FGHJK-LMNPQ-RSTUV")
        .await
        .unwrap()
        .expect("found by key");
    assert_eq!(found, lic);
    assert_eq!(
        found.key.as_deref(),
        Some("ABCDE-FGHJK-LMNPQ-RSTUV"),
        "the plain key comes back"
    );
    assert_eq!(db.get_license(lic.id).await.unwrap(), lic);
    assert_eq!(db.find_license_by_key("ABCDE-FGHJK-LMNPQ-RSTUW").await.unwrap(), None);
    assert_eq!(db.find_license_by_key("").await.unwrap(), None);
    assert_not_found(db.get_license(LicenseId::new(999_999)).await);

    // At rest the key is neither stored in the clear nor as a plain hash of itself in text form.
    let plain = b"ABCDE-FGHJK-LMNPQ-RSTUV";
    let sealed = db
        .raw
        .bytes("SELECT key_sealed FROM licenses WHERE id = ?", &[Arg::I(lic.id.get())])
        .await;
    let digest = db
        .raw
        .bytes("SELECT key_digest FROM licenses WHERE id = ?", &[Arg::I(lic.id.get())])
        .await;
    assert!(
        !sealed.windows(plain.len()).any(|w| w == plain),
        "key_sealed holds the plain key"
    );
    assert!(
        !digest.windows(plain.len()).any(|w| w == plain),
        "key_digest holds the plain key"
    );
    assert_ne!(sealed, digest);
}

pub async fn list_licenses_filters_and_pages(db: Db) {
    let p1 = product(&db, "p1").await;
    let p2 = product(&db, "p2").await;
    let c1 = db
        .create_customer(
            NewCustomer {
                email: Some("c1@x.org".into()),
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
    let c2 = db
        .create_customer(
            NewCustomer {
                email: Some("c2@x.org".into()),
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
    let pol = db
        .create_policy(
            NewPolicy {
                product_id: p1.id,
                code: "std".into(),
                name: "Std".into(),
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
    let mk = |product: i64,
              key: &str,
              customer: Option<i64>,
              status: LicenseStatus,
              order: Option<&str>,
              policy: Option<i64>| {
        let mut l = new_license(ProductId::new(product), key, terms(Some(1)));
        l.settings.customer_id = customer.map(CustomerId::new);
        l.settings.status = status;
        l.settings.order_ref = order.map(str::to_owned);
        l.settings.policy_id = policy;
        l
    };
    let created = db
        .create_licenses(
            vec![
                mk(
                    p1.id.get(),
                    "A",
                    Some(c1.id.get()),
                    LicenseStatus::Active,
                    Some("PO-1"),
                    Some(pol.id),
                ),
                mk(
                    p1.id.get(),
                    "B",
                    Some(c1.id.get()),
                    LicenseStatus::Disabled,
                    Some("PO-1"),
                    None,
                ),
                mk(p1.id.get(), "C", Some(c2.id.get()), LicenseStatus::Active, None, None),
                mk(p1.id.get(), "D", None, LicenseStatus::Active, Some("PO-2"), None),
                mk(p2.id.get(), "E", Some(c1.id.get()), LicenseStatus::Active, None, None),
                mk(
                    p2.id.get(),
                    "F",
                    Some(c2.id.get()),
                    LicenseStatus::Suspended,
                    None,
                    None,
                ),
            ],
            ev("license.create", "license"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(created[0].policy_id, Some(pol.id));
    assert_eq!(created[0].customer_id, Some(c1.id));
    assert_eq!(created[0].order_ref.as_deref(), Some("PO-1"));

    let keys = |v: Vec<License>| v.iter().map(|l| l.key.clone().unwrap()).collect::<Vec<_>>();
    let list = |filter: LicenseFilter| db.list_licenses(filter, all());
    assert_eq!(
        keys(list(LicenseFilter::default()).await.unwrap()),
        ["A", "B", "C", "D", "E", "F"]
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                product_id: Some(p1.id),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["A", "B", "C", "D"]
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                product_id: Some(p2.id),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["E", "F"]
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                status: Some(LicenseStatus::Disabled),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["B"]
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                status: Some(LicenseStatus::Active),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["A", "C", "D", "E"]
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                status: Some(LicenseStatus::Blocked),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                customer_id: Some(c1.id),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["A", "B", "E"]
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                customer_id: Some(c2.id),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["C", "F"]
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                product_id: Some(p1.id),
                customer_id: Some(c1.id),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["A", "B"]
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                product_id: Some(p1.id),
                status: Some(LicenseStatus::Active),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["A", "C", "D"]
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                policy_id: Some(pol.id),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["A"]
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                order_ref: Some("PO-1".into()),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        ["A", "B"]
    );
    assert_eq!(
        keys(
            list(LicenseFilter {
                order_ref: Some("PO-9".into()),
                ..Default::default()
            })
            .await
            .unwrap()
        ),
        Vec::<String>::new()
    );

    // Cursor pages within a filter.
    let filter = LicenseFilter {
        product_id: Some(p1.id),
        ..Default::default()
    };
    let first = db.list_licenses(filter.clone(), page(3)).await.unwrap();
    assert_eq!(keys(first.clone()), ["A", "B", "C"]);
    let second = db
        .list_licenses(
            filter.clone(),
            Page {
                after: Some(first[2].id.get()),
                limit: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(keys(second.clone()), ["D"]);
    assert!(
        db.list_licenses(
            filter,
            Page {
                after: Some(second[0].id.get()),
                limit: 3
            }
        )
        .await
        .unwrap()
        .is_empty()
    );
    let unfiltered = db
        .list_licenses(
            LicenseFilter::default(),
            Page {
                after: Some(created[1].id.get()),
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(keys(unfiltered), ["C", "D"]);
}

pub async fn edit_license_never_touches_counters(db: Db) {
    let p = product(&db, "app").await;
    let c = db
        .create_customer(
            NewCustomer {
                email: None,
                name: Some("Buyer".into()),
                company: None,
                reference: None,
                metadata: json!({}),
            },
            ev("customer.create", "customer"),
            NOW,
        )
        .await
        .unwrap();
    let lic = license(
        &db,
        p.id,
        "KEY-1",
        LicenseTerms {
            max_activations: Some(2),
            ..consumption_terms(Some(100))
        },
    )
    .await;

    activate(&db, &lic, "A", NOW).await.unwrap();
    activate(&db, &lic, "B", NOW + 1).await.unwrap();
    deactivate(&db, &lic, "A", NOW + 2).await.unwrap();
    activate(&db, &lic, "C", NOW + 3).await.unwrap();
    consume(&db, &lic, 7, None, NOW + 4).await.unwrap();

    let before = db.get_license(lic.id).await.unwrap();
    assert_eq!(
        (
            before.deactivation_count,
            before.transfer_count,
            before.consumption_used
        ),
        (1, 1, 7)
    );
    let devices_before = db.list_devices(lic.id).await.unwrap();

    let new_terms = LicenseTerms {
        max_activations: Some(10),
        vm_allowed: false,
        ..consumption_terms(Some(500))
    };
    let edit = {
        let mut l = LicenseEdit::from_license(&before);
        l.settings.customer_id = Some(c.id);
        l.settings.status = LicenseStatus::Suspended;
        l.settings.assignment = Assignment::Reserved;
        l.settings.terms = new_terms.clone();
        l.settings.starts_at = Some(NOW - DAY);
        l.settings.expires_at = Some(NOW + 30 * DAY);
        l.settings.maintenance_expires_at = Some(NOW + 60 * DAY);
        l.settings.trial_days = Some(7);
        l.settings.order_ref = Some("PO-77".into());
        l.settings.metadata = json!({"edited": true});
        l
    };
    let after = db
        .edit_license(lic.id, edit, ev_on("license.update", "license", lic.id), NOW + 5_000)
        .await
        .expect("edit");
    let expected = License {
        customer_id: Some(c.id),
        status: LicenseStatus::Suspended,
        assignment: Assignment::Reserved,
        terms: new_terms,
        starts_at: Some(NOW - DAY),
        expires_at: Some(NOW + 30 * DAY),
        maintenance_expires_at: Some(NOW + 60 * DAY),
        trial_days: Some(7),
        order_ref: Some("PO-77".into()),
        metadata: json!({"edited": true}),
        updated_at: NOW + 5_000,
        ..before.clone()
    };
    assert_eq!(after, expected);
    assert_eq!(db.get_license(lic.id).await.unwrap(), expected);
    assert_eq!(
        db.list_devices(lic.id).await.unwrap(),
        devices_before,
        "devices untouched by an edit"
    );

    // Clearing optional fields works too, and the counters still stand.
    let cleared = db
        .edit_license(
            lic.id,
            {
                let mut l = LicenseEdit::from_license(&after);
                l.settings.customer_id = None;
                l.settings.starts_at = None;
                l.settings.expires_at = None;
                l.settings.maintenance_expires_at = None;
                l.settings.trial_days = None;
                l.settings.order_ref = None;
                l.settings.status = LicenseStatus::Active;
                l
            },
            ev_on("license.update", "license", lic.id),
            NOW + 6_000,
        )
        .await
        .unwrap();
    assert_eq!(
        (cleared.customer_id, cleared.expires_at, cleared.order_ref.clone()),
        (None, None, None)
    );
    assert_eq!(
        (
            cleared.deactivation_count,
            cleared.transfer_count,
            cleared.consumption_used,
            cleared.consumption_period_start
        ),
        (1, 1, 7, before.consumption_period_start)
    );
    assert_eq!(cleared.key, lic.key);
    assert_eq!(cleared.created_at, NOW);

    // The counters keep counting from where they were.
    assert_eq!(consume(&db, &lic, 3, None, NOW + 7_000).await.unwrap().total, 10);
    assert_not_found(
        db.edit_license(
            LicenseId::new(999_999),
            LicenseEdit::from_license(&cleared),
            ev("license.update", "license"),
            NOW,
        )
        .await,
    );
}

async fn features_for(db: &Db) -> (Product, FeatureDefinition, FeatureDefinition, FeatureDefinition) {
    let p = product(db, "app").await;
    let api = db
        .create_feature(
            FeatureSpec {
                max_consumptions: Some(100),
                ..new_feature(p.id, "api", FeatureType::Consumption)
            },
            ev("feature.create", "feature"),
            NOW,
        )
        .await
        .unwrap();
    let pro = db
        .create_feature(
            new_feature(p.id, "pro", FeatureType::Activation),
            ev("feature.create", "feature"),
            NOW,
        )
        .await
        .unwrap();
    let seats = db
        .create_feature(
            FeatureSpec {
                floating_seats: Some(5),
                ..new_feature(p.id, "seats", FeatureType::Activation)
            },
            ev("feature.create", "feature"),
            NOW,
        )
        .await
        .unwrap();
    (p, api, pro, seats)
}

fn by_code(mut v: Vec<LicenseFeature>) -> Vec<LicenseFeature> {
    v.sort_by(|a, b| a.definition.spec.code.cmp(&b.definition.spec.code));
    v
}

pub async fn license_features_carry_overrides(db: Db) {
    let (p, api, pro, _seats) = features_for(&db).await;
    let api_overrides = FeatureOverrides {
        max_consumptions: Some(10),
        allow_overages: Some(true),
        max_overages: Some(2),
        allow_negative: Some(true),
        floating_seats: None,
        expires_at: Some(NOW + 7 * DAY),
    };
    let lic = create_license(
        &db,
        NewLicense {
            features: vec![
                FeatureGrant {
                    code: "api".into(),
                    overrides: api_overrides.clone(),
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
    let features = by_code(db.license_features(lic.id).await.unwrap());
    assert_eq!(
        features,
        vec![
            LicenseFeature {
                definition: api.clone(),
                overrides: api_overrides.clone(),
                consumption_used: 0,
                period_start: features[0].period_start
            },
            LicenseFeature {
                definition: pro.clone(),
                overrides: FeatureOverrides::default(),
                consumption_used: 0,
                period_start: features[1].period_start
            },
        ]
    );
    assert_eq!(features[0].max_consumptions(), Some(10));

    // A license without grants has no features.
    let bare = license(&db, p.id, "KEY-2", terms(Some(1))).await;
    assert!(db.license_features(bare.id).await.unwrap().is_empty());

    // Unknown codes, and codes of another product's features, conflict.
    let p2 = product(&db, "other").await;
    db.create_feature(
        new_feature(p2.id, "foreign", FeatureType::Activation),
        ev("feature.create", "feature"),
        NOW,
    )
    .await
    .unwrap();
    for code in ["nope", "foreign"] {
        let bad = NewLicense {
            features: vec![FeatureGrant {
                code: code.into(),
                overrides: FeatureOverrides::default(),
            }],
            ..new_license(p.id, &format!("BAD-{code}"), terms(Some(1)))
        };
        assert_conflict(
            db.create_licenses(vec![bad], ev("license.create", "license"), NOW)
                .await,
        );
        assert_eq!(db.find_license_by_key(&format!("BAD-{code}")).await.unwrap(), None);
    }

    // Validation reports the license's features.
    let report = db.validate(key_of(&lic), None, NOW).await.unwrap();
    assert_eq!(by_code(report.features), features);
}

pub async fn edit_license_replaces_feature_grants_keeping_counters(db: Db) {
    let (p, api, _pro, seats) = features_for(&db).await;
    let lic = create_license(
        &db,
        NewLicense {
            features: vec![
                FeatureGrant {
                    code: "api".into(),
                    overrides: FeatureOverrides::default(),
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
    let out = db
        .consume_feature(
            key_of(&lic),
            "api",
            3,
            None,
            ev_on("feature.consume", "license", lic.id),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(out.total, 3);

    // `features: None` leaves grants alone.
    db.edit_license(
        lic.id,
        {
            let mut l = LicenseEdit::from_license(&lic);
            l.settings.order_ref = Some("x".into());
            l
        },
        ev_on("license.update", "license", lic.id),
        NOW + 1,
    )
    .await
    .unwrap();
    let unchanged = by_code(db.license_features(lic.id).await.unwrap());
    assert_eq!(
        unchanged
            .iter()
            .map(|f| f.definition.spec.code.as_str())
            .collect::<Vec<_>>(),
        ["api", "pro"]
    );
    assert_eq!(unchanged[0].consumption_used, 3);

    // `Some` replaces them: api stays (counter kept, new overrides), pro goes, seats comes.
    let new_api = FeatureOverrides {
        max_consumptions: Some(50),
        ..FeatureOverrides::default()
    };
    let edit = LicenseEdit {
        features: Some(vec![
            FeatureGrant {
                code: "api".into(),
                overrides: new_api.clone(),
            },
            FeatureGrant {
                code: "seats".into(),
                overrides: FeatureOverrides {
                    floating_seats: Some(2),
                    ..FeatureOverrides::default()
                },
            },
        ]),
        ..LicenseEdit::from_license(&lic)
    };
    db.edit_license(lic.id, edit, ev_on("license.update", "license", lic.id), NOW + 2)
        .await
        .expect("replace grants");
    let replaced = by_code(db.license_features(lic.id).await.unwrap());
    assert_eq!(replaced.len(), 2);
    assert_eq!(replaced[0].definition, api);
    assert_eq!(replaced[0].overrides, new_api);
    assert_eq!(
        replaced[0].consumption_used, 3,
        "the counter of a feature that stays is kept"
    );
    assert_eq!(replaced[1].definition, seats);
    assert_eq!(replaced[1].overrides.floating_seats, Some(2));
    assert_eq!(replaced[1].consumption_used, 0);

    // An unknown code in a replacement conflicts and changes nothing.
    let before = by_code(db.license_features(lic.id).await.unwrap());
    let bad = {
        let mut l = LicenseEdit::from_license(&lic);
        l.features = Some(vec![FeatureGrant {
            code: "nope".into(),
            overrides: FeatureOverrides::default(),
        }]);
        l.settings.status = LicenseStatus::Disabled;
        l
    };
    assert_conflict(
        db.edit_license(lic.id, bad, ev_on("license.update", "license", lic.id), NOW + 3)
            .await,
    );
    assert_eq!(by_code(db.license_features(lic.id).await.unwrap()), before);
    assert_eq!(
        db.get_license(lic.id).await.unwrap().status,
        LicenseStatus::Active,
        "a refused edit writes nothing"
    );

    // An empty replacement removes every grant.
    db.edit_license(
        lic.id,
        LicenseEdit {
            features: Some(vec![]),
            ..LicenseEdit::from_license(&lic)
        },
        ev_on("license.update", "license", lic.id),
        NOW + 4,
    )
    .await
    .unwrap();
    assert!(db.license_features(lic.id).await.unwrap().is_empty());
}

pub async fn delete_license(db: Db) {
    let p = product(&db, "app").await;
    db.create_feature(
        new_feature(p.id, "pro", FeatureType::Activation),
        ev("feature.create", "feature"),
        NOW,
    )
    .await
    .unwrap();
    let lic = create_license(
        &db,
        NewLicense {
            features: vec![FeatureGrant {
                code: "pro".into(),
                overrides: FeatureOverrides::default(),
            }],
            ..new_license(p.id, "KEY-1", terms(Some(3)))
        },
    )
    .await;
    let keep = license(&db, p.id, "KEY-KEEP", terms(Some(3))).await;
    let user = db
        .create_license_user(
            NewLicenseUser {
                customer_id: None,
                email: "u@x.org".into(),
                name: None,
                password_hash: None,
            },
            ev("user.create", "license_user"),
            NOW,
        )
        .await
        .unwrap();
    db.assign_license_user(lic.id, user.id, ev_on("license.assign_user", "license", lic.id), NOW)
        .await
        .unwrap();
    let a = activate(&db, &lic, "A", NOW).await.unwrap();
    activate(&db, &keep, "A", NOW).await.unwrap();

    db.delete_license(lic.id, ev_on("license.delete", "license", lic.id), NOW)
        .await
        .expect("delete license with devices, features and users");
    assert_not_found(db.get_license(lic.id).await);
    assert_eq!(db.find_license_by_key("KEY-1").await.unwrap(), None);
    assert_not_found(db.get_device(a.device.id).await);
    assert_not_found(
        db.delete_license(lic.id, ev_on("license.delete", "license", lic.id), NOW)
            .await,
    );
    assert_eq!(
        db.get_license_user(user.id).await.unwrap(),
        user,
        "users outlive their licenses"
    );

    // Other licenses are untouched; the key is free again.
    assert_eq!(db.get_license(keep.id).await.unwrap(), keep);
    assert_eq!(active_fingerprints(&db.list_devices(keep.id).await.unwrap()), ["A"]);
    let again = license(&db, p.id, "KEY-1", terms(Some(1))).await;
    assert_ne!(again.id, lic.id);
    assert_eq!(
        db.list_licenses(LicenseFilter::default(), all()).await.unwrap().len(),
        2
    );
}
