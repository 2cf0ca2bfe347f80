//! A per-process cache of what `validate` reads, for the single-node SQLite deployment.
//!
//! Repeated checks of the same license are the commonest request a licensing server gets, and on
//! SQLite the database read is most of their cost. The cache keeps the *inputs* of validation
//! (license, product, device row, block flag, active-device count, features), never the verdict:
//! the domain rules still run on every request with the request's own clock, so expiry, grace and
//! start dates are decided exactly as without the cache.
//!
//! Exactness rests on a write generation: a counter the database bumps after every commit that
//! changed anything (SQLite's WAL hook, registered on every connection of the store, runs after
//! the commit is durable and visible). An entry is served only while the generation is the one it
//! was read under, and it is stored only if no commit finished while it was being read. So:
//! - an entry is never older than the last finished commit: any commit that finished before the
//!   entry's read began was visible to that read, and any that finished later changed the
//!   generation;
//! - a commit that is visible but whose hook has not yet run belongs to a write whose caller has
//!   not yet been answered, so a read that misses it is ordered before that write.
//!
//! Any write invalidates every entry. That is coarse, but writes are rare next to checks, and it
//! needs no knowledge of which rows a statement touched — a dialect store added tomorrow is covered
//! without doing anything. The one exception is opt-in: the console's validation counts, a table
//! no cache reads, commit without moving the generation (`SqliteStore::write_unseen`); flushed every
//! 10 s, they emptied the whole cache each time.
//!
//! On SQLite only this process's commits bump the generation: the cache is enabled only by
//! `licensd serve`, which holds the database's process lock (a second server on the same file
//! refuses to start).
//!
//! On PostgreSQL other nodes commit too, so the generation is bumped by notifications instead
//! (`postgres::listen_for_writes`), and a `Freshness` bounds how old an answer may be: every write
//! to a table the cache reads NOTIFYs inside its transaction (statement triggers the first node
//! with the cache installs, `postgres::install_notify_triggers`), and PostgreSQL delivers
//! notifications in commit order. The node sends itself a heartbeat on the
//! same channel every quarter of the bound and records, when it comes back, the instant it was
//! sent: every write that committed before that instant has been received (and has bumped the
//! generation) by then. An entry is served only while that instant is at most `max_staleness`
//! old; otherwise, and while the listening connection is lost and not yet back in step, every
//! lookup reads the database and nothing is kept. So an answer reflects every write that
//! committed more than `max_staleness` before it was given — this node's own writes included,
//! which it hears about like any other.

use crate::{LicenseRef, SecretCodec, ValidationReport};
use licensd_domain::rules;
use licensd_domain::{Credential, Customer, Device, Dialect, FloatingLease, License, LicenseFeature, Millis, Product};
use licensd_domain::{CustomerId, LicenseId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Everything validation reads from the database for one (license, fingerprint).
#[derive(Debug, Clone)]
pub(crate) struct ValidationInputs {
    pub product: Product,
    pub license: License,
    pub device: Option<Device>,
    pub blocked: bool,
    pub active_devices: i64,
    pub features: Vec<LicenseFeature>,
}

impl ValidationInputs {
    /// Runs the domain's validation at `now`.
    pub fn report(self, fingerprint: Option<&str>, now: Millis) -> ValidationReport {
        let outcome = rules::validate(
            &self.product,
            &self.license,
            rules::DeviceState {
                fingerprint,
                device: self.device.as_ref(),
                blocked: self.blocked,
            },
            now,
        );
        ValidationReport {
            product: self.product,
            license: self.license,
            device: self.device,
            features: self.features,
            active_devices: self.active_devices,
            outcome,
        }
    }
}

/// How a request named the license: its id, or the keyed digest of its key (plaintext keys are
/// not kept as map keys).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum LicenseName {
    Id(i64),
    Digest(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    license: LicenseName,
    fingerprint: Option<String>,
}

impl CacheKey {
    pub fn new(license: &LicenseRef, fingerprint: Option<&str>, codec: &dyn SecretCodec) -> Self {
        Self {
            license: match license {
                LicenseRef::Id(id) => LicenseName::Id((*id).get()),
                LicenseRef::Key(key) => LicenseName::Digest(codec.digest(key.as_bytes())),
            },
            fingerprint: fingerprint.map(str::to_owned),
        }
    }
}

/// The write generation a database connection bumps after each commit.
pub(crate) type Generation = &'static AtomicU64;

/// How current a cache fed by notifications is (PostgreSQL; see the module docs).
pub(crate) struct Freshness {
    base: Instant,
    /// When (nanoseconds after `base`, plus one) the newest heartbeat this node has received
    /// back was sent; 0 while not in step (never yet, or the listening connection was lost).
    synced: AtomicU64,
    max_staleness: Duration,
}

impl Freshness {
    pub fn new(max_staleness: Duration) -> Self {
        Self {
            base: Instant::now(),
            synced: AtomicU64::new(0),
            max_staleness,
        }
    }

    pub fn max_staleness(&self) -> Duration {
        self.max_staleness
    }

    /// A monotonic instant of this process, never 0.
    pub fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    /// Whether entries may be served now: in step, and the last heartbeat heard back was sent at
    /// most `max_staleness` ago.
    pub fn is_fresh(&self) -> bool {
        // Acquire: whatever generation bumps the listener made before marking this heartbeat
        // (the writes that committed before it) are visible to the generation read that follows.
        let synced = self.synced.load(Ordering::Acquire);
        let bound = u64::try_from(self.max_staleness.as_nanos()).unwrap_or(u64::MAX);
        synced != 0 && self.now().saturating_sub(synced) <= bound
    }

    /// A heartbeat sent at `sent` (a `now()` value) was received back.
    pub fn synced_at(&self, sent: u64) {
        self.synced.fetch_max(sent, Ordering::Release);
    }

    /// Out of step: serve nothing until the next heartbeat is received back.
    pub fn lost(&self) {
        self.synced.store(0, Ordering::Release);
    }
}

/// The reads the cache serves: validation's inputs and the lookups that dialect requests make
/// before and after validating (credential, product by code, license by key, features, floating
/// leases, customer).
pub(crate) struct ReadCache {
    generation: Generation,
    /// PostgreSQL: how current the notifications have kept it; entries are served only while
    /// fresh. `None` on SQLite, whose generation is bumped by this process's own commits.
    freshness: Option<Arc<Freshness>>,
    pub validation: GenerationMap<CacheKey, ValidationInputs>,
    pub credentials: GenerationMap<(Dialect, String), Option<(Credential, String)>>,
    pub products_by_code: GenerationMap<String, Product>,
    pub licenses_by_key: GenerationMap<Vec<u8>, Option<License>>,
    pub license_features: GenerationMap<LicenseId, Vec<LicenseFeature>>,
    /// Every lease row of a license, live or not: callers filter by their own clock.
    pub leases: GenerationMap<LicenseId, Vec<FloatingLease>>,
    pub customers: GenerationMap<CustomerId, Customer>,
}

impl ReadCache {
    /// `entries`: the bound of each map.
    pub fn new(generation: Generation, entries: usize) -> Self {
        Self {
            generation,
            freshness: None,
            validation: GenerationMap::new("validation", entries),
            credentials: GenerationMap::new("credentials", entries),
            products_by_code: GenerationMap::new("products_by_code", entries),
            licenses_by_key: GenerationMap::new("licenses_by_key", entries),
            license_features: GenerationMap::new("license_features", entries),
            leases: GenerationMap::new("leases", entries),
            customers: GenerationMap::new("customers", entries),
        }
    }

    /// A cache whose entries are served only while `freshness` says so (PostgreSQL).
    pub fn with_freshness(generation: Generation, entries: usize, freshness: Arc<Freshness>) -> Self {
        Self {
            freshness: Some(freshness),
            ..Self::new(generation, entries)
        }
    }

    /// Hits and misses of every map so far (`CoreStore::cache_stats`).
    pub fn stats(&self) -> Vec<crate::CacheStats> {
        vec![
            self.validation.stats(),
            self.credentials.stats(),
            self.products_by_code.stats(),
            self.licenses_by_key.stats(),
            self.license_features.stats(),
            self.leases.stats(),
            self.customers.stats(),
        ]
    }

    /// The generation to read under: pass it to `put` with what was read.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// `map`'s entry for `key` if it is current, else `load`'s answer (kept if no commit finished
    /// while loading). Without a cache, just `load`.
    pub async fn through<K, V, F>(
        cache: Option<&Self>,
        map: fn(&Self) -> &GenerationMap<K, V>,
        key: K,
        load: F,
    ) -> crate::Result<V>
    where
        K: Hash + Eq,
        V: Clone,
        F: Future<Output = crate::Result<V>>,
    {
        let Some(cache) = cache else {
            return load.await;
        };
        if cache.freshness.as_ref().is_some_and(|freshness| !freshness.is_fresh()) {
            // Possibly older than the bound: read the database and keep nothing.
            map(cache).misses.fetch_add(1, Ordering::Relaxed);
            return load.await;
        }
        // Read after the freshness check (see `Freshness::is_fresh`).
        let generation = cache.generation();
        if let Some(hit) = map(cache).get(&key, generation) {
            map(cache).hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        map(cache).misses.fetch_add(1, Ordering::Relaxed);
        let value = load.await?;
        map(cache).put(key, generation, &value, || cache.generation());
        Ok(value)
    }
}

/// One bounded map of entries tagged with the generation they were read under.
pub(crate) struct GenerationMap<K, V> {
    /// Values behind `Arc` so the lock is held for a lookup and a reference count, never for a
    /// deep copy: under 60k+ checks/s on two workers a clone under the lock made them queue.
    entries: Mutex<HashMap<K, (u64, Arc<V>)>>,
    capacity: usize,
    /// The map's name in `/metrics`.
    name: &'static str,
    /// Lookups `ReadCache::through` answered from this map, and those it had to load.
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<K: Hash + Eq, V: Clone> GenerationMap<K, V> {
    fn new(name: &'static str, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            name,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn stats(&self) -> crate::CacheStats {
        crate::CacheStats {
            map: self.name,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// The entry for `key` if it was read under `current`.
    pub fn get(&self, key: &K, current: u64) -> Option<V> {
        let hit = match self.lock().get(key) {
            Some((generation, value)) if *generation == current => Some(Arc::clone(value)),
            _ => None,
        };
        hit.map(|value| V::clone(&value))
    }

    /// Keeps `value`, read under `generation`, unless `current()` has moved on since.
    pub fn put(&self, key: K, generation: u64, value: &V, current: impl Fn() -> u64) {
        let value = Arc::new(value.clone());
        let mut entries = self.lock();
        // Checked under the lock, so a stale entry cannot overwrite a fresh one read later.
        if current() != generation {
            return;
        }
        if entries.len() >= self.capacity {
            // Entries of older generations are dead; when all are live, start over.
            entries.retain(|_, (entry_generation, _)| *entry_generation == generation);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (generation, value));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (u64, Arc<V>)>> {
        // The map holds no invariant a panicking holder could break.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use licensd_domain::{Assignment, AuthMethod, LicenseStatus, LicenseTerms, ProductStatus};
    use licensd_domain::{LicenseId, ProductId};

    fn inputs(license_id: i64) -> ValidationInputs {
        let product = Product {
            id: ProductId::new(1),
            code: "p".into(),
            name: "P".into(),
            auth_method: AuthMethod::Key,
            status: ProductStatus::Active,
            trial_allowed: false,
            trial_days: 0,
            metadata: serde_json::json!({}),
            created_at: 0,
            updated_at: 0,
        };
        let license = License {
            id: LicenseId::new(license_id),
            product_id: ProductId::new(1),
            policy_id: None,
            customer_id: None,
            key: Some(format!("KEY-{license_id}")),
            status: LicenseStatus::Active,
            assignment: Assignment::Assigned,
            terms: LicenseTerms::default(),
            starts_at: None,
            expires_at: None,
            maintenance_expires_at: None,
            trial_days: None,
            transfer_count: 0,
            deactivation_count: 0,
            consumption_used: 0,
            consumption_period_start: 0,
            order_ref: None,
            metadata: serde_json::json!({}),
            created_at: 0,
            updated_at: 0,
        };
        ValidationInputs {
            product,
            license,
            device: None,
            blocked: false,
            active_devices: 0,
            features: Vec::new(),
        }
    }

    fn key(id: i64) -> CacheKey {
        CacheKey {
            license: LicenseName::Id(id),
            fingerprint: None,
        }
    }

    fn generation() -> Generation {
        Box::leak(Box::new(AtomicU64::new(0)))
    }

    fn put(cache: &ReadCache, id: i64, read_under: u64) {
        cache
            .validation
            .put(key(id), read_under, &inputs(id), || cache.generation());
    }

    fn get(cache: &ReadCache, id: i64) -> Option<ValidationInputs> {
        cache.validation.get(&key(id), cache.generation())
    }

    #[test]
    fn an_entry_is_served_until_the_next_commit() {
        let generation = generation();
        let cache = ReadCache::new(generation, 8);
        put(&cache, 1, cache.generation());
        assert_eq!(get(&cache, 1).map(|i| i.license.id), Some(LicenseId::new(1)));
        generation.fetch_add(1, Ordering::Release);
        assert!(get(&cache, 1).is_none(), "a commit must invalidate every entry");
    }

    #[test]
    fn a_read_overtaken_by_a_commit_is_not_kept() {
        let generation = generation();
        let cache = ReadCache::new(generation, 8);
        let read_under = cache.generation();
        // A commit finishes while the read is in flight: what was read may predate it.
        generation.fetch_add(1, Ordering::Release);
        put(&cache, 1, read_under);
        assert!(get(&cache, 1).is_none());
        assert_eq!(cache.validation.len(), 0);
    }

    #[test]
    fn the_cache_is_bounded_and_drops_dead_generations_first() {
        let generation = generation();
        let cache = ReadCache::new(generation, 2);
        put(&cache, 1, cache.generation());
        generation.fetch_add(1, Ordering::Release);
        put(&cache, 2, cache.generation());
        put(&cache, 3, cache.generation());
        assert_eq!(cache.validation.len(), 2, "the dead entry made room");
        assert!(get(&cache, 2).is_some() && get(&cache, 3).is_some());
        put(&cache, 4, cache.generation());
        assert!(cache.validation.len() <= 2);
        assert!(get(&cache, 4).is_some());
    }

    #[tokio::test]
    async fn entries_are_served_only_while_fresh() {
        let generation = generation();
        let freshness = Arc::new(Freshness::new(Duration::from_secs(3600)));
        let cache = ReadCache::with_freshness(generation, 8, freshness.clone());
        let loads = std::sync::atomic::AtomicUsize::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        };
        let lookup = || ReadCache::through(Some(&cache), |c| &c.license_features, LicenseId::new(1), load());
        // Not in step yet: every lookup reads, nothing is kept.
        lookup().await.unwrap();
        lookup().await.unwrap();
        assert_eq!((loads.load(Ordering::SeqCst), cache.license_features.len()), (2, 0));
        // A heartbeat sent now came back: served from memory.
        freshness.synced_at(freshness.now());
        lookup().await.unwrap();
        lookup().await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 3);
        // The listening connection was lost: read again, whatever is kept.
        freshness.lost();
        lookup().await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn a_heartbeat_older_than_the_bound_is_not_fresh() {
        let freshness = Freshness::new(Duration::from_millis(1));
        assert!(!freshness.is_fresh(), "never in step yet");
        let sent = freshness.now();
        freshness.synced_at(sent);
        // Spin until the bound has passed since `sent` (no sleep: the clock is the point).
        while freshness.now() - sent <= 1_000_000 {
            std::hint::spin_loop();
        }
        assert!(!freshness.is_fresh());
        freshness.synced_at(freshness.now());
        assert!(freshness.is_fresh());
    }

    #[tokio::test]
    async fn through_loads_once_per_generation() {
        let generation = generation();
        let cache = ReadCache::new(generation, 8);
        let loads = std::sync::atomic::AtomicUsize::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        };
        for _ in 0..3 {
            ReadCache::through(Some(&cache), |c| &c.license_features, LicenseId::new(1), load())
                .await
                .unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let features = cache.license_features.stats();
        assert_eq!(
            (features.map, features.hits, features.misses),
            ("license_features", 2, 1)
        );
        generation.fetch_add(1, Ordering::Release);
        ReadCache::through(Some(&cache), |c| &c.license_features, LicenseId::new(1), load())
            .await
            .unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        ReadCache::through(None, |c| &c.license_features, LicenseId::new(1), load())
            .await
            .unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 3, "without a cache every call loads");
    }
}
