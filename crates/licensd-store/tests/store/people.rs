//! Customers, license users and their assignment to licenses.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;
use serde_json::json;

fn new_customer(email: Option<&str>) -> NewCustomer {
    NewCustomer {
        email: email.map(str::to_owned),
        name: Some("Ada Lovelace".into()),
        company: Some("Analytical Engines Ltd".into()),
        reference: Some("CRM-42".into()),
        metadata: json!({"segment": "smb"}),
    }
}

fn new_user(customer_id: Option<CustomerId>, email: &str, hash: Option<&str>) -> NewLicenseUser {
    NewLicenseUser {
        customer_id,
        email: email.into(),
        name: Some(format!("User {email}")),
        password_hash: hash.map(str::to_owned),
    }
}

pub async fn customers_crud(db: Db) {
    let c = db
        .create_customer(
            new_customer(Some("ada@example.com")),
            ev("customer.create", "customer"),
            NOW,
        )
        .await
        .expect("create customer");
    assert_eq!(
        c,
        Customer {
            id: c.id,
            email: Some("ada@example.com".into()),
            name: Some("Ada Lovelace".into()),
            company: Some("Analytical Engines Ltd".into()),
            reference: Some("CRM-42".into()),
            metadata: json!({"segment": "smb"}),
            created_at: NOW,
        }
    );
    assert_eq!(db.get_customer(c.id).await.unwrap(), c);

    // Email is unique when present; customers without email are unlimited.
    assert_conflict(
        db.create_customer(
            new_customer(Some("ada@example.com")),
            ev("customer.create", "customer"),
            NOW,
        )
        .await,
    );
    let anon1 = db
        .create_customer(
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
    let anon2 = db
        .create_customer(new_customer(None), ev("customer.create", "customer"), NOW)
        .await
        .unwrap();
    assert_eq!(anon1.email, None);
    assert_eq!(anon1.name, None);
    assert_eq!(anon2.email, None);

    // Pages.
    let first = db.list_customers(page(2)).await.unwrap();
    assert_eq!(first.iter().map(|x| x.id).collect::<Vec<_>>(), vec![c.id, anon1.id]);
    let rest = db
        .list_customers(Page {
            after: Some(first[1].id.get()),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|x| x.id).collect::<Vec<_>>(), vec![anon2.id]);

    // Update.
    let changed = Customer {
        email: Some("ada@lovelace.org".into()),
        name: Some("Ada".into()),
        company: None,
        reference: None,
        metadata: json!({"segment": "enterprise"}),
        ..c.clone()
    };
    assert_eq!(
        db.update_customer(changed.clone(), ev_on("customer.update", "customer", c.id), NOW)
            .await
            .unwrap(),
        changed
    );
    assert_eq!(db.get_customer(c.id).await.unwrap(), changed);
    assert_conflict(
        db.update_customer(
            Customer {
                email: Some("ada@lovelace.org".into()),
                ..anon1.clone()
            },
            ev_on("customer.update", "customer", anon1.id),
            NOW,
        )
        .await,
    );
    assert_eq!(db.get_customer(anon1.id).await.unwrap(), anon1);

    // Delete.
    db.delete_customer(anon2.id, ev_on("customer.delete", "customer", anon2.id), NOW)
        .await
        .unwrap();
    assert_not_found(db.get_customer(anon2.id).await);
    assert_not_found(db.get_customer(CustomerId::new(999_999)).await);
    assert_eq!(db.list_customers(all()).await.unwrap().len(), 2);
}

pub async fn license_users_crud(db: Db) {
    let c1 = db
        .create_customer(
            new_customer(Some("c1@example.com")),
            ev("customer.create", "customer"),
            NOW,
        )
        .await
        .unwrap();
    let c2 = db
        .create_customer(
            new_customer(Some("c2@example.com")),
            ev("customer.create", "customer"),
            NOW,
        )
        .await
        .unwrap();
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
    let u1 = db
        .create_license_user(
            new_user(Some(c1.id), "u1@example.com", Some(hash)),
            ev("user.create", "license_user"),
            NOW,
        )
        .await
        .expect("create user");
    assert_eq!(
        u1,
        LicenseUser {
            id: u1.id,
            customer_id: Some(c1.id),
            email: "u1@example.com".into(),
            name: Some("User u1@example.com".into()),
            password_hash: Some(hash.into()),
            created_at: NOW
        }
    );
    let u2 = db
        .create_license_user(
            new_user(Some(c1.id), "u2@example.com", None),
            ev("user.create", "license_user"),
            NOW,
        )
        .await
        .unwrap();
    let u3 = db
        .create_license_user(
            new_user(Some(c2.id), "u3@example.com", None),
            ev("user.create", "license_user"),
            NOW,
        )
        .await
        .unwrap();
    let u4 = db
        .create_license_user(
            new_user(None, "u4@example.com", None),
            ev("user.create", "license_user"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(u2.password_hash, None);
    assert_eq!(u4.customer_id, None);

    assert_eq!(db.get_license_user(u1.id).await.unwrap(), u1);
    assert_eq!(
        db.find_license_user_by_email("u1@example.com").await.unwrap(),
        Some(u1.clone())
    );
    assert_eq!(db.find_license_user_by_email("nobody@example.com").await.unwrap(), None);
    assert_not_found(db.get_license_user(999_999).await);

    // Duplicate email.
    assert_conflict(
        db.create_license_user(
            new_user(Some(c2.id), "u1@example.com", None),
            ev("user.create", "license_user"),
            NOW,
        )
        .await,
    );

    // Lists, by customer and paged.
    let ids = |v: Vec<LicenseUser>| v.iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(
        ids(db.list_license_users(Some(c1.id), all()).await.unwrap()),
        vec![u1.id, u2.id]
    );
    assert_eq!(
        ids(db.list_license_users(Some(c2.id), all()).await.unwrap()),
        vec![u3.id]
    );
    assert_eq!(
        ids(db.list_license_users(None, all()).await.unwrap()),
        vec![u1.id, u2.id, u3.id, u4.id]
    );
    assert_eq!(
        ids(db
            .list_license_users(
                None,
                Page {
                    after: Some(u2.id),
                    limit: 1
                }
            )
            .await
            .unwrap()),
        vec![u3.id]
    );

    // Password.
    db.set_license_user_password(
        u2.id,
        "$argon2id$new",
        ev_on("user.password", "license_user", u2.id),
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(
        db.get_license_user(u2.id).await.unwrap().password_hash.as_deref(),
        Some("$argon2id$new")
    );
    assert_eq!(
        db.find_license_user_by_email("u2@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$new")
    );

    // Delete.
    db.delete_license_user(u3.id, ev_on("user.delete", "license_user", u3.id), NOW)
        .await
        .unwrap();
    assert_not_found(db.get_license_user(u3.id).await);
    assert_eq!(db.find_license_user_by_email("u3@example.com").await.unwrap(), None);
    assert_eq!(
        ids(db.list_license_users(None, all()).await.unwrap()),
        vec![u1.id, u2.id, u4.id]
    );
}

pub async fn assign_license_user_respects_max_users(db: Db) {
    let (p, lic) = product_and_license(
        &db,
        LicenseTerms {
            max_users: Some(2),
            ..terms(Some(5))
        },
    )
    .await;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(
            db.create_license_user(
                new_user(None, &format!("u{i}@example.com"), None),
                ev("user.create", "license_user"),
                NOW,
            )
            .await
            .unwrap(),
        );
    }
    let assign = |user: i64| db.assign_license_user(lic.id, user, ev_on("license.assign_user", "license", lic.id), NOW);
    let user_ids = |v: Vec<LicenseUser>| {
        let mut ids: Vec<i64> = v.iter().map(|u| u.id).collect();
        ids.sort_unstable();
        ids
    };

    assign(users[0].id).await.expect("first user");
    assign(users[1].id).await.expect("second user");
    assert_eq!(
        user_ids(db.users_of_license(lic.id).await.unwrap()),
        vec![users[0].id, users[1].id]
    );

    // Past max_users: denied, nothing written.
    let before = state(&db, lic.id).await;
    let denial = expect_denied(assign(users[2].id).await);
    assert_eq!(denial, Denial::LicenseUserLimitReached);
    assert_unchanged(&db, &before, "an assignment past max_users").await;
    assert_eq!(db.users_of_license(lic.id).await.unwrap().len(), 2);

    // Unassigning frees a place.
    db.unassign_license_user(
        lic.id,
        users[0].id,
        ev_on("license.unassign_user", "license", lic.id),
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(user_ids(db.users_of_license(lic.id).await.unwrap()), vec![users[1].id]);
    assign(users[2].id).await.expect("after unassign");
    assert_eq!(
        user_ids(db.users_of_license(lic.id).await.unwrap()),
        vec![users[1].id, users[2].id]
    );

    // Without max_users there is no limit.
    let open = license(
        &db,
        p.id,
        "KEY-OPEN",
        LicenseTerms {
            max_users: None,
            ..terms(Some(5))
        },
    )
    .await;
    for u in &users {
        db.assign_license_user(open.id, u.id, ev_on("license.assign_user", "license", open.id), NOW)
            .await
            .expect("unlimited users");
    }
    assert_eq!(db.users_of_license(open.id).await.unwrap().len(), 4);
    // Other licenses are unaffected.
    assert_eq!(db.users_of_license(lic.id).await.unwrap().len(), 2);
}
