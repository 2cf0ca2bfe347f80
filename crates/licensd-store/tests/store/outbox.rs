//! The outbox (issue 13, defect 7): deliveries are claimed, recorded and retried by one contract
//! on both backends; concurrent claimers never hold the same delivery; a delivery written with a
//! Key Manager assignment commits and rolls back with it.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;
use serde_json::json;
use std::collections::HashSet;

fn delivery(n: usize) -> NewDelivery {
    NewDelivery {
        kind: "test.kind".into(),
        target_url: format!("http://127.0.0.1:9/hook/{n}"),
        body: format!("{{\"n\":{n}}}"),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-test".into(), n.to_string()),
        ],
    }
}

fn attempt(outcome: AttemptOutcome, status: Option<i64>) -> Attempt {
    Attempt {
        outcome,
        response_status: status,
        error: status.filter(|s| *s >= 300).map(|s| format!("answered {s}")),
        response_excerpt: None,
    }
}

pub async fn outbox_claim_record_and_retry(db: Db) {
    assert_eq!(db.outbox_next_due().await.unwrap(), None);
    let a = db.outbox_enqueue(delivery(1), NOW).await.unwrap();
    let b = db.outbox_enqueue(delivery(2), NOW + 1).await.unwrap();
    assert_eq!(
        (a.status, a.attempts, a.next_attempt_at, a.created_at, a.claimed_until),
        (DeliveryStatus::Pending, 0, NOW, NOW, None)
    );
    assert_eq!(a.headers, delivery(1).headers);
    assert_eq!(db.outbox_get(a.id).await.unwrap(), a);
    assert_eq!(db.outbox_next_due().await.unwrap(), Some(NOW));

    // Nothing is due before its instant; then both, oldest first, held until the lease ends.
    assert!(
        db.outbox_claim("w1", NOW - 1, NOW + 30 * SECOND, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = db.outbox_claim("w1", NOW + 1, NOW + 30 * SECOND, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|d| d.id).collect::<Vec<_>>(), vec![a.id, b.id]);
    assert!(claimed.iter().all(|d| d.claimed_until == Some(NOW + 30 * SECOND)));
    // Held: another claimer gets nothing, and the next due instant is the lease's end.
    assert!(
        db.outbox_claim("w2", NOW + 2, NOW + 60 * SECOND, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.outbox_next_due().await.unwrap(), Some(NOW + 30 * SECOND));

    // Only the holder may record.
    assert!(matches!(
        db.outbox_record(a.id, "w2", attempt(AttemptOutcome::Delivered, Some(200)), NOW + 3)
            .await,
        Err(StoreError::NotFound)
    ));
    let delivered = db
        .outbox_record(a.id, "w1", attempt(AttemptOutcome::Delivered, Some(204)), NOW + 3)
        .await
        .unwrap();
    assert_eq!(
        (
            delivered.status,
            delivered.attempts,
            delivered.last_status,
            delivered.delivered_at,
            delivered.claimed_until
        ),
        (DeliveryStatus::Delivered, 1, Some(204), Some(NOW + 3), None)
    );
    // A recorded delivery is no longer held by anyone.
    assert!(matches!(
        db.outbox_record(a.id, "w1", attempt(AttemptOutcome::Delivered, Some(200)), NOW + 4)
            .await,
        Err(StoreError::NotFound)
    ));

    // A failure is kept with its (cut) error and answer, and comes back when due.
    let long_error = "e".repeat(3 * MAX_ERROR_BYTES);
    let long_answer = "é".repeat(MAX_RESPONSE_EXCERPT_BYTES);
    let failed = db
        .outbox_record(
            b.id,
            "w1",
            Attempt {
                outcome: AttemptOutcome::RetryAt(NOW + 10 * SECOND),
                response_status: Some(503),
                error: Some(long_error),
                response_excerpt: Some(long_answer),
            },
            NOW + 5,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            failed.status,
            failed.attempts,
            failed.next_attempt_at,
            failed.last_attempt_at,
            failed.last_status
        ),
        (DeliveryStatus::Pending, 1, NOW + 10 * SECOND, Some(NOW + 5), Some(503))
    );
    assert_eq!(failed.last_error.as_deref().map(str::len), Some(MAX_ERROR_BYTES));
    let excerpt = failed.response_excerpt.unwrap();
    assert!(excerpt.len() <= MAX_RESPONSE_EXCERPT_BYTES && excerpt.len() > MAX_RESPONSE_EXCERPT_BYTES - 2);
    assert!(excerpt.chars().all(|c| c == 'é'));
    assert_eq!(db.outbox_next_due().await.unwrap(), Some(NOW + 10 * SECOND));
    assert!(
        db.outbox_claim("w2", NOW + 9 * SECOND, NOW + MINUTE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = db
        .outbox_claim("w2", NOW + 10 * SECOND, NOW + MINUTE, 10)
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|d| (d.id, d.attempts)).collect::<Vec<_>>(),
        vec![(b.id, 1)]
    );
    let dead = db
        .outbox_record(b.id, "w2", attempt(AttemptOutcome::Dead, None), NOW + 11 * SECOND)
        .await
        .unwrap();
    assert_eq!(
        (dead.status, dead.attempts, dead.last_status),
        (DeliveryStatus::Dead, 2, None)
    );
    assert_eq!(db.outbox_next_due().await.unwrap(), None);
    assert!(
        db.outbox_claim("w3", NOW + DAY, NOW + DAY + MINUTE, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let ids = |list: Vec<Delivery>| list.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(db.outbox_list(None, Page::default()).await.unwrap()),
        vec![a.id, b.id]
    );
    assert_eq!(
        ids(db
            .outbox_list(Some(DeliveryStatus::Dead), Page::default())
            .await
            .unwrap()),
        vec![b.id]
    );
    assert!(
        db.outbox_list(Some(DeliveryStatus::Pending), Page::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(db.outbox_get(b.id + 100).await, Err(StoreError::NotFound)));
}

pub async fn outbox_expired_claims_are_taken_again(db: Db) {
    let a = db.outbox_enqueue(delivery(1), NOW).await.unwrap();
    assert_eq!(
        db.outbox_claim("dead-node", NOW, NOW + SECOND, 10).await.unwrap().len(),
        1
    );
    assert!(
        db.outbox_claim("live-node", NOW + SECOND - 1, NOW + MINUTE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The first claimer's lease ran out (it died): another takes the delivery over...
    let taken = db
        .outbox_claim("live-node", NOW + SECOND, NOW + MINUTE, 10)
        .await
        .unwrap();
    assert_eq!(taken.iter().map(|d| d.id).collect::<Vec<_>>(), vec![a.id]);
    // ...and a late result of the first no longer counts.
    assert!(matches!(
        db.outbox_record(
            a.id,
            "dead-node",
            attempt(AttemptOutcome::Delivered, Some(200)),
            NOW + 2 * SECOND
        )
        .await,
        Err(StoreError::NotFound)
    ));
    let done = db
        .outbox_record(
            a.id,
            "live-node",
            attempt(AttemptOutcome::Delivered, Some(200)),
            NOW + 2 * SECOND,
        )
        .await
        .unwrap();
    assert_eq!((done.status, done.attempts), (DeliveryStatus::Delivered, 1));
}

pub async fn outbox_concurrent_claims_are_disjoint(db: Db) {
    const DELIVERIES: usize = 60;
    for n in 0..DELIVERIES {
        db.outbox_enqueue(delivery(n), NOW).await.unwrap();
    }
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let claim = format!("worker-{worker}");
            let mut mine = Vec::new();
            loop {
                let claimed = db.outbox_claim(&claim, NOW, NOW + MINUTE, 3).await.unwrap();
                if claimed.is_empty() {
                    break;
                }
                for delivery in claimed {
                    db.outbox_record(delivery.id, &claim, attempt(AttemptOutcome::Delivered, Some(200)), NOW)
                        .await
                        .unwrap();
                    mine.push(delivery.id);
                }
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for id in task.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "delivery {id} was claimed twice");
        }
    }
    assert_eq!((total, seen.len()), (DELIVERIES, DELIVERIES));
    let delivered = db
        .outbox_list(
            Some(DeliveryStatus::Delivered),
            Page {
                after: None,
                limit: 1000,
            },
        )
        .await
        .unwrap();
    assert_eq!(delivered.len(), DELIVERIES);
    assert!(delivered.iter().all(|d| d.attempts == 1));
}

fn stock(product_id: ProductId, key: &str) -> NewLicense {
    {
        let mut l = new_license(product_id, key, terms(Some(1)));
        l.settings.assignment = Assignment::InStock;
        l
    }
}

fn assign_owner(metadata: &serde_json::Value, _now: Millis) -> (serde_json::Value, Option<Millis>) {
    let mut metadata = metadata.clone();
    metadata["owner"] = json!("ada");
    (metadata, None)
}

fn render(licenses: &[License]) -> Result<NewDelivery, String> {
    Ok(NewDelivery {
        body: json!({"keys": licenses.iter().map(|l| l.key.clone()).collect::<Vec<_>>()}).to_string(),
        ..delivery(0)
    })
}

fn refuse_to_render(_: &[License]) -> Result<NewDelivery, String> {
    Err("cannot sign".into())
}

pub async fn outbox_delivery_commits_with_the_assignment(db: Db) {
    let product = product(&db, "km-outbox").await;
    db.create_licenses(
        vec![stock(product.id, "OB-1"), stock(product.id, "OB-2")],
        ev("l", "license"),
        NOW,
    )
    .await
    .unwrap();
    let random = |quantity| AssignSelection::Random {
        product_id: product.id,
        quantity,
    };
    let all = || async { db.outbox_list(None, Page::default()).await.unwrap() };

    // Refused (not enough stock): nothing assigned, nothing queued.
    let outcome = db
        .assign_stock_delivering(random(3), &assign_owner, vec![], ev("a", "license"), &render, NOW)
        .await
        .unwrap();
    assert_eq!(outcome, AssignOutcome::Insufficient { available: 2 });
    assert!(all().await.is_empty());
    // The delivery cannot be made: the assignment rolls back with it.
    let events = event_count(&db).await;
    assert!(matches!(
        db.assign_stock_delivering(
            random(1),
            &assign_owner,
            vec![],
            ev("a", "license"),
            &refuse_to_render,
            NOW
        )
        .await,
        Err(StoreError::Database(_))
    ));
    assert!(all().await.is_empty());
    assert_eq!(event_count(&db).await, events);
    let first = db.find_license_by_key("OB-1").await.unwrap().unwrap();
    assert_eq!(first.assignment, Assignment::InStock);

    // Assigned: the delivery holds the assigned keys, in the same commit.
    let outcome = db
        .assign_stock_delivering(random(2), &assign_owner, vec![], ev("a", "license"), &render, NOW)
        .await
        .unwrap();
    let AssignOutcome::Assigned(ids) = outcome else {
        panic!("not assigned: {outcome:?}")
    };
    assert_eq!(ids.len(), 2);
    let queued = all().await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].body, json!({"keys": ["OB-1", "OB-2"]}).to_string());
    assert_eq!(
        (queued[0].status, queued[0].next_attempt_at),
        (DeliveryStatus::Pending, NOW)
    );
    let first = db.get_license(first.id).await.unwrap();
    assert_eq!(first.assignment, Assignment::Assigned);
}
