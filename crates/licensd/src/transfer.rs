//! `licensd export --out FILE` and `licensd import --in FILE`: the whole dataset as versioned JSON
//! lines (docs/export-format.md), the way from SQLite to PostgreSQL (or back). Both read the same
//! settings as `serve` to find the database; neither needs the master key, because sealed secrets
//! travel as stored: the server started on the imported database must use the source's master key.

use crate::config::ServeArgs;
use anyhow::Context;
use clap::Args;
use licensd_domain::{Clock, SystemClock};
use licensd_store::transfer::{self, Progress};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The new file to write the export to (refused if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export file to read (made by `licensd export`).
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new(what: &str) -> Self {
        let bar = indicatif::ProgressBar::new(0);
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{bar:40}} {{pos}}/{{len}} rows {what} ({{per_sec}}, eta {{eta}})"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Bar(bar)
    }
}

impl Progress for Bar {
    fn start(&self, total_rows: u64) {
        self.0.set_length(total_rows);
    }
    fn advance(&self, rows: u64) {
        self.0.inc(rows);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let settings = args.serve.resolve()?;
    let url = &settings.database_url;
    let summary = transfer::export_to_file(
        url,
        &args.out,
        settings.sqlite_synchronous,
        SystemClock.now(),
        &Bar::new("exported"),
    )
    .await
    .with_context(|| format!("cannot export {}", redact(url)))?;
    println!(
        "licensd: exported {} rows of {} tables (schema version {}) to {}",
        summary.rows,
        summary.tables,
        summary.schema_version,
        args.out.display()
    );
    println!(
        "Secrets in it are sealed with this server's master key ({}): the server that imports it must use the same key.",
        master_key_source(&settings)
    );
    Ok(())
}

pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let settings = args.serve.resolve()?;
    let url = &settings.database_url;
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create data directory {}", settings.data_dir.display()))?;
    }
    let summary = transfer::import_from_file(
        url,
        &args.input,
        settings.sqlite_synchronous,
        SystemClock.now(),
        &Bar::new("imported"),
    )
    .await
    .with_context(|| format!("cannot import {} into {}", args.input.display(), redact(url)))?;
    println!(
        "licensd: imported {} rows of {} tables (schema version {}) into {}",
        summary.rows,
        summary.tables,
        summary.schema_version,
        redact(url)
    );
    println!(
        "Start licensd on it with the master key of the server that exported it ({} here): secrets and key digests are sealed with that key.",
        master_key_source(&settings)
    );
    if std::env::var_os("LICENSD_MASTER_KEY").is_none() && !settings.master_key_file.exists() {
        eprintln!(
            "licensd: warning: {} does not exist; copy the source's master key there (or set LICENSD_MASTER_KEY) \
             before `licensd serve`, which would otherwise generate a new key that opens none of the imported secrets",
            settings.master_key_file.display()
        );
    }
    Ok(())
}

fn master_key_source(settings: &crate::config::Settings) -> String {
    if std::env::var_os("LICENSD_MASTER_KEY").is_some() {
        "LICENSD_MASTER_KEY".to_owned()
    } else {
        settings.master_key_file.display().to_string()
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((scheme_and_user, host)) => match scheme_and_user.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://…@{host}"),
            None => format!("…@{host}"),
        },
        None => url.to_string(),
    }
}
