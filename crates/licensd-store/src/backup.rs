//! `licensd backup`: a consistent copy of a live SQLite database.
//!
//! `VACUUM INTO` reads the database inside one read transaction, so the copy is a snapshot of
//! one moment (every committed transaction before it, none after) even while a server writes;
//! in WAL mode it does not block the writer.

use crate::{Result, SqliteSynchronous, StoreError};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Copies the SQLite database at `url` to the new file `out`, which must not exist yet.
/// The source must exist; it is never created. `VACUUM INTO` writes the copy with the
/// connection's `synchronous`, which is therefore the server's.
pub async fn backup_sqlite(url: &str, out: &Path, synchronous: SqliteSynchronous) -> Result<()> {
    // Claim the name first (an empty file, which `VACUUM INTO` accepts), so that an existing
    // file is never overwritten and a failed backup removes only what it created.
    match std::fs::OpenOptions::new().write(true).create_new(true).open(out) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::Conflict(format!(
                "{} already exists; choose a new file (a backup never overwrites)",
                out.display()
            )));
        }
        Err(error) => {
            return Err(StoreError::Database(format!(
                "cannot create {}: {error}",
                out.display()
            )));
        }
    }
    let target = out
        .to_str()
        .ok_or_else(|| StoreError::Database(format!("backup path is not UTF-8: {}", out.display())))?;
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Database(format!("invalid SQLite URL: {e}")))?
        .create_if_missing(false)
        .synchronous(synchronous.sqlx())
        .busy_timeout(Duration::from_secs(10));
    let mut connection = match options.connect().await {
        Ok(connection) => connection,
        Err(error) => {
            let _ = std::fs::remove_file(out);
            return Err(StoreError::Database(format!("cannot open the database: {error}")));
        }
    };
    let result = sqlx::query("VACUUM INTO ?1")
        .bind(target)
        .execute(&mut connection)
        .await;
    let _ = connection.close().await;
    if let Err(error) = result {
        // Leave no half-written file behind for a restore to pick up.
        let _ = std::fs::remove_file(out);
        return Err(StoreError::Database(format!("backup failed: {error}")));
    }
    Ok(())
}
