//! The Key Manager dialect's storage: API-key settings, the access block list, product signing
//! keys, metadata, generators, assignment, contracts with their quota, downloadables, telemetry.

use crate::harness::*;
use licensd_domain::access::AccessBlockKind;
use licensd_domain::contract::ContractRefusal;
use licensd_domain::downloadable::DownloadableSpec;
use licensd_domain::generator::GeneratorSpec;
use licensd_domain::keygen::KeyPattern;
use licensd_domain::*;
use licensd_store::*;
use serde_json::json;

fn km_credential(name: &str) -> NewCredential {
    NewCredential {
        dialect: Dialect::KeyManager,
        name: name.into(),
        key_id: format!("kid-{name}"),
        secret: format!("secret-{name}"),
        product_id: None,
        read_only: false,
        ip_allowlist: vec![],
    }
}

pub async fn km_settings_blocks_and_product_keys(db: Db) {
    let credential = db
        .create_credential(km_credential("app"), ev("c", "credential"), NOW)
        .await
        .unwrap();
    assert_eq!(db.api_key_settings(credential.id).await.unwrap(), None);
    let settings = ApiKeySettings {
        credential_id: credential.id,
        capabilities: vec!["verify".into(), "activate".into()],
        active: false,
        updated_at: NOW,
    };
    db.put_api_key_settings(settings.clone(), ev("s", "credential"))
        .await
        .unwrap();
    assert_eq!(
        db.api_key_settings(credential.id).await.unwrap(),
        Some(settings.clone())
    );
    let replaced = ApiKeySettings {
        active: true,
        capabilities: vec![],
        ..settings.clone()
    };
    db.put_api_key_settings(replaced.clone(), ev("s", "credential"))
        .await
        .unwrap();
    assert_eq!(db.api_key_settings(credential.id).await.unwrap(), Some(replaced));
    // Only Key Manager credentials take settings.
    let native = NewCredential {
        dialect: Dialect::Native,
        ..km_credential("native")
    };
    let native = db.create_credential(native, ev("c", "credential"), NOW).await.unwrap();
    assert_not_found(
        db.put_api_key_settings(
            ApiKeySettings {
                credential_id: native.id,
                ..settings.clone()
            },
            ev("s", "credential"),
        )
        .await,
    );
    assert_not_found(
        db.put_api_key_settings(
            ApiKeySettings {
                credential_id: 999_999,
                ..settings
            },
            ev("s", "credential"),
        )
        .await,
    );

    let block = db
        .add_access_block(
            AccessBlockKind::Identifier,
            "HW-1",
            Some("abuse".into()),
            ev("b", "access_block"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        (block.kind, block.value.as_str(), block.reason.as_deref()),
        (AccessBlockKind::Identifier, "HW-1", Some("abuse"))
    );
    assert_conflict(
        db.add_access_block(AccessBlockKind::Identifier, "HW-1", None, ev("b", "access_block"), NOW)
            .await,
    );
    // The same value under another kind is another entry.
    db.add_access_block(AccessBlockKind::Domain, "HW-1", None, ev("b", "access_block"), NOW)
        .await
        .unwrap();
    assert_eq!(db.list_access_blocks().await.unwrap().len(), 2);
    db.delete_access_block(block.id, ev("b", "access_block"), NOW)
        .await
        .unwrap();
    assert_not_found(db.delete_access_block(block.id, ev("b", "access_block"), NOW).await);
    assert_eq!(db.list_access_blocks().await.unwrap().len(), 1);

    let product = product(&db, "km-keys").await;
    let key = NewSigningKey {
        kid: "kid-1".into(),
        algorithm: "RSA-2048".into(),
        public_der: vec![1, 2, 3],
        private_pkcs8: b"private key bytes".to_vec(),
    };
    assert!(db.product_signing_key(product.id).await.unwrap().is_none());
    db.put_product_signing_key(product.id, key.clone(), ev("k", "product"), NOW)
        .await
        .unwrap();
    let stored = db.product_signing_key(product.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.kid.as_str(), stored.private_pkcs8.as_slice()),
        ("kid-1", &b"private key bytes"[..])
    );
    // The private key is sealed at rest.
    let raw = db
        .raw
        .bytes(
            "SELECT private_sealed FROM km_product_signing_keys WHERE product_id = ?",
            &[Arg::I(product.id.get())],
        )
        .await;
    assert!(!raw.windows(7).any(|w| w == b"private"));
    assert_not_found(
        db.put_product_signing_key(ProductId::new(999_999), key, ev("k", "product"), NOW)
            .await,
    );
    db.delete_product_signing_key(product.id, ev("k", "product"), NOW)
        .await
        .unwrap();
    assert_not_found(db.delete_product_signing_key(product.id, ev("k", "product"), NOW).await);
}

pub async fn km_metadata_per_owner(db: Db) {
    let (product, lic) = product_and_license(&db, terms(Some(1))).await;
    let owner = MetaOwner::License(lic.id);
    let entry = db
        .create_meta(owner, "seat", "A1", ev("m", "license"), NOW)
        .await
        .unwrap();
    assert_conflict(db.create_meta(owner, "seat", "A2", ev("m", "license"), NOW).await);
    let updated = db
        .update_meta(owner, "seat", "B2", ev("m", "license"), NOW + 1)
        .await
        .unwrap();
    assert_eq!(
        (updated.id, updated.value.as_str(), updated.updated_at),
        (entry.id, "B2", NOW + 1)
    );
    assert_not_found(db.update_meta(owner, "other", "x", ev("m", "license"), NOW).await);
    // The same name on the product is a separate entry.
    db.create_meta(MetaOwner::Product(product.id), "seat", "P", ev("m", "product"), NOW)
        .await
        .unwrap();
    assert_eq!(db.list_meta(owner).await.unwrap().len(), 1);
    assert_not_found(
        db.create_meta(
            MetaOwner::License(LicenseId::new(999_999)),
            "k",
            "v",
            ev("m", "license"),
            NOW,
        )
        .await,
    );
    db.delete_meta(owner, "seat", ev("m", "license"), NOW).await.unwrap();
    assert_not_found(db.delete_meta(owner, "seat", ev("m", "license"), NOW).await);
    assert!(db.list_meta(owner).await.unwrap().is_empty());
    // Deleting the product takes its licenses, their metadata and its own.
    db.create_meta(owner, "again", "1", ev("m", "license"), NOW)
        .await
        .unwrap();
    activate(&db, &lic, "fp-1", NOW).await.unwrap();
    db.delete_product(product.id, ProductDeletion::Cascade, ev("d", "product"), NOW)
        .await
        .unwrap();
    assert_not_found(db.get_license(lic.id).await);
    assert_not_found(db.get_product(product.id).await);
    assert!(db.list_meta(MetaOwner::Product(product.id)).await.unwrap().is_empty());
    assert_not_found(
        db.delete_product(product.id, ProductDeletion::Cascade, ev("d", "product"), NOW)
            .await,
    );
}

fn stock(product_id: ProductId, key: &str) -> NewLicense {
    {
        let mut l = new_license(product_id, key, terms(Some(1)));
        l.settings.assignment = Assignment::InStock;
        l
    }
}

fn assign_owner(metadata: &serde_json::Value, now: Millis) -> (serde_json::Value, Option<Millis>) {
    let mut metadata = metadata.clone();
    metadata["owner"] = json!("ada");
    (metadata, Some(now + DAY))
}

pub async fn km_generators_and_assignment(db: Db) {
    let product = product(&db, "km-gen").await;
    let spec = GeneratorSpec {
        name: "g".into(),
        pattern: KeyPattern::default(),
        activation_limit: 2,
        validity_days: 0,
        active: true,
    };
    let generator = db
        .create_generator(product.id, spec.clone(), ev("g", "generator"), NOW)
        .await
        .unwrap();
    assert_eq!(db.get_generator(generator.id).await.unwrap(), generator);
    let updated = db
        .update_generator(
            generator.id,
            GeneratorSpec {
                active: false,
                ..spec.clone()
            },
            ev("g", "generator"),
            NOW + 1,
        )
        .await
        .unwrap();
    assert!(!updated.active);
    assert_eq!(db.list_generators(Some(product.id)).await.unwrap(), vec![updated]);
    assert!(
        db.list_generators(Some(ProductId::new(999_999)))
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(
        db.create_generator(ProductId::new(999_999), spec, ev("g", "generator"), NOW)
            .await,
    );
    db.delete_generator(generator.id, ev("g", "generator"), NOW)
        .await
        .unwrap();
    assert_not_found(db.get_generator(generator.id).await);

    db.create_licenses(
        vec![stock(product.id, "S1"), stock(product.id, "S2")],
        ev("l", "license"),
        NOW,
    )
    .await
    .unwrap();
    let s1 = db.find_license_by_key("S1").await.unwrap().unwrap();
    let outcome = db
        .assign_stock(
            AssignSelection::One(s1.id),
            &assign_owner,
            vec![],
            ev("a", "license"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(outcome, AssignOutcome::Assigned(vec![s1.id]));
    let s1 = db.get_license(s1.id).await.unwrap();
    assert_eq!(
        (s1.assignment, s1.metadata["owner"].as_str(), s1.expires_at),
        (Assignment::Assigned, Some("ada"), Some(NOW + DAY))
    );
    assert_eq!(
        db.assign_stock(
            AssignSelection::One(s1.id),
            &assign_owner,
            vec![],
            ev("a", "license"),
            NOW
        )
        .await
        .unwrap(),
        AssignOutcome::NotAssignable
    );
    // Not enough stock and nothing to mint: nothing changes.
    let events = event_count(&db).await;
    let random = AssignSelection::Random {
        product_id: product.id,
        quantity: 3,
    };
    assert_eq!(
        db.assign_stock(random, &assign_owner, vec![], ev("a", "license"), NOW)
            .await
            .unwrap(),
        AssignOutcome::Insufficient { available: 1 }
    );
    assert_eq!(event_count(&db).await, events);
    // Offered keys make up the shortfall (already assigned as given).
    let minted = |key: &str| {
        let mut l = new_license(product.id, key, terms(Some(1)));
        l.settings.assignment = Assignment::Assigned;
        l
    };
    let outcome = db
        .assign_stock(
            random,
            &assign_owner,
            vec![minted("M1"), minted("M2"), minted("M3")],
            ev("a", "license"),
            NOW,
        )
        .await
        .unwrap();
    let AssignOutcome::Assigned(ids) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(ids.len(), 3);
    assert!(
        db.find_license_by_key("M3").await.unwrap().is_none(),
        "only the shortfall is minted"
    );
    for id in ids {
        assert_eq!(db.get_license(id).await.unwrap().assignment, Assignment::Assigned);
    }
    // A minted key that exists already fails the whole assignment.
    db.create_licenses(vec![stock(product.id, "S3")], ev("l", "license"), NOW)
        .await
        .unwrap();
    let random = AssignSelection::Random {
        product_id: product.id,
        quantity: 2,
    };
    assert_conflict(
        db.assign_stock(random, &assign_owner, vec![minted("M1")], ev("a", "license"), NOW)
            .await,
    );
    let s3 = db.find_license_by_key("S3").await.unwrap().unwrap();
    assert_eq!(s3.assignment, Assignment::InStock);
}

fn contract_fields(product_id: i64, key: &str, quantity: i64) -> ContractFields {
    ContractFields {
        product_id: ProductId::new(product_id),
        name: "reseller".into(),
        information: None,
        key: key.into(),
        license_keys_quantity: quantity,
        active: true,
        can_get_info: true,
        can_generate: true,
        can_destroy: true,
        can_destroy_all: true,
    }
}

pub async fn km_contract_quota_holds_under_concurrency(db: Db) {
    let product = product(&db, "km-contract").await;
    let stored = db
        .create_contract(
            contract_fields(product.id.get(), "contract-key-1", 5),
            ev("c", "contract"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!((stored.key.as_str(), stored.license_keys_count), ("contract-key-1", 0));
    assert_conflict(
        db.create_contract(
            contract_fields(product.id.get(), "contract-key-1", 5),
            ev("c", "contract"),
            NOW,
        )
        .await,
    );
    assert_not_found(
        db.create_contract(contract_fields(999_999, "contract-key-2", 5), ev("c", "contract"), NOW)
            .await,
    );
    let found = db.find_contract_by_key("contract-key-1").await.unwrap().unwrap();
    assert_eq!(found.contract.id, stored.contract.id);
    assert!(db.find_contract_by_key("nope").await.unwrap().is_none());
    let id = stored.contract.id;
    let product_id = product.id;

    // Eight concurrent requests for one key each against a quota of five.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("C-{i}");
            let new = vec![new_license(product_id, &key, terms(Some(1)))];
            store.generate_contract_keys(id, new, ev("g", "contract"), NOW).await
        }));
    }
    let mut generated = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Ok(ids) => generated += ids.len(),
            Err(ContractRefusal::LimitReached) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((generated, refused), (5, 3));
    assert_eq!(db.get_contract(id).await.unwrap().license_keys_count, 5);
    let too_many = vec![new_license(product.id, "X", terms(Some(1)))];
    assert_eq!(
        db.generate_contract_keys(id, too_many, ev("g", "contract"), NOW)
            .await
            .unwrap(),
        Err(ContractRefusal::LimitReached)
    );

    // Destroy frees quota; only the contract's own keys can be destroyed.
    let outside = license(&db, product.id, "OUTSIDE", terms(Some(1))).await;
    assert_not_found(db.destroy_contract_key(id, outside.id, ev("d", "license"), NOW).await);
    let all = db
        .list_licenses(
            LicenseFilter {
                product_id: Some(product.id),
                ..LicenseFilter::default()
            },
            all(),
        )
        .await
        .unwrap();
    let victim = all
        .into_iter()
        .find(|l| l.key.as_deref().is_some_and(|k| k.starts_with("C-")))
        .unwrap();
    db.destroy_contract_key(id, victim.id, ev("d", "license"), NOW)
        .await
        .unwrap();
    assert_eq!(db.get_contract(id).await.unwrap().license_keys_count, 4);
    assert_eq!(db.destroy_contract_keys(id, ev("d", "license"), NOW).await.unwrap(), 4);
    assert_eq!(db.destroy_contract_keys(id, ev("d", "license"), NOW).await.unwrap(), 0);
    assert!(db.get_license(outside.id).await.is_ok());

    let mut fields = contract_fields(product.id.get(), "contract-key-9", 7);
    fields.can_generate = false;
    let updated = db
        .update_contract(id, fields.clone(), ev("u", "contract"), NOW + 1)
        .await
        .unwrap();
    assert_eq!(
        (updated.key.as_str(), updated.contract.license_keys_quantity),
        ("contract-key-9", 7)
    );
    assert!(db.find_contract_by_key("contract-key-1").await.unwrap().is_none());
    let one = vec![new_license(product.id, "Y", terms(Some(1)))];
    assert_eq!(
        db.generate_contract_keys(id, one, ev("g", "contract"), NOW)
            .await
            .unwrap(),
        Err(ContractRefusal::NotPermitted)
    );
    assert_not_found(db.update_contract(999_999, fields, ev("u", "contract"), NOW).await);
    assert_eq!(db.list_contracts().await.unwrap().len(), 1);
    db.delete_contract(id, ev("d", "contract"), NOW).await.unwrap();
    assert_not_found(db.delete_contract(id, ev("d", "contract"), NOW).await);
    assert_not_found(db.get_contract(id).await);
}

pub async fn km_downloadables_and_telemetry(db: Db) {
    let (product, lic) = product_and_license(&db, terms(Some(1))).await;
    let spec = DownloadableSpec {
        numeric_version: 102,
        version: "1.0.2".into(),
        update_summary: None,
        changelog: Some("fixes".into()),
        published: true,
        release_date: Some(NOW),
    };
    let d = db
        .create_downloadable(product.id, spec.clone(), ev("d", "downloadable"), NOW)
        .await
        .unwrap();
    assert_eq!(
        (d.file_name.as_deref(), d.file_size, d.download_counter),
        (None, None, 0)
    );
    assert_conflict(
        db.create_downloadable(product.id, spec.clone(), ev("d", "downloadable"), NOW)
            .await,
    );
    assert_not_found(
        db.create_downloadable(ProductId::new(999_999), spec, ev("d", "downloadable"), NOW)
            .await,
    );
    assert!(db.take_download(d.id).await.unwrap().is_none(), "no file yet");
    let d = db
        .put_downloadable_file(d.id, "app.zip", b"zipzip".to_vec(), ev("f", "downloadable"), NOW)
        .await
        .unwrap();
    assert_eq!((d.file_name.as_deref(), d.file_size), (Some("app.zip"), Some(6)));
    assert_eq!(
        db.take_download(d.id).await.unwrap(),
        Some(("app.zip".to_string(), b"zipzip".to_vec()))
    );
    assert_eq!(
        db.downloadable_by_version(product.id, 102)
            .await
            .unwrap()
            .unwrap()
            .download_counter,
        1
    );
    assert!(db.downloadable_by_version(product.id, 103).await.unwrap().is_none());
    assert_eq!(db.list_downloadables(Some(product.id)).await.unwrap().len(), 1);
    db.delete_downloadable(d.id, ev("d", "downloadable"), NOW)
        .await
        .unwrap();
    assert_not_found(db.get_downloadable(d.id).await);

    let record = |key: Option<&str>, flagged: bool| NewTelemetry {
        user_identifier: Some("u1".into()),
        license_id: key.and(Some(lic.id)),
        license_key: key.map(str::to_string),
        activation_identifier: None,
        product_id: Some(product.id),
        product_version: None,
        data_type: "text".into(),
        data_group: "g".into(),
        data: json!({"text": "hi"}),
        is_correct_format: true,
        license_key_exists: !flagged,
        product_exists: true,
        product_version_exists: false,
        has_red_flags: flagged,
    };
    let first = db.add_telemetry(record(Some("LIC-T"), false), NOW).await.unwrap();
    assert_eq!(
        (first.license_key.as_deref(), first.data.clone()),
        (Some("LIC-T"), json!({"text": "hi"}))
    );
    db.add_telemetry(record(Some("BOGUS"), true), NOW + 1).await.unwrap();
    db.add_telemetry(record(None, false), NOW + 2).await.unwrap();
    let all_records = db.list_telemetry(TelemetryFilter::default(), 100).await.unwrap();
    assert_eq!(
        all_records.iter().map(|r| r.created_at).collect::<Vec<_>>(),
        vec![NOW + 2, NOW + 1, NOW]
    );
    let by_key = TelemetryFilter {
        license_key: Some("LIC-T".into()),
        ..TelemetryFilter::default()
    };
    assert_eq!(db.list_telemetry(by_key, 100).await.unwrap().len(), 1);
    let flagged = TelemetryFilter {
        has_red_flags: Some(true),
        ..TelemetryFilter::default()
    };
    assert_eq!(
        db.list_telemetry(flagged, 100).await.unwrap()[0].license_key.as_deref(),
        Some("BOGUS")
    );
    assert_eq!(db.list_telemetry(TelemetryFilter::default(), 1).await.unwrap().len(), 1);
    // The key a client sent is not stored in the clear.
    let raw = db
        .raw
        .bytes(
            "SELECT license_key_sealed FROM km_telemetry WHERE id = ?",
            &[Arg::I(first.id)],
        )
        .await;
    assert!(!raw.windows(5).any(|w| w == b"LIC-T"));
}
