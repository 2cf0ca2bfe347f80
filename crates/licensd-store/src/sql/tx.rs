//! What every write transaction shares, for the core store and every dialect's storage alike
//! (they reach it as `crate::{sqlite,postgres}::shared::…`): how a write transaction begins, the
//! license lock and the reads right after it, the event-log insert, and the one-statement shapes
//! most store methods are: a logged write of one row (`write_logged`, `delete_logged`,
//! `revoke_logged`) and a lookup of one row or of a list (`fetch_found`, `fetch_rows`).

/// Expands the transaction helpers for one backend inside `impl_store!`'s `shared` module.
macro_rules! tx_helpers {
    ($store:ty) => {
        /// Begins a transaction that may write: on SQLite `BEGIN IMMEDIATE` on the single writer
        /// connection (so every write takes its turn there, beside the writer thread), on
        /// PostgreSQL a READ COMMITTED transaction on the pool. Defined by the backend module.
        pub(crate) use super::begin_write;

        /// The pool a write outside a transaction (a single statement) runs on: SQLite's single
        /// writer connection, PostgreSQL's pool. Defined by the backend module.
        pub(crate) use super::write_pool;

        const INSERT_EVENT: &str = "INSERT INTO events (at, actor, source_ip, action, subject_type, subject_id, data) \
                                        VALUES ($1, $2, $3, $4, $5, $6, $7)";

        /// Appends to the event log; `subject` fills the draft's subject when it has none.
        pub(crate) async fn insert_event(
            conn: &mut Conn,
            event: EventDraft,
            subject: impl $crate::sql::EventSubject,
            now: Millis,
        ) -> Result<()> {
            bind_event(sqlx::query(INSERT_EVENT).bind(now), event, subject.subject_id())?
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        }

        /// The first statement of every client command; everything read afterwards is stable
        /// until commit. On SQLite, bumping `lock_version` inside `BEGIN IMMEDIATE` is the write
        /// the single writer already serialized. On PostgreSQL, `SELECT … FOR NO KEY UPDATE`
        /// takes the very row lock an `UPDATE` of a non-key column takes (same conflicts: other
        /// lockers and writers of the row wait, foreign-key checks do not) without writing a
        /// new row version: no heap tuple, index or WAL work for the lock, and a later update of
        /// the row in the same transaction (the active-device trigger, the consumption counter)
        /// does not re-run its foreign-key check on `product_id`, which an update of a row
        /// version this transaction made always does.
        pub(crate) async fn lock_license(
            conn: &mut Conn,
            codec: &dyn SecretCodec,
            license: &LicenseRef,
        ) -> Result<Option<License>> {
            let sql = match (BACKEND, license) {
                (Backend::Sqlite, LicenseRef::Id(_)) => concat!(
                    "UPDATE licenses SET lock_version = lock_version + 1 WHERE id = $1 RETURNING ",
                    license_cols!()
                ),
                (Backend::Sqlite, LicenseRef::Key(_)) => concat!(
                    "UPDATE licenses SET lock_version = lock_version + 1 WHERE key_digest = $1 RETURNING ",
                    license_cols!()
                ),
                (Backend::Postgres, LicenseRef::Id(_)) => {
                    concat!(
                        "SELECT ",
                        license_cols!(),
                        " FROM licenses WHERE id = $1 FOR NO KEY UPDATE"
                    )
                }
                (Backend::Postgres, LicenseRef::Key(_)) => {
                    concat!(
                        "SELECT ",
                        license_cols!(),
                        " FROM licenses WHERE key_digest = $1 FOR NO KEY UPDATE"
                    )
                }
            };
            let query = sqlx::query(sql);
            let query = match license {
                LicenseRef::Id(id) => query.bind(id.get()),
                LicenseRef::Key(key) => query.bind(codec.digest(key.as_bytes())),
            };
            let row = query.fetch_optional(&mut *conn).await.map_err(db_err)?;
            row.map(|r| license_from_row(&r, codec)).transpose()
        }

        /// Deletes the one row `sql` (`DELETE … WHERE … = $1`) names, logs `event` about `id` and
        /// commits, in one write transaction; NotFound (and nothing changed) when there is no such
        /// row. `on_error` maps the delete's failure (`conflict(…)` for rows others refer to).
        pub(crate) async fn delete_logged(
            store: &$store,
            sql: &'static str,
            id: i64,
            on_error: impl Fn(sqlx::Error) -> StoreError + Send,
            event: EventDraft,
            now: Millis,
        ) -> Result<()> {
            let mut tx = begin_write(store).await?;
            let done = sqlx::query(sql)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(on_error)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            insert_event(&mut tx, event, id, now).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(())
        }

        /// Runs `statements` in order in one write transaction and commits: all of them, or none
        /// when one fails (`on_error` maps that failure). The console's session and bulk-job
        /// bookkeeping (opening a session or a job first prunes the expired ones) and SLASCONE's
        /// analytics and usage reports (a batch is stored whole or not at all) write this way.
        pub(crate) async fn execute_in_write<'q>(
            store: &$store,
            statements: impl IntoIterator<Item = Query<'q>>,
            on_error: impl Fn(sqlx::Error) -> StoreError,
        ) -> Result<()> {
            let mut tx = begin_write(store).await?;
            for statement in statements {
                statement.execute(&mut *tx).await.map_err(&on_error)?;
            }
            tx.commit().await.map_err(db_err)
        }

        /// Revokes the one row `sql` (`UPDATE … SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1
        /// RETURNING …`) names, logs `event` about `id` and commits, in one write transaction, and
        /// returns the row as it now stands; NotFound (and nothing changed) when there is no such
        /// row. Admin tokens and client credentials are revoked alike through this.
        pub(crate) async fn revoke_logged<T>(
            store: &$store,
            sql: &'static str,
            id: i64,
            decode: fn(&DbRow) -> Result<T>,
            event: EventDraft,
            now: Millis,
        ) -> Result<T> {
            let query = sqlx::query(sql).bind(id).bind(now);
            write_logged(store, query, db_err, decode, |_| id, event, now).await
        }

        /// Runs `query`, an `INSERT … RETURNING` or `UPDATE … RETURNING` that names one row, in one
        /// write transaction: decodes the row, logs `event` about the id `subject` reads from it,
        /// commits and returns it; NotFound (and nothing changed) when it returns no row.
        /// `on_error` maps the statement's failure (`conflict(…)` names what a refused constraint
        /// was about). Creating and updating products, features, policies and customers, creating
        /// credentials, admin tokens, blocked devices and access blocks, and revoking, end this way.
        pub(crate) async fn write_logged<'q, T, S: $crate::sql::EventSubject>(
            store: &$store,
            query: Query<'q>,
            on_error: impl FnOnce(sqlx::Error) -> StoreError + Send,
            decode: impl FnOnce(&DbRow) -> Result<T> + Send,
            subject: impl FnOnce(&T) -> S + Send,
            event: EventDraft,
            now: Millis,
        ) -> Result<T> {
            let mut tx = begin_write(store).await?;
            let row = query
                .fetch_optional(&mut *tx)
                .await
                .map_err(on_error)?
                .ok_or(StoreError::NotFound)?;
            let written = decode(&row)?;
            insert_event(&mut tx, event, subject(&written), now).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(written)
        }

        /// The one row `query` looks up, decoded; NotFound when there is none.
        pub(crate) async fn fetch_found<'q, 'c, T>(
            conn: impl sqlx::Executor<'c, Database = Db>,
            query: Query<'q>,
            decode: impl FnOnce(&DbRow) -> Result<T>,
        ) -> Result<T>
        where
            'q: 'c,
        {
            fetch_optional(conn, query, decode)
                .await?
                .ok_or(StoreError::NotFound)
        }

        /// The one row `query` looks up, decoded, if there is one.
        pub(crate) async fn fetch_optional<'q, 'c, T>(
            conn: impl sqlx::Executor<'c, Database = Db>,
            query: Query<'q>,
            decode: impl FnOnce(&DbRow) -> Result<T>,
        ) -> Result<Option<T>>
        where
            'q: 'c,
        {
            let row = query.fetch_optional(conn).await.map_err(db_err)?;
            row.map(|r| decode(&r)).transpose()
        }

        /// Every row `query` returns, decoded, in its order.
        pub(crate) async fn fetch_rows<'q, 'c, T>(
            conn: impl sqlx::Executor<'c, Database = Db>,
            query: Query<'q>,
            decode: impl Fn(&DbRow) -> Result<T>,
        ) -> Result<Vec<T>>
        where
            'q: 'c,
        {
            let found = query.fetch_all(conn).await.map_err(db_err)?;
            found.iter().map(decode).collect()
        }

        /// Locks every listed license (`lock_license_or_deny`), each once, in ascending id order:
        /// transactions that lock overlapping sets then take the locks in the same order, so
        /// PostgreSQL cannot deadlock them. The licenses come back in that order.
        pub(crate) async fn lock_licenses_in_order(
            conn: &mut Conn,
            codec: &dyn SecretCodec,
            ids: &[LicenseId],
        ) -> Result<Vec<License>> {
            let mut ids = ids.to_vec();
            ids.sort_unstable();
            ids.dedup();
            let mut locked = Vec::with_capacity(ids.len());
            for id in ids {
                locked.push(lock_license_or_deny(&mut *conn, codec, &LicenseRef::Id(id)).await?);
            }
            Ok(locked)
        }

        /// `lock_license` for a command that needs none of the license's columns but its product:
        /// the product id, or NotFound when there is no such license.
        pub(crate) async fn lock_license_id(conn: &mut Conn, license_id: LicenseId) -> Result<ProductId> {
            let sql = match BACKEND {
                Backend::Sqlite => {
                    "UPDATE licenses SET lock_version = lock_version + 1 WHERE id = $1 RETURNING product_id"
                }
                Backend::Postgres => "SELECT product_id FROM licenses WHERE id = $1 FOR NO KEY UPDATE",
            };
            sqlx::query_scalar(sql)
                .bind(license_id.get())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?
                .map(ProductId::new)
                .ok_or(StoreError::NotFound)
        }

        pub(crate) async fn lock_license_or_deny(
            conn: &mut Conn,
            codec: &dyn SecretCodec,
            license: &LicenseRef,
        ) -> Result<License> {
            lock_license(conn, codec, license)
                .await?
                .ok_or(StoreError::Denied(Denial::LicenseNotFound))
        }

        pub(crate) async fn read_license(
            conn: &mut Conn,
            codec: &dyn SecretCodec,
            license: &LicenseRef,
        ) -> Result<Option<License>> {
            let row = match license {
                LicenseRef::Id(id) => {
                    sqlx::query(concat!(
                        "SELECT ",
                        license_cols!(),
                        " FROM licenses WHERE id = $1"
                    ))
                    .bind((*id).get())
                    .fetch_optional(&mut *conn)
                    .await
                }
                LicenseRef::Key(key) => {
                    sqlx::query(concat!(
                        "SELECT ",
                        license_cols!(),
                        " FROM licenses WHERE key_digest = $1"
                    ))
                    .bind(codec.digest(key.as_bytes()))
                    .fetch_optional(&mut *conn)
                    .await
                }
            }
            .map_err(db_err)?;
            row.map(|r| license_from_row(&r, codec)).transpose()
        }

        /// The product of a license; the foreign key makes a miss impossible short of corruption.
        pub(crate) async fn product_of(conn: &mut Conn, license: &License) -> Result<Product> {
            sqlx::query(concat!(
                "SELECT ",
                product_cols!(),
                " FROM products WHERE id = $1"
            ))
            .bind(license.product_id.get())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?
            .map(|r| product_from_row(&r))
            .transpose()?
            .ok_or(StoreError::Denied(Denial::ProductNotFound))
        }

        /// A statement with its parameters bound, as the helpers here and the dialects' take it.
        pub(crate) type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>;

        /// Binds an event's fields after its instant, in `INSERT_EVENT`'s order: actor, source IP,
        /// action, subject type, subject (the draft's, else `subject`), data.
        fn bind_event<'q>(query: Query<'q>, event: EventDraft, subject: Option<i64>) -> Result<Query<'q>> {
            let data = to_json(&event.data)?;
            Ok(query
                .bind(event.actor)
                .bind(event.source_ip)
                .bind(event.action)
                .bind(event.subject_type)
                .bind(event.subject_id.or(subject))
                .bind(data))
        }
    };
}

pub(crate) use tx_helpers;
