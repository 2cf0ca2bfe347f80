//! `licensd backup --out FILE`: a consistent copy of the SQLite database, taken while the server
//! runs. PostgreSQL has its own tool for this (`pg_dump`), so the command refuses it.

use crate::config::ServeArgs;
use anyhow::{Context, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The new file to write the copy to (refused if it exists).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub serve: ServeArgs,
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let settings = args.serve.resolve()?;
    let url = &settings.database_url;
    if !url.starts_with("sqlite:") {
        bail!(
            "licensd backup copies SQLite databases only; back up PostgreSQL with pg_dump, e.g. \
             `pg_dump --format=custom --file=licensd.dump \"$LICENSD_DATABASE_URL\"` \
             (restore with pg_restore), and keep a copy of the master key"
        );
    }
    if url.contains(":memory:") || url.contains("mode=memory") {
        bail!("an in-memory database cannot be backed up");
    }
    licensd_store::backup_sqlite(url, &args.out, settings.sqlite_synchronous)
        .await
        .with_context(|| format!("cannot back up {url}"))?;
    let out = args.out.display();
    println!("licensd: backed up {url} to {out}");
    println!("To restore: stop licensd, copy {out} over the database file (removing its -wal and -shm files),");
    println!(
        "then start licensd with the same master key ({}); the backup is useless without it.",
        settings.master_key_file.display()
    );
    Ok(())
}
