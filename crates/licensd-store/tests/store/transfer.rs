//! `licensd export` / `licensd import` at the store level: export covers every table of the
//! schema, values survive a trip through the other engine exactly, and import refuses what it
//! must (a database with data, unknown format versions, newer schemas, truncated files) without
//! changing anything.
use licensd_domain::ProductId;

use crate::harness::*;
use licensd_store::SqliteSynchronous;
use licensd_store::transfer::{self, TABLES, TransferError};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// The base tables of the test's freshly migrated database, from the catalog.
async fn catalog_tables(db: &Db) -> BTreeSet<String> {
    let names: Vec<String> = match &db.raw {
        Raw::Sqlite(pool) => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .fetch_all(pool)
        .await
        .expect("sqlite_master"),
        Raw::Pg(pool) => sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(pool)
        .await
        .expect("information_schema"),
    };
    names.into_iter().collect()
}

/// Guards the explicit table list: a migration that adds a table without adding it to
/// `transfer::TABLES` fails here (and export refuses such a database at run time).
pub async fn every_table_is_exported(db: Db) {
    let tables = catalog_tables(&db).await;
    assert!(tables.contains("licenses"), "migrations did not run: {tables:?}");
    let missing: Vec<&String> = tables
        .iter()
        .filter(|t| {
            t.as_str() != transfer::MIGRATIONS_TABLE
                && !TABLES.contains(&t.as_str())
                && !transfer::DERIVED.contains(&t.as_str())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "tables not covered by export (add them to licensd_store::transfer::TABLES): {missing:?}"
    );
    let stale: Vec<&&str> = TABLES.iter().filter(|t| !tables.contains(**t)).collect();
    assert!(
        stale.is_empty(),
        "TABLES names tables the schema does not have: {stale:?}"
    );
    let unique: BTreeSet<&&str> = TABLES.iter().collect();
    assert_eq!(unique.len(), TABLES.len(), "TABLES lists a table twice");
}

/// Text that JSON re-encoding would change (`1.50`, escapes, non-ASCII): it must come back byte
/// for byte.
const EXACT_TEXT: &str = "{\"n\": 1.50, \"s\": \"\\\"quoted\\\" \\\\ \\u00e9\", \"crab\": \"🦀\", \"ü\": null}";
/// Above 2^53: a float in any step of the trip would round it.
const BIG: i64 = 9_007_199_254_740_993;

/// Rows no API writes in this shape: edge values of every column type.
async fn seed_edge_values(db: &Db) {
    let (yes, no) = match db.kind {
        Kind::Sqlite => ("1", "0"),
        Kind::Postgres => ("TRUE", "FALSE"),
    };
    for code in ["EXACT", "GONE"] {
        db.raw
            .exec(
                &format!(
                    "INSERT INTO products (code, name, auth_method, status, trial_allowed, trial_days, metadata, \
                     created_at, updated_at) VALUES (?, ?, 'key', 'active', {yes}, -3, ?, ?, ?)"
                ),
                &[
                    Arg::T(code.into()),
                    Arg::T("Ünïcode name".into()),
                    Arg::T(EXACT_TEXT.into()),
                    Arg::I(BIG),
                    Arg::I(i64::MAX),
                ],
            )
            .await;
    }
    // A deleted row: its id must never be handed out again after the trip.
    db.raw.exec("DELETE FROM products WHERE code = 'GONE'", &[]).await;
    let every_byte: Vec<u8> = (0..=255u8).collect();
    db.raw
        .exec(
            &format!(
                "INSERT INTO km_downloadables (product_id, numeric_version, version, update_summary, changelog, \
                 published, release_date, download_counter, file_name, file_content, created_at) \
                 VALUES (1, ?, '1.0', NULL, '', {no}, NULL, 0, 'a.bin', ?, ?)"
            ),
            &[Arg::I(i64::MIN), Arg::B(every_byte), Arg::I(0)],
        )
        .await;
    db.raw
        .exec(
            &format!(
                "INSERT INTO km_downloadables (product_id, numeric_version, version, published, \
                 download_counter, file_content, created_at) VALUES (1, 2, '2.0', {yes}, 7, ?, 1)"
            ),
            &[Arg::B(Vec::new())],
        )
        .await;
}

fn export_path(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join(format!("{name}.jsonl"))
}

/// The row lines of an export, in file order, and its header as JSON.
fn read_export(path: &Path) -> (Value, Vec<String>) {
    let text = std::fs::read_to_string(path).expect("read export");
    let mut lines = text.lines();
    let header: Value = serde_json::from_str(lines.next().expect("header")).expect("header json");
    let rows: Vec<String> = lines
        .filter(|l| l.starts_with("{\"table\""))
        .map(str::to_owned)
        .collect();
    (header, rows)
}

/// The run-time half of the guard: a table export does not know (a migration that forgot
/// `TABLES`) makes export fail instead of writing a file without it.
pub async fn export_refuses_a_table_it_does_not_cover(db: Db) {
    db.raw
        .exec(
            "CREATE TABLE forgotten_by_export (id BIGINT PRIMARY KEY, note TEXT)",
            &[],
        )
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = export_path(dir.path(), "refused");
    let error = transfer::export_to_file(&db.url, &out, SqliteSynchronous::default(), NOW, &())
        .await
        .expect_err("export refuses");
    assert!(
        error.to_string().contains("forgotten_by_export is not covered"),
        "{error}"
    );
    assert!(!out.exists(), "a refused export leaves no file");
}

pub async fn values_survive_a_trip_through_the_other_engine(db: Db) {
    seed_edge_values(&db).await;
    // Data written through the store too: sealed secrets, digests, JSON terms, events.
    let product = db
        .create_product(new_product("VIA-STORE"), ev("product.create", "product"), NOW)
        .await
        .expect("product");
    assert_eq!(product.id, ProductId::new(3), "ids 1 and 2 were used");
    let dir = tempfile::tempdir().expect("temp dir");
    let first = export_path(dir.path(), "first");
    transfer::export_to_file(&db.url, &first, SqliteSynchronous::default(), NOW, &())
        .await
        .expect("export");

    let other = match db.kind {
        Kind::Sqlite => Kind::Postgres,
        Kind::Postgres => Kind::Sqlite,
    };
    let second = export_path(dir.path(), "second");
    let (first_for_other, second_for_other) = (first.clone(), second.clone());
    run(other, "transfer_other", 2, |target| async move {
        let summary = transfer::import_from_file(&target.url, &first_for_other, SqliteSynchronous::default(), NOW, &())
            .await
            .expect("import into the other engine");
        assert!(summary.rows >= 5, "{summary:?}");
        let text: String = match &target.raw {
            Raw::Sqlite(pool) => sqlx::query_scalar("SELECT metadata FROM products WHERE code = 'EXACT'")
                .fetch_one(pool)
                .await
                .expect("metadata"),
            Raw::Pg(pool) => sqlx::query_scalar("SELECT metadata FROM products WHERE code = 'EXACT'")
                .fetch_one(pool)
                .await
                .expect("metadata"),
        };
        assert_eq!(text, EXACT_TEXT);
        assert_eq!(
            target
                .raw
                .i64("SELECT created_at FROM products WHERE code = 'EXACT'", &[])
                .await,
            BIG
        );
        assert_eq!(
            target
                .raw
                .bytes(
                    "SELECT file_content FROM km_downloadables WHERE numeric_version = ?",
                    &[Arg::I(i64::MIN)]
                )
                .await,
            (0..=255u8).collect::<Vec<u8>>()
        );
        assert_eq!(
            target
                .raw
                .i64("SELECT COUNT(*) FROM km_downloadables WHERE published", &[])
                .await,
            1,
            "booleans keep their value"
        );
        // What the store reads back is what it wrote on the source (sealed secrets open with
        // the same codec).
        let again = target
            .get_product(ProductId::new(3))
            .await
            .expect("product after import");
        assert_eq!(again.code, "VIA-STORE");
        assert_eq!(again.metadata, product.metadata);
        transfer::export_to_file(&target.url, &second_for_other, SqliteSynchronous::default(), NOW, &())
            .await
            .expect("export from the other engine");
        // The id counter continues past every id the source handed out, the deleted one included.
        let next = target
            .create_product(new_product("AFTER"), ev("product.create", "product"), NOW)
            .await
            .expect("product after import");
        assert_eq!(next.id, ProductId::new(4));
    })
    .await;

    // Back into a new, unmigrated database of the first engine: import migrates it first.
    let back_url = db.fresh_url().await;
    transfer::import_from_file(&back_url, &second, SqliteSynchronous::default(), NOW, &())
        .await
        .expect("import back");
    let third = export_path(dir.path(), "third");
    transfer::export_to_file(&back_url, &third, SqliteSynchronous::default(), NOW, &())
        .await
        .expect("export again");

    let (first_header, first_rows) = read_export(&first);
    let (third_header, third_rows) = read_export(&third);
    assert_eq!(first_rows, third_rows, "every row comes back exactly");
    assert_eq!(first_header["tables"], third_header["tables"]);
    assert_eq!(first_header["migrations"], third_header["migrations"]);
    assert!(
        first_rows.iter().any(|l| l.contains("\"table\":\"events\"")),
        "events are exported"
    );
}

pub async fn import_refuses_non_empty_databases_and_bad_files(db: Db) {
    db.create_product(new_product("KEEP"), ev("product.create", "product"), NOW)
        .await
        .expect("product");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = export_path(dir.path(), "export");
    transfer::export_to_file(&db.url, &file, SqliteSynchronous::default(), NOW, &())
        .await
        .expect("export");
    // Never overwrites.
    let size = std::fs::metadata(&file).expect("export").len();
    let again = transfer::export_to_file(&db.url, &file, SqliteSynchronous::default(), NOW, &()).await;
    assert!(matches!(again, Err(TransferError::OutputExists(_))), "{again:?}");
    assert_eq!(std::fs::metadata(&file).expect("export").len(), size);

    // A database with data: refused, nothing changed.
    let before = db.raw.i64("SELECT COUNT(*) FROM products", &[]).await;
    let events = db.raw.i64("SELECT COUNT(*) FROM events", &[]).await;
    let refused = transfer::import_from_file(&db.url, &file, SqliteSynchronous::default(), NOW, &()).await;
    match refused {
        Err(TransferError::NotEmpty { table }) => assert!(!table.is_empty()),
        other => panic!("expected NotEmpty, got {other:?}"),
    }
    assert_eq!(db.raw.i64("SELECT COUNT(*) FROM products", &[]).await, before);
    assert_eq!(db.raw.i64("SELECT COUNT(*) FROM events", &[]).await, events);

    let text = std::fs::read_to_string(&file).expect("export");
    let (header, rest) = text.split_once('\n').expect("header line");
    let variant = |name: &str, header: &Value, rest: &str| {
        let path = export_path(dir.path(), name);
        std::fs::write(
            &path,
            format!("{}\n{rest}", serde_json::to_string(header).expect("json")),
        )
        .expect("write");
        path
    };
    let original: Value = serde_json::from_str(header).expect("header");

    let mut future = original.clone();
    future["format_version"] = Value::from(2);
    let mut newer = original.clone();
    newer["migrations"]
        .as_array_mut()
        .expect("migrations")
        .push(Value::from(99_999));
    newer["schema_version"] = Value::from(99_999);
    let truncated_rest: String = rest
        .lines()
        .filter(|l| !l.starts_with("{\"end\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let cases = [
        (variant("future", &future, rest), "unknown export format version 2"),
        (variant("newer", &newer, rest), "newer schema"),
        (variant("truncated", &original, &truncated_rest), "without its end line"),
    ];
    for (path, expected) in cases {
        let url = db.fresh_url().await;
        let error = transfer::import_from_file(&url, &path, SqliteSynchronous::default(), NOW, &())
            .await
            .expect_err("refused");
        assert!(error.to_string().contains(expected), "{expected}: {error}");
        // The new database holds no row (the truncated file got as far as the schema).
        let store = db.connect_store(&url).await;
        store.migrate(NOW).await.expect("migrate");
        assert!(
            store
                .list_products(licensd_store::Page::default())
                .await
                .expect("list")
                .is_empty(),
            "{expected}"
        );
    }
}
