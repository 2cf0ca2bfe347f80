//! Import: an export file into an empty database of either kind, in one transaction.

use super::db::{Cell, Column, Conn, Db, ident};
use super::{
    ColumnType, DERIVED, EndLine, FORMAT, FORMAT_VERSION, Header, MIGRATIONS_TABLE, Progress, RowLine, TABLES,
    TableHeader, TransferError, TransferSummary,
};
use crate::{SqliteSynchronous, migrate};
use licensd_domain::Millis;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::path::Path;

/// Sets `licenses.active_devices` from the devices table (the same on both databases).
const RECOUNT_ACTIVE_DEVICES: &str = "UPDATE licenses SET active_devices = \
     (SELECT COUNT(*) FROM devices d WHERE d.license_id = licenses.id AND d.deactivated_at IS NULL)";

/// Rows between two progress reports.
const PROGRESS_EVERY: u64 = 256;

/// Reads the export `input` into the database at `url` (a SQLite file is created if missing).
///
/// Refused, changing nothing, when the database holds any row, when the file is of an unknown
/// format version or was made from a schema newer than this binary knows, or when the database
/// was migrated past the export's schema. Otherwise: the export's migrations are applied, every
/// row is inserted in one transaction (any error rolls all of them back), the id counters are
/// moved past the imported ids, and then this binary's newer migrations are applied (each recorded
/// as applied at `now`). A SQLite database is written with `synchronous`.
pub async fn import_from_file(
    url: &str,
    input: &Path,
    synchronous: SqliteSynchronous,
    now: Millis,
    progress: &dyn Progress,
) -> Result<TransferSummary, TransferError> {
    let file =
        std::fs::File::open(input).map_err(|e| TransferError::Io(format!("cannot open {}: {e}", input.display())))?;
    let mut lines = std::io::BufReader::with_capacity(1 << 20, file).lines();
    let first = match lines.next() {
        Some(line) => line.map_err(|e| TransferError::Io(format!("cannot read {}: {e}", input.display())))?,
        None => return Err(TransferError::Format(format!("{} is empty", input.display()))),
    };
    let header = parse_header(&first)?;

    let database = Db::open(url, true, synchronous).await?;
    let result = import_into(&database, &header, &mut lines, now, progress).await;
    progress.finish();
    let result = match result {
        // This binary's later migrations now see the imported rows, as they would have on the source.
        Ok(summary) => database
            .migrate_where(|_| true, now)
            .await
            .map(|()| summary)
            .map_err(|e| TransferError::Database(format!("the rows were imported, but a later migration failed: {e}"))),
        Err(error) => Err(error),
    };
    database.close().await;
    result
}

/// Checks the header line: the format and its version first (a later version may change
/// everything after them), then the rest.
pub(super) fn parse_header(line: &str) -> Result<Header, TransferError> {
    let value: Value = serde_json::from_str(line)
        .map_err(|e| TransferError::Format(format!("not a licensd export (the first line is not JSON: {e})")))?;
    if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(TransferError::Format(format!(
            "not a licensd export (the first line has no \"format\": \"{FORMAT}\")"
        )));
    }
    match value.get("format_version").and_then(Value::as_u64) {
        Some(version) if version == u64::from(FORMAT_VERSION) => {}
        Some(version) => {
            return Err(TransferError::Format(format!(
                "unknown export format version {version}: this licensd reads version {FORMAT_VERSION}"
            )));
        }
        None => return Err(TransferError::Format("the export header has no format_version".into())),
    }
    serde_json::from_value(value).map_err(|e| TransferError::Format(format!("invalid export header: {e}")))
}

async fn import_into(
    database: &Db,
    header: &Header,
    lines: &mut dyn Iterator<Item = std::io::Result<String>>,
    now: Millis,
    progress: &dyn Progress,
) -> Result<TransferSummary, TransferError> {
    let known = migrate::known_versions(database.backend_kind());
    let wanted: BTreeSet<i64> = header.migrations.iter().copied().collect();
    if let Some(newer) = wanted.iter().find(|v| !known.contains(v)) {
        return Err(TransferError::Format(format!(
            "the export was made from a newer schema (migration {newer}, schema version {}) than this \
             licensd knows (up to {}); import it with a licensd at least as new as the one that exported it",
            header.schema_version,
            known.iter().max().copied().unwrap_or(0)
        )));
    }
    for table in &header.tables {
        if !TABLES.contains(&table.name.as_str()) {
            return Err(TransferError::Schema(format!(
                "the export holds table {}, which licensd does not know",
                table.name
            )));
        }
    }

    // Refuse a database with data before anything (migrations included) touches it.
    {
        let mut held = database.acquire().await?;
        let mut conn = held.as_conn();
        refuse_non_empty(&mut conn).await?;
        let applied: BTreeSet<i64> = conn.applied_migrations().await?.into_iter().collect();
        if let Some(extra) = applied.difference(&wanted).next() {
            return Err(TransferError::Schema(format!(
                "the target database has migration {extra}, which the export's schema (version {}) lacks; \
                 import into a new database (this one was migrated by a newer licensd)",
                header.schema_version
            )));
        }
    }
    // The schema the rows were exported from.
    database.migrate_where(|v| wanted.contains(&v), now).await?;

    let mut held = database.acquire().await?;
    let mut conn = held.as_conn();
    conn.execute(match database {
        Db::Sqlite(_) => "BEGIN IMMEDIATE",
        Db::Postgres(_) => "BEGIN",
    })
    .await?;
    match insert_all(&mut conn, header, lines, progress).await {
        Ok(summary) => {
            if wanted.contains(&migrate::ACTIVE_DEVICES_VERSION) {
                // The licences arrived with their exported count and the devices' triggers added
                // to it: count again (an older export gets it from the migration's back-fill).
                conn.execute(RECOUNT_ACTIVE_DEVICES).await?;
            }
            conn.execute("COMMIT").await?;
            Ok(summary)
        }
        Err(error) => {
            let _ = conn.execute("ROLLBACK").await;
            Err(error)
        }
    }
}

async fn refuse_non_empty(conn: &mut Conn<'_>) -> Result<(), TransferError> {
    for table in conn.tables().await? {
        if table != MIGRATIONS_TABLE && !DERIVED.contains(&table.as_str()) && conn.has_rows(&table).await? {
            return Err(TransferError::NotEmpty { table });
        }
    }
    Ok(())
}

/// A table's insert statement and how each exported column maps onto the target's.
struct Plan<'h> {
    table: &'h TableHeader,
    sql: String,
    targets: Vec<Column>,
    inserted: u64,
}

async fn insert_all(
    conn: &mut Conn<'_>,
    header: &Header,
    lines: &mut dyn Iterator<Item = std::io::Result<String>>,
    progress: &dyn Progress,
) -> Result<TransferSummary, TransferError> {
    // Checked again inside the transaction: nothing may have arrived since.
    refuse_non_empty(conn).await?;
    if let Conn::Sqlite(_) = conn {
        // References are checked at commit, whatever order rows come in.
        conn.execute("PRAGMA defer_foreign_keys = ON").await?;
    }
    let present = conn.tables().await?;
    let mut plans: HashMap<&str, Plan<'_>> = HashMap::new();
    for table in &header.tables {
        if !present.contains(&table.name) {
            return Err(TransferError::Schema(format!(
                "table {} does not exist in the target database",
                table.name
            )));
        }
        let target = conn.columns(&table.name).await?;
        let mut targets = Vec::with_capacity(table.columns.len());
        for column in &table.columns {
            let Some(found) = target.iter().find(|t| t.name == column.name) else {
                return Err(TransferError::Schema(format!(
                    "column {}.{} does not exist in the target database",
                    table.name, column.name
                )));
            };
            targets.push(found.clone());
        }
        let names = targets.iter().map(|c| ident(&c.name)).collect::<Result<Vec<_>, _>>()?;
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            ident(&table.name)?,
            names.join(", "),
            placeholders.join(", ")
        );
        plans.insert(
            &table.name,
            Plan {
                table,
                sql,
                targets,
                inserted: 0,
            },
        );
    }

    let total: u64 = header.tables.iter().map(|t| t.rows).sum();
    progress.start(total);
    let mut inserted = 0u64;
    let mut line_number = 1u64;
    let mut ended = false;
    for line in lines {
        line_number += 1;
        let line = line.map_err(|e| TransferError::Io(format!("cannot read the export: {e}")))?;
        if ended {
            if line.trim().is_empty() {
                continue;
            }
            return Err(TransferError::Format(format!(
                "line {line_number}: data after the end line"
            )));
        }
        if line.starts_with("{\"end\"") {
            let end: EndLine = serde_json::from_str(&line)
                .map_err(|e| TransferError::Format(format!("line {line_number}: invalid end line: {e}")))?;
            if end.end.rows != inserted {
                return Err(TransferError::Format(format!(
                    "the end line counts {} rows but the file holds {inserted}",
                    end.end.rows
                )));
            }
            ended = true;
            continue;
        }
        let row: RowLine<'_, Map<String, Value>> = serde_json::from_str(&line)
            .map_err(|e| TransferError::Format(format!("line {line_number}: not a row line: {e}")))?;
        let Some(plan) = plans.get_mut(row.table.as_ref()) else {
            return Err(TransferError::Format(format!(
                "line {line_number}: a row of table {}, which the header does not list",
                row.table
            )));
        };
        if row.row.len() != plan.table.columns.len() {
            return Err(TransferError::Format(format!(
                "line {line_number}: a row of {} with {} columns where the header lists {}",
                plan.table.name,
                row.row.len(),
                plan.table.columns.len()
            )));
        }
        let mut cells = Vec::with_capacity(plan.targets.len());
        for (column, target) in plan.table.columns.iter().zip(&plan.targets) {
            let value = row.row.get(&column.name).ok_or_else(|| {
                TransferError::Format(format!(
                    "line {line_number}: a row of {} without column {}",
                    plan.table.name, column.name
                ))
            })?;
            let cell = Cell::from_json(value, column.column_type, target)
                .map_err(|e| TransferError::Format(format!("line {line_number}: table {}: {e}", plan.table.name)))?;
            cells.push(cell);
        }
        let targets: Vec<&Column> = plan.targets.iter().collect();
        conn.insert(&plan.sql, cells, &targets)
            .await
            .map_err(|e| TransferError::Database(format!("line {line_number}: table {}: {e}", plan.table.name)))?;
        plan.inserted += 1;
        inserted += 1;
        if inserted.is_multiple_of(PROGRESS_EVERY) {
            progress.advance(PROGRESS_EVERY);
        }
    }
    progress.advance(inserted % PROGRESS_EVERY);
    if !ended {
        return Err(TransferError::Format(
            "the export ends without its end line (a truncated file?): nothing was imported".into(),
        ));
    }
    for table in &header.tables {
        let done = plans.get(table.name.as_str()).map_or(0, |p| p.inserted);
        if done != table.rows {
            return Err(TransferError::Format(format!(
                "table {}: the header announces {} rows, the file holds {done}",
                table.name, table.rows
            )));
        }
        // Only an integer id has a sequence to move past the imported rows (console_bulk_jobs'
        // ids are text).
        if table
            .columns
            .iter()
            .any(|c| c.name == "id" && c.column_type == ColumnType::Integer)
        {
            let last = table.last_id.unwrap_or(0).max(conn.max_id(&table.name).await?);
            if last > 0 {
                conn.set_last_id(&table.name, last).await?;
            }
        }
    }
    Ok(TransferSummary {
        tables: header.tables.len(),
        rows: inserted,
        schema_version: header.schema_version,
    })
}
