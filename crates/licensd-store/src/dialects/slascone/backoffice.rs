//! Back-office entries (editions, tags, license types…), customers, license values and limits,
//! legacy keys, and deleting editions or toggling licenses.

/// Implements `BackofficeStore` and `LegacyKeyStore` for one store type. Expanded inside
/// `impl_slascone_store!`, so the row helpers and `log_event` there are in scope.
macro_rules! impl_slascone_backoffice {
    ($store:ty, $row:ty, $conn:ty, $core:ident) => {
        #[async_trait::async_trait]
        impl BackofficeStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(scope_id = scope_id))]
            async fn create_entry(
                &self,
                kind: EntryKind,
                scope_id: i64,
                name: &str,
                detail: Option<&str>,
                event: EventDraft,
                now: Millis,
            ) -> Result<Entry> {
                let mut tx = begin_write(self).await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO slascone_entries (kind, scope_id, name, detail, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(kind.as_str())
                .bind(scope_id)
                .bind(name)
                .bind(detail)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict(CONFLICT_ENTRY_EXISTS, "entry reference does not exist"))?;
                log_event(&mut tx, event, id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(Entry { id, kind, scope_id, name: name.to_owned(), detail: detail.map(str::to_owned), created_at: now })
            }

            #[tracing::instrument(level = "debug", skip_all, fields(scope_id = scope_id))]
            async fn list_entries(&self, kind: EntryKind, scope_id: Option<i64>) -> Result<Vec<Entry>> {
                let found = sqlx::query(
                    "SELECT id, kind, scope_id, name, detail, created_at FROM slascone_entries \
                     WHERE kind = $1 AND ($2 IS NULL OR scope_id = $2) ORDER BY id",
                )
                .bind(kind.as_str())
                .bind(scope_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                found.iter().map(entry_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
            async fn find_entry(&self, kind: EntryKind, id: i64) -> Result<Option<Entry>> {
                let query = sqlx::query(
                    "SELECT id, kind, scope_id, name, detail, created_at FROM slascone_entries WHERE id = $1 AND kind = $2",
                )
                .bind(id)
                .bind(kind.as_str());
                fetch_optional(&self.pool, query, entry_from_row).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_customer_with_profile(
                &self,
                email: &str,
                company: &str,
                profile: CustomerProfile,
                event: EventDraft,
                now: Millis,
            ) -> Result<(Customer, CustomerProfile)> {
                let mut tx = begin_write(self).await?;
                // Checked inside the write transaction so the refusal names the field; the UNIQUE
                // keys still decide a race (then reported as a duplicate number).
                let number: Option<i64> =
                    sqlx::query_scalar("SELECT customer_id FROM slascone_customers WHERE customer_number = $1")
                        .bind(&profile.customer_number)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                if number.is_some() {
                    return Err(StoreError::Conflict(CONFLICT_CUSTOMER_NUMBER.into()));
                }
                if let Some(prospect) = &profile.prospect_number {
                    let taken: Option<i64> =
                        sqlx::query_scalar("SELECT customer_id FROM slascone_customers WHERE prospect_number = $1")
                            .bind(prospect)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    if taken.is_some() {
                        return Err(StoreError::Conflict(CONFLICT_PROSPECT_NUMBER.into()));
                    }
                }
                let row = sqlx::query(
                    "INSERT INTO customers (email, name, company, reference, metadata, created_at) \
                     VALUES ($1, NULL, $2, $3, '{}', $4) RETURNING id",
                )
                .bind(email)
                .bind(company)
                .bind(&profile.customer_number)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict(CONFLICT_CUSTOMER_EMAIL, "customer reference"))?;
                let id: i64 = row.try_get("id").map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO slascone_customers \
                     (customer_id, customer_number, prospect_number, customer_type_id, country, language) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id)
                .bind(&profile.customer_number)
                .bind(&profile.prospect_number)
                .bind(profile.customer_type_id)
                .bind(&profile.country)
                .bind(&profile.language)
                .execute(&mut *tx)
                .await
                .map_err(conflict(CONFLICT_CUSTOMER_NUMBER, "customer type does not exist"))?;
                log_event(&mut tx, event, id, now).await?;
                tx.commit().await.map_err(db_err)?;
                let customer = Customer {
                    id: CustomerId::new(id),
                    email: Some(email.to_owned()),
                    name: None,
                    company: Some(company.to_owned()),
                    reference: Some(profile.customer_number.clone()),
                    metadata: serde_json::json!({}),
                    created_at: now,
                };
                Ok((customer, CustomerProfile { customer_id: CustomerId::new(id), ..profile }))
            }

            #[tracing::instrument(level = "debug", skip_all, fields(customer_id = customer_id.get()))]
            async fn customer_profile(&self, customer_id: CustomerId) -> Result<Option<CustomerProfile>> {
                let query = sqlx::query(
                    "SELECT customer_id, customer_number, prospect_number, customer_type_id, country, language \
                     FROM slascone_customers WHERE customer_id = $1",
                )
                .bind(customer_id.get());
                fetch_optional(&self.pool, query, |row| {
                    Ok(CustomerProfile {
                        customer_id: CustomerId::new(row.try_get("customer_id").map_err(db_err)?),
                        customer_number: row.try_get("customer_number").map_err(db_err)?,
                        prospect_number: row.try_get("prospect_number").map_err(db_err)?,
                        customer_type_id: row.try_get("customer_type_id").map_err(db_err)?,
                        country: row.try_get("country").map_err(db_err)?,
                        language: row.try_get("language").map_err(db_err)?,
                    })
                })
                .await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(tag_id = tag_id, target_id = target_id))]
            async fn assign_tag(
                &self,
                tag_id: i64,
                target: TagTarget,
                target_id: i64,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                let tag: Option<i64> = sqlx::query_scalar("SELECT id FROM slascone_entries WHERE id = $1 AND kind = $2")
                    .bind(tag_id)
                    .bind(EntryKind::Tag.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let target_sql = match target {
                    TagTarget::Customer => "SELECT id FROM customers WHERE id = $1",
                    TagTarget::License => "SELECT id FROM licenses WHERE id = $1",
                };
                let exists: Option<i64> = sqlx::query_scalar(target_sql)
                    .bind(target_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if tag.is_none() || exists.is_none() {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(
                    "INSERT INTO slascone_tag_assignments (tag_id, target_type, target_id, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(tag_id)
                .bind(target.as_str())
                .bind(target_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(conflict(CONFLICT_TAG_ASSIGNED, "tag does not exist"))?;
                log_event(&mut tx, event, tag_id, now).await?;
                tx.commit().await.map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(target_id = target_id))]
            async fn tags_of(&self, target: TagTarget, target_id: i64) -> Result<Vec<Entry>> {
                let found = sqlx::query(
                    "SELECT e.id, e.kind, e.scope_id, e.name, e.detail, e.created_at FROM slascone_tag_assignments a \
                     JOIN slascone_entries e ON e.id = a.tag_id WHERE a.target_type = $1 AND a.target_id = $2 ORDER BY e.id",
                )
                .bind(target.as_str())
                .bind(target_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                found.iter().map(entry_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get(), entry_id = entry_id))]
            async fn set_license_value(
                &self,
                license_id: LicenseId,
                entry_id: i64,
                value: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                put_license_value(&mut tx, license_id, entry_id, value).await?;
                log_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn clear_license_values(
                &self,
                license_id: LicenseId,
                kind: EntryKind,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                delete_license_values(&mut tx, license_id, kind.as_str()).await?;
                log_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn update_license_limits(
                &self,
                license_id: LicenseId,
                update: LicenseLimitsUpdate,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                // The limits are one part of the license update (one definition of their checks).
                let update = crate::dialects::slascone_admin::LicenseUpdate {
                    limits: update,
                    ..Default::default()
                };
                crate::dialects::slascone_admin::LicenseUpdateStore::apply_license_update(
                    self, license_id, update, event, now,
                )
                .await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn license_values(&self, license_id: LicenseId) -> Result<Vec<(Entry, String)>> {
                let found = sqlx::query(
                    "SELECT e.id, e.kind, e.scope_id, e.name, e.detail, e.created_at, v.value FROM slascone_license_values v \
                     JOIN slascone_entries e ON e.id = v.entry_id WHERE v.license_id = $1 ORDER BY e.id",
                )
                .bind(license_id.get())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                found
                    .iter()
                    .map(|row| Ok((entry_from_row(row)?, row.try_get("value").map_err(db_err)?)))
                    .collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_license_from_edition(
                &self,
                new: SlasconeNewLicense,
                events: SlasconeCreateEvents,
                now: Millis,
            ) -> Result<License> {
                let SlasconeNewLicense { license: item, legacy_key, values } = new;
                let mut tx = begin_write(self).await?;
                // The same insert as every other issued license (grants included).
                let license_id = crate::$core::shared::insert_license(&mut tx, &*self.codec, &item, &mut Default::default(), now)
                    .await?
                    .id;
                log_event(&mut tx, events.created, license_id, now).await?;
                if let Some(legacy_key) = &legacy_key {
                    put_legacy_key(&mut tx, license_id, legacy_key).await?;
                    log_event(&mut tx, events.legacy, license_id, now).await?;
                }
                for (entry_id, value) in &values {
                    put_license_value(&mut tx, license_id, *entry_id, value).await?;
                    log_event(&mut tx, events.value.clone(), license_id, now).await?;
                }
                let license = crate::$core::shared::read_license(&mut tx, &*self.codec, &crate::LicenseRef::Id(license_id))
                    .await?
                    .ok_or(StoreError::NotFound)?;
                tx.commit().await.map_err(db_err)?;
                Ok(license)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn add_license_user(
                &self,
                license_id: LicenseId,
                new: NewLicenseUser,
                created: EventDraft,
                assigned: EventDraft,
                now: Millis,
            ) -> Result<(LicenseUser, bool)> {
                let mut tx = begin_write(self).await?;
                // The license's row lock first: concurrent additions to one license take turns.
                let license = crate::$core::shared::lock_license_or_deny(&mut tx, &*self.codec, &crate::LicenseRef::Id(license_id))
                    .await
                    .map_err(|e| match e {
                        StoreError::Denied(licensd_domain::Denial::LicenseNotFound) => StoreError::NotFound,
                        other => other,
                    })?;
                let existing = sqlx::query(concat!("SELECT ", crate::sql::user_cols!(), " FROM license_users WHERE email = $1"))
                    .bind(&new.email)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let (user, is_new) = match existing {
                    Some(row) => (license_user_from_row(&row)?, false),
                    None => {
                        let row = sqlx::query(concat!(
                            "INSERT INTO license_users (customer_id, email, name, password_hash, created_at) \
                             VALUES ($1, $2, $3, $4, $5) RETURNING ",
                            crate::sql::user_cols!()
                        ))
                        .bind(new.customer_id.map(i64::from))
                        .bind(&new.email)
                        .bind(&new.name)
                        .bind(&new.password_hash)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(conflict("license user email already exists", "customer does not exist"))?;
                        let user = license_user_from_row(&row)?;
                        log_event(&mut tx, created, user.id, now).await?;
                        (user, true)
                    }
                };
                let assigned_users: Vec<i64> =
                    sqlx::query_scalar("SELECT user_id FROM license_user_assignments WHERE license_id = $1")
                        .bind(license_id.get())
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err)?;
                if assigned_users.contains(&user.id) {
                    return Err(StoreError::Conflict(CONFLICT_USER_ASSIGNED.into()));
                }
                rules::check_user_assignment(&license, assigned_users.len() as i64)?;
                sqlx::query("INSERT INTO license_user_assignments (license_id, user_id, created_at) VALUES ($1, $2, $3)")
                    .bind(license_id.get())
                    .bind(user.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict(CONFLICT_USER_ASSIGNED, "license or license user does not exist"))?;
                log_event(&mut tx, assigned, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok((user, is_new))
            }

            #[tracing::instrument(level = "debug", skip_all, fields(policy_id = policy_id))]
            async fn delete_edition(&self, policy_id: i64, event: EventDraft, now: Millis) -> Result<()> {
                let mut tx = begin_write(self).await?;
                let product_id: Option<i64> = sqlx::query_scalar("SELECT product_id FROM policies WHERE id = $1")
                    .bind(policy_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let product_id = product_id.ok_or(StoreError::NotFound)?;
                // Lock the product row so two deletes of a product's last two editions serialise
                // (SQLite's BEGIN IMMEDIATE already does).
                sqlx::query("UPDATE products SET updated_at = updated_at WHERE id = $1")
                    .bind(product_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM policies WHERE product_id = $1")
                    .bind(product_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if count <= 1 {
                    return Err(StoreError::Conflict(CONFLICT_LAST_EDITION.into()));
                }
                sqlx::query("DELETE FROM policies WHERE id = $1")
                    .bind(policy_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict(CONFLICT_EDITION_IN_USE, CONFLICT_EDITION_IN_USE))?;
                log_event(&mut tx, event, policy_id, now).await?;
                tx.commit().await.map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn toggle_license(&self, license_id: LicenseId, event: EventDraft, now: Millis) -> Result<LicenseStatus> {
                let mut tx = begin_write(self).await?;
                let status: Option<String> = sqlx::query_scalar(
                    "UPDATE licenses SET status = CASE WHEN status = 'active' THEN 'disabled' ELSE 'active' END, \
                     updated_at = $2 WHERE id = $1 RETURNING status",
                )
                .bind(license_id.get())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let status = status.ok_or(StoreError::NotFound)?;
                let status = LicenseStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown license status {status:?}")))?;
                log_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(status)
            }
        }

        #[async_trait::async_trait]
        impl LegacyKeyStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn set_legacy_key(
                &self,
                license_id: LicenseId,
                legacy_key: &str,
                event: EventDraft,
                now: Millis,
            ) -> Result<()> {
                let mut tx = begin_write(self).await?;
                put_legacy_key(&mut tx, license_id, legacy_key).await?;
                log_event(&mut tx, event, license_id, now).await?;
                tx.commit().await.map_err(db_err)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn license_of_legacy_key(&self, legacy_key: &str) -> Result<Option<LicenseId>> {
                sqlx::query_scalar("SELECT license_id FROM slascone_legacy_keys WHERE legacy_key = $1")
                    .bind(legacy_key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)
                    .map(|id: Option<i64>| id.map(LicenseId::new))
            }

            #[tracing::instrument(level = "debug", skip_all, fields(license_id = license_id.get()))]
            async fn legacy_key_of(&self, license_id: LicenseId) -> Result<Option<String>> {
                sqlx::query_scalar("SELECT legacy_key FROM slascone_legacy_keys WHERE license_id = $1")
                    .bind(license_id.get())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)
            }
        }

        /// Replaces the license's legacy key (`Conflict(CONFLICT_LEGACY_KEY)` when another
        /// license has it, NotFound without the license).
        async fn put_legacy_key(conn: &mut $conn, license_id: LicenseId, legacy_key: &str) -> Result<()> {
            sqlx::query("DELETE FROM slascone_legacy_keys WHERE license_id = $1")
                .bind(license_id.get())
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            sqlx::query("INSERT INTO slascone_legacy_keys (legacy_key, license_id) VALUES ($1, $2)")
                .bind(legacy_key)
                .bind(license_id.get())
                .execute(&mut *conn)
                .await
                .map_err(|e| match conflict(CONFLICT_LEGACY_KEY, "license does not exist")(e) {
                    StoreError::Conflict(text) if text != CONFLICT_LEGACY_KEY => StoreError::NotFound,
                    other => other,
                })?;
            Ok(())
        }

        /// Removes the license's values of one kind of entry (`EntryKind::as_str`): how a type or
        /// release limitation is replaced or reset. `pub(crate)`: the licence update
        /// (`slascone_admin.rs`) replaces them too.
        pub(crate) async fn delete_license_values(conn: &mut $conn, license_id: LicenseId, kind: &str) -> Result<()> {
            sqlx::query(
                "DELETE FROM slascone_license_values WHERE license_id = $1 AND entry_id IN \
                 (SELECT id FROM slascone_entries WHERE kind = $2)",
            )
            .bind(license_id.get())
            .bind(kind)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(())
        }

        /// Sets the license's value of an entry (a type or release limitation replaces the
        /// license's previous one). NotFound without the entry or the license.
        async fn put_license_value(conn: &mut $conn, license_id: LicenseId, entry_id: i64, value: &str) -> Result<()> {
            let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM slascone_entries WHERE id = $1")
                .bind(entry_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
            let license: Option<i64> = sqlx::query_scalar("SELECT id FROM licenses WHERE id = $1")
                .bind(license_id.get())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
            let (Some(kind), Some(_)) = (kind, license) else {
                return Err(StoreError::NotFound);
            };
            if EntryKind::parse(&kind).is_some_and(EntryKind::single_per_license) {
                // A license has one type and one release limitation: the new replaces the old.
                delete_license_values(&mut *conn, license_id, &kind).await?;
            }
            sqlx::query(
                "INSERT INTO slascone_license_values (license_id, entry_id, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (license_id, entry_id) DO UPDATE SET value = excluded.value",
            )
            .bind(license_id.get())
            .bind(entry_id)
            .bind(value)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(())
        }

        fn license_user_from_row(row: &$row) -> Result<LicenseUser> {
            Ok(LicenseUser {
                id: row.try_get("id").map_err(db_err)?,
                customer_id: row.try_get::<Option<i64>, _>("customer_id").map_err(db_err)?.map(CustomerId::new),
                email: row.try_get("email").map_err(db_err)?,
                name: row.try_get("name").map_err(db_err)?,
                password_hash: row.try_get("password_hash").map_err(db_err)?,
                created_at: row.try_get("created_at").map_err(db_err)?,
            })
        }
    };
}
