//! Export: the whole dataset from one snapshot, as JSON lines.

use super::db::{Column, Conn, Db, db, ident, postgres_cell, sqlite_cell};
use super::{
    DERIVED, EndCount, EndLine, FORMAT, FORMAT_VERSION, Header, MIGRATIONS_TABLE, Progress, RowLine, TABLES,
    TableHeader, TransferError, TransferSummary,
};
use crate::SqliteSynchronous;
use futures_util::TryStreamExt as _;
use serde_json::{Map, Value};
use sqlx::AssertSqlSafe;
use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

/// Rows between two progress reports.
const PROGRESS_EVERY: u64 = 256;

/// Writes the database at `url` to the new file `out` (refused if it exists; removed again if
/// the export fails). The source is only read, in one read transaction, on a connection with
/// `synchronous` (a SQLite source: it may checkpoint the log when it closes).
pub async fn export_to_file(
    url: &str,
    out: &Path,
    synchronous: SqliteSynchronous,
    now: i64,
    progress: &dyn Progress,
) -> Result<TransferSummary, TransferError> {
    let file = match std::fs::OpenOptions::new().write(true).create_new(true).open(out) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(TransferError::OutputExists(out.display().to_string()));
        }
        Err(error) => return Err(TransferError::Io(format!("cannot create {}: {error}", out.display()))),
    };
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let result = async {
        let summary = export(url, &mut writer, synchronous, now, progress).await?;
        let file = writer
            .into_inner()
            .map_err(|e| TransferError::Io(format!("cannot write {}: {}", out.display(), e.error())))?;
        file.sync_all()
            .map_err(|e| TransferError::Io(format!("cannot write {}: {e}", out.display())))?;
        Ok(summary)
    }
    .await;
    if result.is_err() {
        // Leave no partial export behind for an import to pick up.
        let _ = std::fs::remove_file(out);
    }
    result
}

/// Writes the export of the database at `url` to `out`.
pub(super) async fn export(
    url: &str,
    out: &mut dyn Write,
    synchronous: SqliteSynchronous,
    now: i64,
    progress: &dyn Progress,
) -> Result<TransferSummary, TransferError> {
    let database = Db::open(url, false, synchronous).await?;
    let backend = database.backend();
    let result = async {
        let mut held = database.acquire().await?;
        let mut conn = held.as_conn();
        // One snapshot for everything: SQLite's deferred read transaction starts it at its first
        // read; PostgreSQL's REPEATABLE READ at its first statement.
        conn.execute(match database {
            Db::Sqlite(_) => "BEGIN",
            Db::Postgres(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        })
        .await?;
        let result = export_on(&mut conn, backend, out, now, progress).await;
        let _ = conn.execute("ROLLBACK").await;
        result
    }
    .await;
    database.close().await;
    progress.finish();
    result
}

async fn export_on(
    conn: &mut Conn<'_>,
    backend: &str,
    out: &mut dyn Write,
    now: i64,
    progress: &dyn Progress,
) -> Result<TransferSummary, TransferError> {
    let migrations = conn.applied_migrations().await?;
    let Some(&schema_version) = migrations.last() else {
        return Err(TransferError::Schema(
            "the database has no licensd schema (run licensd migrate or serve first)".into(),
        ));
    };
    let present = conn.tables().await?;
    if let Some(unknown) = present
        .iter()
        .find(|t| t.as_str() != MIGRATIONS_TABLE && !TABLES.contains(&t.as_str()) && !DERIVED.contains(&t.as_str()))
    {
        return Err(TransferError::Schema(format!(
            "table {unknown} is not covered by export (add it to licensd_store::transfer::TABLES)"
        )));
    }
    let mut tables = Vec::new();
    let mut columns_of = Vec::new();
    for &name in TABLES.iter().filter(|t| present.iter().any(|p| p == *t)) {
        let columns = conn.columns(name).await?;
        let rows = conn.count(name).await?;
        let last_id = conn.last_id(name, &columns).await?;
        tables.push(TableHeader {
            name: name.to_owned(),
            rows,
            columns: columns
                .iter()
                .map(|c| super::ColumnHeader {
                    name: c.name.clone(),
                    column_type: c.column_type,
                })
                .collect(),
            last_id,
        });
        columns_of.push(columns);
    }
    let header = Header {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        schema_version,
        migrations,
        source: backend.to_owned(),
        exported_at: now,
        tables,
    };
    let total: u64 = header.tables.iter().map(|t| t.rows).sum();
    progress.start(total);
    write_line(out, &header)?;
    let mut written = 0u64;
    for (table, columns) in header.tables.iter().zip(&columns_of) {
        let count = write_rows(conn, &table.name, columns, out, progress).await?;
        if count != table.rows {
            return Err(TransferError::Database(format!(
                "table {} changed during the export ({} rows counted, {count} read)",
                table.name, table.rows
            )));
        }
        written += count;
    }
    write_line(
        out,
        &EndLine {
            end: EndCount { rows: written },
        },
    )?;
    Ok(TransferSummary {
        tables: header.tables.len(),
        rows: written,
        schema_version,
    })
}

/// Writes every row of `table`; returns how many.
async fn write_rows(
    conn: &mut Conn<'_>,
    table: &str,
    columns: &[Column],
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<u64, TransferError> {
    let list = columns
        .iter()
        .map(|c| ident(&c.name))
        .collect::<Result<Vec<_>, _>>()?
        .join(", ");
    let order = if columns.iter().any(|c| c.name == "id") {
        " ORDER BY id"
    } else {
        ""
    };
    let sql = format!("SELECT {list} FROM {}{order}", ident(table)?);
    let mut count = 0u64;
    let mut emit = |cells: Map<String, Value>, count: &mut u64| -> Result<(), TransferError> {
        write_line(
            out,
            &RowLine {
                table: Cow::Borrowed(table),
                row: cells,
            },
        )?;
        *count += 1;
        if (*count).is_multiple_of(PROGRESS_EVERY) {
            progress.advance(PROGRESS_EVERY);
        }
        Ok(())
    };
    match conn {
        Conn::Sqlite(c) => {
            let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut **c);
            while let Some(row) = rows.try_next().await.map_err(db)? {
                let mut cells = Map::new();
                for (index, column) in columns.iter().enumerate() {
                    cells.insert(column.name.clone(), sqlite_cell(&row, index, column)?.to_json());
                }
                emit(cells, &mut count)?;
            }
        }
        Conn::Postgres(c) => {
            let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut **c);
            while let Some(row) = rows.try_next().await.map_err(db)? {
                let mut cells = Map::new();
                for (index, column) in columns.iter().enumerate() {
                    cells.insert(column.name.clone(), postgres_cell(&row, index, column)?.to_json());
                }
                emit(cells, &mut count)?;
            }
        }
    }
    progress.advance(count % PROGRESS_EVERY);
    Ok(count)
}

fn write_line(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<(), TransferError> {
    serde_json::to_writer(&mut *out, value).map_err(|e| TransferError::Io(format!("cannot write the export: {e}")))?;
    out.write_all(b"\n")
        .map_err(|e| TransferError::Io(format!("cannot write the export: {e}")))
}
