//! The SLASCONE back office's storage: named entries, customers with their master data, tag
//! assignments, per-license values, legacy keys and the last-edition rule.

use crate::harness::*;
use licensd_domain::backoffice::{CustomerProfile, EntryKind, TagTarget};
use licensd_domain::{CustomerId, LicenseId};
use licensd_store::StoreError;
use licensd_store::dialects::slascone::{
    CONFLICT_CUSTOMER_EMAIL, CONFLICT_CUSTOMER_NUMBER, CONFLICT_EDITION_IN_USE, CONFLICT_ENTRY_EXISTS,
    CONFLICT_EXPIRATION_MODE, CONFLICT_LAST_EDITION, CONFLICT_LEGACY_KEY, CONFLICT_PROSPECT_NUMBER,
    CONFLICT_TAG_ASSIGNED, CONFLICT_TOKENS_IN_USE, CONFLICT_USERS_IN_USE, LicenseLimitsUpdate,
};
use licensd_store::{NewLicenseUser, NewPolicy};
use serde_json::json;

fn conflict_text<T: std::fmt::Debug>(result: licensd_store::Result<T>) -> String {
    match result {
        Err(StoreError::Conflict(text)) => text,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn profile(number: &str, prospect: Option<&str>) -> CustomerProfile {
    CustomerProfile {
        customer_id: CustomerId::new(0),
        customer_number: number.into(),
        prospect_number: prospect.map(str::to_owned),
        customer_type_id: None,
        country: Some("CH".into()),
        language: Some("de".into()),
    }
}

pub async fn slascone_entries_are_unique_per_kind_and_scope(db: Db) {
    let p = product(&db, "p1").await;
    let q = product(&db, "p2").await;
    let e = |kind| ev("entry", kind);
    let tag = db
        .create_entry(EntryKind::Tag, 0, "VIP", None, e("tag"), NOW)
        .await
        .unwrap();
    assert_eq!(
        (
            tag.kind,
            tag.scope_id,
            tag.name.as_str(),
            tag.detail.as_deref(),
            tag.created_at
        ),
        (EntryKind::Tag, 0, "VIP", None, NOW)
    );
    assert_eq!(
        conflict_text(
            db.create_entry(EntryKind::Tag, 0, "VIP", Some("x"), e("tag"), NOW)
                .await
        ),
        CONFLICT_ENTRY_EXISTS
    );
    // The same name is free in another kind and in another scope.
    db.create_entry(EntryKind::CustomerType, 0, "VIP", None, e("ct"), NOW)
        .await
        .unwrap();
    let var_p = db
        .create_entry(EntryKind::Variable, p.id.get(), "Region", Some("desc"), e("var"), NOW)
        .await
        .unwrap();
    db.create_entry(EntryKind::Variable, q.id.get(), "Region", None, e("var"), NOW)
        .await
        .unwrap();
    assert_eq!(
        conflict_text(
            db.create_entry(EntryKind::Variable, p.id.get(), "Region", None, e("var"), NOW)
                .await
        ),
        CONFLICT_ENTRY_EXISTS
    );
    assert_eq!(db.list_entries(EntryKind::Variable, None).await.unwrap().len(), 2);
    assert_eq!(
        db.list_entries(EntryKind::Variable, Some(p.id.get())).await.unwrap(),
        vec![var_p.clone()]
    );
    assert_eq!(
        db.find_entry(EntryKind::Variable, var_p.id).await.unwrap(),
        Some(var_p.clone())
    );
    // An id of another kind is not found as this kind.
    assert_eq!(db.find_entry(EntryKind::Tag, var_p.id).await.unwrap(), None);
}

pub async fn slascone_customers_are_created_whole_or_not_at_all(db: Db) {
    let ct = db
        .create_entry(EntryKind::CustomerType, 0, "Enterprise", None, ev("ct", "ct"), NOW)
        .await
        .unwrap();
    let mut first = profile("C-1", Some("P-1"));
    first.customer_type_id = Some(ct.id);
    let (customer, stored) = db
        .create_customer_with_profile("a@acme.example", "ACME", first.clone(), ev("customer", "customer"), NOW)
        .await
        .unwrap();
    assert_eq!(customer.reference.as_deref(), Some("C-1"));
    assert_eq!(customer.company.as_deref(), Some("ACME"));
    assert_eq!(
        stored,
        CustomerProfile {
            customer_id: customer.id,
            ..first
        }
    );
    assert_eq!(db.get_customer(customer.id).await.unwrap(), customer);
    assert_eq!(db.customer_profile(customer.id).await.unwrap(), Some(stored));
    let events = event_count(&db).await;
    for (email, number, prospect, expected) in [
        ("b@other.example", "C-1", None, CONFLICT_CUSTOMER_NUMBER),
        ("a@acme.example", "C-2", None, CONFLICT_CUSTOMER_EMAIL),
        ("b@other.example", "C-2", Some("P-1"), CONFLICT_PROSPECT_NUMBER),
    ] {
        let result = db
            .create_customer_with_profile(
                email,
                "Other",
                profile(number, prospect),
                ev("customer", "customer"),
                NOW,
            )
            .await;
        assert_eq!(conflict_text(result), expected);
    }
    // Refusals left no core customer, profile or event behind.
    assert_eq!(db.list_customers(all()).await.unwrap().len(), 1);
    assert_eq!(db.raw.i64("SELECT COUNT(*) FROM slascone_customers", &[]).await, 1);
    assert_eq!(event_count(&db).await, events);
    // Without a profile a customer has none (core customers are not SLASCONE customers).
    assert_eq!(db.customer_profile(CustomerId::new(999_999)).await.unwrap(), None);
}

pub async fn slascone_tags_values_and_legacy_keys(db: Db) {
    let (p, lic) = product_and_license(&db, terms(Some(1))).await;
    let (customer, _) = db
        .create_customer_with_profile("a@acme.example", "ACME", profile("C-1", None), ev("c", "c"), NOW)
        .await
        .unwrap();
    let tag = db
        .create_entry(EntryKind::Tag, 0, "VIP", None, ev("t", "t"), NOW)
        .await
        .unwrap();
    db.assign_tag(tag.id, TagTarget::Customer, customer.id.get(), ev("a", "t"), NOW)
        .await
        .unwrap();
    assert_eq!(
        conflict_text(
            db.assign_tag(tag.id, TagTarget::Customer, customer.id.get(), ev("a", "t"), NOW)
                .await
        ),
        CONFLICT_TAG_ASSIGNED
    );
    db.assign_tag(tag.id, TagTarget::License, lic.id.get(), ev("a", "t"), NOW)
        .await
        .unwrap();
    assert_not_found(
        db.assign_tag(tag.id, TagTarget::License, 999_999, ev("a", "t"), NOW)
            .await,
    );
    assert_not_found(
        db.assign_tag(999_999, TagTarget::License, lic.id.get(), ev("a", "t"), NOW)
            .await,
    );
    // Only tags are tags.
    let variable = db
        .create_entry(EntryKind::Variable, p.id.get(), "Region", None, ev("v", "v"), NOW)
        .await
        .unwrap();
    assert_not_found(
        db.assign_tag(variable.id, TagTarget::License, lic.id.get(), ev("a", "t"), NOW)
            .await,
    );
    assert_eq!(
        db.tags_of(TagTarget::License, lic.id.get()).await.unwrap(),
        vec![tag.clone()]
    );
    assert_eq!(
        db.tags_of(TagTarget::Customer, customer.id.get()).await.unwrap(),
        vec![tag]
    );

    // Values: a variable's value is replaced; a license has one license type.
    let standard = db
        .create_entry(
            EntryKind::LicenseType,
            p.id.get(),
            "Standard",
            None,
            ev("lt", "lt"),
            NOW,
        )
        .await
        .unwrap();
    let subscription = db
        .create_entry(
            EntryKind::LicenseType,
            p.id.get(),
            "Subscription",
            None,
            ev("lt", "lt"),
            NOW,
        )
        .await
        .unwrap();
    for (entry, value) in [
        (variable.id, "EMEA"),
        (variable.id, "APAC"),
        (standard.id, ""),
        (subscription.id, ""),
    ] {
        db.set_license_value(lic.id, entry, value, ev("v", "license"), NOW)
            .await
            .unwrap();
    }
    let values = db.license_values(lic.id).await.unwrap();
    assert_eq!(
        values,
        vec![(variable, "APAC".to_owned()), (subscription, String::new())]
    );
    assert_not_found(
        db.set_license_value(LicenseId::new(999_999), standard.id, "", ev("v", "license"), NOW)
            .await,
    );
    assert_not_found(db.set_license_value(lic.id, 999_999, "", ev("v", "license"), NOW).await);

    // Legacy keys: unique across licenses; re-keying a license replaces its key.
    let other = license(&db, p.id, "OTHER-KEY", terms(Some(1))).await;
    db.set_legacy_key(lic.id, "OLD-1", ev("l", "license"), NOW)
        .await
        .unwrap();
    assert_eq!(
        conflict_text(db.set_legacy_key(other.id, "OLD-1", ev("l", "license"), NOW).await),
        CONFLICT_LEGACY_KEY
    );
    assert_not_found(
        db.set_legacy_key(LicenseId::new(999_999), "OLD-9", ev("l", "license"), NOW)
            .await,
    );
    db.set_legacy_key(lic.id, "OLD-2", ev("l", "license"), NOW)
        .await
        .unwrap();
    assert_eq!(db.license_of_legacy_key("OLD-1").await.unwrap(), None);
    assert_eq!(db.license_of_legacy_key("OLD-2").await.unwrap(), Some(lic.id));
    assert_eq!(db.legacy_key_of(lic.id).await.unwrap().as_deref(), Some("OLD-2"));
    assert_eq!(db.legacy_key_of(other.id).await.unwrap(), None);
}

pub async fn slascone_a_product_keeps_its_last_edition(db: Db) {
    let p = product(&db, "p1").await;
    let edition = |code: &str| NewPolicy {
        product_id: p.id,
        code: code.into(),
        name: code.into(),
        terms: terms(Some(1)),
        duration_days: None,
        maintenance_days: None,
        features: Vec::new(),
        metadata: json!({}),
    };
    let a = db.create_policy(edition("a"), ev("p", "policy"), NOW).await.unwrap();
    let b = db.create_policy(edition("b"), ev("p", "policy"), NOW).await.unwrap();
    let mut lic = new_license(p.id, "ON-A", terms(Some(1)));
    lic.settings.policy_id = Some(a.id);
    create_license(&db, lic).await;
    // An edition with licenses stays.
    assert_eq!(
        conflict_text(db.delete_edition(a.id, ev("d", "policy"), NOW).await),
        CONFLICT_EDITION_IN_USE
    );
    db.delete_edition(b.id, ev("d", "policy"), NOW).await.unwrap();
    assert_eq!(
        conflict_text(db.delete_edition(a.id, ev("d", "policy"), NOW).await),
        CONFLICT_LAST_EDITION
    );
    assert_not_found(db.delete_edition(b.id, ev("d", "policy"), NOW).await);
    assert_eq!(db.list_policies(Some(p.id)).await.unwrap(), vec![a]);
}

pub async fn slascone_license_limits_respect_assignments(db: Db) {
    let (p, lic) = product_and_license(&db, terms(Some(3))).await;
    activate(&db, &lic, "fp-1", NOW).await.unwrap();
    activate(&db, &lic, "fp-2", NOW).await.unwrap();
    let user = db
        .create_license_user(
            NewLicenseUser {
                customer_id: None,
                email: "ann@example.com".into(),
                name: None,
                password_hash: None,
            },
            ev("u", "license_user"),
            NOW,
        )
        .await
        .unwrap();
    db.assign_license_user(lic.id, user.id, ev("a", "license"), NOW)
        .await
        .unwrap();
    let update = |token_limit, user_limit| LicenseLimitsUpdate {
        token_limit,
        user_limit,
        ..LicenseLimitsUpdate::default()
    };
    let events = event_count(&db).await;
    assert_eq!(
        conflict_text(
            db.update_license_limits(lic.id, update(Some(1), None), ev("u", "license"), NOW)
                .await
        ),
        CONFLICT_TOKENS_IN_USE
    );
    assert_eq!(
        conflict_text(
            db.update_license_limits(lic.id, update(Some(5), Some(0)), ev("u", "license"), NOW)
                .await
        ),
        CONFLICT_USERS_IN_USE
    );
    let days = LicenseLimitsUpdate {
        days_after_activation: Some(30),
        ..LicenseLimitsUpdate::default()
    };
    assert_eq!(
        conflict_text(
            db.update_license_limits(lic.id, days.clone(), ev("u", "license"), NOW)
                .await
        ),
        CONFLICT_EXPIRATION_MODE
    );
    // Refusals changed nothing.
    assert_eq!(db.get_license(lic.id).await.unwrap().terms, lic.terms);
    assert_eq!(event_count(&db).await, events);
    db.update_license_limits(lic.id, update(Some(2), Some(1)), ev("u", "license"), NOW + 1)
        .await
        .unwrap();
    let fixed = LicenseLimitsUpdate {
        expires_at: Some(NOW + 10 * DAY),
        ..LicenseLimitsUpdate::default()
    };
    db.update_license_limits(lic.id, fixed, ev("u", "license"), NOW + 2)
        .await
        .unwrap();
    let after = db.get_license(lic.id).await.unwrap();
    assert_eq!((after.terms.max_activations, after.terms.max_users), (Some(2), Some(1)));
    assert_eq!(
        (after.expires_at, after.trial_days, after.updated_at),
        (Some(NOW + 10 * DAY), None, NOW + 2)
    );
    // Without active tokens, days after activation replace the fixed expiry.
    let fresh = license(&db, p.id, "FRESH-KEY", terms(Some(1))).await;
    db.update_license_limits(fresh.id, days, ev("u", "license"), NOW)
        .await
        .unwrap();
    let fresh = db.get_license(fresh.id).await.unwrap();
    assert_eq!((fresh.expires_at, fresh.trial_days), (None, Some(30)));
    assert_not_found(
        db.update_license_limits(LicenseId::new(999_999), update(Some(1), None), ev("u", "license"), NOW)
            .await,
    );
    // A release limitation is single-valued and can be cleared.
    let r1 = db
        .create_entry(EntryKind::SoftwareRelease, p.id.get(), "1.0", None, ev("r", "r"), NOW)
        .await
        .unwrap();
    let r2 = db
        .create_entry(EntryKind::SoftwareRelease, p.id.get(), "2.0", None, ev("r", "r"), NOW)
        .await
        .unwrap();
    db.set_license_value(lic.id, r1.id, "", ev("v", "license"), NOW)
        .await
        .unwrap();
    db.set_license_value(lic.id, r2.id, "", ev("v", "license"), NOW)
        .await
        .unwrap();
    assert_eq!(db.license_values(lic.id).await.unwrap(), vec![(r2, String::new())]);
    db.clear_license_values(lic.id, EntryKind::SoftwareRelease, ev("c", "license"), NOW)
        .await
        .unwrap();
    assert!(db.license_values(lic.id).await.unwrap().is_empty());
}

/// Issue 14 (d): a licence created from an edition, with its legacy key and values, and a user
/// added to a licence (created, then assigned) are one transaction each: a refusal leaves no
/// licence, no user and no event (no created-then-removed pair).
pub async fn slascone_create_license_and_add_user_are_one_transaction(db: Db) {
    use licensd_domain::{Denial, FeatureGrant, FeatureOverrides, FeatureType};
    use licensd_store::dialects::slascone::{CONFLICT_USER_ASSIGNED, SlasconeCreateEvents, SlasconeNewLicense};
    let p = product(&db, "app").await;
    db.create_feature(
        new_feature(p.id, "f1", FeatureType::Activation),
        ev("feature.create", "feature"),
        NOW,
    )
    .await
    .unwrap();
    let standard = db
        .create_entry(
            EntryKind::LicenseType,
            p.id.get(),
            "Standard",
            None,
            ev("lt", "lt"),
            NOW,
        )
        .await
        .unwrap();
    let events = || SlasconeCreateEvents {
        created: ev("slascone.license_created", "license"),
        legacy: ev("slascone.legacy_key_set", "license"),
        value: ev("slascone.license_value_set", "license"),
    };
    let create = |key: &str, legacy: &str, values: Vec<(i64, String)>| {
        let mut license = new_license(p.id, key, terms(Some(1)));
        license.features = vec![FeatureGrant {
            code: "f1".into(),
            overrides: FeatureOverrides::default(),
        }];
        SlasconeNewLicense {
            license,
            legacy_key: Some(legacy.into()),
            values,
        }
    };
    let before = event_count(&db).await;
    let lic = db
        .create_license_from_edition(
            create("SL-1", "OLD-1", vec![(standard.id, String::new())]),
            events(),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(lic.key.as_deref(), Some("SL-1"));
    assert_eq!(event_count(&db).await, before + 3, "created, legacy key, one value");
    assert_eq!(db.legacy_key_of(lic.id).await.unwrap().as_deref(), Some("OLD-1"));
    assert_eq!(db.license_values(lic.id).await.unwrap().len(), 1);
    assert_eq!(db.license_features(lic.id).await.unwrap().len(), 1);

    // Refused inside the transaction: the legacy key is another licence's (what a racing request
    // meets past the handler's check), an unknown entry, an unknown feature. Nothing is left.
    let before = event_count(&db).await;
    assert_eq!(
        conflict_text(
            db.create_license_from_edition(create("SL-2", "OLD-1", Vec::new()), events(), NOW)
                .await
        ),
        CONFLICT_LEGACY_KEY
    );
    assert_not_found(
        db.create_license_from_edition(create("SL-3", "OLD-3", vec![(999_999, "x".into())]), events(), NOW)
            .await,
    );
    let mut unknown = create("SL-4", "OLD-4", Vec::new());
    unknown.license.features[0].code = "nope".into();
    assert_conflict(db.create_license_from_edition(unknown, events(), NOW).await);
    for key in ["SL-2", "SL-3", "SL-4"] {
        assert_eq!(db.find_license_by_key(key).await.unwrap(), None, "{key}");
    }
    assert_eq!(db.license_of_legacy_key("OLD-3").await.unwrap(), None);
    assert_eq!(db.raw.i64("SELECT COUNT(*) FROM licenses", &[]).await, 1);
    assert_eq!(event_count(&db).await, before, "a refused create logs nothing");

    // Adding users: the licence allows one.
    let mut limited = terms(Some(1));
    limited.max_users = Some(1);
    let one = license(&db, p.id, "USERS-1", limited).await;
    let user = |email: &str| NewLicenseUser {
        customer_id: None,
        email: email.into(),
        name: Some("Ann".into()),
        password_hash: None,
    };
    let add = |email: &str| {
        db.add_license_user(
            one.id,
            user(email),
            ev("slascone.license_user_created", "license_user"),
            ev("slascone.license_user_assigned", "license"),
            NOW,
        )
    };
    let before = event_count(&db).await;
    let (ann, created) = add("ann@example.com").await.unwrap();
    assert!(created);
    assert_eq!(ann.email, "ann@example.com");
    assert_eq!(event_count(&db).await, before + 2, "created and assigned");
    let before = event_count(&db).await;
    assert_eq!(conflict_text(add("ann@example.com").await), CONFLICT_USER_ASSIGNED);
    assert_denied(add("bob@example.com").await, Denial::LicenseUserLimitReached);
    assert_eq!(db.find_license_user_by_email("bob@example.com").await.unwrap(), None);
    assert_eq!(event_count(&db).await, before, "a refused assignment logs nothing");
    // An existing user is found, not created again.
    let two = license(&db, p.id, "USERS-2", terms(Some(1))).await;
    let (again, created) = db
        .add_license_user(
            two.id,
            user("ann@example.com"),
            ev("c", "license_user"),
            ev("a", "license"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!((again.id, created), (ann.id, false));
    assert_not_found(
        db.add_license_user(
            LicenseId::new(999_999),
            user("cy@example.com"),
            ev("c", "u"),
            ev("a", "l"),
            NOW,
        )
        .await,
    );
    assert_eq!(db.find_license_user_by_email("cy@example.com").await.unwrap(), None);
}
