//! The append-only event log.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;
use serde_json::json;

fn filter(subject_type: Option<&str>, subject_id: Option<i64>, action: Option<&str>) -> EventFilter {
    EventFilter {
        subject_type: subject_type.map(str::to_owned),
        subject_id,
        action: action.map(str::to_owned),
    }
}

pub async fn state_changes_append_events(db: Db) {
    let draft = EventDraft::new("alice", "product.create", "product")
        .from_ip(Some("203.0.113.9".into()))
        .data(json!({"code": "app", "n": [1, 2]}));
    let p = db.create_product(new_product("app"), draft, NOW).await.unwrap();

    let events = db
        .list_events(filter(Some("product"), None, None), all())
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (
            e.actor.as_str(),
            e.source_ip.as_deref(),
            e.action.as_str(),
            e.subject_type.as_str()
        ),
        ("alice", Some("203.0.113.9"), "product.create", "product")
    );
    assert_eq!(e.data, json!({"code": "app", "n": [1, 2]}));
    assert_eq!(e.at, NOW);
    assert!(
        e.subject_id.is_none() || e.subject_id == Some(p.id.get()),
        "subject of a create: {:?}",
        e.subject_id
    );

    let lic = license(&db, p.id, "KEY-1", terms(Some(2))).await;
    let before = event_count(&db).await;
    let draft = EventDraft::new("client", "device.activate", "license")
        .subject(lic.id)
        .data(json!({"fingerprint": "A"}));
    db.activate(key_of(&lic), dev("A"), None, draft, NOW + 1_000)
        .await
        .unwrap();
    assert_eq!(event_count(&db).await, before + 1, "one event per activation");
    let on_license = db
        .list_events(
            filter(Some("license"), Some(lic.id.get()), Some("device.activate")),
            all(),
        )
        .await
        .unwrap();
    assert_eq!(on_license.len(), 1);
    assert_eq!(on_license[0].actor, "client");
    assert_eq!(on_license[0].subject_id, Some(lic.id.get()));
    assert_eq!(on_license[0].data, json!({"fingerprint": "A"}));
    assert_eq!(on_license[0].at, NOW + 1_000);

    // Consumption, deactivation and leases log as well.
    deactivate(&db, &lic, "A", NOW + 2_000).await.unwrap();
    assert_eq!(
        db.list_events(
            filter(Some("license"), Some(lic.id.get()), Some("device.deactivate")),
            all()
        )
        .await
        .unwrap()
        .len(),
        1
    );

    // Ids increase in log order.
    let everything = db.list_events(EventFilter::default(), all()).await.unwrap();
    assert_eq!(everything.len() as i64, event_count(&db).await);
    assert!(everything.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    assert_eq!(everything.last().unwrap().action, "device.deactivate");
}

pub async fn denied_commands_append_no_events(db: Db) {
    let (p, lic) = product_and_license(&db, terms(Some(1))).await;
    let cons = license(&db, p.id, "CONS", consumption_terms(Some(1))).await;
    let float = license(&db, p.id, "FLOAT", floating_terms(1, 60)).await;
    activate(&db, &lic, "A", NOW).await.unwrap();
    consume(&db, &cons, 1, None, NOW).await.unwrap();
    checkout(&db, &float, "A", None, NOW).await.unwrap();

    let before = event_count(&db).await;
    assert_denied(activate(&db, &lic, "B", NOW).await, Denial::ActivationLimitReached);
    assert_denied(deactivate(&db, &lic, "B", NOW).await, Denial::DeviceNotActivated);
    assert_denied(consume(&db, &cons, 1, None, NOW).await, Denial::ConsumptionLimitReached);
    assert_denied(consume(&db, &lic, 1, None, NOW).await, Denial::NotConsumption);
    assert_denied(
        checkout(&db, &float, "B", None, NOW).await,
        Denial::FloatingSeatsExhausted,
    );
    expect_denied(
        db.release_lease(key_of(&float), "B", ev_on("lease.release", "license", float.id), NOW)
            .await,
    );
    assert_conflict(
        db.create_product(new_product("app"), ev("product.create", "product"), NOW)
            .await,
    );
    assert_not_found(
        db.delete_product(
            ProductId::new(999_999),
            ProductDeletion::RefuseWhileLicensed,
            ev("product.delete", "product"),
            NOW,
        )
        .await,
    );
    assert_eq!(event_count(&db).await, before, "refused commands append nothing");

    let before = event_count(&db).await;
    assert_denied(activate(&db, &lic, "C", NOW).await, Denial::ActivationLimitReached);
    assert_denied(
        db.activate(
            LicenseRef::Key("NOPE".into()),
            dev("x"),
            None,
            ev("device.activate", "license"),
            NOW,
        )
        .await,
        Denial::LicenseNotFound,
    );
    assert_eq!(event_count(&db).await, before, "a denied activation appends nothing");
}

pub async fn list_events_filters_and_pages(db: Db) {
    let mut products = Vec::new();
    for code in ["a", "b", "c"] {
        products.push(
            db.create_product(new_product(code), ev("product.create", "product"), NOW)
                .await
                .unwrap(),
        );
    }
    db.create_customer(
        NewCustomer {
            email: None,
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
    let b = &products[1];
    db.update_product(
        Product {
            name: "B!".into(),
            ..b.clone()
        },
        ev_on("product.update", "product", b.id),
        NOW + 1,
    )
    .await
    .unwrap();

    let created = db
        .list_events(filter(None, None, Some("product.create")), all())
        .await
        .unwrap();
    assert_eq!(created.len(), 3);
    assert_eq!(
        db.list_events(filter(Some("customer"), None, None), all())
            .await
            .unwrap()
            .len(),
        1
    );
    let on_b = db
        .list_events(filter(Some("product"), Some(b.id.get()), Some("product.update")), all())
        .await
        .unwrap();
    assert_eq!(on_b.len(), 1);
    assert_eq!(on_b[0].at, NOW + 1);
    assert!(
        db.list_events(filter(Some("product"), Some(999_999), None), all())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.list_events(filter(Some("nothing"), None, None), all())
            .await
            .unwrap()
            .is_empty()
    );

    // Pages.
    let all_events = db.list_events(EventFilter::default(), all()).await.unwrap();
    assert_eq!(all_events.len(), 5);
    let first = db.list_events(EventFilter::default(), page(2)).await.unwrap();
    assert_eq!(first, all_events[0..2]);
    let second = db
        .list_events(
            EventFilter::default(),
            Page {
                after: Some(first[1].id),
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(second, all_events[2..4]);
    let third = db
        .list_events(
            EventFilter::default(),
            Page {
                after: Some(second[1].id),
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(third, all_events[4..5]);
    let created_page = db
        .list_events(
            filter(None, None, Some("product.create")),
            Page {
                after: Some(created[0].id),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(created_page, created[1..3]);
}
