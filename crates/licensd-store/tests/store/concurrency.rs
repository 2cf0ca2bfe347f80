//! Limits hold exactly under concurrent requests, on both backends. Every task waits on a barrier
//! so the requests really arrive together; the pool has 16 connections.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

/// Starts `n` tasks that all begin at once; returns their results in task order.
async fn race<T, Fut>(n: usize, make: impl Fn(usize) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let task = make(i);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                task.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for handle in handles {
        results.push(handle.await.expect("task panicked"));
    }
    results
}

/// "Ok: n, Denied(X): m, …" for failure messages.
fn tally<T>(results: &[Result<T>]) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for r in results {
        let key = match r {
            Ok(_) => "Ok".to_owned(),
            Err(StoreError::Denied(d)) => format!("Denied({d:?})"),
            Err(e) => format!("{e:?}"),
        };
        *map.entry(key).or_insert(0) += 1;
    }
    map
}

fn count_denied<T>(results: &[Result<T>], denial: Denial) -> usize {
    results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Denied(d)) if *d == denial))
        .count()
}

pub async fn concurrent_distinct_activations_respect_limit(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(5))).await;
    let results = race(200, |i| {
        let db = db.clone();
        let lic = lic.clone();
        async move { activate(&db, &lic, &format!("device-{i:03}"), NOW).await }
    })
    .await;
    let t = tally(&results);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5, "{t:?}");
    assert_eq!(count_denied(&results, Denial::ActivationLimitReached), 195, "{t:?}");

    // The five winners were serialised: each saw one more active device than the one before.
    let mut seen: Vec<i64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|a| a.active_devices)
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .all(|a| a.newly_activated)
    );

    let devices = db.list_devices(lic.id).await.unwrap();
    assert_eq!(devices.len(), 5, "no rows for refused devices");
    assert_eq!(devices.iter().filter(|d| d.is_active()).count(), 5);
    let mut winners: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|a| a.device.fingerprint.clone())
        .collect();
    winners.sort();
    assert_eq!(active_fingerprints(&devices), winners);
    assert_eq!(count_where_license(&db, "activation_log", lic.id).await, 5);
    let l = db.get_license(lic.id).await.unwrap();
    assert_eq!((l.transfer_count, l.deactivation_count), (0, 0));
}

pub async fn concurrent_same_device_activations(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(1))).await;
    let results = race(20, |_| {
        let db = db.clone();
        let lic = lic.clone();
        async move { activate(&db, &lic, "the-one", NOW).await }
    })
    .await;
    let t = tally(&results);
    assert!(
        results.iter().all(|r| r.is_ok()),
        "every request for the same device succeeds: {t:?}"
    );
    let activations: Vec<&Activation> = results.iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(
        activations.iter().filter(|a| a.newly_activated).count(),
        1,
        "exactly one request activated it"
    );
    assert!(activations.iter().all(|a| a.active_devices == 1));
    let device_id = activations[0].device.id;
    assert!(activations.iter().all(|a| a.device.id == device_id), "one device row");
    let devices = db.list_devices(lic.id).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert!(devices[0].is_active());
    assert_eq!(count_where_license(&db, "activation_log", lic.id).await, 1);
}

pub async fn concurrent_consumption_respects_cap(db: Db) {
    let (_, lic) = product_and_license(&db, consumption_terms(Some(100))).await;
    let amount_of = |i: usize| (i % 3) as i64 + 1;
    let results = race(100, |i| {
        let db = db.clone();
        let lic = lic.clone();
        async move { consume(&db, &lic, amount_of(i), None, NOW).await }
    })
    .await;
    let t = tally(&results);
    let accepted: i64 = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| amount_of(i))
        .sum();
    let accepted_count = results.iter().filter(|r| r.is_ok()).count() as i64;
    let rejected = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(
        count_denied(&results, Denial::ConsumptionLimitReached),
        rejected,
        "every rejection is the cap: {t:?}"
    );
    assert!(rejected > 0, "199 units asked of 100: {t:?}");

    let used = db.get_license(lic.id).await.unwrap().consumption_used;
    assert_eq!(
        used, accepted,
        "the counter is exactly the sum of accepted amounts ({t:?})"
    );
    assert!(used <= 100, "cap exceeded: {used}");
    // A rejection of a units means the counter was above 100 - a at that moment (a <= 3).
    assert!(used >= 98, "rejected while there was room: used {used}");

    // Each accepted request saw its own, distinct running total.
    let mut totals: Vec<i64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|o| o.total)
        .collect();
    totals.sort_unstable();
    totals.dedup();
    assert_eq!(totals.len() as i64, accepted_count, "running totals are distinct");
    assert_eq!(*totals.last().unwrap(), used);
    for (i, r) in results.iter().enumerate() {
        if let Ok(o) = r {
            assert_eq!(o.event.amount, amount_of(i));
            assert_eq!(o.event.total_after, o.total);
        }
    }

    let sum = db
        .raw
        .i64(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM consumption_events WHERE license_id = ?",
            &[Arg::I(lic.id.get())],
        )
        .await;
    assert_eq!(sum, used, "consumption_events sum matches the counter");
    assert_eq!(
        count_where_license(&db, "consumption_events", lic.id).await,
        accepted_count
    );
}

pub async fn concurrent_floating_checkouts_respect_seats(db: Db) {
    let (_, lic) = product_and_license(&db, floating_terms(3, 600)).await;
    let results = race(50, |i| {
        let db = db.clone();
        let lic = lic.clone();
        async move { checkout(&db, &lic, &format!("seat-{i:02}"), None, NOW).await }
    })
    .await;
    let t = tally(&results);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3, "{t:?}");
    assert_eq!(count_denied(&results, Denial::FloatingSeatsExhausted), 47, "{t:?}");
    let mut winners: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|l| l.fingerprint.clone())
        .collect();
    winners.sort();
    let mut live: Vec<String> = db
        .live_leases(lic.id, NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.fingerprint)
        .collect();
    live.sort();
    assert_eq!(live, winners);
    assert_eq!(
        db.live_leases(lic.id, 0).await.unwrap().len(),
        3,
        "no lease rows for refused devices"
    );
}

pub async fn concurrent_idempotent_consumption_counts_once(db: Db) {
    let (_, lic) = product_and_license(&db, consumption_terms(Some(100))).await;
    let results = race(20, |_| {
        let db = db.clone();
        let lic = lic.clone();
        async move { consume(&db, &lic, 5, Some("same-request"), NOW).await }
    })
    .await;
    let t = tally(&results);
    assert!(
        results.iter().all(|r| r.is_ok()),
        "retries of one request all succeed: {t:?}"
    );
    let outcomes: Vec<&ConsumptionOutcome> = results.iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| !o.replayed).count(),
        1,
        "counted exactly once"
    );
    assert!(outcomes.iter().all(|o| o.total == 5));
    let event_id = outcomes[0].event.id;
    assert!(outcomes.iter().all(|o| o.event.id == event_id));
    assert_eq!(db.get_license(lic.id).await.unwrap().consumption_used, 5);
    assert_eq!(count_where_license(&db, "consumption_events", lic.id).await, 1);
}

pub async fn concurrent_edits_never_lose_counter_updates(db: Db) {
    let (_, lic) = product_and_license(
        &db,
        LicenseTerms {
            max_activations: None,
            ..consumption_terms(None)
        },
    )
    .await;
    let results = race(90, |i| {
        let db = db.clone();
        let lic = lic.clone();
        async move {
            match i % 3 {
                0 => consume(&db, &lic, 1, None, NOW).await.map(|_| ()),
                1 => activate(&db, &lic, &format!("dev-{i}"), NOW).await.map(|_| ()),
                _ => {
                    let edit = {
                        let mut l = LicenseEdit::from_license(&lic);
                        l.settings.metadata = json!({"edit": i});
                        l.settings.order_ref = Some(format!("PO-{i}"));
                        l
                    };
                    db.edit_license(lic.id, edit, ev_on("license.update", "license", lic.id), NOW)
                        .await
                        .map(|_| ())
                }
            }
        }
    })
    .await;
    let t = tally(&results);
    assert!(results.iter().all(|r| r.is_ok()), "{t:?}");
    let l = db.get_license(lic.id).await.unwrap();
    assert_eq!(l.consumption_used, 30, "an edit overwrote the consumption counter");
    assert_eq!(count_where_license(&db, "consumption_events", lic.id).await, 30);
    assert_eq!(
        db.list_devices(lic.id)
            .await
            .unwrap()
            .iter()
            .filter(|d| d.is_active())
            .count(),
        30
    );
    assert_eq!((l.transfer_count, l.deactivation_count), (0, 0));
    assert!(l.order_ref.as_deref().is_some_and(|o| o.starts_with("PO-")));
}

pub async fn concurrent_assignments_respect_max_users(db: Db) {
    let (_, lic) = product_and_license(
        &db,
        LicenseTerms {
            max_users: Some(3),
            ..terms(Some(5))
        },
    )
    .await;
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(
            db.create_license_user(
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
            .unwrap()
            .id,
        );
    }
    let results = race(20, |i| {
        let db = db.clone();
        let lic_id = lic.id;
        let user = users[i];
        async move {
            db.assign_license_user(lic_id, user, ev_on("license.assign_user", "license", lic_id), NOW)
                .await
        }
    })
    .await;
    let t = tally(&results);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3, "{t:?}");
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Denied(Denial::LicenseUserLimitReached))))
            .count(),
        17,
        "{t:?}"
    );
    assert_eq!(t.len(), 2, "one denial for all refusals: {t:?}");
    assert_eq!(db.users_of_license(lic.id).await.unwrap().len(), 3);
}

pub async fn concurrent_transfers_respect_limit(db: Db) {
    let (_, lic) = product_and_license(
        &db,
        LicenseTerms {
            max_transfers: Some(1),
            ..terms(Some(3))
        },
    )
    .await;
    for fp in ["A", "B", "C"] {
        activate(&db, &lic, fp, NOW).await.unwrap();
    }
    for fp in ["A", "B", "C"] {
        deactivate(&db, &lic, fp, NOW + 1).await.unwrap();
    }
    // Three devices left; every newcomer is a transfer, and only one transfer is allowed.
    let results = race(20, |i| {
        let db = db.clone();
        let lic = lic.clone();
        async move { activate(&db, &lic, &format!("new-{i}"), NOW + 2).await }
    })
    .await;
    let t = tally(&results);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{t:?}");
    assert_eq!(count_denied(&results, Denial::TransferLimitReached), 19, "{t:?}");
    let l = db.get_license(lic.id).await.unwrap();
    assert_eq!((l.transfer_count, l.deactivation_count), (1, 3));
    assert_eq!(
        db.list_devices(lic.id)
            .await
            .unwrap()
            .iter()
            .filter(|d| d.is_active())
            .count(),
        1
    );
}

pub async fn concurrent_duplicate_creates_conflict(db: Db) {
    let results = race(10, |_| {
        let db = db.clone();
        async move {
            db.create_product(new_product("dup"), ev("product.create", "product"), NOW)
                .await
        }
    })
    .await;
    let t = tally(&results);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{t:?}");
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
            .count(),
        9,
        "{t:?}"
    );
    let p = db.get_product_by_code("dup").await.unwrap();

    let results = race(10, |i| {
        let db = db.clone();
        let product_id = p.id;
        async move {
            db.create_licenses(
                vec![
                    new_license(product_id, &format!("UNIQUE-{i}"), terms(Some(1))),
                    new_license(product_id, "SHARED", terms(Some(1))),
                ],
                ev("license.create", "license"),
                NOW,
            )
            .await
        }
    })
    .await;
    let t = tally(&results);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{t:?}");
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
            .count(),
        9,
        "{t:?}"
    );
    assert_eq!(
        db.list_licenses(LicenseFilter::default(), all()).await.unwrap().len(),
        2,
        "losing batches inserted nothing"
    );

    let results = race(10, |_| {
        let db = db.clone();
        async move {
            db.create_license_user(
                NewLicenseUser {
                    customer_id: None,
                    email: "same@x.org".into(),
                    name: None,
                    password_hash: None,
                },
                ev("user.create", "license_user"),
                NOW,
            )
            .await
        }
    })
    .await;
    let t = tally(&results);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{t:?}");
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
            .count(),
        9,
        "{t:?}"
    );
}

pub async fn concurrent_ensure_signing_key_keeps_one_active(db: Db) {
    // Eight "nodes" starting at once, each with its own store and its own fresh key.
    let mut stores = Vec::new();
    for _ in 0..8 {
        stores.push(db.connect_store(&db.url).await);
    }
    let results = race(8, |i| {
        let store = stores[i].clone();
        async move {
            let key = NewSigningKey {
                kid: format!("node-{i}"),
                algorithm: "ES256".into(),
                public_der: vec![i as u8; 8],
                private_pkcs8: vec![0xA0 + i as u8; 32],
            };
            store.ensure_signing_key(key, NOW).await
        }
    })
    .await;
    let t = tally(&results);
    assert!(results.iter().all(|r| r.is_ok()), "{t:?}");
    let kids: Vec<&str> = results.iter().map(|r| r.as_ref().unwrap().kid.as_str()).collect();
    assert!(
        kids.iter().all(|k| *k == kids[0]),
        "every node got the one active key: {kids:?}"
    );
    let keys = db.list_signing_keys().await.unwrap();
    let es: Vec<&StoredSigningKey> = keys.iter().filter(|k| k.algorithm == "ES256").collect();
    assert_eq!(
        es.len(),
        1,
        "only the winning key is inserted: {:?}",
        es.iter().map(|k| &k.kid).collect::<Vec<_>>()
    );
    assert!(es[0].active);
    assert_eq!(es[0].kid, kids[0]);
    let winner: usize = kids[0].trim_start_matches("node-").parse().unwrap();
    assert_eq!(es[0].private_pkcs8, vec![0xA0 + winner as u8; 32]);
}

pub async fn concurrent_bootstrap_creates_one_admin_token(db: Db) {
    let results = race(8, |i| {
        let db = db.clone();
        async move {
            db.bootstrap_admin_token(&format!("root-{i}"), &format!("bootstrap-secret-{i}"), NOW)
                .await
        }
    })
    .await;
    let t = tally(&results);
    assert!(results.iter().all(|r| r.is_ok()), "{t:?}");
    let created: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| *r.as_ref().unwrap())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(created.len(), 1, "exactly one bootstrap creates a token: {created:?}");
    let tokens = db.list_admin_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].name, format!("root-{}", created[0]));
    assert!(
        db.find_admin_token(&format!("bootstrap-secret-{}", created[0]))
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn concurrent_feature_consumption_respects_cap(db: Db) {
    let p = product(&db, "app").await;
    db.create_feature(
        FeatureSpec {
            max_consumptions: Some(10),
            ..new_feature(p.id, "api", FeatureType::Consumption)
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
                code: "api".into(),
                overrides: FeatureOverrides {
                    max_consumptions: Some(50),
                    ..FeatureOverrides::default()
                },
            }],
            ..new_license(p.id, "KEY-1", terms(Some(1)))
        },
    )
    .await;
    let amount_of = |i: usize| (i % 2) as i64 + 1;
    let results = race(60, |i| {
        let db = db.clone();
        let lic = lic.clone();
        async move {
            db.consume_feature(
                key_of(&lic),
                "api",
                amount_of(i),
                None,
                ev_on("feature.consume", "license", lic.id),
                NOW,
            )
            .await
        }
    })
    .await;
    let t = tally(&results);
    let rejected = results.iter().filter(|r| r.is_err()).count();
    assert!(rejected > 0, "90 units asked of 50: {t:?}");
    assert_eq!(
        count_denied(&results, Denial::FeatureConsumptionLimitReached),
        rejected,
        "{t:?}"
    );
    let accepted: i64 = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| amount_of(i))
        .sum();
    let used = db.license_features(lic.id).await.unwrap()[0].consumption_used;
    assert_eq!(used, accepted, "{t:?}");
    assert!((49..=50).contains(&used), "used {used}");
    let sum = db
        .raw
        .i64(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM consumption_events WHERE license_id = ?",
            &[Arg::I(lic.id.get())],
        )
        .await;
    assert_eq!(sum, used);
    assert_eq!(db.get_license(lic.id).await.unwrap().consumption_used, 0);
}

pub async fn concurrent_deactivations_count_once(db: Db) {
    let (_, lic) = product_and_license(&db, terms(Some(1))).await;
    activate(&db, &lic, "A", NOW).await.unwrap();
    let results = race(20, |_| {
        let db = db.clone();
        let lic = lic.clone();
        async move { deactivate(&db, &lic, "A", NOW + 1).await }
    })
    .await;
    let t = tally(&results);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{t:?}");
    assert_eq!(count_denied(&results, Denial::DeviceNotActivated), 19, "{t:?}");
    let l = db.get_license(lic.id).await.unwrap();
    assert_eq!(l.deactivation_count, 1, "a device leaves once");
    assert!(active_fingerprints(&db.list_devices(lic.id).await.unwrap()).is_empty());
}

pub async fn concurrent_same_device_checkouts(db: Db) {
    let (_, lic) = product_and_license(&db, floating_terms(1, 600)).await;
    let results = race(20, |i| {
        let db = db.clone();
        let lic = lic.clone();
        async move { checkout(&db, &lic, "the-one", None, NOW + i as i64).await }
    })
    .await;
    let t = tally(&results);
    assert!(
        results.iter().all(|r| r.is_ok()),
        "checking out one's own seat again is a renewal: {t:?}"
    );
    let rows = db.live_leases(lic.id, 0).await.unwrap();
    assert_eq!(rows.len(), 1, "one lease row per device");
    assert_eq!(rows[0].fingerprint, "the-one");
    assert_denied(
        checkout(&db, &lic, "other", None, NOW + 100).await,
        Denial::FloatingSeatsExhausted,
    );
}
