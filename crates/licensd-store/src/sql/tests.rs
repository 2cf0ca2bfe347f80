//! Smoke tests of the shared SQL on both backends (the conformance suite lives in `tests/`).
//! PostgreSQL runs when `LICENSD_TEST_PG_URL` names a server.

use crate::*;
use licensd_domain::clock::{DAY, HOUR};
use serde_json::json;
use std::sync::Arc;

const NOW: Millis = 1_767_225_600_000;

/// Not cryptography: reversible, context-bound bytes that differ from the plaintext.
struct XorCodec;

impl SecretCodec for XorCodec {
    fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let mut out = context.as_bytes().to_vec();
        out.push(0);
        out.extend(plaintext.iter().map(|b| b ^ 0x5a));
        out
    }
    fn open(&self, sealed: &[u8], context: &str) -> Option<Vec<u8>> {
        let rest = sealed.strip_prefix(context.as_bytes())?.strip_prefix(&[0])?;
        Some(rest.iter().map(|b| b ^ 0x5a).collect())
    }
    fn digest(&self, secret: &[u8]) -> Vec<u8> {
        let mut out = b"d:".to_vec();
        out.extend_from_slice(secret);
        out
    }
}

fn ev(action: &str, subject: &str) -> EventDraft {
    EventDraft::new("test", action, subject)
}

fn license(product_id: i64, key: &str, terms: LicenseTerms) -> NewLicense {
    NewLicense {
        product_id: ProductId::new(product_id),
        key: Some(key.into()),
        settings: LicenseSettings::active(terms),
        features: vec![],
    }
}

fn device(fp: &str) -> DeviceInfo {
    DeviceInfo {
        fingerprint: fp.into(),
        ..Default::default()
    }
}

async fn stores() -> Vec<(Arc<dyn Store>, Option<tempfile::TempDir>)> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    out.push((
        connect(&url, Arc::new(XorCodec), 8, SqliteSynchronous::Full)
            .await
            .expect("sqlite"),
        Some(dir),
    ));
    // An in-memory database has no writer thread: the same commands run through sqlx, the path
    // PostgreSQL takes, so both SQLite write paths are exercised.
    out.push((
        connect("sqlite::memory:", Arc::new(XorCodec), 8, SqliteSynchronous::Full)
            .await
            .expect("sqlite in memory"),
        None,
    ));
    if let Some(url) = fresh_pg_database("smoke").await {
        out.push((
            connect(&url, Arc::new(XorCodec), 16, SqliteSynchronous::Full)
                .await
                .expect("pg"),
            None,
        ));
    }
    out
}

/// The URL of a new, empty database `{prefix}_{pid}` on the server `LICENSD_TEST_PG_URL` names;
/// `None` without one.
async fn fresh_pg_database(prefix: &str) -> Option<String> {
    use sqlx::Connection;
    let admin = std::env::var("LICENSD_TEST_PG_URL").ok()?;
    let name = format!("{prefix}_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("pg admin");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
        .execute(&mut conn)
        .await
        .expect("drop");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create");
    let base = admin.rsplit_once('/').map(|(base, _)| base).expect("url with database");
    Some(format!("{base}/{name}"))
}

/// `execute_in_write` commits all of its statements or, when one fails, none: a second insert of
/// the same product code is refused as a Conflict and takes the first insert with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_in_write_is_all_or_nothing() {
    macro_rules! check {
        ($store:expr, $core:ident) => {{
            let store = $store;
            store.migrate(NOW).await.expect("migrate");
            let insert = |code: &'static str| {
                sqlx::query(
                    "INSERT INTO products (code, name, auth_method, status, trial_allowed, trial_days, metadata, \
                     created_at, updated_at) VALUES ($1, 'App', 'key', 'active', $2, 0, '{}', $3, $3)",
                )
                .bind(code)
                .bind(false)
                .bind(NOW)
            };
            let refused =
                crate::$core::shared::execute_in_write(&store, [insert("a"), insert("a")], crate::sql::db_err).await;
            assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
            crate::$core::shared::execute_in_write(&store, [insert("b")], crate::sql::db_err)
                .await
                .expect("one insert");
            let codes: Vec<String> = sqlx::query_scalar("SELECT code FROM products")
                .fetch_all(&store.pool)
                .await
                .expect("codes");
            assert_eq!(codes, ["b"]);
        }};
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    check!(
        SqliteStore::connect(&url, Arc::new(XorCodec), 2, SqliteSynchronous::Full)
            .await
            .expect("sqlite"),
        sqlite
    );
    if let Some(url) = fresh_pg_database("execute_in_write").await {
        check!(
            PostgresStore::connect(&url, Arc::new(XorCodec), 2).await.expect("pg"),
            postgres
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn smoke_both_backends() {
    for (store, _dir) in stores().await {
        let backend = store.backend();
        eprintln!("backend {backend:?}");
        // Several migrators at once, then again: idempotent.
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.migrate(NOW).await })
            })
            .collect();
        for run in runs {
            run.await.expect("join").expect("migrate");
        }
        store.migrate(NOW).await.expect("migrate again");
        store.ping().await.expect("ping");

        let product = store
            .create_product(
                NewProduct {
                    code: "app".into(),
                    name: "App".into(),
                    auth_method: AuthMethod::Key,
                    status: ProductStatus::Active,
                    trial_allowed: false,
                    trial_days: 0,
                    metadata: json!({"a": 1}),
                },
                ev("product.create", "product"),
                NOW,
            )
            .await
            .expect("product");
        assert!(matches!(
            store
                .create_product(
                    NewProduct {
                        code: "app".into(),
                        name: "dup".into(),
                        auth_method: AuthMethod::Key,
                        status: ProductStatus::Active,
                        trial_allowed: false,
                        trial_days: 0,
                        metadata: json!({}),
                    },
                    ev("product.create", "product"),
                    NOW
                )
                .await,
            Err(StoreError::Conflict(_))
        ));
        let feature = store
            .create_feature(
                FeatureSpec {
                    product_id: product.id,
                    code: "export".into(),
                    name: "Export".into(),
                    feature_type: FeatureType::Consumption,
                    max_consumptions: Some(3),
                    allow_overages: false,
                    max_overages: None,
                    allow_negative: false,
                    reset_period: ResetPeriod::Monthly,
                    floating_seats: None,
                    floating_lease_seconds: 60,
                    metadata: json!({}),
                },
                ev("feature.create", "feature"),
                NOW,
            )
            .await
            .expect("feature");

        // 50 concurrent activations of distinct devices against max_activations = 5.
        let terms = LicenseTerms {
            max_activations: Some(5),
            ..Default::default()
        };
        let mut with_feature = license(product.id.get(), "KEY-1", terms);
        with_feature.features = vec![FeatureGrant {
            code: "export".into(),
            overrides: Default::default(),
        }];
        let lic = store
            .create_licenses(vec![with_feature], ev("license.create", "license"), NOW)
            .await
            .expect("license")
            .remove(0);
        assert_eq!(lic.key.as_deref(), Some("KEY-1"));
        let attempts = (0..50).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .activate(
                        LicenseRef::Key("KEY-1".into()),
                        device(&format!("dev-{i}")),
                        None,
                        ev("device.activate", "license"),
                        NOW,
                    )
                    .await
            })
        });
        let mut ok = 0;
        let mut denied = 0;
        for handle in attempts.collect::<Vec<_>>() {
            match handle.await.expect("join") {
                Ok(activation) => {
                    assert!(activation.newly_activated);
                    ok += 1
                }
                Err(StoreError::Denied(Denial::ActivationLimitReached)) => denied += 1,
                Err(other) => panic!("{backend:?}: unexpected {other:?}"),
            }
        }
        assert_eq!((ok, denied), (5, 45), "{backend:?}");
        let devices = store.list_devices(lic.id).await.unwrap();
        assert_eq!(devices.len(), 5);

        // Already active: not consumed again. Deactivate, then a new device is a transfer.
        let again = store
            .activate(
                LicenseRef::Id(lic.id),
                device(&devices[0].fingerprint),
                None,
                ev("a", "license"),
                NOW,
            )
            .await
            .unwrap();
        assert!(!again.newly_activated);
        assert_eq!(again.active_devices, 5);
        let after = store
            .deactivate(LicenseRef::Id(lic.id), &devices[0].fingerprint, ev("d", "license"), NOW)
            .await
            .unwrap();
        assert_eq!(after.deactivation_count, 1);
        assert!(matches!(
            store
                .deactivate(LicenseRef::Id(lic.id), &devices[0].fingerprint, ev("d", "license"), NOW)
                .await,
            Err(StoreError::Denied(Denial::DeviceNotActivated))
        ));
        let moved = store
            .activate(LicenseRef::Id(lic.id), device("new"), None, ev("a", "license"), NOW)
            .await
            .unwrap();
        assert_eq!(moved.license.transfer_count, 1);
        let reactivated = store
            .deactivate_device(moved.device.id, ev("d", "device"), NOW)
            .await
            .unwrap();
        assert!(reactivated.deactivated_at.is_some());
        let back = store
            .activate(LicenseRef::Id(lic.id), device("new"), None, ev("a", "license"), NOW + 1)
            .await
            .unwrap();
        assert_eq!(back.device.id, moved.device.id, "reactivation reuses the row");
        assert!(back.device.is_active());

        // Validation reports, never errs, on a denial.
        let report = store
            .validate(LicenseRef::Key("KEY-1".into()), Some("new"), NOW)
            .await
            .unwrap();
        assert!(report.outcome.is_ok());
        assert_eq!(report.active_devices, 5);
        assert_eq!(report.features.len(), 1);
        let report = store
            .validate(LicenseRef::Key("KEY-1".into()), Some("stranger"), NOW)
            .await
            .unwrap();
        assert_eq!(report.outcome, Err(Denial::DeviceNotActivated));
        assert!(matches!(
            store.validate(LicenseRef::Key("nope".into()), None, NOW).await,
            Err(StoreError::Denied(Denial::LicenseNotFound))
        ));

        // Feature consumption with idempotency.
        let first = store
            .consume_feature(
                LicenseRef::Id(lic.id),
                "export",
                2,
                Some("k1".into()),
                ev("c", "license"),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!((first.total, first.replayed), (2, false));
        let replay = store
            .consume_feature(
                LicenseRef::Id(lic.id),
                "export",
                2,
                Some("k1".into()),
                ev("c", "license"),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(
            (replay.total, replay.replayed, replay.event.id),
            (2, true, first.event.id)
        );
        assert!(matches!(
            store
                .consume_feature(LicenseRef::Id(lic.id), "export", 2, None, ev("c", "license"), NOW)
                .await,
            Err(StoreError::Denied(Denial::FeatureConsumptionLimitReached))
        ));
        assert!(matches!(
            store
                .consume_feature(LicenseRef::Id(lic.id), "nope", 1, None, ev("c", "license"), NOW)
                .await,
            Err(StoreError::Denied(Denial::FeatureNotFound))
        ));
        assert!(matches!(
            store
                .consume(LicenseRef::Id(lic.id), 1, None, ev("c", "license"), NOW)
                .await,
            Err(StoreError::Denied(Denial::NotConsumption))
        ));

        // Edit keeps counters; replacing grants keeps the counter of a kept feature.
        let mut edit = LicenseEdit::from_license(&lic);
        edit.features = Some(vec![FeatureGrant {
            code: "export".into(),
            overrides: FeatureOverrides {
                max_consumptions: Some(10),
                ..Default::default()
            },
        }]);
        let edited = store.edit_license(lic.id, edit, ev("e", "license"), NOW).await.unwrap();
        assert_eq!(
            edited.transfer_count, 1,
            "only the move to a new device was a transfer; reactivating that same device was not"
        );
        let features = store.license_features(lic.id).await.unwrap();
        assert_eq!(
            (features[0].consumption_used, features[0].overrides.max_consumptions),
            (2, Some(10))
        );
        let mut edit = LicenseEdit::from_license(&lic);
        edit.features = Some(vec![FeatureGrant {
            code: "missing".into(),
            overrides: Default::default(),
        }]);
        assert!(matches!(
            store.edit_license(lic.id, edit, ev("e", "license"), NOW).await,
            Err(StoreError::Conflict(_))
        ));

        // Floating seats.
        let floating = LicenseTerms {
            max_activations: None,
            floating: Some(FloatingTerms {
                seats: 2,
                lease_seconds: 60,
                borrow_allowed: true,
                max_borrow_hours: 24,
                sessions_per_client: None,
            }),
            ..Default::default()
        };
        let fl = store
            .create_licenses(
                vec![license(product.id.get(), "FLOAT", floating)],
                ev("c", "license"),
                NOW,
            )
            .await
            .unwrap()
            .remove(0);
        let key = || LicenseRef::Key("FLOAT".into());
        store
            .checkout_lease(key(), "a", None, ev("l", "license"), NOW)
            .await
            .unwrap();
        store
            .checkout_lease(key(), "b", Some(NOW + 2 * HOUR), ev("l", "license"), NOW)
            .await
            .unwrap();
        assert!(matches!(
            store.checkout_lease(key(), "c", None, ev("l", "license"), NOW).await,
            Err(StoreError::Denied(Denial::FloatingSeatsExhausted))
        ));
        // "a" expires, "b" is borrowed: a seat frees up for "c".
        store
            .checkout_lease(key(), "c", None, ev("l", "license"), NOW + HOUR)
            .await
            .unwrap();
        assert_eq!(store.live_leases(fl.id, NOW + HOUR).await.unwrap().len(), 2);
        store
            .release_lease(key(), "c", ev("r", "license"), NOW + HOUR)
            .await
            .unwrap();
        assert!(matches!(
            store.release_lease(key(), "c", ev("r", "license"), NOW + HOUR).await,
            Err(StoreError::Denied(Denial::DeviceNotActivated))
        ));

        // License-level consumption with a reset period.
        let consumption = LicenseTerms {
            license_type: LicenseType::Consumption,
            consumption: Some(ConsumptionTerms {
                max_consumptions: Some(5),
                allow_overages: false,
                max_overages: None,
                allow_negative: false,
                reset_period: ResetPeriod::Daily,
            }),
            ..Default::default()
        };
        store
            .create_licenses(
                vec![license(product.id.get(), "USE", consumption)],
                ev("c", "license"),
                NOW,
            )
            .await
            .unwrap();
        let used = store
            .consume(LicenseRef::Key("USE".into()), 5, None, ev("c", "license"), NOW)
            .await
            .unwrap();
        assert_eq!(used.total, 5);
        assert!(
            store
                .consume(LicenseRef::Key("USE".into()), 1, None, ev("c", "license"), NOW)
                .await
                .is_err()
        );
        let next_day = store
            .consume(LicenseRef::Key("USE".into()), 1, None, ev("c", "license"), NOW + DAY)
            .await
            .unwrap();
        assert_eq!(next_day.total, 1);

        // Signing keys: concurrent ensure yields one active key.
        let ensure = (0..6).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .ensure_signing_key(
                        NewSigningKey {
                            kid: format!("k{i}"),
                            algorithm: "Ed25519".into(),
                            public_der: vec![i],
                            private_pkcs8: vec![9, i],
                        },
                        NOW,
                    )
                    .await
            })
        });
        let mut kids = Vec::new();
        for handle in ensure.collect::<Vec<_>>() {
            kids.push(handle.await.expect("join").expect("ensure").kid);
        }
        kids.dedup();
        assert_eq!(kids.len(), 1, "{kids:?}");
        let rotated = store
            .rotate_signing_key(
                NewSigningKey {
                    kid: "r".into(),
                    algorithm: "Ed25519".into(),
                    public_der: vec![1],
                    private_pkcs8: vec![2],
                },
                ev("k", "signing_key"),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(rotated.private_pkcs8, vec![2]);
        let keys = store.list_signing_keys().await.unwrap();
        assert_eq!(keys.iter().filter(|k| k.active).count(), 1);

        // Admin tokens and credentials.
        assert!(store.bootstrap_admin_token("root", "secret", NOW).await.unwrap());
        assert!(!store.bootstrap_admin_token("root", "other", NOW).await.unwrap());
        assert!(store.find_admin_token("secret").await.unwrap().is_some());
        let cred = store
            .create_credential(
                NewCredential {
                    dialect: Dialect::Dna,
                    name: "c".into(),
                    key_id: "client".into(),
                    secret: "s3cret".into(),
                    product_id: Some(product.id),
                    read_only: true,
                    ip_allowlist: vec!["10.0.0.0/8".parse().unwrap()],
                },
                ev("cred", "credential"),
                NOW,
            )
            .await
            .unwrap();
        let (found, secret) = store.find_credential(Dialect::Dna, "client").await.unwrap().unwrap();
        assert_eq!((found, secret.as_str()), (cred, "s3cret"));

        // Deletes: referenced rows conflict.
        assert!(matches!(
            store.delete_feature(feature.id, ev("d", "feature"), NOW).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store
                .delete_product(
                    product.id,
                    ProductDeletion::RefuseWhileLicensed,
                    ev("d", "product"),
                    NOW
                )
                .await,
            Err(StoreError::Conflict(_))
        ));

        // Filters and events.
        let listed = store
            .list_licenses(
                LicenseFilter {
                    product_id: Some(product.id),
                    ..Default::default()
                },
                Page { after: None, limit: 2 },
            )
            .await
            .unwrap();
        assert_eq!(listed.len(), 2);
        let events = store
            .list_events(
                EventFilter {
                    subject_type: Some("product".into()),
                    ..Default::default()
                },
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].subject_id, Some(product.id.get()));

        // Bulk issue.
        let started = std::time::Instant::now();
        let batch: Vec<NewLicense> = (0..10_000)
            .map(|i| license(product.id.get(), &format!("BULK-{i}"), LicenseTerms::default()))
            .collect();
        let created = store.create_licenses(batch, ev("bulk", "license"), NOW).await.unwrap();
        assert_eq!(created.len(), 10_000);
        eprintln!("{backend:?}: 10k licenses in {:?}", started.elapsed());
        let dup = vec![
            license(product.id.get(), "DUP", LicenseTerms::default()),
            license(product.id.get(), "DUP", LicenseTerms::default()),
        ];
        assert!(matches!(
            store.create_licenses(dup, ev("bulk", "license"), NOW).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(
            store.find_license_by_key("DUP").await.unwrap().is_none(),
            "all or nothing"
        );
    }
}

/// `validate` decodes `validation_select!` by position with the same decoders as the plain
/// `SELECT <cols>` statements, so its column lists must stay those lists, in that order.
#[test]
fn validation_select_lists_the_decoders_columns_in_order() {
    let select = crate::sql::validation_select!();
    let columns: Vec<&str> = select
        .trim_start_matches("SELECT ")
        .split(',')
        .map(str::trim)
        .take_while(|column| !column.starts_with('(') && !column.starts_with("EXISTS"))
        .collect();
    let prefixed = |prefix: &str, list: &str| -> Vec<String> {
        list.split(',').map(|c| format!("{prefix}.{}", c.trim())).collect()
    };
    let mut expected = prefixed("l", crate::sql::license_cols!());
    assert_eq!(expected.len(), crate::sql::VALIDATION_PRODUCT_AT);
    expected.extend(prefixed("p", crate::sql::product_cols!()));
    assert_eq!(expected.len(), crate::sql::VALIDATION_DEVICE_AT);
    expected.extend(prefixed("d", crate::sql::device_cols!()));
    assert_eq!(columns, expected);
}

/// SQLite: the console's validation counts are written without moving the read generation (no
/// cache reads them: flushed every 10 s, they emptied every cached read and kept answer); every
/// other commit still moves it, and the counts are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_validation_counts_leave_the_read_cache_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = connect_server(
        &url,
        Arc::new(XorCodec),
        4,
        SqliteSynchronous::Full,
        16,
        std::time::Duration::ZERO,
    )
    .await
    .expect("sqlite");
    store.migrate(NOW).await.expect("migrate");
    let before = store
        .read_generation()
        .expect("a file database with the cache keeps a generation");
    store
        .add_validation_counts(&[(NOW / DAY - 1, 2), (NOW / DAY, 3)])
        .await
        .expect("counts");
    store.add_validation_counts(&[(NOW / DAY, 4)]).await.expect("counts");
    assert_eq!(store.read_generation(), Some(before), "the counts invalidate nothing");
    let days: Vec<(i64, i64)> = store
        .daily_activity(NOW - DAY)
        .await
        .expect("daily activity")
        .iter()
        .map(|day| (day.day, day.validations))
        .collect();
    assert_eq!(days, vec![(NOW / DAY - 1, 2), (NOW / DAY, 7)]);
    store
        .create_product(
            NewProduct {
                code: "app".into(),
                name: "App".into(),
                auth_method: AuthMethod::Key,
                status: ProductStatus::Active,
                trial_allowed: false,
                trial_days: 0,
                metadata: json!({}),
            },
            ev("product.create", "product"),
            NOW,
        )
        .await
        .expect("product");
    let after = store.read_generation().expect("generation");
    assert!(
        after > before,
        "any other commit moves the generation ({before} -> {after})"
    );
    store.add_validation_counts(&[(NOW / DAY, 1)]).await.expect("counts");
    assert_eq!(store.read_generation(), Some(after));
}
