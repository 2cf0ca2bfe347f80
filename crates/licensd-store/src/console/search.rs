//! The console's keyset-paged lists: the licence search, the event log and the SLASCONE
//! customers, newest first, each page starting below the last id of the one before.

use crate::{EventFilter, PostgresStore, Result, SqliteStore};
use licensd_domain::{CustomerId, Event, LicenseStatus, Millis, ProductId};

#[derive(Debug, Clone, Default)]
pub struct LicenseSearch {
    pub product_id: Option<ProductId>,
    pub status: Option<LicenseStatus>,
    /// Matches the order reference exactly, or a customer's e-mail exactly or name by prefix
    /// (both case-insensitive). Keys are looked up by digest (`CoreStore::find_license_by_key`).
    pub text: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// A customer with a SLASCONE profile, as the console's SLASCONE customer list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlasconeCustomerRow {
    pub customer_id: CustomerId,
    pub email: Option<String>,
    pub company: Option<String>,
    pub customer_number: String,
    pub prospect_number: Option<String>,
    pub country: Option<String>,
    pub language: Option<String>,
    pub created_at: Millis,
}

/// The console's searches and lists.
#[async_trait::async_trait]
pub trait ConsoleSearchStore: Send + Sync + 'static {
    /// The ids of the licences matching `search`, newest first.
    async fn search_license_ids(&self, search: &LicenseSearch) -> Result<Vec<i64>>;
    /// Customers with a SLASCONE profile, newest first, with ids below `before` (keyset paging).
    async fn slascone_customer_rows(&self, before: Option<i64>, limit: i64) -> Result<Vec<SlasconeCustomerRow>>;
    /// Events matching `filter`, newest first, with ids below `before` (keyset paging).
    async fn recent_events(&self, filter: &EventFilter, before: Option<i64>, limit: i64) -> Result<Vec<Event>>;
}

/// Implements `ConsoleSearchStore` for one backend (`$core`: `sqlite` or `postgres`, whose `shared`
/// module holds the write helpers of `sql/tx.rs` and the row getter).
macro_rules! impl_console_search {
    ($store:ty, $core:ident, $name:literal) => {
        const _: () = {
            use crate::$core::shared::get;
            use crate::sql::{db_err, from_json};

            /// A customer's name folded to lower case, compared byte-wise (as its index orders it).
            const NAME: &str = $name;

            #[async_trait::async_trait]
            impl ConsoleSearchStore for $store {
                async fn search_license_ids(&self, search: &LicenseSearch) -> Result<Vec<i64>> {
                    // The statement is assembled from fixed fragments, one shape per combination of
                    // filters (values are always bound), so each shape uses its index: keyset paging
                    // on `id` within (product_id, status, id), (product_id, id) or (status, id); a
                    // text search starts from the order reference and the customers' e-mail and
                    // name-prefix indexes (migration 702) and sorts only what they match.
                    let text = search.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
                    let mut n = 0;
                    let mut next = || {
                        n += 1;
                        format!("${n}")
                    };
                    // The product, status and keyset filters on the licences aliased `alias`.
                    let filters = |alias: &str, next: &mut dyn FnMut() -> String| {
                        let mut sql = String::new();
                        if search.product_id.is_some() {
                            sql.push_str(&format!(" AND {alias}.product_id = {}", next()));
                        }
                        if search.status.is_some() {
                            sql.push_str(&format!(" AND {alias}.status = {}", next()));
                        }
                        if search.before.is_some() {
                            sql.push_str(&format!(" AND {alias}.id < {}", next()));
                        }
                        sql
                    };
                    let mut sql = if text.is_some() {
                        // The ids come straight from the union of the text's matches (each branch
                        // filtered), and only they are sorted: joining them back to `licenses`
                        // let PostgreSQL walk the whole primary key backwards to find old matches.
                        // Placeholders numbered in the order they appear (and are bound below).
                        let p_ref = next();
                        let order_ref = filters("o", &mut next);
                        let p_email = next();
                        let email = filters("m", &mut next);
                        let (p_low, p_high) = (next(), next());
                        let name = filters("m", &mut next);
                        format!(
                            "SELECT id FROM ( \
                               SELECT o.id FROM licenses o WHERE o.order_ref = {p_ref}{order_ref} \
                               UNION SELECT m.id FROM licenses m JOIN customers c ON c.id = m.customer_id \
                                 WHERE LOWER(c.email) = LOWER({p_email}){email} \
                               UNION SELECT m.id FROM licenses m JOIN customers c ON c.id = m.customer_id \
                                 WHERE {NAME} >= {p_low} AND {NAME} < {p_high}{name}) s"
                        )
                    } else {
                        format!("SELECT l.id FROM licenses l WHERE 1 = 1{}", filters("l", &mut next))
                    };
                    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", next()));
                    // A name prefix as a range: every string that starts with `low` sorts at or
                    // after it and before `low` followed by the highest code point.
                    let low = text.map(str::to_lowercase).unwrap_or_default();
                    let high = format!("{low}\u{10FFFF}");
                    // Only the fixed fragments above make up `sql`; every value is bound.
                    let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
                    // Bound in the placeholders' order: per branch, its text value(s), then the
                    // filters.
                    for branch in 0..(if text.is_some() { 3 } else { 1 }) {
                        if let Some(text) = text {
                            match branch {
                                0 | 1 => query = query.bind(text),
                                _ => query = query.bind(low.clone()).bind(high.clone()),
                            }
                        }
                        if let Some(product_id) = search.product_id {
                            query = query.bind(product_id.get());
                        }
                        if let Some(status) = search.status {
                            query = query.bind(status.as_str());
                        }
                        if let Some(before) = search.before {
                            query = query.bind(before);
                        }
                    }
                    // Not a cached prepared statement: PostgreSQL then plans each search with its
                    // values (a generic plan would guess a filter's selectivity and may walk the
                    // whole primary key for a rare product and status).
                    query
                        .bind(search.limit)
                        .persistent(false)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)
                }
                async fn slascone_customer_rows(
                    &self,
                    before: Option<i64>,
                    limit: i64,
                ) -> Result<Vec<SlasconeCustomerRow>> {
                    let rows = sqlx::query(
                        "SELECT c.id, c.email, c.company, c.created_at, p.customer_number, p.prospect_number, \
                                p.country, p.language \
                         FROM slascone_customers p JOIN customers c ON c.id = p.customer_id \
                         WHERE ($1 IS NULL OR p.customer_id < $1) ORDER BY p.customer_id DESC LIMIT $2",
                    )
                    .bind(before)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter()
                        .map(|row| {
                            Ok(SlasconeCustomerRow {
                                customer_id: CustomerId::new(get(row, "id")?),
                                email: get(row, "email")?,
                                company: get(row, "company")?,
                                customer_number: get(row, "customer_number")?,
                                prospect_number: get(row, "prospect_number")?,
                                country: get(row, "country")?,
                                language: get(row, "language")?,
                                created_at: get(row, "created_at")?,
                            })
                        })
                        .collect()
                }

                async fn recent_events(
                    &self,
                    filter: &EventFilter,
                    before: Option<i64>,
                    limit: i64,
                ) -> Result<Vec<Event>> {
                    // One statement shape per combination of filters (values bound), so each
                    // walks its index newest first: (subject_type, subject_id, id), (action, id),
                    // (subject_type, id) or the primary key (migrations 0001 and 703).
                    let mut sql = String::from(
                        "SELECT id, at, actor, source_ip, action, subject_type, subject_id, data FROM events WHERE 1 = 1",
                    );
                    let mut n = 0;
                    let mut next = || {
                        n += 1;
                        format!("${n}")
                    };
                    if filter.subject_type.is_some() {
                        sql.push_str(&format!(" AND subject_type = {}", next()));
                    }
                    if filter.subject_id.is_some() {
                        sql.push_str(&format!(" AND subject_id = {}", next()));
                    }
                    if filter.action.is_some() {
                        sql.push_str(&format!(" AND action = {}", next()));
                    }
                    if before.is_some() {
                        sql.push_str(&format!(" AND id < {}", next()));
                    }
                    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", next()));
                    // Only the fixed fragments above make up `sql`; every value is bound.
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    if let Some(subject_type) = filter.subject_type.as_deref() {
                        query = query.bind(subject_type);
                    }
                    if let Some(subject_id) = filter.subject_id {
                        query = query.bind(subject_id);
                    }
                    if let Some(action) = filter.action.as_deref() {
                        query = query.bind(action);
                    }
                    if let Some(before) = before {
                        query = query.bind(before);
                    }
                    let rows = query
                        .bind(limit)
                        .persistent(false)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                    rows.iter()
                        .map(|row| {
                            let data: String = get(row, "data")?;
                            Ok(Event {
                                id: get(row, "id")?,
                                at: get(row, "at")?,
                                actor: get(row, "actor")?,
                                source_ip: get(row, "source_ip")?,
                                action: get(row, "action")?,
                                subject_type: get(row, "subject_type")?,
                                subject_id: get(row, "subject_id")?,
                                data: from_json(&data, "event data")?,
                            })
                        })
                        .collect()
                }
            }
        };
    };
}

impl_console_search!(SqliteStore, sqlite, "LOWER(c.name)");
impl_console_search!(PostgresStore, postgres, "(LOWER(c.name) COLLATE \"C\")");
