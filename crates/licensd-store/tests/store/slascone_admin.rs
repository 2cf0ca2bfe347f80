//! SLASCONE back-office storage of issue 12: the generated ISV id and the one-transaction license
//! update (edition, temporary flag, legacy key, values and limits together or not at all).
use licensd_domain::ProductId;

use crate::harness::*;
use licensd_domain::LicenseId;
use licensd_domain::LicenseKind;
use licensd_domain::backoffice::EntryKind;
use licensd_store::NewPolicy;
use licensd_store::StoreError;
use licensd_store::dialects::slascone::{CONFLICT_LEGACY_KEY, CONFLICT_TOKENS_IN_USE, LicenseLimitsUpdate};
use licensd_store::dialects::slascone_admin::{
    CONFLICT_EDITION_MODE, CONFLICT_TEMPORARY, CONFLICT_UNKNOWN_EDITION, LicenseUpdate,
};
use serde_json::json;

fn conflict_text<T: std::fmt::Debug>(result: licensd_store::Result<T>) -> String {
    match result {
        Err(StoreError::Conflict(text)) => text,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

pub async fn slascone_isv_id_is_recorded_once(db: Db) {
    let first = db.isv_id("11111111-1111-4111-8111-111111111111", NOW).await.unwrap();
    assert_eq!(first, "11111111-1111-4111-8111-111111111111");
    // Later candidates (a restart, another node) get the recorded id.
    let again = db
        .isv_id("22222222-2222-4222-8222-222222222222", NOW + 1)
        .await
        .unwrap();
    assert_eq!(again, first);
}

pub async fn slascone_license_update_is_all_or_nothing(db: Db) {
    let p = product(&db, "p1").await;
    let q = product(&db, "p2").await;
    let edition = |product_id: i64, code: &str, terms: licensd_domain::LicenseTerms| NewPolicy {
        product_id: ProductId::new(product_id),
        code: code.into(),
        name: code.into(),
        terms,
        duration_days: None,
        maintenance_days: None,
        features: Vec::new(),
        metadata: json!({}),
    };
    let trial = licensd_domain::LicenseTerms {
        kind: LicenseKind::Trial,
        ..terms(Some(1))
    };
    let a = db
        .create_policy(edition(p.id.get(), "a", terms(Some(1))), ev("p", "policy"), NOW)
        .await
        .unwrap();
    let b = db
        .create_policy(edition(p.id.get(), "b", terms(Some(9))), ev("p", "policy"), NOW)
        .await
        .unwrap();
    let floating = db
        .create_policy(edition(p.id.get(), "f", floating_terms(2, 600)), ev("p", "policy"), NOW)
        .await
        .unwrap();
    let temporary = db
        .create_policy(edition(p.id.get(), "t", trial), ev("p", "policy"), NOW)
        .await
        .unwrap();
    let elsewhere = db
        .create_policy(edition(q.id.get(), "x", terms(Some(1))), ev("p", "policy"), NOW)
        .await
        .unwrap();
    let mut new = new_license(p.id, "UPD-KEY", terms(Some(2)));
    new.settings.policy_id = Some(a.id);
    let lic = create_license(&db, new).await;
    let other = license(&db, p.id, "OTHER-KEY", terms(Some(1))).await;
    db.set_legacy_key(other.id, "TAKEN", ev("l", "license"), NOW)
        .await
        .unwrap();
    let license_type = db
        .create_entry(EntryKind::LicenseType, p.id.get(), "Site", None, ev("t", "t"), NOW)
        .await
        .unwrap();
    activate(&db, &lic, "dev-1", NOW).await.unwrap();
    let lic = db.get_license(lic.id).await.unwrap();

    let everything = |policy_id: i64, legacy: &str, token_limit: i64| LicenseUpdate {
        limits: LicenseLimitsUpdate {
            token_limit: Some(token_limit),
            ..LicenseLimitsUpdate::default()
        },
        policy_id: Some(policy_id),
        temporary: Some(false),
        license_type: Some(license_type.id),
        release: None,
        legacy_key: Some(Some(legacy.to_owned())),
    };
    let events = event_count(&db).await;
    let refusals = [
        (everything(b.id, "TAKEN", 3), CONFLICT_LEGACY_KEY),
        (everything(floating.id, "NEW", 3), CONFLICT_EDITION_MODE),
        (everything(temporary.id, "NEW", 3), CONFLICT_TEMPORARY),
        (everything(elsewhere.id, "NEW", 3), CONFLICT_UNKNOWN_EDITION),
        (everything(b.id, "NEW", 0), CONFLICT_TOKENS_IN_USE),
        (
            LicenseUpdate {
                temporary: Some(true),
                ..everything(b.id, "NEW", 3)
            },
            CONFLICT_TEMPORARY,
        ),
    ];
    for (update, expected) in refusals {
        let text = conflict_text(
            db.apply_license_update(lic.id, update, ev("u", "license"), NOW + 1)
                .await,
        );
        assert_eq!(text, expected);
        // Nothing of the refused update is kept, its event included.
        let now = db.get_license(lic.id).await.unwrap();
        assert_eq!(
            (now.policy_id, now.terms.clone(), now.updated_at),
            (Some(a.id), lic.terms.clone(), lic.updated_at)
        );
        assert_eq!(db.legacy_key_of(lic.id).await.unwrap(), None);
        assert!(db.license_values(lic.id).await.unwrap().is_empty());
        assert_eq!(event_count(&db).await, events);
    }
    db.apply_license_update(lic.id, everything(b.id, "NEW", 3), ev("u", "license"), NOW + 2)
        .await
        .unwrap();
    let after = db.get_license(lic.id).await.unwrap();
    assert_eq!(
        (after.policy_id, after.terms.max_activations, after.updated_at),
        (Some(b.id), Some(3), NOW + 2)
    );
    assert_eq!(db.legacy_key_of(lic.id).await.unwrap().as_deref(), Some("NEW"));
    assert_eq!(db.license_of_legacy_key("NEW").await.unwrap(), Some(lic.id));
    let values = db.license_values(lic.id).await.unwrap();
    assert_eq!(
        values.iter().map(|(e, _)| e.id).collect::<Vec<_>>(),
        vec![license_type.id]
    );
    assert_eq!(event_count(&db).await, events + 1);
    // `Some(None)` removes the legacy key.
    let clear = LicenseUpdate {
        legacy_key: Some(None),
        ..LicenseUpdate::default()
    };
    db.apply_license_update(lic.id, clear, ev("u", "license"), NOW + 3)
        .await
        .unwrap();
    assert_eq!(db.legacy_key_of(lic.id).await.unwrap(), None);
    assert!(matches!(
        db.apply_license_update(
            LicenseId::new(999_999),
            LicenseUpdate::default(),
            ev("u", "license"),
            NOW
        )
        .await,
        Err(StoreError::NotFound)
    ));
}
