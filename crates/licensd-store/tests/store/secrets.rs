//! Client credentials, admin tokens and signing keys: the secrets the store keeps.

use crate::harness::*;
use licensd_domain::*;
use licensd_store::*;

fn new_credential(dialect: Dialect, key_id: &str, secret: &str, product_id: Option<i64>) -> NewCredential {
    NewCredential {
        dialect,
        name: format!("cred {key_id}"),
        key_id: key_id.into(),
        secret: secret.into(),
        product_id: product_id.map(ProductId::new),
        read_only: false,
        ip_allowlist: Vec::new(),
    }
}

fn signing_key(kid: &str, algorithm: &str) -> NewSigningKey {
    NewSigningKey {
        kid: kid.into(),
        algorithm: algorithm.into(),
        public_der: format!("public-der-of-{kid}").into_bytes(),
        private_pkcs8: format!("PRIVATE-PKCS8-MATERIAL-OF-{kid}-0123456789").into_bytes(),
    }
}

pub async fn credentials_crud(db: Db) {
    let p = product(&db, "app").await;
    let new = NewCredential {
        dialect: Dialect::LicenseSpring,
        name: "LS prod".into(),
        key_id: "api-key-1".into(),
        secret: "shared-key-s3cr3t".into(),
        product_id: Some(p.id),
        read_only: true,
        ip_allowlist: vec!["10.0.0.0/8".parse().unwrap(), "192.168.1.7".parse().unwrap()],
    };
    let cred = db
        .create_credential(new, ev("credential.create", "credential"), NOW)
        .await
        .expect("create credential");
    assert_eq!(
        cred,
        Credential {
            id: cred.id,
            dialect: Dialect::LicenseSpring,
            name: "LS prod".into(),
            key_id: "api-key-1".into(),
            product_id: Some(p.id),
            read_only: true,
            ip_allowlist: vec!["10.0.0.0/8".parse().unwrap(), "192.168.1.7".parse().unwrap()],
            created_at: NOW,
            revoked_at: None,
        }
    );
    assert_eq!(
        db.find_credential(Dialect::LicenseSpring, "api-key-1").await.unwrap(),
        Some((cred.clone(), "shared-key-s3cr3t".to_owned()))
    );
    assert_eq!(
        db.find_credential(Dialect::KeyManager, "api-key-1").await.unwrap(),
        None,
        "credentials are per dialect"
    );
    assert_eq!(
        db.find_credential(Dialect::LicenseSpring, "api-key-2").await.unwrap(),
        None
    );

    // (dialect, key_id) is unique; the same key_id in another dialect is fine.
    assert_conflict(
        db.create_credential(
            new_credential(Dialect::LicenseSpring, "api-key-1", "other", None),
            ev("credential.create", "credential"),
            NOW,
        )
        .await,
    );
    let km = db
        .create_credential(
            new_credential(Dialect::KeyManager, "api-key-1", "km-secret", None),
            ev("credential.create", "credential"),
            NOW,
        )
        .await
        .unwrap();
    let dna = db
        .create_credential(
            new_credential(Dialect::Dna, "client-1", "dna-secret", None),
            ev("credential.create", "credential"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(km.product_id, None);
    assert_eq!(
        db.find_credential(Dialect::KeyManager, "api-key-1")
            .await
            .unwrap()
            .map(|(_, s)| s)
            .as_deref(),
        Some("km-secret")
    );

    // Every dialect round-trips.
    for (i, dialect) in Dialect::ALL.iter().enumerate() {
        let c = db
            .create_credential(
                new_credential(*dialect, &format!("rt-{i}"), &format!("rt-secret-{i}"), None),
                ev("credential.create", "credential"),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(
            db.find_credential(*dialect, &format!("rt-{i}")).await.unwrap(),
            Some((c, format!("rt-secret-{i}")))
        );
    }

    let ids = |v: Vec<Credential>| v.iter().map(|c| c.id).collect::<Vec<_>>();
    let ls = ids(db.list_credentials(Some(Dialect::LicenseSpring)).await.unwrap());
    assert_eq!(ls.len(), 2);
    assert!(ls.contains(&cred.id));
    assert!(
        db.list_credentials(Some(Dialect::Dna))
            .await
            .unwrap()
            .iter()
            .all(|c| c.dialect == Dialect::Dna)
    );
    assert!(ids(db.list_credentials(Some(Dialect::Dna)).await.unwrap()).contains(&dna.id));
    assert_eq!(db.list_credentials(None).await.unwrap().len(), 3 + Dialect::ALL.len());

    // Revocation: kept, marked, still findable (callers report it), still listed.
    let revoked = db
        .revoke_credential(cred.id, ev_on("credential.revoke", "credential", cred.id), NOW + 5_000)
        .await
        .expect("revoke");
    assert_eq!(
        revoked,
        Credential {
            revoked_at: Some(NOW + 5_000),
            ..cred.clone()
        }
    );
    let (found, secret) = db
        .find_credential(Dialect::LicenseSpring, "api-key-1")
        .await
        .unwrap()
        .expect("revoked credentials are still found");
    assert_eq!(found.revoked_at, Some(NOW + 5_000));
    assert_eq!(secret, "shared-key-s3cr3t");
    assert_eq!(
        db.list_credentials(Some(Dialect::LicenseSpring))
            .await
            .unwrap()
            .iter()
            .find(|c| c.id == cred.id)
            .unwrap()
            .revoked_at,
        Some(NOW + 5_000)
    );
    assert_not_found(
        db.revoke_credential(999_999, ev("credential.revoke", "credential"), NOW)
            .await,
    );
}

pub async fn admin_tokens(db: Db) {
    assert!(db.list_admin_tokens().await.unwrap().is_empty());
    assert!(
        db.bootstrap_admin_token("root", "tok-root-secret", NOW)
            .await
            .expect("bootstrap")
    );
    assert!(
        !db.bootstrap_admin_token("root2", "tok-root-secret-2", NOW)
            .await
            .expect("second bootstrap"),
        "only when no token exists"
    );
    assert_eq!(
        db.find_admin_token("tok-root-secret-2").await.unwrap(),
        None,
        "the refused bootstrap stored nothing"
    );
    let root = db
        .find_admin_token("tok-root-secret")
        .await
        .unwrap()
        .expect("find by secret");
    assert_eq!(
        root,
        AdminToken {
            id: root.id,
            name: "root".into(),
            read_only: false,
            expires_at: None,
            ip_allowlist: vec![],
            created_at: NOW,
            revoked_at: None
        }
    );
    assert_eq!(db.find_admin_token("wrong").await.unwrap(), None);
    assert_eq!(db.find_admin_token("").await.unwrap(), None);

    let ci = db
        .create_admin_token(
            "ci",
            "tok-ci-secret",
            ev("admin_token.create", "admin_token"),
            NOW + 1_000,
        )
        .await
        .expect("create token");
    assert_eq!(
        ci,
        AdminToken {
            id: ci.id,
            name: "ci".into(),
            read_only: false,
            expires_at: None,
            ip_allowlist: vec![],
            created_at: NOW + 1_000,
            revoked_at: None
        }
    );
    assert_eq!(db.find_admin_token("tok-ci-secret").await.unwrap(), Some(ci.clone()));
    assert_conflict(
        db.create_admin_token("ci-dup", "tok-ci-secret", ev("admin_token.create", "admin_token"), NOW)
            .await,
    );
    assert_eq!(db.list_admin_tokens().await.unwrap(), vec![root.clone(), ci.clone()]);

    let revoked = db
        .revoke_admin_token(ci.id, ev_on("admin_token.revoke", "admin_token", ci.id), NOW + 2_000)
        .await
        .expect("revoke");
    assert_eq!(
        revoked,
        AdminToken {
            revoked_at: Some(NOW + 2_000),
            ..ci.clone()
        }
    );
    assert_eq!(
        db.find_admin_token("tok-ci-secret").await.unwrap(),
        None,
        "revoked tokens are not found"
    );
    assert_eq!(
        db.find_admin_token("tok-root-secret").await.unwrap(),
        Some(root.clone())
    );
    assert_eq!(db.list_admin_tokens().await.unwrap(), vec![root.clone(), revoked]);
    assert_not_found(
        db.revoke_admin_token(999_999, ev("admin_token.revoke", "admin_token"), NOW)
            .await,
    );

    // Any token, revoked or not, prevents a bootstrap.
    db.revoke_admin_token(
        root.id,
        ev_on("admin_token.revoke", "admin_token", root.id),
        NOW + 3_000,
    )
    .await
    .unwrap();
    assert!(
        !db.bootstrap_admin_token("root3", "tok-root-secret-3", NOW + 4_000)
            .await
            .unwrap()
    );
    assert_eq!(db.list_admin_tokens().await.unwrap().len(), 2);
}

pub async fn signing_keys_ensure_and_rotate(db: Db) {
    assert!(db.list_signing_keys().await.unwrap().is_empty());
    let k1 = db
        .ensure_signing_key(signing_key("k1", "ES256"), NOW)
        .await
        .expect("ensure");
    assert_eq!(k1.kid, "k1");
    assert_eq!(k1.algorithm, "ES256");
    assert!(k1.active);
    assert_eq!(k1.public_der, b"public-der-of-k1");
    assert_eq!(
        k1.private_pkcs8,
        signing_key("k1", "ES256").private_pkcs8,
        "the private key comes back unsealed"
    );
    assert_eq!((k1.created_at, k1.retired_at), (NOW, None));

    // A second ensure for the algorithm returns the active key and inserts nothing.
    let again = db
        .ensure_signing_key(signing_key("k2", "ES256"), NOW + 1_000)
        .await
        .unwrap();
    assert_eq!(again.kid, "k1");
    assert_eq!(again.id, k1.id);
    assert_eq!(again.private_pkcs8, k1.private_pkcs8);
    assert_eq!(db.list_signing_keys().await.unwrap().len(), 1);

    // Another algorithm gets its own key.
    let ed = db.ensure_signing_key(signing_key("e1", "EdDSA"), NOW).await.unwrap();
    assert_eq!((ed.kid.as_str(), ed.active), ("e1", true));
    assert_eq!(db.list_signing_keys().await.unwrap().len(), 2);

    // Rotation: the new key is active, the old one retired but still listed (and published).
    let k3 = db
        .rotate_signing_key(
            signing_key("k3", "ES256"),
            ev("signing_key.rotate", "signing_key"),
            NOW + 10_000,
        )
        .await
        .expect("rotate");
    assert_eq!(
        (k3.kid.as_str(), k3.active, k3.created_at, k3.retired_at),
        ("k3", true, NOW + 10_000, None)
    );
    let keys = db.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    let old = keys.iter().find(|k| k.kid == "k1").expect("the retired key is kept");
    assert!(!old.active);
    assert_eq!(old.retired_at, Some(NOW + 10_000));
    assert_eq!(old.private_pkcs8, k1.private_pkcs8);
    let es_active: Vec<&str> = keys
        .iter()
        .filter(|k| k.algorithm == "ES256" && k.active)
        .map(|k| k.kid.as_str())
        .collect();
    assert_eq!(es_active, ["k3"]);
    assert!(
        keys.iter().any(|k| k.kid == "e1" && k.active),
        "other algorithms are not touched"
    );
    assert_eq!(
        db.ensure_signing_key(signing_key("k4", "ES256"), NOW + 20_000)
            .await
            .unwrap()
            .kid,
        "k3"
    );

    // A kid is unique.
    assert_conflict(
        db.rotate_signing_key(
            signing_key("k1", "ES256"),
            ev("signing_key.rotate", "signing_key"),
            NOW + 30_000,
        )
        .await,
    );
    let after: Vec<String> = db
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.active && k.algorithm == "ES256")
        .map(|k| k.kid)
        .collect();
    assert_eq!(after, ["k3"], "a refused rotation changes nothing");

    // Rotation with no key yet simply installs one.
    let r1 = db
        .rotate_signing_key(signing_key("r1", "RS256"), ev("signing_key.rotate", "signing_key"), NOW)
        .await
        .unwrap();
    assert!(r1.active);
}

pub async fn secrets_are_stored_sealed_or_digested(db: Db) {
    let contains = |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);

    db.create_credential(
        new_credential(Dialect::Slascone, "prov-1", "SLASCONE-SECRET-VALUE", None),
        ev("credential.create", "credential"),
        NOW,
    )
    .await
    .unwrap();
    let sealed = db
        .raw
        .bytes(
            "SELECT secret_sealed FROM credentials WHERE key_id = ?",
            &[Arg::T("prov-1".into())],
        )
        .await;
    let digest = db
        .raw
        .bytes("SELECT secret_digest FROM credentials WHERE key_id = 'prov-1'", &[])
        .await;
    assert!(!contains(&sealed, b"SLASCONE-SECRET-VALUE"));
    assert!(!contains(&digest, b"SLASCONE-SECRET-VALUE"));

    db.bootstrap_admin_token("root", "ADMIN-TOKEN-SECRET-VALUE", NOW)
        .await
        .unwrap();
    let token_digest = db
        .raw
        .bytes("SELECT digest FROM admin_tokens WHERE name = 'root'", &[])
        .await;
    assert!(!contains(&token_digest, b"ADMIN-TOKEN-SECRET-VALUE"));

    let key = signing_key("k1", "ES256");
    db.ensure_signing_key(key.clone(), NOW).await.unwrap();
    let private = db
        .raw
        .bytes("SELECT private_sealed FROM signing_keys WHERE kid = 'k1'", &[])
        .await;
    assert!(!contains(&private, &key.private_pkcs8));

    // A store with another codec key cannot open them: that is corruption, not silence.
    let foreign = licensd_store::connect(
        &db.url,
        std::sync::Arc::new(TestCodec::new(0xBAD)),
        2,
        SqliteSynchronous::default(),
    )
    .await
    .unwrap();
    assert_corrupt(foreign.list_signing_keys().await);
    assert_eq!(
        foreign.find_admin_token("ADMIN-TOKEN-SECRET-VALUE").await.unwrap(),
        None
    );
}

/// `find_credential_and_product` answers exactly what `find_credential` and
/// `get_product_by_code` answer, whichever of the two exists.
pub async fn credential_and_product_read_together(db: Db) {
    let app = product(&db, "app").await;
    let scoped = db
        .create_credential(
            NewCredential {
                ip_allowlist: vec!["10.0.0.0/8".parse().unwrap()],
                read_only: true,
                ..new_credential(Dialect::LicenseSpring, "ls-1", "ls-secret-1", Some(app.id.get()))
            },
            ev("credential.create", "credential"),
            NOW,
        )
        .await
        .unwrap();
    let revoked = db
        .create_credential(
            new_credential(Dialect::LicenseSpring, "ls-2", "ls-secret-2", None),
            ev("credential.create", "credential"),
            NOW,
        )
        .await
        .unwrap();
    let revoked = db
        .revoke_credential(
            revoked.id,
            ev_on("credential.revoke", "credential", revoked.id),
            NOW + 5_000,
        )
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 5_000));
    let scoped = Some((scoped, "ls-secret-1".to_owned()));
    let revoked = Some((revoked, "ls-secret-2".to_owned()));
    let cases = [
        (Dialect::LicenseSpring, "ls-1", "app", scoped.clone(), Some(app.clone())),
        (Dialect::LicenseSpring, "ls-1", "nope", scoped.clone(), None),
        (
            Dialect::LicenseSpring,
            "ls-2",
            "app",
            revoked.clone(),
            Some(app.clone()),
        ),
        (Dialect::LicenseSpring, "nope", "app", None, Some(app.clone())),
        (Dialect::LicenseSpring, "nope", "nope", None, None),
        (Dialect::KeyManager, "ls-1", "app", None, Some(app.clone())),
    ];
    for (dialect, key_id, code, credential, product) in cases {
        assert_eq!(
            db.find_credential_and_product(dialect, key_id, code).await.unwrap(),
            (credential.clone(), product),
            "{dialect:?} {key_id} {code}"
        );
        assert_eq!(db.find_credential(dialect, key_id).await.unwrap(), credential);
    }
}
