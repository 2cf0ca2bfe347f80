//! Server settings from, in order of precedence: command-line flags, `LICENSD_*` environment
//! variables, the config file (`--config`, TOML), and built-in defaults.

use anyhow::{Context, bail};
use clap::Args;
use licensd_domain::access::IpRule;
use licensd_store::SqliteSynchronous;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The settings as flags and, but for `config`, as the config file's keys.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (keys as the flags, with underscores).
    #[arg(long, env = "LICENSD_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LICENSD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database and the master key [default: ./licensd-data].
    #[arg(long, env = "LICENSD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` for PostgreSQL, or `sqlite://path` [default: sqlite in the data directory].
    #[arg(long, env = "LICENSD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// File holding the base64 master key that encrypts secrets at rest
    /// [default: <data-dir>/master.key, created on first start]. `LICENSD_MASTER_KEY` may hold the key itself.
    #[arg(long, env = "LICENSD_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// RSA key size for RSA-signing dialects: 2048 or 4096 [default: 2048].
    #[arg(long, env = "LICENSD_RSA_BITS")]
    pub rsa_bits: Option<u32>,
    /// Database connections in the pool [default: 16].
    #[arg(long, env = "LICENSD_MAX_CONNECTIONS")]
    pub max_connections: Option<u32>,
    /// SQLite only: when a commit is on disk. `full`: every acknowledged write survives an OS
    /// crash or power loss. `normal`: faster writes; a process crash loses nothing, but an OS
    /// crash or power loss may undo the last acknowledged writes [default: normal].
    #[arg(long, env = "LICENSD_SQLITE_SYNCHRONOUS", value_name = "full|normal")]
    pub sqlite_synchronous: Option<SqliteSynchronous>,
    /// Most licenses one bulk request may create [default: 10000].
    #[arg(long, env = "LICENSD_MAX_BULK_LICENSES")]
    pub max_bulk_licenses: Option<usize>,
    /// SQLite only: validations kept in memory for repeated checks, invalidated by every commit
    /// (0 turns the cache off) [default: 16384].
    #[arg(long, env = "LICENSD_VALIDATION_CACHE_ENTRIES")]
    pub validation_cache_entries: Option<usize>,
    /// PostgreSQL only: serve repeated validations from a per-node cache whose answers are never
    /// older than this many milliseconds (kept in step by LISTEN/NOTIFY; up to 60000). 0 turns it
    /// off [default: 0].
    #[arg(long, env = "LICENSD_PG_CACHE_MAX_STALENESS")]
    pub pg_cache_max_staleness: Option<u64>,
    /// The first admin token, used only when the database has none yet.
    #[arg(long, env = "LICENSD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Log filter, e.g. `info` or `licensd=debug,tower_http=debug` [default: info].
    #[arg(long, env = "LICENSD_LOG")]
    pub log: Option<String>,
    /// Log line format: `text`, or `json` (one JSON object per line, for log shippers) [default: text].
    #[arg(long, env = "LICENSD_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Also serve `GET /metrics` WITHOUT a token on this address (e.g. 127.0.0.1:9090). It must
    /// be private: reachable by the Prometheus server only [default: none; `/metrics` on the main
    /// listener always needs an admin token].
    #[arg(long, env = "LICENSD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Dialect API requests allowed per credential per rate-limit window [default: unlimited].
    #[arg(long, env = "LICENSD_RATE_LIMIT_PER_CREDENTIAL")]
    pub rate_limit_per_credential: Option<u32>,
    /// Dialect and client API requests allowed per client IP per rate-limit window [default: unlimited].
    #[arg(long, env = "LICENSD_RATE_LIMIT_PER_IP")]
    pub rate_limit_per_ip: Option<u32>,
    /// Length of the rate-limit window in seconds [default: 60].
    #[arg(long, env = "LICENSD_RATE_LIMIT_WINDOW_SECONDS")]
    pub rate_limit_window_seconds: Option<u64>,
    /// Seconds a client may take to send a request's headers before the connection is closed [default: 30].
    #[arg(long, env = "LICENSD_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<u64>,
    /// Seconds a client may take to send a request's body before it is answered 408 [default: 30].
    #[arg(long, env = "LICENSD_BODY_READ_TIMEOUT")]
    pub body_read_timeout: Option<u64>,
    /// Seconds open connections get to finish after SIGTERM / Ctrl-C before they are closed [default: 30].
    #[arg(long, env = "LICENSD_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<u64>,
    /// Let webhooks named by API clients (Key Manager's queued random-assign) target private,
    /// loopback and link-local addresses [default: refused].
    #[arg(long, env = "LICENSD_ALLOW_PRIVATE_WEBHOOKS")]
    #[serde(default)]
    pub allow_private_webhooks: bool,
    /// Seconds one webhook delivery attempt may take before it counts as failed [default: 10].
    #[arg(long, env = "LICENSD_WEBHOOK_TIMEOUT")]
    pub webhook_timeout: Option<u64>,
    /// Pause in milliseconds after a webhook delivery's first failure; it doubles after each
    /// further failure, up to an hour, for 24 hours [default: 10000]. Small values are for tests.
    #[arg(long, env = "LICENSD_OUTBOX_RETRY_BASE_MS")]
    pub outbox_retry_base_ms: Option<u64>,
    /// The SLASCONE ISV id (a GUID) the dialect answers to under `/api/v2/isv/{isv_id}`
    /// [default: one generated on the first start and kept in the database].
    #[arg(long, env = "LICENSD_SLASCONE_ISV_ID")]
    pub slascone_isv_id: Option<String>,
    /// Seconds an admin-console session (`/console`) lasts after sign-in [default: 28800, 8 hours].
    #[arg(long, env = "LICENSD_CONSOLE_SESSION_TTL")]
    pub console_session_ttl: Option<u64>,
    /// A reverse proxy (address or CIDR range, e.g. 10.0.0.0/8) whose `X-Forwarded-For` names the
    /// client; repeat the flag for several (the variable takes a comma-separated list, the config
    /// file an array). Only proxies that overwrite or append to the header may be listed
    /// [default: none: every client address is the TCP peer and the header is ignored].
    #[arg(long = "trusted-proxy", env = "LICENSD_TRUSTED_PROXY", value_delimiter = ',')]
    #[serde(default)]
    pub trusted_proxy: Vec<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, with the request's span fields (its `request_id`).
    Json,
}

/// Settings after every source has been applied.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub master_key_file: PathBuf,
    pub rsa_bits: u32,
    pub max_connections: u32,
    /// `PRAGMA synchronous` of every SQLite connection (ignored on PostgreSQL).
    pub sqlite_synchronous: SqliteSynchronous,
    pub max_bulk_licenses: usize,
    pub validation_cache_entries: usize,
    /// 0: no read cache on PostgreSQL.
    pub pg_cache_max_staleness: std::time::Duration,
    pub admin_token: Option<String>,
    pub log: String,
    pub log_format: LogFormat,
    pub metrics_listen: Option<SocketAddr>,
    pub rate_limit_per_credential: Option<u32>,
    pub rate_limit_per_ip: Option<u32>,
    pub rate_limit_window_seconds: u64,
    pub header_read_timeout: std::time::Duration,
    pub body_read_timeout: std::time::Duration,
    pub shutdown_grace: std::time::Duration,
    pub allow_private_webhooks: bool,
    pub webhook_timeout: std::time::Duration,
    pub outbox_retry_base_ms: u64,
    /// The configured SLASCONE ISV id, canonical; `None`: the one kept in the database.
    pub slascone_isv_id: Option<String>,
    /// How long an admin-console session lasts.
    pub console_session_ttl: std::time::Duration,
    /// The reverse proxies whose `X-Forwarded-For` is believed (`licensd_server::http::client_ip`).
    pub trusted_proxies: Vec<IpRule>,
}

impl ServeArgs {
    pub fn resolve(self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str::<ServeArgs>(&text).with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => ServeArgs::default(),
        };
        let data_dir = self
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("licensd-data"));
        let database_url = match self.database_url.or(file.database_url) {
            Some(url) => url,
            None => sqlite_url(&data_dir.join("licensd.db")),
        };
        // Refuse an unusable URL before anything (the master key file) is written.
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| database_url.starts_with(scheme))
        {
            bail!("unsupported database URL: use sqlite://path or postgres://user@host/db");
        }
        let rsa_bits = self.rsa_bits.or(file.rsa_bits).unwrap_or(2048);
        if rsa_bits != 2048 && rsa_bits != 4096 {
            bail!("rsa_bits must be 2048 or 4096, not {rsa_bits}");
        }
        let max_connections = self.max_connections.or(file.max_connections).unwrap_or(16);
        if max_connections == 0 {
            bail!("max_connections must be at least 1");
        }
        let rate_limit_per_credential = self.rate_limit_per_credential.or(file.rate_limit_per_credential);
        let rate_limit_per_ip = self.rate_limit_per_ip.or(file.rate_limit_per_ip);
        if rate_limit_per_credential == Some(0) || rate_limit_per_ip == Some(0) {
            bail!("rate limits must be at least 1 request per window (leave them unset for no limit)");
        }
        let rate_limit_window_seconds = self
            .rate_limit_window_seconds
            .or(file.rate_limit_window_seconds)
            .unwrap_or(60);
        if rate_limit_window_seconds == 0 {
            bail!("rate_limit_window_seconds must be at least 1");
        }
        let seconds = |flag: Option<u64>, file: Option<u64>, name: &str| -> anyhow::Result<std::time::Duration> {
            match flag.or(file).unwrap_or(30) {
                0 => bail!("{name} must be at least 1 second"),
                n if n > 86_400 => bail!("{name} must be at most 86400 seconds"),
                n => Ok(std::time::Duration::from_secs(n)),
            }
        };
        let header_read_timeout = seconds(
            self.header_read_timeout,
            file.header_read_timeout,
            "header_read_timeout",
        )?;
        let body_read_timeout = seconds(self.body_read_timeout, file.body_read_timeout, "body_read_timeout")?;
        let shutdown_grace = seconds(self.shutdown_grace, file.shutdown_grace, "shutdown_grace")?;
        let webhook_timeout = match self.webhook_timeout.or(file.webhook_timeout).unwrap_or(10) {
            n @ 1..=300 => std::time::Duration::from_secs(n),
            n => bail!("webhook_timeout must be between 1 and 300 seconds, not {n}"),
        };
        let outbox_retry_base_ms = match self
            .outbox_retry_base_ms
            .or(file.outbox_retry_base_ms)
            .unwrap_or(10_000)
        {
            n @ 1..=3_600_000 => n,
            n => bail!("outbox_retry_base_ms must be between 1 and 3600000, not {n}"),
        };
        let pg_cache_max_staleness = match self.pg_cache_max_staleness.or(file.pg_cache_max_staleness).unwrap_or(0) {
            n @ 0..=60_000 => std::time::Duration::from_millis(n),
            n => bail!("pg_cache_max_staleness must be between 0 and 60000 milliseconds, not {n}"),
        };
        let admin_token = self.admin_token.or(file.admin_token);
        if let Some(token) = &admin_token
            && token.trim().len() < 16
        {
            bail!("the admin token must be at least 16 characters");
        }
        let slascone_isv_id = match self.slascone_isv_id.or(file.slascone_isv_id) {
            None => None,
            Some(text) => Some(
                licensd_server::dialects::slascone::isv::canonical_guid(&text).with_context(|| {
                    format!("slascone_isv_id must be a GUID such as 8a3b1c2d-0000-4000-8000-000000000001, not {text:?}")
                })?,
            ),
        };
        let console_session_ttl = match self.console_session_ttl.or(file.console_session_ttl).unwrap_or(28_800) {
            n @ 1..=2_592_000 => std::time::Duration::from_secs(n),
            n => bail!("console_session_ttl must be between 1 and 2592000 seconds (30 days), not {n}"),
        };
        let trusted_proxy = if self.trusted_proxy.is_empty() {
            file.trusted_proxy
        } else {
            self.trusted_proxy
        };
        let trusted_proxies = trusted_proxy
            .iter()
            .map(|entry| {
                IpRule::parse(entry.trim()).with_context(|| {
                    format!("trusted_proxy must be an IP address or CIDR range such as 10.0.0.0/8, not {entry:?}")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Settings {
            console_session_ttl,
            trusted_proxies,
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            master_key_file: self
                .master_key_file
                .or(file.master_key_file)
                .unwrap_or_else(|| data_dir.join("master.key")),
            data_dir,
            database_url,
            rsa_bits,
            max_connections,
            sqlite_synchronous: self.sqlite_synchronous.or(file.sqlite_synchronous).unwrap_or_default(),
            max_bulk_licenses: self.max_bulk_licenses.or(file.max_bulk_licenses).unwrap_or(10_000),
            validation_cache_entries: self
                .validation_cache_entries
                .or(file.validation_cache_entries)
                .unwrap_or(16_384),
            pg_cache_max_staleness,
            admin_token,
            log: self.log.or(file.log).unwrap_or_else(|| "info".to_string()),
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            metrics_listen: self.metrics_listen.or(file.metrics_listen),
            rate_limit_per_credential,
            rate_limit_per_ip,
            rate_limit_window_seconds,
            header_read_timeout,
            body_read_timeout,
            shutdown_grace,
            allow_private_webhooks: self.allow_private_webhooks || file.allow_private_webhooks,
            webhook_timeout,
            outbox_retry_base_ms,
            slascone_isv_id,
        })
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let settings = ServeArgs::default().resolve().unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.data_dir, PathBuf::from("licensd-data"));
        assert_eq!(settings.database_url, "sqlite://licensd-data/licensd.db");
        assert_eq!(settings.master_key_file, PathBuf::from("licensd-data/master.key"));
        assert_eq!(settings.rsa_bits, 2048);
        assert_eq!(
            (settings.webhook_timeout, settings.outbox_retry_base_ms),
            (std::time::Duration::from_secs(10), 10_000)
        );
    }

    #[test]
    fn outbox_settings_are_bounded() {
        for args in [
            ServeArgs {
                webhook_timeout: Some(0),
                ..ServeArgs::default()
            },
            ServeArgs {
                webhook_timeout: Some(301),
                ..ServeArgs::default()
            },
            ServeArgs {
                outbox_retry_base_ms: Some(0),
                ..ServeArgs::default()
            },
            ServeArgs {
                outbox_retry_base_ms: Some(3_600_001),
                ..ServeArgs::default()
            },
        ] {
            assert!(args.resolve().is_err());
        }
    }

    #[test]
    fn flags_win_over_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("licensd.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nrsa_bits = 4096\ndata_dir = \"/srv/lic\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            rsa_bits: Some(2048),
            ..ServeArgs::default()
        };
        let settings = args.resolve().unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(settings.rsa_bits, 2048);
        assert_eq!(settings.database_url, "sqlite:///srv/lic/licensd.db");
    }

    #[test]
    fn log_format_and_metrics_listener() {
        let settings = ServeArgs::default().resolve().unwrap();
        assert_eq!((settings.log_format, settings.metrics_listen), (LogFormat::Text, None));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("licensd.toml");
        std::fs::write(&path, "log_format = \"json\"\nmetrics_listen = \"127.0.0.1:9090\"\n").unwrap();
        let settings = ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(settings.log_format, LogFormat::Json);
        assert_eq!(
            settings.metrics_listen.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:9090")
        );
        let settings = ServeArgs {
            config: Some(path),
            log_format: Some(LogFormat::Text),
            ..ServeArgs::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(settings.log_format, LogFormat::Text);
        std::fs::write(dir.path().join("bad.toml"), "log_format = \"xml\"\n").unwrap();
        assert!(
            ServeArgs {
                config: Some(dir.path().join("bad.toml")),
                ..ServeArgs::default()
            }
            .resolve()
            .is_err()
        );
    }

    #[test]
    fn the_config_file_takes_the_flags_keys_but_not_config() {
        let dir = tempfile::tempdir().unwrap();
        let from = |text: &str| {
            let path = dir.path().join("licensd.toml");
            std::fs::write(&path, text).unwrap();
            ServeArgs {
                config: Some(path),
                ..ServeArgs::default()
            }
            .resolve()
        };
        assert!(from("allow_private_webhooks = true\n").unwrap().allow_private_webhooks);
        assert!(!from("").unwrap().allow_private_webhooks);
        assert!(from("config = \"other.toml\"\n").is_err());
        assert!(from("no_such_setting = 1\n").is_err());
    }

    #[test]
    fn rate_limits_default_off_and_refuse_zero() {
        let settings = ServeArgs::default().resolve().unwrap();
        assert_eq!(
            (
                settings.rate_limit_per_credential,
                settings.rate_limit_per_ip,
                settings.rate_limit_window_seconds
            ),
            (None, None, 60)
        );
        for args in [
            ServeArgs {
                rate_limit_per_credential: Some(0),
                ..ServeArgs::default()
            },
            ServeArgs {
                rate_limit_per_ip: Some(0),
                ..ServeArgs::default()
            },
            ServeArgs {
                rate_limit_window_seconds: Some(0),
                ..ServeArgs::default()
            },
        ] {
            assert!(args.resolve().is_err());
        }
    }

    #[test]
    fn the_slascone_isv_id_is_a_guid_from_flag_or_file() {
        assert_eq!(ServeArgs::default().resolve().unwrap().slascone_isv_id, None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("licensd.toml");
        std::fs::write(&path, "slascone_isv_id = \"8A3B1C2D-0000-4000-8000-00000000000F\"\n").unwrap();
        let from_file = ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        };
        assert_eq!(
            from_file.resolve().unwrap().slascone_isv_id.as_deref(),
            Some("8a3b1c2d-0000-4000-8000-00000000000f")
        );
        let flag = ServeArgs {
            config: Some(path),
            slascone_isv_id: Some("11111111-2222-3333-4444-555555555555".into()),
            ..ServeArgs::default()
        };
        assert_eq!(
            flag.resolve().unwrap().slascone_isv_id.as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
        let bad = ServeArgs {
            slascone_isv_id: Some("not-a-guid".into()),
            ..ServeArgs::default()
        };
        assert!(bad.resolve().is_err());
    }

    #[test]
    fn trusted_proxies_default_to_none_and_refuse_bad_ranges() {
        assert!(ServeArgs::default().resolve().unwrap().trusted_proxies.is_empty());
        let texts =
            |settings: Settings| -> Vec<String> { settings.trusted_proxies.iter().map(ToString::to_string).collect() };
        let flags = ServeArgs {
            trusted_proxy: vec!["127.0.0.1/32".into(), "2001:db8::/32".into(), "10.1.2.3".into()],
            ..ServeArgs::default()
        };
        assert_eq!(
            texts(flags.resolve().unwrap()),
            ["127.0.0.1/32", "2001:db8::/32", "10.1.2.3"]
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("licensd.toml");
        std::fs::write(&path, "trusted_proxy = [\"10.0.0.0/8\", \"::ffff:192.0.2.0/120\"]\n").unwrap();
        let from_file = ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        };
        assert_eq!(
            texts(from_file.resolve().unwrap()),
            ["10.0.0.0/8", "::ffff:192.0.2.0/120"]
        );
        // Flags replace the file's list.
        let both = ServeArgs {
            config: Some(path),
            trusted_proxy: vec!["192.0.2.1".into()],
            ..ServeArgs::default()
        };
        assert_eq!(texts(both.resolve().unwrap()), ["192.0.2.1"]);
        for bad in ["10.0.0.0/33", "proxy.example.com", "", "10.0.0.1:8080", "::1/129"] {
            let error = ServeArgs {
                trusted_proxy: vec!["127.0.0.1".into(), bad.into()],
                ..ServeArgs::default()
            }
            .resolve()
            .err()
            .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert_eq!(
                error.to_string(),
                format!("trusted_proxy must be an IP address or CIDR range such as 10.0.0.0/8, not {bad:?}")
            );
        }
    }

    #[test]
    fn the_trusted_proxy_flag_repeats_and_its_variable_takes_a_list() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let cli = Cli::try_parse_from([
            "licensd",
            "--trusted-proxy",
            "127.0.0.1/32",
            "--trusted-proxy",
            "10.0.0.0/8",
        ])
        .unwrap();
        assert_eq!(cli.serve.trusted_proxy, ["127.0.0.1/32", "10.0.0.0/8"]);
        let cli = Cli::try_parse_from(["licensd", "--trusted-proxy", "127.0.0.1/32,::1"]).unwrap();
        assert_eq!(cli.serve.trusted_proxy, ["127.0.0.1/32", "::1"]);
    }

    #[test]
    fn sqlite_synchronous_is_normal_unless_set_to_full() {
        use clap::Parser;
        assert_eq!(
            ServeArgs::default().resolve().unwrap().sqlite_synchronous,
            SqliteSynchronous::Normal
        );
        let serve = |flags: &[&str]| {
            let args = ["licensd", "serve"].iter().chain(flags).copied();
            match crate::Args::try_parse_from(args).map(|args| args.command) {
                Ok(crate::Command::Serve(serve)) => Ok(serve),
                Ok(other) => panic!("not serve: {other:?}"),
                Err(error) => Err(error),
            }
        };
        let normal = serve(&["--sqlite-synchronous", "normal"]).unwrap().resolve().unwrap();
        assert_eq!(normal.sqlite_synchronous, SqliteSynchronous::Normal);
        let full = serve(&["--sqlite-synchronous", "full"]).unwrap().resolve().unwrap();
        assert_eq!(full.sqlite_synchronous, SqliteSynchronous::Full);
        let error = serve(&["--sqlite-synchronous", "off"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
        let message = error.to_string();
        assert!(
            message.contains(
                "invalid value 'off' for '--sqlite-synchronous <full|normal>': sqlite_synchronous must be \
                 `full` (every acknowledged write survives power loss) or `normal` (faster; power loss may \
                 undo the last writes), not \"off\""
            ),
            "{message}"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("licensd.toml");
        std::fs::write(&path, "sqlite_synchronous = \"normal\"\n").unwrap();
        let from_file = |flag: Option<SqliteSynchronous>| {
            ServeArgs {
                config: Some(path.clone()),
                sqlite_synchronous: flag,
                ..ServeArgs::default()
            }
            .resolve()
        };
        assert_eq!(from_file(None).unwrap().sqlite_synchronous, SqliteSynchronous::Normal);
        assert_eq!(
            from_file(Some(SqliteSynchronous::Full)).unwrap().sqlite_synchronous,
            SqliteSynchronous::Full
        );
        std::fs::write(&path, "sqlite_synchronous = \"extra\"\n").unwrap();
        let error = format!("{:#}", from_file(None).unwrap_err());
        assert!(
            error.contains("sqlite_synchronous must be `full` (every acknowledged write survives power loss)")
                && error.contains("not \"extra\""),
            "{error}"
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(
            ServeArgs {
                rsa_bits: Some(1024),
                ..ServeArgs::default()
            }
            .resolve()
            .is_err()
        );
        assert!(
            ServeArgs {
                admin_token: Some("short".into()),
                ..ServeArgs::default()
            }
            .resolve()
            .is_err()
        );
        assert!(
            ServeArgs {
                database_url: Some("mysql://x".into()),
                ..ServeArgs::default()
            }
            .resolve()
            .is_err()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("licensd.toml");
        std::fs::write(&path, "unknown_key = 1\n").unwrap();
        assert!(
            ServeArgs {
                config: Some(path),
                ..ServeArgs::default()
            }
            .resolve()
            .is_err()
        );
    }
}
