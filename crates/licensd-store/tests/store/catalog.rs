//! Products, feature definitions and policies.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;
use serde_json::json;

pub async fn products_crud(db: Db) {
    let new = NewProduct {
        code: "app".into(),
        name: "The App".into(),
        auth_method: AuthMethod::Key,
        status: ProductStatus::Active,
        trial_allowed: true,
        trial_days: 14,
        metadata: json!({"tier": "gold", "n": 1, "tags": ["a", "b"]}),
    };
    let p = db
        .create_product(new, ev("product.create", "product"), NOW)
        .await
        .expect("create");
    assert!(p.id > ProductId::new(0));
    assert_eq!(
        p,
        Product {
            id: p.id,
            code: "app".into(),
            name: "The App".into(),
            auth_method: AuthMethod::Key,
            status: ProductStatus::Active,
            trial_allowed: true,
            trial_days: 14,
            metadata: json!({"tier": "gold", "n": 1, "tags": ["a", "b"]}),
            created_at: NOW,
            updated_at: NOW,
        }
    );
    assert_eq!(db.get_product(p.id).await.unwrap(), p);
    assert_eq!(db.get_product_by_code("app").await.unwrap(), p);

    // Update writes every mutable field; created_at stays.
    let changed = Product {
        code: "app2".into(),
        name: "The App 2".into(),
        auth_method: AuthMethod::User,
        status: ProductStatus::Disabled,
        trial_allowed: false,
        trial_days: 0,
        metadata: json!({"x": [1, 2, 3]}),
        ..p.clone()
    };
    let updated = db
        .update_product(changed.clone(), ev_on("product.update", "product", p.id), NOW + 1_000)
        .await
        .expect("update");
    let expected = Product {
        updated_at: NOW + 1_000,
        ..changed.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(db.get_product(p.id).await.unwrap(), expected);
    assert_not_found(db.get_product_by_code("app").await);
    assert_eq!(db.get_product_by_code("app2").await.unwrap(), expected);

    // Every status round-trips.
    for status in ProductStatus::ALL {
        let u = db
            .update_product(
                Product {
                    status: *status,
                    ..expected.clone()
                },
                ev_on("product.update", "product", p.id),
                NOW + 2_000,
            )
            .await
            .unwrap();
        assert_eq!(db.get_product(p.id).await.unwrap().status, *status);
        assert_eq!(u.status, *status);
    }

    // Duplicate codes conflict, on create and on update.
    let other = product(&db, "other").await;
    assert_conflict(
        db.create_product(new_product("app2"), ev("product.create", "product"), NOW)
            .await,
    );
    assert_conflict(
        db.update_product(
            Product {
                code: "app2".into(),
                ..other.clone()
            },
            ev_on("product.update", "product", other.id),
            NOW,
        )
        .await,
    );
    assert_eq!(
        db.get_product(other.id).await.unwrap(),
        other,
        "a refused update changes nothing"
    );
    assert_eq!(db.list_products(all()).await.unwrap().len(), 2);

    // Unknown ids.
    assert_not_found(db.get_product(ProductId::new(999_999)).await);
    assert_not_found(db.get_product_by_code("nope").await);
    assert_not_found(
        db.update_product(
            Product {
                id: ProductId::new(999_999),
                code: "ghost".into(),
                ..other.clone()
            },
            ev("product.update", "product"),
            NOW,
        )
        .await,
    );

    // Delete.
    db.delete_product(
        other.id,
        ProductDeletion::RefuseWhileLicensed,
        ev_on("product.delete", "product", other.id),
        NOW,
    )
    .await
    .expect("delete");
    assert_not_found(db.get_product(other.id).await);
    assert_not_found(db.get_product_by_code("other").await);
    assert_not_found(
        db.delete_product(
            other.id,
            ProductDeletion::RefuseWhileLicensed,
            ev_on("product.delete", "product", other.id),
            NOW,
        )
        .await,
    );
    let remaining: Vec<ProductId> = db.list_products(all()).await.unwrap().iter().map(|p| p.id).collect();
    assert_eq!(remaining, vec![p.id]);
    // The freed code can be used again.
    product(&db, "other").await;
}

pub async fn products_list_pages_by_cursor(db: Db) {
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(product(&db, &format!("p{i}")).await.id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");

    let first = db.list_products(Page { after: None, limit: 2 }).await.unwrap();
    assert_eq!(first.iter().map(|p| p.id).collect::<Vec<_>>(), ids[0..2]);
    let second = db
        .list_products(Page {
            after: Some(first[1].id.get()),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(second.iter().map(|p| p.id).collect::<Vec<_>>(), ids[2..4]);
    let third = db
        .list_products(Page {
            after: Some(second[1].id.get()),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(third.iter().map(|p| p.id).collect::<Vec<_>>(), ids[4..5]);
    assert_eq!(third[0].code, "p4");
    let empty = db
        .list_products(Page {
            after: Some(third[0].id.get()),
            limit: 2,
        })
        .await
        .unwrap();
    assert!(empty.is_empty());

    // Limits are clamped to 1..=1000.
    assert_eq!(
        db.list_products(Page {
            after: None,
            limit: 5_000
        })
        .await
        .unwrap()
        .len(),
        5
    );
    assert_eq!(db.list_products(Page { after: None, limit: 0 }).await.unwrap().len(), 1);
    assert_eq!(db.list_products(Page::default()).await.unwrap().len(), 5);
}

pub async fn product_with_licenses_cannot_be_deleted(db: Db) {
    let (p, lic) = product_and_license(&db, terms(Some(1))).await;
    assert_conflict(
        db.delete_product(
            p.id,
            ProductDeletion::RefuseWhileLicensed,
            ev_on("product.delete", "product", p.id),
            NOW,
        )
        .await,
    );
    assert_eq!(db.get_product(p.id).await.unwrap(), p);
    assert_eq!(db.get_license(lic.id).await.unwrap(), lic);

    db.delete_license(lic.id, ev_on("license.delete", "license", lic.id), NOW)
        .await
        .unwrap();
    db.delete_product(
        p.id,
        ProductDeletion::RefuseWhileLicensed,
        ev_on("product.delete", "product", p.id),
        NOW,
    )
    .await
    .expect("delete once no licenses remain");
    assert_not_found(db.get_product(p.id).await);
}

pub async fn features_crud(db: Db) {
    let p = product(&db, "app").await;
    let p2 = product(&db, "app2").await;
    let new = FeatureSpec {
        product_id: p.id,
        code: "api".into(),
        name: "API calls".into(),
        feature_type: FeatureType::Consumption,
        max_consumptions: Some(100),
        allow_overages: true,
        max_overages: Some(10),
        allow_negative: true,
        reset_period: ResetPeriod::Monthly,
        floating_seats: None,
        floating_lease_seconds: 300,
        metadata: json!({"unit": "call"}),
    };
    let api = db
        .create_feature(new, ev("feature.create", "feature"), NOW)
        .await
        .expect("create feature");
    assert_eq!(
        api,
        FeatureDefinition {
            id: api.id,
            spec: FeatureSpec {
                product_id: p.id,
                code: "api".into(),
                name: "API calls".into(),
                feature_type: FeatureType::Consumption,
                max_consumptions: Some(100),
                allow_overages: true,
                max_overages: Some(10),
                allow_negative: true,
                reset_period: ResetPeriod::Monthly,
                floating_seats: None,
                floating_lease_seconds: 300,
                metadata: json!({"unit": "call"}),
            },
            created_at: NOW,
        }
    );
    assert_eq!(db.get_feature(api.id).await.unwrap(), api);

    let pro = db
        .create_feature(
            FeatureSpec {
                floating_seats: Some(3),
                ..new_feature(p.id, "pro", FeatureType::Activation)
            },
            ev("feature.create", "feature"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(pro.spec.floating_seats, Some(3));
    assert_eq!(pro.spec.feature_type, FeatureType::Activation);

    // Duplicate (product, code) conflicts; the same code on another product does not.
    assert_conflict(
        db.create_feature(
            new_feature(p.id, "api", FeatureType::Activation),
            ev("feature.create", "feature"),
            NOW,
        )
        .await,
    );
    let other_api = db
        .create_feature(
            new_feature(p2.id, "api", FeatureType::Activation),
            ev("feature.create", "feature"),
            NOW,
        )
        .await
        .expect("same code, other product");

    let ids = |v: Vec<FeatureDefinition>| v.iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(ids(db.list_features(Some(p.id)).await.unwrap()), vec![api.id, pro.id]);
    assert_eq!(ids(db.list_features(Some(p2.id)).await.unwrap()), vec![other_api.id]);
    assert_eq!(
        ids(db.list_features(None).await.unwrap()),
        vec![api.id, pro.id, other_api.id]
    );

    // Update.
    let changed = FeatureDefinition {
        spec: FeatureSpec {
            name: "API requests".into(),
            max_consumptions: Some(250),
            allow_overages: false,
            max_overages: None,
            allow_negative: false,
            reset_period: ResetPeriod::Daily,
            floating_seats: Some(2),
            floating_lease_seconds: 60,
            metadata: json!({"unit": "request"}),
            ..api.spec.clone()
        },
        ..api.clone()
    };
    let updated = db
        .update_feature(changed.clone(), ev_on("feature.update", "feature", api.id), NOW)
        .await
        .expect("update feature");
    assert_eq!(updated, changed);
    assert_eq!(db.get_feature(api.id).await.unwrap(), changed);
    assert_conflict(
        db.update_feature(
            FeatureDefinition {
                spec: FeatureSpec {
                    code: "pro".into(),
                    ..changed.spec.clone()
                },
                ..changed.clone()
            },
            ev_on("feature.update", "feature", api.id),
            NOW,
        )
        .await,
    );
    assert_eq!(db.get_feature(api.id).await.unwrap(), changed);

    // Delete.
    db.delete_feature(pro.id, ev_on("feature.delete", "feature", pro.id), NOW)
        .await
        .expect("delete feature");
    assert_not_found(db.get_feature(pro.id).await);
    assert_eq!(ids(db.list_features(Some(p.id)).await.unwrap()), vec![api.id]);
    assert_not_found(db.get_feature(999_999).await);
}

pub async fn policies_crud(db: Db) {
    let p = product(&db, "app").await;
    let p2 = product(&db, "app2").await;
    db.create_feature(
        new_feature(p.id, "api", FeatureType::Consumption),
        ev("feature.create", "feature"),
        NOW,
    )
    .await
    .unwrap();
    let rich_terms = LicenseTerms {
        license_type: LicenseType::Subscription,
        kind: LicenseKind::Evaluation,
        max_activations: Some(3),
        max_transfers: Some(2),
        grace_period_hours: 48,
        vm_allowed: false,
        floating: Some(FloatingTerms {
            seats: 4,
            lease_seconds: 900,
            borrow_allowed: true,
            max_borrow_hours: 72,
            sessions_per_client: None,
        }),
        consumption: Some(ConsumptionTerms {
            max_consumptions: Some(1_000),
            allow_overages: true,
            max_overages: Some(50),
            allow_negative: true,
            reset_period: ResetPeriod::Weekly,
        }),
        max_users: Some(5),
        max_activations_per_user: Some(2),
        reactivation_lockout: Some(ReactivationLockout {
            limit: 3,
            window_hours: 12,
        }),
    };
    let grants = vec![FeatureGrant {
        code: "api".into(),
        overrides: FeatureOverrides {
            max_consumptions: Some(5),
            allow_overages: Some(true),
            expires_at: Some(NOW + DAY),
            ..FeatureOverrides::default()
        },
    }];
    let new = NewPolicy {
        product_id: p.id,
        code: "std".into(),
        name: "Standard".into(),
        terms: rich_terms.clone(),
        duration_days: Some(365),
        maintenance_days: Some(30),
        features: grants.clone(),
        metadata: json!({"sku": "STD-1"}),
    };
    let pol = db
        .create_policy(new, ev("policy.create", "policy"), NOW)
        .await
        .expect("create policy");
    assert_eq!(
        pol,
        Policy {
            id: pol.id,
            product_id: p.id,
            code: "std".into(),
            name: "Standard".into(),
            terms: rich_terms.clone(),
            duration_days: Some(365),
            maintenance_days: Some(30),
            features: grants.clone(),
            metadata: json!({"sku": "STD-1"}),
            created_at: NOW,
            updated_at: NOW,
        }
    );
    assert_eq!(db.get_policy(pol.id).await.unwrap(), pol);

    let basic = NewPolicy {
        product_id: p.id,
        code: "basic".into(),
        name: "Basic".into(),
        terms: LicenseTerms::default(),
        duration_days: None,
        maintenance_days: None,
        features: Vec::new(),
        metadata: json!({}),
    };
    let basic_pol = db
        .create_policy(basic.clone(), ev("policy.create", "policy"), NOW)
        .await
        .unwrap();
    assert_eq!(basic_pol.terms, LicenseTerms::default());
    assert_eq!(basic_pol.duration_days, None);

    // Duplicate (product, code) conflicts; another product may reuse the code.
    assert_conflict(
        db.create_policy(
            NewPolicy {
                code: "std".into(),
                ..basic.clone()
            },
            ev("policy.create", "policy"),
            NOW,
        )
        .await,
    );
    let other = db
        .create_policy(
            NewPolicy {
                product_id: p2.id,
                code: "std".into(),
                ..basic.clone()
            },
            ev("policy.create", "policy"),
            NOW,
        )
        .await
        .expect("same code, other product");

    let ids = |v: Vec<Policy>| v.iter().map(|x| x.id).collect::<Vec<_>>();
    assert_eq!(
        ids(db.list_policies(Some(p.id)).await.unwrap()),
        vec![pol.id, basic_pol.id]
    );
    assert_eq!(ids(db.list_policies(Some(p2.id)).await.unwrap()), vec![other.id]);
    assert_eq!(
        ids(db.list_policies(None).await.unwrap()),
        vec![pol.id, basic_pol.id, other.id]
    );

    // Update.
    let changed = Policy {
        name: "Standard v2".into(),
        terms: LicenseTerms {
            max_activations: None,
            reactivation_lockout: None,
            ..rich_terms.clone()
        },
        duration_days: None,
        maintenance_days: Some(90),
        features: Vec::new(),
        metadata: json!({"sku": "STD-2"}),
        ..pol.clone()
    };
    let updated = db
        .update_policy(changed.clone(), ev_on("policy.update", "policy", pol.id), NOW + 5_000)
        .await
        .expect("update policy");
    let expected = Policy {
        updated_at: NOW + 5_000,
        ..changed.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(db.get_policy(pol.id).await.unwrap(), expected);
    assert_conflict(
        db.update_policy(
            Policy {
                code: "basic".into(),
                ..expected.clone()
            },
            ev_on("policy.update", "policy", pol.id),
            NOW,
        )
        .await,
    );
    assert_eq!(db.get_policy(pol.id).await.unwrap(), expected);

    // Delete.
    db.delete_policy(basic_pol.id, ev_on("policy.delete", "policy", basic_pol.id), NOW)
        .await
        .expect("delete policy");
    assert_not_found(db.get_policy(basic_pol.id).await);
    assert_eq!(ids(db.list_policies(Some(p.id)).await.unwrap()), vec![pol.id]);
    assert_not_found(db.get_policy(999_999).await);
}

/// One delete policy (`licensd_domain::product_deletion`): refused while licences exist unless
/// cascading, the refusal changing nothing; a cascade removes the licences with what hangs off
/// them and logs each as `license.deleted` before the product's event, all in one transaction.
pub async fn product_deletion_refuses_or_cascades(db: Db) {
    let (p, lic) = product_and_license(&db, terms(Some(2))).await;
    let second = license(&db, p.id, "KEY-2", terms(Some(1))).await;
    activate(&db, &lic, "fp-1", NOW).await.unwrap();
    let before = state(&db, lic.id).await;
    let refused = db
        .delete_product(
            p.id,
            ProductDeletion::RefuseWhileLicensed,
            ev_on("product.delete", "product", p.id),
            NOW,
        )
        .await;
    match refused {
        Err(StoreError::Conflict(message)) => assert_eq!(message, "product has licenses"),
        other => panic!("expected the refusal, got {other:?}"),
    }
    assert_unchanged(&db, &before, "a refused product delete").await;
    assert_eq!(db.get_product(p.id).await.unwrap(), p);
    assert_eq!(db.get_license(second.id).await.unwrap(), second);

    let events_before = event_count(&db).await;
    let product_event = ev_on("product.delete", "product", p.id).from_ip(Some("192.0.2.7".into()));
    db.delete_product(p.id, ProductDeletion::Cascade, product_event, NOW + 5)
        .await
        .expect("cascade");
    assert_not_found(db.get_product(p.id).await);
    assert_not_found(db.get_license(lic.id).await);
    assert_not_found(db.get_license(second.id).await);
    assert_eq!(count_where_license(&db, "devices", lic.id).await, 0);
    let logged = db.list_events(EventFilter::default(), all()).await.unwrap();
    let mut logged: Vec<_> = logged.into_iter().filter(|e| e.at == NOW + 5).collect();
    logged.sort_by_key(|e| e.id);
    let summary: Vec<_> = logged
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.subject_type.as_str(),
                e.subject_id,
                e.actor.as_str(),
                e.source_ip.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "license.deleted",
                "license",
                Some(lic.id.get()),
                "tester",
                Some("192.0.2.7")
            ),
            (
                "license.deleted",
                "license",
                Some(second.id.get()),
                "tester",
                Some("192.0.2.7")
            ),
            (
                "product.delete",
                "product",
                Some(p.id.get()),
                "tester",
                Some("192.0.2.7")
            ),
        ]
    );
    assert_eq!(logged[0].data, json!({"cascade_from_product": p.id}));
    assert_eq!(event_count(&db).await, events_before + 3);
    assert_not_found(
        db.delete_product(
            p.id,
            ProductDeletion::Cascade,
            ev_on("product.delete", "product", p.id),
            NOW,
        )
        .await,
    );

    // A cascade over a product without licences is a plain delete: one event.
    let bare = product(&db, "bare").await;
    let events_before = event_count(&db).await;
    db.delete_product(
        bare.id,
        ProductDeletion::Cascade,
        ev_on("product.delete", "product", bare.id),
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(event_count(&db).await, events_before + 1);
}

pub async fn referenced_rows_cannot_be_deleted(db: Db) {
    let p = product(&db, "app").await;
    let feature = db
        .create_feature(
            new_feature(p.id, "pro", FeatureType::Activation),
            ev("feature.create", "feature"),
            NOW,
        )
        .await
        .unwrap();
    let policy = db
        .create_policy(
            NewPolicy {
                product_id: p.id,
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
    let customer = db
        .create_customer(
            NewCustomer {
                email: Some("c@x.org".into()),
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
    let lic = create_license(&db, {
        let mut l = new_license(p.id, "KEY-1", terms(Some(1)));
        l.settings.policy_id = Some(policy.id);
        l.settings.customer_id = Some(customer.id);
        l.features = vec![FeatureGrant {
            code: "pro".into(),
            overrides: FeatureOverrides::default(),
        }];
        l
    })
    .await;
    let before = state(&db, lic.id).await;

    // A feature granted to a license, the license's policy and its customer are still in use.
    assert_conflict(
        db.delete_feature(feature.id, ev_on("feature.delete", "feature", feature.id), NOW)
            .await,
    );
    assert_conflict(
        db.delete_policy(policy.id, ev_on("policy.delete", "policy", policy.id), NOW)
            .await,
    );
    assert_conflict(
        db.delete_customer(customer.id, ev_on("customer.delete", "customer", customer.id), NOW)
            .await,
    );
    assert_eq!(db.get_feature(feature.id).await.unwrap(), feature);
    assert_eq!(db.get_policy(policy.id).await.unwrap(), policy);
    assert_eq!(db.get_customer(customer.id).await.unwrap(), customer);
    assert_unchanged(&db, &before, "refused deletions").await;

    // Once the license is gone they can go.
    db.delete_license(lic.id, ev_on("license.delete", "license", lic.id), NOW)
        .await
        .unwrap();
    db.delete_feature(feature.id, ev_on("feature.delete", "feature", feature.id), NOW)
        .await
        .expect("unused feature");
    db.delete_policy(policy.id, ev_on("policy.delete", "policy", policy.id), NOW)
        .await
        .expect("unused policy");
    db.delete_customer(customer.id, ev_on("customer.delete", "customer", customer.id), NOW)
        .await
        .expect("unused customer");
}
