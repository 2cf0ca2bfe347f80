//! The test harness: a deterministic test `SecretCodec`, one fresh database per test on either
//! backend, raw SQL access for assertions the trait cannot answer, fixtures and assertions.

use licensd_domain::*;
use licensd_store::*;
use serde_json::json;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Connection};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// 2026-01-01T00:00:00Z: every test passes explicit instants around this one.
pub const NOW: Millis = 1_767_225_600_000;
pub use licensd_domain::clock::{DAY, HOUR, MINUTE, SECOND};

// ------------------------------------------------------------------------------------------------
// The test codec
// ------------------------------------------------------------------------------------------------

/// A reversible, tamper-evident stand-in for the server's AEAD codec. Not cryptography: it only
/// has to make sealed bytes differ from the plaintext, bind them to their context, and refuse
/// anything altered.
///
/// Sealed layout: `[VERSION] [context tag: 8] [ciphertext: n] [mac: 8]`.
#[derive(Debug, Clone)]
pub struct TestCodec {
    key: u64,
}

const CODEC_VERSION: u8 = 0x71;

impl TestCodec {
    pub fn new(key: u64) -> Self {
        Self { key }
    }

    fn keystream_byte(&self, context: &str, index: usize) -> u8 {
        let block = hash64(
            self.key ^ 0x5EA1,
            &[context.as_bytes(), &((index / 8) as u64).to_le_bytes()],
        );
        block.to_le_bytes()[index % 8]
    }

    fn context_tag(&self, context: &str) -> [u8; 8] {
        hash64(self.key ^ 0xC0DE, &[context.as_bytes()]).to_le_bytes()
    }

    fn mac(&self, context: &str, ciphertext: &[u8]) -> [u8; 8] {
        hash64(self.key ^ 0x3AC0, &[context.as_bytes(), &[0xFF], ciphertext]).to_le_bytes()
    }
}

impl SecretCodec for TestCodec {
    fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + 17);
        out.push(CODEC_VERSION);
        out.extend_from_slice(&self.context_tag(context));
        let ciphertext: Vec<u8> = plaintext
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ self.keystream_byte(context, i))
            .collect();
        let mac = self.mac(context, &ciphertext);
        out.extend_from_slice(&ciphertext);
        out.extend_from_slice(&mac);
        out
    }

    fn open(&self, sealed: &[u8], context: &str) -> Option<Vec<u8>> {
        if sealed.len() < 17 || sealed[0] != CODEC_VERSION || sealed[1..9] != self.context_tag(context) {
            return None;
        }
        let (ciphertext, mac) = sealed[9..].split_at(sealed.len() - 17);
        if mac != self.mac(context, ciphertext) {
            return None;
        }
        Some(
            ciphertext
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ self.keystream_byte(context, i))
                .collect(),
        )
    }

    fn digest(&self, secret: &[u8]) -> Vec<u8> {
        (0u64..4)
            .flat_map(|i| hash64(self.key ^ 0xD16E ^ (i << 32), &[secret]).to_le_bytes())
            .collect()
    }
}

/// FNV-1a over the parts (length-prefixed), finished with a splitmix64 avalanche.
fn hash64(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    let mut eat = |byte: u8| {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for part in parts {
        for b in (part.len() as u64).to_le_bytes() {
            eat(b);
        }
        for &b in *part {
            eat(b);
        }
    }
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ------------------------------------------------------------------------------------------------
// One database per test
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// The default pool size; concurrency tests ask for more.
pub fn pool_size(requested: &[u32]) -> u32 {
    requested.first().copied().unwrap_or(4)
}

/// Raw SQL access to the test's database, for facts the trait does not expose.
#[derive(Clone)]
pub enum Raw {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// A bind parameter for raw SQL.
#[derive(Debug, Clone)]
pub enum Arg {
    I(i64),
    B(Vec<u8>),
    T(String),
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::I(v) => query.bind(*v),
                Arg::B(v) => query.bind(v.clone()),
                Arg::T(v) => query.bind(v.clone()),
            };
        }
        query
    }};
}

impl Raw {
    /// Raw SQL is written with `?` placeholders; PostgreSQL gets `$1, $2, …`.
    fn pg_sql(sql: &str) -> String {
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    }

    /// One BIGINT/INTEGER value (use `CAST(… AS BIGINT)` around SUMs).
    pub async fn i64(&self, sql: &str, args: &[Arg]) -> i64 {
        let result = match self {
            Raw::Sqlite(pool) => {
                bind_all!(sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_owned())), args)
                    .fetch_one(pool)
                    .await
            }
            Raw::Pg(pool) => {
                bind_all!(sqlx::query_scalar::<_, i64>(AssertSqlSafe(Self::pg_sql(sql))), args)
                    .fetch_one(pool)
                    .await
            }
        };
        result.unwrap_or_else(|e| panic!("raw query failed: {sql}: {e}"))
    }

    pub async fn bytes(&self, sql: &str, args: &[Arg]) -> Vec<u8> {
        let result = match self {
            Raw::Sqlite(pool) => {
                bind_all!(sqlx::query_scalar::<_, Vec<u8>>(AssertSqlSafe(sql.to_owned())), args)
                    .fetch_one(pool)
                    .await
            }
            Raw::Pg(pool) => {
                bind_all!(sqlx::query_scalar::<_, Vec<u8>>(AssertSqlSafe(Self::pg_sql(sql))), args)
                    .fetch_one(pool)
                    .await
            }
        };
        result.unwrap_or_else(|e| panic!("raw query failed: {sql}: {e}"))
    }

    /// Runs a statement; returns the rows it affected.
    pub async fn exec(&self, sql: &str, args: &[Arg]) -> u64 {
        let result = match self {
            Raw::Sqlite(pool) => bind_all!(sqlx::query(AssertSqlSafe(sql.to_owned())), args)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Raw::Pg(pool) => bind_all!(sqlx::query(AssertSqlSafe(Self::pg_sql(sql))), args)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
        };
        result.unwrap_or_else(|e| panic!("raw statement failed: {sql}: {e}"))
    }

    async fn close(&self) {
        match self {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Pg(pool) => pool.close().await,
        }
    }
}

struct PgEnv {
    admin_url: String,
    databases: Mutex<Vec<String>>,
}

struct Env {
    dir: Option<tempfile::TempDir>,
    pg: Option<PgEnv>,
}

/// A migrated store on a database of its own, plus raw access to that database. Cheap to clone
/// into tasks; derefs to the store.
#[derive(Clone)]
pub struct Db {
    pub store: Arc<dyn Store>,
    pub codec: Arc<TestCodec>,
    pub kind: Kind,
    pub url: String,
    pub raw: Raw,
    pub max_connections: u32,
    env: Arc<Env>,
}

impl std::ops::Deref for Db {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        nanos % 1_000_000
    )
}

/// `postgres://user@host:port/db?params` with the database name replaced.
fn with_database(url: &str, database: &str) -> String {
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let (base, rest) = match url[scheme_end..].find('/') {
        Some(slash) => url.split_at(scheme_end + slash),
        None => (url, ""),
    };
    let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
    format!("{base}/{database}{query}")
}

impl Db {
    /// Opens a migrated store for one test, or `None` when the PostgreSQL variant is skipped.
    async fn open(kind: Kind, test: &str, max_connections: u32) -> Option<Db> {
        let codec = Arc::new(TestCodec::new(0x1CE5_5EED));
        let (env, url) = match kind {
            Kind::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("licensd-store-test-")
                    .tempdir()
                    .expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join(format!("{test}.db")).display());
                (
                    Env {
                        dir: Some(dir),
                        pg: None,
                    },
                    url,
                )
            }
            Kind::Postgres => {
                let admin_url = match std::env::var("LICENSD_TEST_PG_URL") {
                    Ok(url) if !url.trim().is_empty() => url,
                    _ if std::env::var("LICENSD_TEST_SKIP_PG").as_deref() == Ok("1") => {
                        eprintln!("skipping the PostgreSQL variant of {test}: LICENSD_TEST_SKIP_PG=1");
                        return None;
                    }
                    _ => panic!(
                        "LICENSD_TEST_PG_URL is not set, so the PostgreSQL variant of `{test}` cannot run. \
                         Run the suite through scripts/test (it starts a throwaway PostgreSQL and sets \
                         LICENSD_TEST_PG_URL=postgres://licensd@127.0.0.1:PORT/postgres), set it yourself, \
                         or set LICENSD_TEST_SKIP_PG=1 to skip the PostgreSQL variants for a quick local loop."
                    ),
                };
                let pg = PgEnv {
                    admin_url,
                    databases: Mutex::new(Vec::new()),
                };
                let url = pg.create_database().await;
                (
                    Env {
                        dir: None,
                        pg: Some(pg),
                    },
                    url,
                )
            }
        };
        let store = connect(&url, codec.clone(), max_connections, SqliteSynchronous::default())
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        store
            .migrate(NOW)
            .await
            .unwrap_or_else(|e| panic!("migrate {url}: {e}"));
        let raw = match kind {
            Kind::Sqlite => Raw::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await
                    .expect("raw sqlite pool"),
            ),
            Kind::Postgres => Raw::Pg(
                PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await
                    .expect("raw postgres pool"),
            ),
        };
        Some(Db {
            store,
            codec,
            kind,
            url,
            raw,
            max_connections,
            env: Arc::new(env),
        })
    }

    /// The URL of another, empty (unmigrated) database on the same backend.
    pub async fn fresh_url(&self) -> String {
        match (&self.env.dir, &self.env.pg) {
            (Some(dir), _) => format!(
                "sqlite://{}",
                dir.path().join(format!("fresh-{}.db", unique_suffix())).display()
            ),
            (_, Some(pg)) => pg.create_database().await,
            _ => unreachable!("a Db has a temp dir or a PostgreSQL server"),
        }
    }

    /// Opens another store on `url` with this test's codec.
    pub async fn connect_store(&self, url: &str) -> Arc<dyn Store> {
        connect(
            url,
            self.codec.clone(),
            self.max_connections,
            SqliteSynchronous::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
    }

    pub fn expected_backend(&self) -> Backend {
        match self.kind {
            Kind::Sqlite => Backend::Sqlite,
            Kind::Postgres => Backend::Postgres,
        }
    }

    async fn cleanup(self) {
        self.raw.close().await;
        let Db { store, env, .. } = self;
        drop(store);
        if let Some(pg) = &env.pg {
            pg.drop_databases().await;
        }
    }
}

impl PgEnv {
    async fn create_database(&self) -> String {
        let name = format!("licensd_t_{}", unique_suffix());
        let mut conn = sqlx::PgConnection::connect(&self.admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at LICENSD_TEST_PG_URL={}: {e}", self.admin_url));
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = conn.close().await;
        self.databases.lock().unwrap().push(name.clone());
        with_database(&self.admin_url, &name)
    }

    async fn drop_databases(&self) {
        let names = std::mem::take(&mut *self.databases.lock().unwrap());
        if names.is_empty() {
            return;
        }
        let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_url).await else {
            return;
        };
        for name in names {
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut conn)
                .await
            {
                eprintln!("note: could not drop test database {name}: {e}");
            }
        }
        let _ = conn.close().await;
    }
}

/// Runs one conformance case against one backend: fresh database, the case, cleanup.
pub async fn run<F, Fut>(kind: Kind, test: &str, max_connections: u32, case: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = Db::open(kind, test, max_connections).await else {
        return;
    };
    case(db.clone()).await;
    db.cleanup().await;
}

// ------------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------------

pub fn ev(action: &str, subject_type: &str) -> EventDraft {
    EventDraft::new("tester", action, subject_type)
}

pub fn ev_on(action: &str, subject_type: &str, id: impl Into<i64>) -> EventDraft {
    EventDraft::new("tester", action, subject_type).subject(id)
}

pub fn new_product(code: &str) -> NewProduct {
    NewProduct {
        code: code.into(),
        name: format!("Product {code}"),
        auth_method: AuthMethod::Key,
        status: ProductStatus::Active,
        trial_allowed: false,
        trial_days: 0,
        metadata: json!({}),
    }
}

pub async fn product(db: &Db, code: &str) -> Product {
    db.create_product(new_product(code), ev("product.create", "product"), NOW)
        .await
        .expect("create product")
}

pub fn new_feature(product_id: ProductId, code: &str, feature_type: FeatureType) -> FeatureSpec {
    FeatureSpec {
        product_id,
        code: code.into(),
        name: format!("Feature {code}"),
        feature_type,
        max_consumptions: None,
        allow_overages: false,
        max_overages: None,
        allow_negative: false,
        reset_period: ResetPeriod::Never,
        floating_seats: None,
        floating_lease_seconds: 600,
        metadata: json!({}),
    }
}

/// Default terms with the given activation limit.
pub fn terms(max_activations: Option<i64>) -> LicenseTerms {
    LicenseTerms {
        max_activations,
        ..LicenseTerms::default()
    }
}

pub fn consumption_terms(max: Option<i64>) -> LicenseTerms {
    LicenseTerms {
        license_type: LicenseType::Consumption,
        max_activations: None,
        consumption: Some(ConsumptionTerms {
            max_consumptions: max,
            allow_overages: false,
            max_overages: None,
            allow_negative: false,
            reset_period: ResetPeriod::Never,
        }),
        ..LicenseTerms::default()
    }
}

pub fn floating_terms(seats: i64, lease_seconds: i64) -> LicenseTerms {
    LicenseTerms {
        max_activations: None,
        floating: Some(FloatingTerms {
            seats,
            lease_seconds,
            borrow_allowed: true,
            max_borrow_hours: 24,
            sessions_per_client: None,
        }),
        ..LicenseTerms::default()
    }
}

pub fn new_license(product_id: ProductId, key: &str, terms: LicenseTerms) -> NewLicense {
    NewLicense {
        product_id,
        key: Some(key.into()),
        settings: LicenseSettings::active(terms),
        features: Vec::new(),
    }
}

pub async fn create_license(db: &Db, new: NewLicense) -> License {
    let mut created = db
        .create_licenses(vec![new], ev("license.create", "license"), NOW)
        .await
        .expect("create license");
    assert_eq!(created.len(), 1, "create_licenses returns one license per input");
    created.remove(0)
}

pub async fn license(db: &Db, product_id: ProductId, key: &str, terms: LicenseTerms) -> License {
    create_license(db, new_license(product_id, key, terms)).await
}

/// A product "app" and one license "KEY-1" with these terms.
pub async fn product_and_license(db: &Db, terms: LicenseTerms) -> (Product, License) {
    let product = product(db, "app").await;
    let license = license(db, product.id, "KEY-1", terms).await;
    (product, license)
}

pub fn dev(fingerprint: &str) -> DeviceInfo {
    DeviceInfo {
        fingerprint: fingerprint.into(),
        ..DeviceInfo::default()
    }
}

pub fn key_of(license: &License) -> LicenseRef {
    LicenseRef::Key(license.key.clone().expect("license has a key"))
}

pub async fn activate(db: &Db, license: &License, fingerprint: &str, now: Millis) -> Result<Activation> {
    db.activate(
        key_of(license),
        dev(fingerprint),
        None,
        ev_on("device.activate", "license", license.id),
        now,
    )
    .await
}

pub async fn deactivate(db: &Db, license: &License, fingerprint: &str, now: Millis) -> Result<License> {
    db.deactivate(
        key_of(license),
        fingerprint,
        ev_on("device.deactivate", "license", license.id),
        now,
    )
    .await
}

pub async fn consume(
    db: &Db,
    license: &License,
    amount: i64,
    idempotency_key: Option<&str>,
    now: Millis,
) -> Result<ConsumptionOutcome> {
    db.consume(
        key_of(license),
        amount,
        idempotency_key.map(str::to_owned),
        ev_on("license.consume", "license", license.id),
        now,
    )
    .await
}

pub async fn checkout(
    db: &Db,
    license: &License,
    fingerprint: &str,
    borrow_until: Option<Millis>,
    now: Millis,
) -> Result<FloatingLease> {
    db.checkout_lease(
        key_of(license),
        fingerprint,
        borrow_until,
        ev_on("lease.checkout", "license", license.id),
        now,
    )
    .await
}

pub fn page(limit: i64) -> Page {
    Page { after: None, limit }
}

pub fn all() -> Page {
    Page {
        after: None,
        limit: 1000,
    }
}

// ------------------------------------------------------------------------------------------------
// Assertions
// ------------------------------------------------------------------------------------------------

#[track_caller]
pub fn assert_denied<T: std::fmt::Debug>(result: Result<T>, expected: Denial) {
    match result {
        Err(StoreError::Denied(got)) if got == expected => {}
        other => panic!("expected Err(Denied({expected:?})), got {other:?}"),
    }
}

/// The denial, whichever it is (for contracts that do not name one).
#[track_caller]
pub fn expect_denied<T: std::fmt::Debug>(result: Result<T>) -> Denial {
    match result {
        Err(StoreError::Denied(got)) => got,
        other => panic!("expected Err(Denied(_)), got {other:?}"),
    }
}

#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T>) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected Err(Conflict(_)), got {other:?}"),
    }
}

#[track_caller]
pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T>) {
    match result {
        Err(StoreError::NotFound) => {}
        other => panic!("expected Err(NotFound), got {other:?}"),
    }
}

#[track_caller]
pub fn assert_corrupt<T: std::fmt::Debug>(result: Result<T>) {
    match result {
        Err(StoreError::Corrupt(_)) => {}
        other => panic!("expected Err(Corrupt(_)), got {other:?}"),
    }
}

pub async fn event_count(db: &Db) -> i64 {
    db.raw.i64("SELECT COUNT(*) FROM events", &[]).await
}

pub async fn count_where_license(db: &Db, table: &str, license_id: LicenseId) -> i64 {
    db.raw
        .i64(
            &format!("SELECT COUNT(*) FROM {table} WHERE license_id = ?"),
            &[Arg::I(license_id.get())],
        )
        .await
}

/// Everything a client command on one license could change.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenseState {
    pub license: License,
    pub devices: Vec<Device>,
    pub features: Vec<LicenseFeature>,
    pub users: Vec<i64>,
    pub lease_rows: Vec<FloatingLease>,
    pub events: i64,
    pub activation_log: i64,
    pub consumption_events: i64,
}

pub async fn state(db: &Db, license_id: LicenseId) -> LicenseState {
    let mut users: Vec<i64> = db
        .users_of_license(license_id)
        .await
        .expect("users_of_license")
        .iter()
        .map(|u| u.id)
        .collect();
    users.sort_unstable();
    LicenseState {
        license: db.get_license(license_id).await.expect("get_license"),
        devices: db.list_devices(license_id).await.expect("list_devices"),
        features: db.license_features(license_id).await.expect("license_features"),
        users,
        // Every lease row, live or not (all expire after the epoch).
        lease_rows: db.live_leases(license_id, 0).await.expect("live_leases"),
        events: event_count(db).await,
        activation_log: count_where_license(db, "activation_log", license_id).await,
        consumption_events: count_where_license(db, "consumption_events", license_id).await,
    }
}

/// Asserts that nothing about the license changed since `before` was taken.
pub async fn assert_unchanged(db: &Db, before: &LicenseState, what: &str) {
    let after = state(db, before.license.id).await;
    assert_eq!(&after, before, "{what} must change nothing");
}

pub fn active_fingerprints(devices: &[Device]) -> Vec<String> {
    let mut fps: Vec<String> = devices
        .iter()
        .filter(|d| d.is_active())
        .map(|d| d.fingerprint.clone())
        .collect();
    fps.sort();
    fps
}

#[test]
fn test_codec_round_trips_binds_context_and_detects_tampering() {
    let codec = TestCodec::new(7);
    let sealed = codec.seal(b"top secret", "license-key");
    assert_eq!(sealed[0], CODEC_VERSION);
    assert!(!sealed.windows(10).any(|w| w == b"top secret"));
    assert_eq!(codec.open(&sealed, "license-key").as_deref(), Some(&b"top secret"[..]));
    assert_eq!(codec.open(&sealed, "other-context"), None);
    assert_eq!(TestCodec::new(8).open(&sealed, "license-key"), None);
    for i in 0..sealed.len() {
        let mut tampered = sealed.clone();
        tampered[i] ^= 0x01;
        assert_eq!(
            codec.open(&tampered, "license-key"),
            None,
            "flipping byte {i} must be detected"
        );
    }
    assert_eq!(codec.open(&sealed[..sealed.len() - 1], "license-key"), None);
    assert_eq!(codec.open(&codec.seal(b"", "x"), "x").as_deref(), Some(&b""[..]));
    assert_eq!(codec.digest(b"abc"), codec.digest(b"abc"));
    assert_eq!(codec.digest(b"abc").len(), 32);
    assert_ne!(codec.digest(b"abc"), codec.digest(b"abd"));
    assert_ne!(codec.digest(b"abc"), TestCodec::new(8).digest(b"abc"));
    assert_eq!(with_database("postgres://u@h:1/postgres", "x"), "postgres://u@h:1/x");
    assert_eq!(
        with_database("postgres://u@h:1/postgres?sslmode=disable", "x"),
        "postgres://u@h:1/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
}
