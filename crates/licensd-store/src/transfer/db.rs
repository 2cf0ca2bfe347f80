//! The database side of export and import: one connection to either backend, its catalog
//! (tables, columns, id counters, applied migrations) and typed cells.

use super::{ColumnType, MIGRATIONS_TABLE, TransferError};
use crate::SqliteSynchronous;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use licensd_domain::Millis;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Row, TypeInfo, ValueRef};
use std::str::FromStr;
use std::time::Duration;

pub(super) fn db(error: sqlx::Error) -> TransferError {
    TransferError::Database(error.to_string())
}

/// A table or column name from a catalog, quoted for SQL. Names of the licensd schema are plain
/// lower-case identifiers; anything else is refused rather than escaped.
pub(super) fn ident(name: &str) -> Result<String, TransferError> {
    if !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(format!("\"{name}\""))
    } else {
        Err(TransferError::Schema(format!(
            "unexpected identifier {name:?} in the schema"
        )))
    }
}

/// A target column: the export's kind of value plus, on PostgreSQL, the integer width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Column {
    pub name: String,
    pub column_type: ColumnType,
    /// PostgreSQL `integer` / `smallint` columns take 32-/16-bit values.
    pub int_bits: u32,
}

/// One value read from or written to a column.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
    Text(String),
}

impl Cell {
    pub fn to_json(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Int(v) => Value::from(*v),
            Cell::Bool(v) => Value::Bool(*v),
            Cell::Bytes(v) => Value::String(STANDARD.encode(v)),
            Cell::Text(v) => Value::String(v.clone()),
        }
    }

    /// The value a target column of `target` type gets from the JSON `value` of a column that was
    /// `source` in the export. Booleans and the integers 0 / 1 convert into each other (SQLite
    /// has no boolean type); nothing else converts.
    pub fn from_json(value: &Value, source: ColumnType, target: &Column) -> Result<Cell, String> {
        let mismatch = || {
            format!(
                "column {} holds {value} ({source:?} in the export), which a {:?} column cannot take",
                target.name, target.column_type
            )
        };
        if value.is_null() {
            return Ok(Cell::Null);
        }
        match (target.column_type, source) {
            (ColumnType::Integer, ColumnType::Integer | ColumnType::Boolean) => match value {
                Value::Number(n) => n.as_i64().map(Cell::Int).ok_or_else(mismatch),
                Value::Bool(b) => Ok(Cell::Int(i64::from(*b))),
                _ => Err(mismatch()),
            },
            (ColumnType::Boolean, ColumnType::Integer | ColumnType::Boolean) => match value {
                Value::Bool(b) => Ok(Cell::Bool(*b)),
                Value::Number(n) => match n.as_i64() {
                    Some(0) => Ok(Cell::Bool(false)),
                    Some(1) => Ok(Cell::Bool(true)),
                    _ => Err(mismatch()),
                },
                _ => Err(mismatch()),
            },
            (ColumnType::Bytes, ColumnType::Bytes) => match value {
                Value::String(text) => STANDARD
                    .decode(text)
                    .map(Cell::Bytes)
                    .map_err(|e| format!("column {}: invalid base64: {e}", target.name)),
                _ => Err(mismatch()),
            },
            (ColumnType::Text, ColumnType::Text) => match value {
                Value::String(text) => Ok(Cell::Text(text.clone())),
                _ => Err(mismatch()),
            },
            _ => Err(mismatch()),
        }
    }
}

/// The source or target database: a one-connection pool (the migrator takes a pool).
pub(super) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A connection taken from a [`Db`].
pub(super) enum Held {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl Held {
    pub fn as_conn(&mut self) -> Conn<'_> {
        match self {
            Held::Sqlite(c) => Conn::Sqlite(c),
            Held::Postgres(c) => Conn::Postgres(c),
        }
    }
}

impl Db {
    /// Opens `url`; a SQLite file is created only when `create` (import), never for export, and
    /// its connection runs with `synchronous`.
    pub async fn open(url: &str, create: bool, synchronous: SqliteSynchronous) -> Result<Self, TransferError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| TransferError::Database(format!("invalid PostgreSQL URL: {e}")))?;
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .connect_with(options)
                .await
                .map_err(|e| TransferError::Database(format!("cannot open the database: {e}")))?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let mut options = SqliteConnectOptions::from_str(url)
                .map_err(|e| TransferError::Database(format!("invalid SQLite URL: {e}")))?
                .create_if_missing(create)
                .synchronous(synchronous.sqlx())
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            if create {
                options = options.journal_mode(SqliteJournalMode::Wal);
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .connect_with(options)
                .await
                .map_err(|e| TransferError::Database(format!("cannot open the database: {e}")))?;
            Ok(Db::Sqlite(pool))
        } else {
            Err(TransferError::Database(format!(
                "unsupported database URL scheme (use sqlite:// or postgres://): {}",
                url.split(':').next().unwrap_or("")
            )))
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub fn backend_kind(&self) -> crate::Backend {
        match self {
            Db::Sqlite(_) => crate::Backend::Sqlite,
            Db::Postgres(_) => crate::Backend::Postgres,
        }
    }

    pub async fn acquire(&self) -> Result<Held, TransferError> {
        Ok(match self {
            Db::Sqlite(pool) => Held::Sqlite(pool.acquire().await.map_err(db)?),
            Db::Postgres(pool) => Held::Postgres(pool.acquire().await.map_err(db)?),
        })
    }

    /// Applies the schema migrations `keep` selects (each once, as `licensd migrate` does),
    /// recorded as applied at `now`.
    pub async fn migrate_where(&self, keep: impl Fn(i64) -> bool, now: Millis) -> Result<(), TransferError> {
        match self {
            Db::Sqlite(pool) => crate::migrate::sqlite_where(pool, keep, now).await,
            Db::Postgres(pool) => crate::migrate::postgres_where(pool, keep, now).await,
        }
        .map_err(|e| TransferError::Database(e.to_string()))
    }

    pub async fn close(self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// Catalog and data queries, on a connection inside a transaction (or not).
pub(super) enum Conn<'c> {
    Sqlite(&'c mut sqlx::SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl Conn<'_> {
    pub async fn execute(&mut self, sql: &str) -> Result<(), TransferError> {
        match self {
            Conn::Sqlite(c) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut **c)
                .await
                .map(|_| ()),
            Conn::Postgres(c) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut **c)
                .await
                .map(|_| ()),
        }
        .map_err(db)
    }

    /// The base tables of the schema (SQLite's own `sqlite_*` tables left out), sorted.
    pub async fn tables(&mut self) -> Result<Vec<String>, TransferError> {
        let mut names: Vec<String> = match self {
            Conn::Sqlite(c) => sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            )
            .fetch_all(&mut **c)
            .await
            .map_err(db)?,
            Conn::Postgres(c) => sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&mut **c)
            .await
            .map_err(db)?,
        };
        names.sort();
        Ok(names)
    }

    /// The columns of `table` in their declared order.
    pub async fn columns(&mut self, table: &str) -> Result<Vec<Column>, TransferError> {
        let declared: Vec<(String, String)> = match self {
            Conn::Sqlite(c) => sqlx::query_as("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")
                .bind(table)
                .fetch_all(&mut **c)
                .await
                .map_err(db)?,
            Conn::Postgres(c) => sqlx::query_as(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&mut **c)
            .await
            .map_err(db)?,
        };
        let sqlite = matches!(self, Conn::Sqlite(_));
        declared
            .into_iter()
            .map(|(name, declared)| {
                let lower = declared.to_ascii_lowercase();
                let (column_type, int_bits) = match lower.as_str() {
                    "bigint" => (ColumnType::Integer, 64),
                    "integer" if !sqlite => (ColumnType::Integer, 32),
                    "smallint" => (ColumnType::Integer, 16),
                    "boolean" if !sqlite => (ColumnType::Boolean, 0),
                    "bytea" => (ColumnType::Bytes, 0),
                    "text" | "character varying" => (ColumnType::Text, 0),
                    _ if sqlite && lower.contains("int") => (ColumnType::Integer, 64),
                    _ if sqlite && lower == "blob" => (ColumnType::Bytes, 0),
                    _ => {
                        return Err(TransferError::Schema(format!(
                            "column {table}.{name} has type {declared}, which export does not carry"
                        )));
                    }
                };
                Ok(Column {
                    name,
                    column_type,
                    int_bits,
                })
            })
            .collect()
    }

    /// Whether `table` holds at least one row.
    pub async fn has_rows(&mut self, table: &str) -> Result<bool, TransferError> {
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT 1) AS probe",
            ident(table)?
        );
        Ok(self.count_sql(&sql).await? > 0)
    }

    pub async fn count(&mut self, table: &str) -> Result<u64, TransferError> {
        let sql = format!("SELECT COUNT(*) FROM {}", ident(table)?);
        self.count_sql(&sql).await
    }

    async fn count_sql(&mut self, sql: &str) -> Result<u64, TransferError> {
        let count: i64 = match self {
            Conn::Sqlite(c) => sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                .fetch_one(&mut **c)
                .await
                .map_err(db)?,
            Conn::Postgres(c) => sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                .fetch_one(&mut **c)
                .await
                .map_err(db)?,
        };
        u64::try_from(count).map_err(|_| TransferError::Database(format!("negative count from {sql}")))
    }

    /// The schema migrations recorded in the database (none before the first migration).
    pub async fn applied_migrations(&mut self) -> Result<Vec<i64>, TransferError> {
        if !self.tables().await?.iter().any(|t| t == MIGRATIONS_TABLE) {
            return Ok(Vec::new());
        }
        let sql = "SELECT version FROM licensd_migrations ORDER BY version";
        match self {
            Conn::Sqlite(c) => sqlx::query_scalar(sql).fetch_all(&mut **c).await,
            Conn::Postgres(c) => sqlx::query_scalar(sql).fetch_all(&mut **c).await,
        }
        .map_err(db)
    }

    /// The last id `table`'s id counter handed out, if it has one and has handed one out.
    pub async fn last_id(&mut self, table: &str, columns: &[Column]) -> Result<Option<i64>, TransferError> {
        if !columns.iter().any(|c| c.name == "id") {
            return Ok(None);
        }
        match self {
            Conn::Sqlite(c) => {
                let has_sequence: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'",
                )
                .fetch_one(&mut **c)
                .await
                .map_err(db)?;
                if has_sequence == 0 {
                    return Ok(None);
                }
                sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = ?1")
                    .bind(table)
                    .fetch_optional(&mut **c)
                    .await
                    .map_err(db)
            }
            Conn::Postgres(c) => sqlx::query_scalar::<_, Option<i64>>(
                "SELECT pg_sequence_last_value(s::regclass) \
                 FROM pg_get_serial_sequence(current_schema() || '.' || $1, 'id') AS s WHERE s IS NOT NULL",
            )
            .bind(table)
            .fetch_optional(&mut **c)
            .await
            .map(Option::flatten)
            .map_err(db),
        }
    }

    /// Moves `table`'s id counter to at least `last` (the source's counter or the highest
    /// imported id), so that new rows never reuse an imported or once-used id.
    pub async fn set_last_id(&mut self, table: &str, last: i64) -> Result<(), TransferError> {
        match self {
            Conn::Sqlite(c) => {
                let updated = sqlx::query("UPDATE sqlite_sequence SET seq = MAX(seq, ?2) WHERE name = ?1")
                    .bind(table)
                    .bind(last)
                    .execute(&mut **c)
                    .await
                    .map_err(db)?
                    .rows_affected();
                if updated == 0 {
                    sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)")
                        .bind(table)
                        .bind(last)
                        .execute(&mut **c)
                        .await
                        .map_err(db)?;
                }
            }
            Conn::Postgres(c) => {
                sqlx::query(
                    "SELECT setval(s::regclass, $2, true) \
                     FROM pg_get_serial_sequence(current_schema() || '.' || $1, 'id') AS s WHERE s IS NOT NULL",
                )
                .bind(table)
                .bind(last)
                .execute(&mut **c)
                .await
                .map_err(db)?;
            }
        }
        Ok(())
    }

    /// The highest id in `table` (0 when empty).
    pub async fn max_id(&mut self, table: &str) -> Result<i64, TransferError> {
        let sql = format!("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM {}", ident(table)?);
        match self {
            Conn::Sqlite(c) => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut **c).await,
            Conn::Postgres(c) => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut **c).await,
        }
        .map_err(db)
    }

    /// Inserts one row: `sql` names `cells.len()` columns with `$1…$n` placeholders.
    pub async fn insert(&mut self, sql: &str, cells: Vec<Cell>, columns: &[&Column]) -> Result<(), TransferError> {
        match self {
            Conn::Sqlite(c) => {
                let mut query = sqlx::query(AssertSqlSafe(sql.to_owned()));
                for cell in cells {
                    query = match cell {
                        Cell::Null => query.bind(None::<i64>),
                        Cell::Int(v) => query.bind(v),
                        Cell::Bool(v) => query.bind(i64::from(v)),
                        Cell::Bytes(v) => query.bind(v),
                        Cell::Text(v) => query.bind(v),
                    };
                }
                query.execute(&mut **c).await.map_err(db)?;
            }
            Conn::Postgres(c) => {
                let mut query = sqlx::query(AssertSqlSafe(sql.to_owned()));
                for (cell, column) in cells.into_iter().zip(columns) {
                    query = match (cell, column.column_type, column.int_bits) {
                        (Cell::Null, ColumnType::Integer, 16) => query.bind(None::<i16>),
                        (Cell::Null, ColumnType::Integer, 32) => query.bind(None::<i32>),
                        (Cell::Null, ColumnType::Integer, _) => query.bind(None::<i64>),
                        (Cell::Null, ColumnType::Boolean, _) => query.bind(None::<bool>),
                        (Cell::Null, ColumnType::Bytes, _) => query.bind(None::<Vec<u8>>),
                        (Cell::Null, ColumnType::Text, _) => query.bind(None::<String>),
                        (Cell::Int(v), _, 16) => query.bind(i16::try_from(v).map_err(|_| out_of_range(column, v))?),
                        (Cell::Int(v), _, 32) => query.bind(i32::try_from(v).map_err(|_| out_of_range(column, v))?),
                        (Cell::Int(v), _, _) => query.bind(v),
                        (Cell::Bool(v), _, _) => query.bind(v),
                        (Cell::Bytes(v), _, _) => query.bind(v),
                        (Cell::Text(v), _, _) => query.bind(v),
                    };
                }
                query.execute(&mut **c).await.map_err(db)?;
            }
        }
        Ok(())
    }
}

fn out_of_range(column: &Column, value: i64) -> TransferError {
    TransferError::Schema(format!("{value} does not fit column {}", column.name))
}

/// Reads one SQLite cell by the value's storage class, checked against the declared column.
pub(super) fn sqlite_cell(row: &SqliteRow, index: usize, column: &Column) -> Result<Cell, TransferError> {
    let raw = row.try_get_raw(index).map_err(db)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let class = raw.type_info().name().to_owned();
    let cell = match (class.as_str(), column.column_type) {
        ("INTEGER", ColumnType::Integer) => Cell::Int(row.try_get(index).map_err(db)?),
        ("BLOB", ColumnType::Bytes) => Cell::Bytes(row.try_get(index).map_err(db)?),
        ("TEXT", ColumnType::Text) => Cell::Text(row.try_get(index).map_err(db)?),
        _ => {
            return Err(TransferError::Schema(format!(
                "column {} holds a {class} value where {:?} is declared",
                column.name, column.column_type
            )));
        }
    };
    Ok(cell)
}

/// Reads one PostgreSQL cell by the column's type.
pub(super) fn postgres_cell(row: &PgRow, index: usize, column: &Column) -> Result<Cell, TransferError> {
    let cell = match (column.column_type, column.int_bits) {
        (ColumnType::Integer, 16) => row
            .try_get::<Option<i16>, _>(index)
            .map(|v| v.map(|v| Cell::Int(v.into()))),
        (ColumnType::Integer, 32) => row
            .try_get::<Option<i32>, _>(index)
            .map(|v| v.map(|v| Cell::Int(v.into()))),
        (ColumnType::Integer, _) => row.try_get::<Option<i64>, _>(index).map(|v| v.map(Cell::Int)),
        (ColumnType::Boolean, _) => row.try_get::<Option<bool>, _>(index).map(|v| v.map(Cell::Bool)),
        (ColumnType::Bytes, _) => row.try_get::<Option<Vec<u8>>, _>(index).map(|v| v.map(Cell::Bytes)),
        (ColumnType::Text, _) => row.try_get::<Option<String>, _>(index).map(|v| v.map(Cell::Text)),
    }
    .map_err(db)?;
    Ok(cell.unwrap_or(Cell::Null))
}
