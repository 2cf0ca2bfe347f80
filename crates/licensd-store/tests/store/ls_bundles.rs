//! LicenseSpring bundles: bundle membership of products and licenses, and the core
//! `activate_many` / `deactivate_many` commands a bundle activation uses (all members in one
//! transaction; one refusal changes nothing), exact under concurrent activations.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;
use std::sync::Arc;

/// Bundle product "suite" with members "editor" and "viewer"; bundle license "SUITE-1"
/// (unlimited) linked to "EDITOR-1" (`editor_max` activations) and "VIEWER-1" (3 activations).
/// Returns (bundle license, editor license, viewer license).
async fn setup(db: &Db, editor_max: i64) -> (License, License, License) {
    let suite = product(db, "suite").await;
    let editor = product(db, "editor").await;
    let viewer = product(db, "viewer").await;
    for member in [&viewer, &editor] {
        db.add_bundle_product(suite.id, member.id, ev("bundle.product_add", "product"), NOW)
            .await
            .expect("add member product");
    }
    let bundle = license(db, suite.id, "SUITE-1", terms(None)).await;
    let editor_license = license(db, editor.id, "EDITOR-1", terms(Some(editor_max))).await;
    let viewer_license = license(db, viewer.id, "VIEWER-1", terms(Some(3))).await;
    for member in [&viewer_license, &editor_license] {
        db.link_bundle_license(bundle.id, member.id, ev("bundle.license_link", "license"), NOW)
            .await
            .expect("link member license");
    }
    (bundle, editor_license, viewer_license)
}

fn ids(licenses: &[&License]) -> Vec<LicenseId> {
    licenses.iter().map(|license| license.id).collect()
}

async fn activate_all(db: &Db, ids: &[LicenseId], fingerprint: &str, now: Millis) -> Result<Vec<Activation>> {
    db.activate_many(ids, dev(fingerprint), None, ev("bundle.activate", "license"), now)
        .await
}

pub async fn bundle_membership(db: Db) {
    let (bundle, editor, viewer) = setup(&db, 1).await;
    let suite = db.get_product_by_code("suite").await.unwrap();
    let mut members = vec![editor.product_id, viewer.product_id];
    members.sort_unstable();
    assert_eq!(db.bundle_products(suite.id).await.unwrap(), members);
    assert_eq!(
        db.bundle_products(editor.product_id).await.unwrap(),
        Vec::<ProductId>::new()
    );
    let mut linked = vec![editor.id, viewer.id];
    linked.sort_unstable();
    assert_eq!(db.bundle_licenses(bundle.id).await.unwrap(), linked);
    assert_eq!(db.bundle_of_license(editor.id).await.unwrap(), Some(bundle.id));
    assert_eq!(db.bundle_of_license(bundle.id).await.unwrap(), None);

    let event = || ev("bundle.change", "product");
    // Products: no self-membership, no nesting, no duplicates, no unknown products.
    assert_conflict(db.add_bundle_product(suite.id, suite.id, event(), NOW).await);
    assert_conflict(db.add_bundle_product(suite.id, editor.product_id, event(), NOW).await);
    let other = product(&db, "other").await;
    assert_conflict(db.add_bundle_product(other.id, suite.id, event(), NOW).await);
    assert_conflict(db.add_bundle_product(editor.product_id, other.id, event(), NOW).await);
    assert_conflict(
        db.add_bundle_product(suite.id, ProductId::new(999_999), event(), NOW)
            .await,
    );

    // Licenses: the member's product must be a member; one member license per product.
    let stray = license(&db, other.id, "OTHER-1", terms(None)).await;
    assert_conflict(db.link_bundle_license(bundle.id, stray.id, event(), NOW).await);
    let second_editor = license(&db, editor.product_id, "EDITOR-2", terms(None)).await;
    assert_conflict(db.link_bundle_license(bundle.id, second_editor.id, event(), NOW).await);
    assert_conflict(db.link_bundle_license(bundle.id, editor.id, event(), NOW).await);
    assert_conflict(
        db.link_bundle_license(bundle.id, LicenseId::new(999_999), event(), NOW)
            .await,
    );

    // A member product with linked licenses stays; unlinking frees it.
    assert_conflict(
        db.remove_bundle_product(suite.id, editor.product_id, event(), NOW)
            .await,
    );
    db.unlink_bundle_license(editor.id, event(), NOW).await.expect("unlink");
    assert_not_found(db.unlink_bundle_license(editor.id, event(), NOW).await);
    assert_eq!(db.bundle_of_license(editor.id).await.unwrap(), None);
    db.remove_bundle_product(suite.id, editor.product_id, event(), NOW)
        .await
        .expect("remove member");
    assert_not_found(
        db.remove_bundle_product(suite.id, editor.product_id, event(), NOW)
            .await,
    );
    assert_eq!(db.bundle_products(suite.id).await.unwrap(), vec![viewer.product_id]);
}

pub async fn bundle_activation_is_atomic(db: Db) {
    let (bundle, editor, viewer) = setup(&db, 1).await;
    // Unsorted and repeated ids: locked and answered in ascending order, each once.
    let all = vec![viewer.id, bundle.id, editor.id, viewer.id];
    let mut ascending = ids(&[&bundle, &editor, &viewer]);
    ascending.sort_unstable();

    let first = activate_all(&db, &all, "A", NOW).await.expect("bundle activation");
    assert_eq!(first.iter().map(|a| a.license.id).collect::<Vec<_>>(), ascending);
    assert!(
        first
            .iter()
            .all(|a| a.newly_activated && a.active_devices == 1 && a.device.fingerprint == "A")
    );
    // Activating the same device again consumes nothing anywhere.
    let again = activate_all(&db, &all, "A", NOW + 1).await.expect("repeat");
    assert!(again.iter().all(|a| !a.newly_activated && a.active_devices == 1));

    // The editor allows one device: a second device is refused and no member changes.
    let before = [
        state(&db, bundle.id).await,
        state(&db, editor.id).await,
        state(&db, viewer.id).await,
    ];
    assert_denied(
        activate_all(&db, &all, "B", NOW + 2).await,
        Denial::ActivationLimitReached,
    );
    for member in &before {
        assert_unchanged(&db, member, "a refused bundle activation").await;
    }

    // A disabled member refuses too, before or after the others in lock order.
    let mut edit = LicenseEdit::from_license(&db.get_license(bundle.id).await.unwrap());
    edit.settings.status = LicenseStatus::Disabled;
    db.edit_license(bundle.id, edit, ev("license.edit", "license"), NOW)
        .await
        .unwrap();
    let before = state(&db, viewer.id).await;
    assert_denied(activate_all(&db, &all, "C", NOW + 3).await, Denial::LicenseDisabled);
    assert_unchanged(&db, &before, "a bundle activation refused by a disabled member").await;
    assert_denied(
        activate_all(&db, &[viewer.id, LicenseId::new(999_999)], "C", NOW + 3).await,
        Denial::LicenseNotFound,
    );
    assert_unchanged(&db, &before, "a bundle activation naming an unknown license").await;

    // Deactivation releases the device everywhere at once, then has nothing to release.
    let released = db
        .deactivate_many(&all, "A", ev("bundle.deactivate", "license"), NOW + 4)
        .await
        .expect("bundle deactivation");
    assert_eq!(released.iter().map(|l| l.id).collect::<Vec<_>>(), ascending);
    for id in &ascending {
        assert_eq!(
            active_fingerprints(&db.list_devices(LicenseId::new((*id).get())).await.unwrap()),
            Vec::<String>::new()
        );
    }
    let before = state(&db, editor.id).await;
    assert_denied(
        db.deactivate_many(&all, "A", ev("bundle.deactivate", "license"), NOW + 5)
            .await,
        Denial::DeviceNotActivated,
    );
    assert_unchanged(&db, &before, "a refused bundle deactivation").await;

    // A member released on its own earlier is skipped by the bundle deactivation.
    let members = ids(&[&editor, &viewer]);
    activate_all(&db, &members, "D", NOW + 6).await.expect("members only");
    deactivate(&db, &viewer, "D", NOW + 7).await.expect("viewer alone");
    let released = db
        .deactivate_many(&members, "D", ev("bundle.deactivate", "license"), NOW + 8)
        .await
        .expect("rest of the bundle");
    assert_eq!(released.iter().map(|l| l.id).collect::<Vec<_>>(), vec![editor.id]);
}

/// Many devices race for a bundle whose editor allows 3 devices and viewer 3: exactly 3 bundle
/// activations win, and every member holds exactly the winners' devices.
pub async fn concurrent_bundle_activations_respect_member_limits(db: Db) {
    let (bundle, editor, viewer) = setup(&db, 3).await;
    let all = Arc::new(ids(&[&bundle, &editor, &viewer]));
    let n = 24;
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let db = db.clone();
            let all = all.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                // Half the tasks name the members in reverse order: lock order must not depend on it.
                let mut order = all.to_vec();
                if i % 2 == 1 {
                    order.reverse();
                }
                barrier.wait().await;
                activate_all(&db, &order, &format!("D{i:02}"), NOW).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.await.expect("task panicked") {
            Ok(activations) => {
                assert_eq!(activations.len(), 3);
                winners.push(format!("D{i:02}"));
            }
            Err(error) => assert!(
                matches!(error, StoreError::Denied(Denial::ActivationLimitReached)),
                "unexpected {error:?}"
            ),
        }
    }
    assert_eq!(winners.len(), 3, "winners: {winners:?}");
    for id in all.iter() {
        assert_eq!(
            active_fingerprints(&db.list_devices(LicenseId::new((*id).get())).await.unwrap()),
            winners
        );
    }
}
