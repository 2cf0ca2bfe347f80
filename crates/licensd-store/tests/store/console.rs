//! What the admin console stores and reads (`ConsoleStore`): sessions, read-only admin tokens, the
//! dashboard's counts and daily series, the licence search with keyset paging, recent events.

use crate::harness::*;
use licensd_domain::access::IpRule;
use licensd_domain::*;
use licensd_store::*;
use serde_json::json;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

pub async fn console_sessions_expire_and_end_with_their_token(db: Db) {
    let token = db
        .create_scoped_admin_token(
            NewAdminToken {
                name: "ops".into(),
                ..NewAdminToken::default()
            },
            "secret-token-1",
            ev("admin_token.created", "admin_token"),
            NOW,
        )
        .await
        .unwrap();
    db.console_session_open(token.id, "cookie-1", "csrf-1", NOW, NOW + HOUR)
        .await
        .unwrap();
    let found = db
        .console_session_find("cookie-1", NOW + 1)
        .await
        .unwrap()
        .expect("session");
    assert_eq!(
        (
            found.admin_token_id,
            found.admin_name.as_str(),
            found.read_only,
            found.csrf.as_str(),
            found.expires_at
        ),
        (token.id, "ops", false, "csrf-1", NOW + HOUR)
    );
    assert!(
        db.console_session_find("cookie-2", NOW).await.unwrap().is_none(),
        "unknown secret"
    );
    assert!(
        db.console_session_find("cookie-1", NOW + HOUR).await.unwrap().is_none(),
        "expired at its expiry"
    );
    // Signing out ends it; the cookie's secret is never stored as such.
    db.console_session_open(token.id, "cookie-3", "csrf-3", NOW, NOW + HOUR)
        .await
        .unwrap();
    db.console_session_close("cookie-3").await.unwrap();
    assert!(db.console_session_find("cookie-3", NOW).await.unwrap().is_none());
    // A revoked token's sessions end with it.
    db.revoke_admin_token(token.id, ev("admin_token.revoked", "admin_token"), NOW)
        .await
        .unwrap();
    assert!(db.console_session_find("cookie-1", NOW + 1).await.unwrap().is_none());
}

pub async fn read_only_admin_tokens(db: Db) {
    let events = event_count(&db).await;
    let ro = db
        .create_scoped_admin_token(
            NewAdminToken {
                name: "auditor".into(),
                read_only: true,
                ..NewAdminToken::default()
            },
            "read-only-secret",
            ev("admin_token.created", "admin_token"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(event_count(&db).await, events + 1, "created with its event");
    assert!(ro.read_only);
    let found = db.find_admin_token("read-only-secret").await.unwrap().expect("token");
    assert_eq!(found, ro, "one lookup reads the token with its limits");
    let rw = db
        .create_admin_token("ops", "writer-secret", ev("admin_token.created", "admin_token"), NOW)
        .await
        .unwrap();
    assert!(!rw.read_only, "tokens are not read-only by default");
    assert_eq!((rw.expires_at, rw.ip_allowlist.len()), (None, 0), "nor limited");
    db.console_session_open(ro.id, "ro-cookie", "c", NOW, NOW + HOUR)
        .await
        .unwrap();
    assert!(
        db.console_session_find("ro-cookie", NOW)
            .await
            .unwrap()
            .expect("session")
            .read_only
    );
    assert_conflict(
        db.create_scoped_admin_token(
            NewAdminToken {
                name: "dup".into(),
                read_only: true,
                ..NewAdminToken::default()
            },
            "writer-secret",
            ev("admin_token.created", "admin_token"),
            NOW,
        )
        .await,
    );
}

/// An admin token's expiry and IP allow-list (migration 705) are stored, found with the token in
/// one lookup, and listed.
pub async fn admin_token_limits_round_trip(db: Db) {
    let rules: Vec<IpRule> = ["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"]
        .into_iter()
        .map(|text| IpRule::parse(text).unwrap())
        .collect();
    let created = db
        .create_scoped_admin_token(
            NewAdminToken {
                name: "ci".into(),
                read_only: false,
                expires_at: Some(NOW + HOUR),
                ip_allowlist: rules.clone(),
            },
            "ci-secret",
            ev("admin_token.created", "admin_token"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        created,
        AdminToken {
            id: created.id,
            name: "ci".into(),
            read_only: false,
            expires_at: Some(NOW + HOUR),
            ip_allowlist: rules.clone(),
            created_at: NOW,
            revoked_at: None,
        }
    );
    assert_eq!(db.find_admin_token("ci-secret").await.unwrap(), Some(created.clone()));
    let listed = db.list_admin_tokens().await.unwrap();
    assert_eq!(listed.iter().find(|t| t.id == created.id), Some(&created));
    assert_eq!(
        created.ip_allowlist.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"],
        "rules keep the form they were written in"
    );
}

pub async fn licence_search_filters_and_pages_by_keyset(db: Db) {
    let app = product(&db, "app").await;
    let other = product(&db, "other").await;
    let customer = db
        .create_customer(
            NewCustomer {
                email: Some("Ada@Example.com".into()),
                name: Some("Ada Lovelace".into()),
                company: None,
                reference: None,
                metadata: json!({}),
            },
            ev("customer.created", "customer"),
            NOW,
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut new = new_license(
            if i % 2 == 0 { app.id } else { other.id },
            &format!("K-{i}"),
            terms(None),
        );
        if i == 3 {
            new.settings.customer_id = Some(customer.id);
            new.settings.order_ref = Some("ORD-3".into());
        }
        if i == 4 {
            new.settings.status = LicenseStatus::Disabled;
        }
        ids.push(create_license(&db, new).await.id.get());
    }
    let search = |before: Option<i64>, limit: i64| LicenseSearch {
        before,
        limit,
        ..LicenseSearch::default()
    };
    // Newest first, pages continue below the last id seen.
    let first = db.search_license_ids(&search(None, 3)).await.unwrap();
    assert_eq!(first, vec![ids[6], ids[5], ids[4]]);
    let second = db.search_license_ids(&search(first.last().copied(), 3)).await.unwrap();
    assert_eq!(second, vec![ids[3], ids[2], ids[1]]);
    let third = db.search_license_ids(&search(second.last().copied(), 3)).await.unwrap();
    assert_eq!(third, vec![ids[0]]);
    let by_product = LicenseSearch {
        product_id: Some(app.id),
        ..search(None, 50)
    };
    assert_eq!(
        db.search_license_ids(&by_product).await.unwrap(),
        vec![ids[6], ids[4], ids[2], ids[0]]
    );
    let by_status = LicenseSearch {
        status: Some(LicenseStatus::Disabled),
        ..search(None, 50)
    };
    assert_eq!(db.search_license_ids(&by_status).await.unwrap(), vec![ids[4]]);
    for text in ["ORD-3", "ada@example.com", "ada", "Ada Love"] {
        let by_text = LicenseSearch {
            text: Some(text.into()),
            ..search(None, 50)
        };
        assert_eq!(db.search_license_ids(&by_text).await.unwrap(), vec![ids[3]], "{text}");
    }
    // Every filter at once, and the keyset bound with a text search.
    let all = LicenseSearch {
        product_id: Some(other.id),
        status: Some(LicenseStatus::Active),
        text: Some("ada".into()),
        before: Some(ids[3] + 1),
        ..search(None, 50)
    };
    assert_eq!(db.search_license_ids(&all).await.unwrap(), vec![ids[3]]);
    let below = LicenseSearch {
        before: Some(ids[3]),
        ..all.clone()
    };
    assert!(db.search_license_ids(&below).await.unwrap().is_empty());
    let wrong_product = LicenseSearch {
        product_id: Some(app.id),
        ..all
    };
    assert!(db.search_license_ids(&wrong_product).await.unwrap().is_empty());
    for text in ["ORD", "lovelace", "%", "_da"] {
        let by_text = LicenseSearch {
            text: Some(text.into()),
            ..search(None, 50)
        };
        assert_eq!(
            db.search_license_ids(&by_text).await.unwrap(),
            Vec::<i64>::new(),
            "{text}"
        );
    }
}

pub async fn dashboard_counts_and_daily_activity(db: Db) {
    let (_, a) = product_and_license(&db, terms(None)).await;
    let b = license(&db, a.product_id, "SECOND", floating_terms(2, 600)).await;
    db.edit_license(
        b.id,
        {
            let mut l = LicenseEdit::from_license(&b);
            l.settings.status = LicenseStatus::Suspended;
            l
        },
        ev("license.updated", "license"),
        NOW,
    )
    .await
    .unwrap();
    activate(&db, &a, "m-1", NOW - 2 * DAY).await.unwrap();
    activate(&db, &a, "m-2", NOW - 2 * DAY + HOUR).await.unwrap();
    activate(&db, &a, "m-3", NOW).await.unwrap();
    deactivate(&db, &a, "m-3", NOW).await.unwrap();
    let counts = db.dashboard_counts(NOW).await.unwrap();
    assert_eq!(counts.products, 1);
    assert_eq!(
        counts.licenses_by_status,
        vec![
            (LicenseStatus::Active, 1),
            (LicenseStatus::Disabled, 0),
            (LicenseStatus::Blocked, 0),
            (LicenseStatus::Suspended, 1)
        ]
    );
    assert_eq!((counts.active_devices, counts.seats_in_use), (2, 0));
    let daily = db.daily_activity(NOW - 30 * DAY).await.unwrap();
    let days: Vec<(i64, i64)> = daily.iter().map(|d| (d.day, d.activations)).collect();
    assert_eq!(days, vec![((NOW - 2 * DAY) / DAY, 2), (NOW / DAY, 1)]);
    assert!(db.daily_activity(NOW + DAY).await.unwrap().is_empty());
    // Validation counts flushed by server processes add up per day.
    db.add_validation_counts(&[((NOW - 2 * DAY) / DAY, 5), (NOW / DAY, 2)])
        .await
        .unwrap();
    db.add_validation_counts(&[(NOW / DAY, 3)]).await.unwrap();
    db.add_validation_counts(&[]).await.unwrap();
    db.add_validation_counts(&[((NOW - 40 * DAY) / DAY, 9)]).await.unwrap();
    let daily = db.daily_activity(NOW - 30 * DAY).await.unwrap();
    let days: Vec<(i64, i64, i64)> = daily.iter().map(|d| (d.day, d.activations, d.validations)).collect();
    assert_eq!(
        days,
        vec![((NOW - 2 * DAY) / DAY, 2, 5), (NOW / DAY, 1, 5)],
        "older days stay out"
    );
    // The latest events, newest first, filtered and paged.
    let recent = db.recent_events(&EventFilter::default(), None, 2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert!(recent[0].id > recent[1].id);
    let older = db
        .recent_events(&EventFilter::default(), Some(recent[1].id), 1000)
        .await
        .unwrap();
    assert!(older.iter().all(|e| e.id < recent[1].id) && !older.is_empty());
    let activations = EventFilter {
        action: Some("license.activated".into()),
        ..EventFilter::default()
    };
    let activated = db.recent_events(&activations, None, 100).await.unwrap();
    assert!(activated.iter().all(|e| e.action == "license.activated"));
}

pub async fn reset_consumption_zeroes_counters_with_its_event(db: Db) {
    let (_, licence) = product_and_license(&db, consumption_terms(Some(10))).await;
    consume(&db, &licence, 4, None, NOW).await.unwrap();
    assert_eq!(db.get_license(licence.id).await.unwrap().consumption_used, 4);
    let events = event_count(&db).await;
    db.reset_consumption(
        licence.id,
        ev_on("license.consumption_reset", "license", licence.id),
        NOW + HOUR,
    )
    .await
    .unwrap();
    let after = db.get_license(licence.id).await.unwrap();
    assert_eq!(
        (after.consumption_used, after.consumption_period_start),
        (0, NOW + HOUR)
    );
    assert_eq!(event_count(&db).await, events + 1);
    // The whole allowance is there again.
    consume(&db, &licence, 10, None, NOW + HOUR).await.unwrap();
    let events = event_count(&db).await;
    assert_not_found(
        db.reset_consumption(
            LicenseId::new(9_999),
            ev_on("license.consumption_reset", "license", 9_999),
            NOW,
        )
        .await,
    );
    assert_eq!(event_count(&db).await, events, "an unknown licence logs nothing");
}

/// The dashboard's counts as `COUNT(*)` over the tables at `now`, and the activity per day.
async fn counted(db: &Db, now: Millis) -> (DashboardCounts, Vec<(i64, i64, i64)>) {
    let mut licenses_by_status = Vec::new();
    for status in LicenseStatus::ALL {
        let n = db
            .raw
            .i64(
                "SELECT COUNT(*) FROM licenses WHERE status = ?",
                &[Arg::T(status.as_str().into())],
            )
            .await;
        licenses_by_status.push((*status, n));
    }
    let counts = DashboardCounts {
        products: db.raw.i64("SELECT COUNT(*) FROM products", &[]).await,
        licenses_by_status,
        active_devices: db
            .raw
            .i64("SELECT COUNT(*) FROM devices WHERE deactivated_at IS NULL", &[])
            .await,
        expired: db
            .raw
            .i64(
                "SELECT COUNT(*) FROM licenses WHERE status = 'active' AND expires_at <= ?",
                &[Arg::I(now)],
            )
            .await,
        seats_in_use: db
            .raw
            .i64(
                "SELECT COUNT(*) FROM floating_leases WHERE expires_at > ?",
                &[Arg::I(now)],
            )
            .await,
    };
    let since = now - 30 * DAY;
    let mut days = Vec::new();
    for day in (since / DAY)..=(now / DAY + 1) {
        let (from, to) = ((day * DAY).max(since), (day + 1) * DAY);
        let a = db
            .raw
            .i64(
                "SELECT COUNT(*) FROM activation_log WHERE at >= ? AND at < ?",
                &[Arg::I(from), Arg::I(to)],
            )
            .await;
        let c = db
            .raw
            .i64(
                "SELECT COUNT(*) FROM consumption_events WHERE at >= ? AND at < ?",
                &[Arg::I(from), Arg::I(to)],
            )
            .await;
        if a != 0 || c != 0 {
            days.push((day, a, c));
        }
    }
    (counts, days)
}

/// The store's counts (kept by triggers, migration 703) equal `COUNT(*)` over the tables.
async fn assert_tallies(db: &Db, now: Millis, after: &str) {
    let (expected, expected_days) = counted(db, now).await;
    let counts = db.dashboard_counts(now).await.unwrap();
    assert_eq!(counts, expected, "dashboard counts after {after}");
    let days: Vec<(i64, i64, i64)> = db
        .daily_activity(now - 30 * DAY)
        .await
        .unwrap()
        .iter()
        .filter(|d| d.activations != 0 || d.consumptions != 0)
        .map(|d| (d.day, d.activations, d.consumptions))
        .collect();
    assert_eq!(days, expected_days, "activity per day after {after}");
}

/// Every kind of write keeps the dashboard's tallies equal to `COUNT(*)`: issuing one licence and
/// many at once, status and expiry changes (through the store and through raw SQL as a dialect
/// writes), expiry passing with time, activations and consumption (SQLite's direct writer
/// thread), deactivations, deleting a device, a licence (its rows go by cascade) and rollbacks.
pub async fn dashboard_tallies_equal_counts_after_every_write(db: Db) {
    assert_tallies(&db, NOW, "nothing").await;
    let (product, a) = product_and_license(&db, consumption_terms(Some(100))).await;
    assert_tallies(&db, NOW, "one licence").await;
    let mut many = Vec::new();
    for i in 0..6 {
        let mut new = new_license(product.id, &format!("BULK-{i}"), terms(Some(5)));
        new.settings.expires_at = match i % 3 {
            0 => None,
            1 => Some(NOW + 2 * HOUR),
            _ => Some(NOW - 3 * DAY),
        };
        new.settings.status = if i == 5 {
            LicenseStatus::Disabled
        } else {
            LicenseStatus::Active
        };
        many.push(new);
    }
    let bulk = db
        .create_licenses(many, ev("license.bulk_created", "license"), NOW)
        .await
        .unwrap();
    assert_tallies(&db, NOW, "a bulk issue").await;
    assert_tallies(&db, NOW + 3 * HOUR, "time passing their expiry").await;
    assert_tallies(&db, NOW + 40 * DAY, "a month later").await;
    // A refused bulk issue (a duplicate key) rolls back, tallies included.
    let refused = db
        .create_licenses(
            vec![
                new_license(product.id, "FRESH-1", terms(None)),
                new_license(product.id, "BULK-0", terms(None)),
            ],
            ev("license.bulk_created", "license"),
            NOW,
        )
        .await;
    assert!(refused.is_err(), "a duplicate key is refused");
    assert_tallies(&db, NOW, "a refused bulk issue").await;
    // Status and expiry edits.
    let edited = &bulk[1];
    db.edit_license(
        edited.id,
        {
            let mut l = LicenseEdit::from_license(edited);
            l.settings.status = LicenseStatus::Suspended;
            l.settings.expires_at = Some(NOW + 5 * DAY);
            l
        },
        ev_on("license.updated", "license", edited.id),
        NOW,
    )
    .await
    .unwrap();
    assert_tallies(&db, NOW, "a status and expiry edit").await;
    db.edit_license(
        bulk[2].id,
        {
            let mut l = LicenseEdit::from_license(&bulk[2]);
            l.settings.expires_at = None;
            l
        },
        ev_on("license.updated", "license", bulk[2].id),
        NOW,
    )
    .await
    .unwrap();
    assert_tallies(&db, NOW, "an expiry removed").await;
    // Raw SQL, as a dialect's own statements write.
    db.raw
        .exec(
            "UPDATE licenses SET status = 'blocked', expires_at = ? WHERE id = ?",
            &[Arg::I(NOW - HOUR), Arg::I(bulk[3].id.get())],
        )
        .await;
    db.raw
        .exec(
            "UPDATE licenses SET status = 'active' WHERE id = ?",
            &[Arg::I(bulk[5].id.get())],
        )
        .await;
    assert_tallies(&db, NOW, "raw status updates").await;
    // Activations, consumption, deactivations.
    activate(&db, &a, "m-1", NOW - 2 * DAY).await.unwrap();
    activate(&db, &a, "m-2", NOW - DAY).await.unwrap();
    activate(&db, &bulk[0], "m-1", NOW).await.unwrap();
    consume(&db, &a, 3, None, NOW - DAY).await.unwrap();
    consume(&db, &a, 2, Some("once"), NOW).await.unwrap();
    consume(&db, &a, 2, Some("once"), NOW).await.unwrap();
    assert_tallies(&db, NOW, "activations and consumption").await;
    deactivate(&db, &a, "m-2", NOW).await.unwrap();
    assert_tallies(&db, NOW, "a deactivation").await;
    activate(&db, &a, "m-2", NOW + HOUR).await.unwrap();
    assert_tallies(&db, NOW + HOUR, "a reactivation").await;
    let devices = db.list_devices(a.id).await.unwrap();
    db.deactivate_device(
        devices[0].id,
        ev_on("device.deactivated", "device", devices[0].id),
        NOW + HOUR,
    )
    .await
    .unwrap();
    assert_tallies(&db, NOW + HOUR, "a device deactivated by id").await;
    db.raw
        .exec("DELETE FROM devices WHERE license_id = ?", &[Arg::I(bulk[0].id.get())])
        .await;
    assert_tallies(&db, NOW + HOUR, "a raw device delete").await;
    // A refused activation (over the limit) changes nothing.
    let limited = license(&db, product.id, "ONE-SEAT", terms(Some(1))).await;
    activate(&db, &limited, "s-1", NOW).await.unwrap();
    assert!(activate(&db, &limited, "s-2", NOW).await.is_err());
    assert_tallies(&db, NOW + HOUR, "a refused activation").await;
    // Deleting a licence takes its devices, activations and consumption with it.
    db.delete_license(a.id, ev_on("license.deleted", "license", a.id), NOW + HOUR)
        .await
        .unwrap();
    assert_tallies(&db, NOW + HOUR, "a licence deleted").await;
    db.delete_license(limited.id, ev_on("license.deleted", "license", limited.id), NOW + HOUR)
        .await
        .unwrap();
    assert_tallies(&db, NOW + HOUR, "a licence with an active device deleted").await;
}
