//! PostgreSQL's per-node read cache (`PostgresStore::enable_read_cache`) across two nodes on one
//! database: node A (no cache) changes a licence, node B (cache on) answers checks. B's answers
//! may lag by at most the staleness bound: a check B starts more than the bound after A's write
//! returned must reflect it, and once B reflects a change it never answers the old state again.
//! Killing B's listening connection must not let B answer beyond the bound either, and B comes
//! back in step afterwards.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_millis(300);
/// Guards the waits that have no bound of their own (B getting in step), so a broken cache fails
/// the test instead of hanging it.
const GIVE_UP: Duration = Duration::from_secs(60);

fn validation_hits(node: &dyn Store) -> u64 {
    node.cache_stats()
        .iter()
        .find(|stats| stats.map == "validation")
        .map(|stats| stats.hits)
        .expect("node B has a validation cache")
}

/// Checks on B until one is answered from its cache.
async fn wait_until_cached(b: &dyn Store, license: &License, fingerprint: &str) {
    let started = Instant::now();
    loop {
        let before = validation_hits(b);
        b.validate(key_of(license), Some(fingerprint), NOW)
            .await
            .expect("validate on B");
        if validation_hits(b) > before {
            return;
        }
        assert!(
            started.elapsed() < GIVE_UP,
            "node B never served a check from its cache"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// After a change made on A returned at `changed_at`, checks on B until well past the bound:
/// each check started later than the bound after the change must satisfy `changed`, and after
/// the first that does, all must.
async fn assert_reflected_within_bound(
    b: &dyn Store,
    license: &License,
    fingerprint: &str,
    changed_at: Instant,
    what: &str,
    changed: impl Fn(&std::result::Result<rules::Validity, Denial>) -> bool,
) {
    let mut seen = false;
    loop {
        let asked = Instant::now();
        let report = b
            .validate(key_of(license), Some(fingerprint), NOW)
            .await
            .expect("validate on B");
        let since = asked.duration_since(changed_at);
        if changed(&report.outcome) {
            seen = true;
        } else {
            assert!(
                !seen,
                "{what}: node B answered the old state again ({:?})",
                report.outcome
            );
            assert!(
                since <= BOUND,
                "{what}: node B answered the old state {since:?} after the change, bound {BOUND:?} ({:?})",
                report.outcome
            );
        }
        if seen && since > BOUND * 2 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn staleness_is_bounded_across_two_nodes(db: Db) {
    let codec: Arc<dyn SecretCodec> = db.codec.clone();
    let b = connect_server(&db.url, codec, 4, SqliteSynchronous::default(), 1024, BOUND)
        .await
        .expect("node B");
    let b = &*b;
    let (_, lic) = product_and_license(&db, terms(Some(2))).await;
    activate(&db, &lic, "A", NOW).await.expect("activate on A");
    wait_until_cached(b, &lic, "A").await;

    // A deactivates the device.
    deactivate(&db, &lic, "A", NOW + 1).await.expect("deactivate on A");
    let changed_at = Instant::now();
    assert_reflected_within_bound(b, &lic, "A", changed_at, "deactivation", |outcome| {
        *outcome == Err(Denial::DeviceNotActivated)
    })
    .await;

    // A activates it again.
    activate(&db, &lic, "A", NOW + 2).await.expect("reactivate on A");
    let changed_at = Instant::now();
    assert_reflected_within_bound(b, &lic, "A", changed_at, "reactivation", Result::is_ok).await;
    wait_until_cached(b, &lic, "A").await;

    // A disables the licence.
    let mut edit = LicenseEdit::from_license(&db.get_license(lic.id).await.expect("license"));
    edit.settings.status = LicenseStatus::Disabled;
    db.edit_license(lic.id, edit.clone(), ev_on("license.edit", "license", lic.id), NOW + 3)
        .await
        .expect("disable on A");
    let changed_at = Instant::now();
    assert_reflected_within_bound(b, &lic, "A", changed_at, "disabling", |outcome| {
        *outcome == Err(Denial::LicenseDisabled)
    })
    .await;

    // A enables it with an expiry in the past.
    edit.settings.status = LicenseStatus::Active;
    edit.settings.expires_at = Some(NOW - 1);
    db.edit_license(lic.id, edit.clone(), ev_on("license.edit", "license", lic.id), NOW + 4)
        .await
        .expect("expire on A");
    let changed_at = Instant::now();
    assert_reflected_within_bound(b, &lic, "A", changed_at, "expiry", |outcome| {
        *outcome == Err(Denial::LicenseExpired)
    })
    .await;

    // B's listening connection is killed, then A changes the licence: the notification is lost
    // with the connection, yet B's answers still keep the bound.
    edit.settings.expires_at = None;
    db.edit_license(lic.id, edit.clone(), ev_on("license.edit", "license", lic.id), NOW + 5)
        .await
        .expect("renew on A");
    assert_reflected_within_bound(b, &lic, "A", Instant::now(), "renewal", Result::is_ok).await;
    wait_until_cached(b, &lic, "A").await;
    let killed = db
        .raw
        .i64(
            "WITH listener AS MATERIALIZED (SELECT pid FROM pg_stat_activity \
             WHERE application_name = ? AND datname = current_database()) \
             SELECT COUNT(*) FROM listener WHERE pg_terminate_backend(pid)",
            &[Arg::T(READ_CACHE_LISTENER.into())],
        )
        .await;
    assert_eq!(killed, 1, "node B has one listening connection");
    edit.settings.status = LicenseStatus::Suspended;
    db.edit_license(lic.id, edit.clone(), ev_on("license.edit", "license", lic.id), NOW + 6)
        .await
        .expect("suspend on A");
    let changed_at = Instant::now();
    assert_reflected_within_bound(
        b,
        &lic,
        "A",
        changed_at,
        "suspension with B's listener killed",
        |outcome| *outcome == Err(Denial::LicenseSuspended),
    )
    .await;
    // B listens again and serves from its cache again.
    wait_until_cached(b, &lic, "A").await;
    let report = b.validate(key_of(&lic), Some("A"), NOW).await.expect("validate on B");
    assert_eq!(report.outcome, Err(Denial::LicenseSuspended));
}

/// How many backends wait for a table lock while running `sql_like` (a `LIKE` pattern).
async fn waiting_on_a_lock(db: &Db, sql_like: &str) -> i64 {
    db.raw
        .i64(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE ?",
            &[Arg::T(sql_like.into())],
        )
        .await
}

/// Polls `ready` until it holds, failing the test after `GIVE_UP`.
async fn wait_for(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !ready().await {
        assert!(started.elapsed() < GIVE_UP, "never: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A node turning its cache on installs the notification triggers (a lock on each table it
/// watches, one after another) while other nodes write. A write that holds a later table and then
/// needs an earlier one the install already holds closes a cycle; the write, waiting first, was
/// PostgreSQL's deadlock victim (an activation failed because a node started). The install must
/// give way instead: the write goes through, and the install still completes afterwards.
pub async fn trigger_install_gives_way_to_writes(db: Db) {
    use sqlx::{Connection, Executor};
    let install = "%licensd_read_cache_notify%";
    // Holds `license_features` so the install stops there, holding the tables before it
    // (`licenses` among them).
    let mut stopper = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    stopper.execute("BEGIN").await.expect("begin");
    stopper
        .execute("LOCK TABLE license_features IN ROW EXCLUSIVE MODE")
        .await
        .expect("stop the install at license_features");
    // The write: holds `devices` (as a device insert does), then needs `licenses`.
    let mut writer = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    writer.execute("BEGIN").await.expect("begin");
    writer
        .execute("LOCK TABLE devices IN ROW EXCLUSIVE MODE")
        .await
        .expect("the write holds devices");
    let writer_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut writer)
        .await
        .expect("pid");

    let codec: Arc<dyn SecretCodec> = db.codec.clone();
    let b = connect_server(&db.url, codec, 4, SqliteSynchronous::default(), 1024, BOUND)
        .await
        .expect("node B");
    wait_for("node B's install waits at license_features", async || {
        waiting_on_a_lock(&db, install).await > 0
    })
    .await;

    let needs_licenses = tokio::spawn(async move {
        let outcome = writer
            .execute("LOCK TABLE licenses IN ROW EXCLUSIVE MODE")
            .await
            .map(|_| ());
        (writer, outcome)
    });
    // Once the write waits for `licenses` (or already has it: the install gave way first), let
    // the install go on to `devices`, which the write holds: the cycle, if the install still
    // holds `licenses`.
    wait_for("the write waits for licenses or has it", async || {
        needs_licenses.is_finished()
            || db
                .raw
                .i64(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = ? AND wait_event_type = 'Lock'",
                    &[Arg::I(i64::from(writer_pid))],
                )
                .await
                > 0
    })
    .await;
    stopper.execute("COMMIT").await.expect("commit");

    let (mut writer, outcome) = needs_licenses.await.expect("join");
    outcome.expect("the write is never the victim of the trigger install");
    writer.execute("COMMIT").await.expect("the write commits");

    // The install tries again and completes: B's cache comes into step and serves checks.
    let (_, lic) = product_and_license(&db, terms(Some(2))).await;
    activate(&db, &lic, "A", NOW).await.expect("activate on A");
    wait_until_cached(&*b, &lic, "A").await;
    assert_eq!(
        db.raw
            .i64(
                "SELECT COUNT(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid \
                 WHERE p.proname = 'licensd_read_cache_notify' AND NOT t.tgisinternal",
                &[],
            )
            .await,
        9,
        "every notification trigger installed"
    );
}
