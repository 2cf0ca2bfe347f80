//! `licensd`: the licensing server (`serve`, `migrate`) and its admin CLI, in one binary.
//!
//! Exit codes the CLI promises to scripts: 0 success; 1 server or connection failure;
//! 2 usage error; 3 not found; 4 conflict; 5 invalid input or refused by a licensing rule;
//! 6 authentication failed.

mod backup;
mod cli;
mod cli_args;
mod cli_dna;
mod cli_keymanager;
mod cli_licensespring;
mod cli_slascone;
mod cli_webhooks;
mod config;
mod listener;
mod output;
mod serve;
mod transfer;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "licensd",
    version,
    about = "Self-hosted software licensing server and its admin CLI"
)]
pub struct Args {
    /// Server URL the admin commands talk to.
    #[arg(long, global = true, env = "LICENSD_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Admin token for the admin commands.
    #[arg(long, global = true, env = "LICENSD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve(config::ServeArgs),
    /// Apply database migrations and exit.
    Migrate(config::ServeArgs),
    /// Copy the live SQLite database to a new file (PostgreSQL: use pg_dump).
    Backup(backup::BackupArgs),
    /// Write the whole dataset to a new file as versioned JSON lines (docs/export-format.md).
    Export(transfer::ExportArgs),
    /// Read an export into an empty SQLite or PostgreSQL database (migrating it first).
    Import(transfer::ImportArgs),
    #[command(flatten)]
    Admin(cli::AdminCommand),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("licensd: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        match args.command {
            Command::Serve(serve_args) => report(serve::serve(serve_args).await),
            Command::Migrate(serve_args) => report(serve::migrate(serve_args).await),
            Command::Backup(backup_args) => report(backup::backup(backup_args).await),
            Command::Export(export_args) => report(transfer::export(export_args).await),
            Command::Import(import_args) => report(transfer::import(import_args).await),
            Command::Admin(command) => {
                let client = cli::Client::new(&args.server, args.token.as_deref());
                cli::run(client, command, args.json).await
            }
        }
    })
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if serve::json_logs() {
                // Log shippers read stderr as JSON lines: the last words are one too.
                tracing::error!("licensd: {error:#}");
            } else {
                eprintln!("licensd: {error:#}");
            }
            ExitCode::from(1)
        }
    }
}
