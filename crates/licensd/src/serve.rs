//! `licensd serve` and `licensd migrate`.

use crate::config::{LogFormat, ServeArgs, Settings};
use anyhow::{Context, bail};
use licensd_crypto::{Algorithm, MasterKey};
use licensd_domain::{Clock, Millis, SystemClock};
use licensd_server::{AppState, CryptoCodec, KeyRing, ServerSettings, SharedState};
use licensd_store::{SqliteSynchronous, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Set once JSON logging is on, so that a fatal error is reported as a JSON line too.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether log lines are JSON (`--log-format json`).
pub fn json_logs() -> bool {
    JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed)
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr; stdout carries only the lines scripts may parse.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let _ = builder.try_init();
        }
        LogFormat::Json => {
            // Every line is one object; lines logged inside a request carry its span (with the
            // `request_id`) as `span` and, with any inner spans, in `spans`.
            if builder
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .try_init()
                .is_ok()
            {
                JSON_LOGS.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

/// Reads the master key from `LICENSD_MASTER_KEY`, else from its file, creating the file
/// (mode 0600) on first start.
fn load_master_key(path: &Path) -> anyhow::Result<MasterKey> {
    if let Ok(text) = std::env::var("LICENSD_MASTER_KEY") {
        return MasterKey::from_base64(&text).context("LICENSD_MASTER_KEY is not a base64 32-byte key");
    }
    match std::fs::read_to_string(path) {
        Ok(text) => MasterKey::from_base64(&text)
            .with_context(|| format!("master key file {} is not a base64 32-byte key", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate().context("cannot generate a master key")?;
            write_secret_file(path, &key.to_base64())
                .with_context(|| format!("cannot write master key file {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new master key; back it up with the database");
            Ok(key)
        }
        Err(error) => Err(error).with_context(|| format!("cannot read master key file {}", path.display())),
    }
}

fn write_secret_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Opens and migrates the database (recording migrations applied at `now`);
/// `validation_cache_entries` as in `licensd_store::connect_server`.
async fn open_store(
    settings: &Settings,
    validation_cache_entries: usize,
    now: Millis,
) -> anyhow::Result<(Arc<dyn Store>, MasterKey)> {
    if settings.database_url.starts_with("sqlite:") || !Path::new(&settings.master_key_file).exists() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create data directory {}", settings.data_dir.display()))?;
    }
    let master = load_master_key(&settings.master_key_file)?;
    let codec = Arc::new(CryptoCodec::new(&master));
    let store = licensd_store::connect_server(
        &settings.database_url,
        codec,
        settings.max_connections,
        settings.sqlite_synchronous,
        validation_cache_entries,
        settings.pg_cache_max_staleness,
    )
    .await
    .context("cannot open the database")?;
    store.migrate(now).await.context("cannot migrate the database")?;
    Ok((store, master))
}

/// The SQLite file a `sqlite:` URL names, unless it is an in-memory database.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:") && !url.contains("mode=memory")).then(|| PathBuf::from(path))
}

/// Keeps a second `licensd serve` off this server's SQLite database for as long as the process
/// lives: the server caches validations and relies on being the file's only writer (several
/// nodes belong on PostgreSQL). Returns the open lock file, which holds the lock.
fn lock_sqlite_database(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(database) = sqlite_file(url) else {
        return Ok(None);
    };
    let mut name = database.clone().into_os_string();
    name.push(".serve-lock");
    let path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another licensd serve is using {} (one server per SQLite database; use PostgreSQL for several)",
            database.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

pub async fn migrate(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    init_logging(&settings.log, settings.log_format);
    open_store(&settings, 0, SystemClock.now()).await?;
    println!("licensd: database is up to date");
    Ok(())
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    init_logging(&settings.log, settings.log_format);
    if settings.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create data directory {}", settings.data_dir.display()))?;
    }
    let _serve_lock = lock_sqlite_database(&settings.database_url)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (store, _master) = open_store(&settings, settings.validation_cache_entries, clock.now()).await?;
    if settings.database_url.starts_with("sqlite:") {
        let durability = match settings.sqlite_synchronous {
            SqliteSynchronous::Full => "every acknowledged write survives power loss",
            SqliteSynchronous::Normal => "power loss may undo the last acknowledged writes",
        };
        tracing::info!(sqlite_synchronous = %settings.sqlite_synchronous, "SQLite durability: {durability}");
    }
    let rsa = if settings.rsa_bits == 4096 {
        Algorithm::Rsa4096
    } else {
        Algorithm::Rsa2048
    };
    let keys = KeyRing::load(store.as_ref(), rsa, clock.now())
        .await
        .context("cannot load signing keys")?;
    bootstrap_admin(store.as_ref(), settings.admin_token.as_deref(), clock.now()).await?;
    let slascone_isv_id = slascone_isv_id(store.as_ref(), settings.slascone_isv_id.as_deref(), clock.now()).await?;

    let rate_limit = licensd_server::ratelimit::RateLimitSettings {
        per_credential: settings.rate_limit_per_credential,
        per_ip: settings.rate_limit_per_ip,
        window: std::time::Duration::from_secs(settings.rate_limit_window_seconds),
    };
    if !settings.trusted_proxies.is_empty() {
        let proxies: Vec<String> = settings.trusted_proxies.iter().map(ToString::to_string).collect();
        tracing::info!(trusted_proxies = %proxies.join(", "), "client addresses from X-Forwarded-For of trusted proxies");
    }
    let state = AppState::new(SharedState {
        store,
        keys: Arc::new(keys),
        clock,
        settings: Arc::new(ServerSettings {
            max_bulk_licenses: settings.max_bulk_licenses,
            rate_limit,
            body_read_timeout: settings.body_read_timeout,
            allow_private_webhooks: settings.allow_private_webhooks,
            slascone_isv_id,
            trusted_proxies: settings.trusted_proxies.clone(),
        }),
        limiter: Arc::new(licensd_server::ratelimit::RateLimiter::new(rate_limit)),
        metrics: Arc::new(licensd_server::metrics::Metrics::new()),
        outbox_wake: Arc::new(tokio::sync::Notify::new()),
        validations: Arc::new(licensd_server::validations::ValidationTally::new()),
        answers: Arc::new(licensd_server::native::answers::ValidateAnswers::new(
            licensd_server::native::answers::DEFAULT_ENTRIES,
        )),
    });
    let limits = crate::listener::Limits {
        header_read_timeout: settings.header_read_timeout,
        shutdown_grace: settings.shutdown_grace,
    };
    let metrics_server = match settings.metrics_listen {
        Some(metrics_address) => {
            let listener = tokio::net::TcpListener::bind(metrics_address)
                .await
                .with_context(|| format!("cannot listen on {metrics_address} for metrics"))?;
            let address = listener.local_addr()?;
            tracing::info!(%address, "metrics listening without a token: keep this address private");
            println!("licensd: metrics on http://{address}/metrics");
            let router = licensd_server::metrics_router(state.clone());
            Some(tokio::spawn(crate::listener::serve(
                listener,
                router,
                limits,
                shutdown_signal(),
            )))
        }
        None => None,
    };
    // Sends what the outbox holds (webhook callbacks), including what an earlier run left.
    let outbox = licensd_server::outbox::OutboxSettings {
        timeout: settings.webhook_timeout,
        retry: licensd_domain::delivery::RetryPolicy {
            base_ms: i64::try_from(settings.outbox_retry_base_ms).unwrap_or(i64::MAX),
            ..licensd_domain::delivery::DEFAULT_RETRY_POLICY
        },
        allow_private: settings.allow_private_webhooks,
        ..licensd_server::outbox::OutboxSettings::default()
    };
    let outbox_worker = licensd_server::outbox::spawn(
        state.store.clone(),
        state.clock.clone(),
        outbox,
        state.outbox_wake.clone(),
        state.metrics.clone(),
    );
    state
        .metrics
        .add_source(Arc::new(licensd_server::outbox::QueueDepthSource));
    // Writes the validations counted in memory for the console's dashboard.
    let validation_flusher = licensd_server::validations::spawn_flusher(state.validations.clone(), state.store.clone());
    let validations = (state.validations.clone(), state.store.clone());
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, database = %redact(&settings.database_url), "licensd listening");
    // Scripts and tests read the bound address from this line (useful with port 0).
    println!("licensd: listening on http://{address}");
    let console = licensd_console::routes(licensd_console::ConsoleSettings {
        session_ttl: settings.console_session_ttl,
        ..licensd_console::ConsoleSettings::default()
    });
    let app = licensd_server::router_with(state, console);
    crate::listener::serve(listener, app, limits, shutdown_signal()).await;
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    // An attempt cut short here is retried by the next run (or another node).
    outbox_worker.abort();
    validation_flusher.abort();
    if let Err(error) = validations.0.flush(validations.1.as_ref()).await {
        tracing::warn!(%error, "could not write the last validation counts");
    }
    tracing::info!("licensd stopped");
    Ok(())
}

/// The SLASCONE ISV id to answer to: the configured one, else the one kept in the database
/// (generated and recorded on the first start). Logged either way.
async fn slascone_isv_id(store: &dyn Store, configured: Option<&str>, now: i64) -> anyhow::Result<String> {
    let (isv_id, source) = match configured {
        Some(id) => (id.to_owned(), "--slascone-isv-id"),
        None => {
            let candidate = licensd_server::dialects::slascone::isv::generate_isv_id()
                .context("cannot generate a SLASCONE ISV id")?;
            let kept = store
                .isv_id(&candidate, now)
                .await
                .context("cannot read the SLASCONE ISV id")?;
            let isv_id = licensd_server::dialects::slascone::isv::canonical_guid(&kept)
                .with_context(|| format!("the database holds a malformed SLASCONE ISV id {kept:?}"))?;
            (isv_id, "database")
        }
    };
    tracing::info!(isv_id = %isv_id, source, "SLASCONE API answers under /api/v2/isv/{isv_id}");
    Ok(isv_id)
}

/// Registers the first admin token: the configured one, or a generated one printed once.
async fn bootstrap_admin(store: &dyn Store, configured: Option<&str>, now: i64) -> anyhow::Result<()> {
    match configured {
        Some(token) => {
            if store.bootstrap_admin_token("bootstrap", token.trim(), now).await? {
                tracing::info!("registered the admin token from LICENSD_ADMIN_TOKEN");
            }
        }
        None => {
            let token = licensd_crypto::random_token("lsd_").context("cannot generate an admin token")?;
            if store.bootstrap_admin_token("bootstrap", &token, now).await? {
                println!("licensd: first start; admin token (shown once, store it now): {token}");
            }
        }
    }
    Ok(())
}

fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((scheme_and_user, host)) => match scheme_and_user.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://…@{host}"),
            None => format!("…@{host}"),
        },
        None => url.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
