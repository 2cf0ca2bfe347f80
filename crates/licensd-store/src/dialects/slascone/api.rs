//! The concepts SLASCONE brought into the domain, one capability trait each (`TokenStore`,
//! `ConsumptionRollbackStore`, `AnalyticsStore`, `BackofficeStore`, `LegacyKeyStore`), and the
//! values they take and return. The SQL behind them (one implementation for SQLite and
//! PostgreSQL) is in `mod.rs` and its files.

use super::*;

/// A change of a license's limits and expiry, checked against its assignments under its lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseLimitsUpdate {
    /// Tokens (max activations); refused below the active devices.
    pub token_limit: Option<i64>,
    /// License users; refused below the assigned users.
    pub user_limit: Option<i64>,
    /// A fixed expiry (`expires_at`, clearing days-after-activation).
    pub expires_at: Option<Millis>,
    /// Days after the first activation (`trial_days`, clearing a fixed expiry); refused while a
    /// token is assigned.
    pub days_after_activation: Option<i64>,
}

/// A license created from a SLASCONE edition, with the values SLASCONE keeps beside it.
#[derive(Debug, Clone)]
pub struct SlasconeNewLicense {
    pub license: NewLicense,
    pub legacy_key: Option<String>,
    /// `(entry id, value)`: license type and release limitation (value empty) and variables.
    pub values: Vec<(i64, String)>,
}

/// The events `create_license_from_edition` logs on success.
#[derive(Debug, Clone)]
pub struct SlasconeCreateEvents {
    pub created: EventDraft,
    pub legacy: EventDraft,
    pub value: EventDraft,
}

/// One token key: the assignment of a license's token to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlasconeToken {
    pub license_id: LicenseId,
    pub client_id: String,
    pub token_key: String,
    pub created_at: Millis,
}

/// One analytical value as reported: the field, its value (text, or a JSON array of texts) and
/// the instant the client measured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticalReport {
    pub field_id: i64,
    pub value: String,
    pub reported_at: Millis,
}

/// One usage count as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    pub usage_feature_id: i64,
    pub usage_module_id: Option<i64>,
    pub value: i64,
    pub reported_at: Millis,
}

/// Summed usage of a license per usage feature and module (feature totals without a module first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageTotal {
    pub usage_feature_id: i64,
    pub usage_module_id: Option<i64>,
    pub total: i64,
}

/// The outcome of rolling back a consumption transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumptionRollback {
    pub license_id: LicenseId,
    pub feature_id: i64,
    /// The feature's counter after the rollback.
    pub total: i64,
    /// True when the transaction had been rolled back before (nothing changed this time).
    pub replayed: bool,
}

/// Token keys: one per (licence, client), claimed by the next client once free.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The token key of (license, client), recording `candidate` as that key when there is none
    /// yet. Idempotent and safe under concurrency: two racing calls return the same key.
    /// NotFound when the license does not exist.
    async fn token_for(
        &self,
        license_id: LicenseId,
        client_id: &str,
        candidate: &str,
        now: Millis,
    ) -> Result<SlasconeToken>;

    /// Hands the token a token key names to `client_id` when its holder no longer holds an active
    /// activation of the license (the token was unassigned: it is free again). Under the license's
    /// row lock; the client's own earlier, unassigned token row of that license gives way. Returns
    /// the token as it now stands, or `None` when its holder is active (the token is taken).
    /// NotFound when no token has that key.
    async fn claim_token(
        &self,
        token_key: &str,
        client_id: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<Option<SlasconeToken>>;

    /// The token key of (license, client), if one was ever issued.
    async fn token_of(&self, license_id: LicenseId, client_id: &str) -> Result<Option<SlasconeToken>>;

    /// The token a token key names, if any.
    async fn find_token(&self, token_key: &str) -> Result<Option<SlasconeToken>>;

    /// Every token ever issued to this client id, oldest first (heartbeats find the client's
    /// license through them).
    async fn client_tokens(&self, client_id: &str) -> Result<Vec<SlasconeToken>>;
}

/// Rolling back a recorded feature consumption (`licensd_domain::consumption_rollback`).
#[async_trait::async_trait]
pub trait ConsumptionRollbackStore: Send + Sync + 'static {
    /// Rolls back the feature consumption recorded as consumption event `transaction_id`, under
    /// the license row lock (`consumption_rollback::plan_rollback` decides). Idempotent: a second
    /// rollback of the same transaction changes nothing and reports `replayed`. NotFound when no
    /// feature consumption has that id; a rollback event is itself never rolled back
    /// (`Denied(ConsumptionAmountInvalid)`). With `product_scope`, a transaction of a license of
    /// another product is NotFound too (a product-scoped key cannot reach it).
    async fn rollback_consumption(
        &self,
        transaction_id: i64,
        product_scope: Option<ProductId>,
        event: EventDraft,
        now: Millis,
    ) -> Result<ConsumptionRollback>;
}

/// Data gathering (`licensd_domain::analytics`): analytical fields, usage features and modules per
/// product, and the values clients report.
#[async_trait::async_trait]
pub trait AnalyticsStore: Send + Sync + 'static {
    async fn create_analytical_field(
        &self,
        product_id: ProductId,
        name: &str,
        field_type: AnalyticalFieldType,
        event: EventDraft,
        now: Millis,
    ) -> Result<AnalyticalField>;

    async fn analytical_fields(&self, product_id: ProductId) -> Result<Vec<AnalyticalField>>;

    async fn create_usage_feature(
        &self,
        product_id: ProductId,
        name: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<UsageFeature>;

    async fn usage_features(&self, product_id: ProductId) -> Result<Vec<UsageFeature>>;

    /// NotFound without the usage feature.
    async fn create_usage_module(
        &self,
        usage_feature_id: i64,
        name: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<UsageModule>;

    async fn usage_modules(&self, usage_feature_id: i64) -> Result<Vec<UsageModule>>;

    /// Records one analytical heartbeat: all its values or none.
    async fn record_analytics(
        &self,
        license_id: LicenseId,
        client_id: &str,
        reports: Vec<AnalyticalReport>,
        now: Millis,
    ) -> Result<()>;

    /// Every analytical value reported for the license, in arrival order.
    async fn analytical_values(&self, license_id: LicenseId) -> Result<Vec<AnalyticalReport>>;

    /// Records one usage heartbeat: all its counts or none.
    async fn record_usage(
        &self,
        license_id: LicenseId,
        client_id: &str,
        reports: Vec<UsageReport>,
        now: Millis,
    ) -> Result<()>;

    async fn usage_totals(&self, license_id: LicenseId) -> Result<Vec<UsageTotal>>;
}

/// The back office (`licensd_domain::backoffice`): named entries (customer types, tags, variables,
/// licence types, …), customer profiles, tags, licence values and limits, editions, licences
/// created from an edition.
#[async_trait::async_trait]
pub trait BackofficeStore: Send + Sync + 'static {
    /// Creates a named entry. `Conflict(CONFLICT_ENTRY_EXISTS)` when (kind, scope, name) exists.
    /// The caller checks that the scope (product, reseller) exists.
    async fn create_entry(
        &self,
        kind: EntryKind,
        scope_id: i64,
        name: &str,
        detail: Option<&str>,
        event: EventDraft,
        now: Millis,
    ) -> Result<Entry>;

    /// Entries of a kind, in id order; with `scope_id`, only that scope's.
    async fn list_entries(&self, kind: EntryKind, scope_id: Option<i64>) -> Result<Vec<Entry>>;

    /// The entry with this id if it is of this kind.
    async fn find_entry(&self, kind: EntryKind, id: i64) -> Result<Option<Entry>>;

    /// Creates a core customer (`reference` = customer number) and its SLASCONE profile in one
    /// transaction (`profile.customer_id` is ignored). Conflicts: `CONFLICT_CUSTOMER_NUMBER`,
    /// `CONFLICT_CUSTOMER_EMAIL`, `CONFLICT_PROSPECT_NUMBER`; nothing is stored on a refusal.
    async fn create_customer_with_profile(
        &self,
        email: &str,
        company: &str,
        profile: CustomerProfile,
        event: EventDraft,
        now: Millis,
    ) -> Result<(Customer, CustomerProfile)>;

    async fn customer_profile(&self, customer_id: CustomerId) -> Result<Option<CustomerProfile>>;

    /// Assigns a tag to a customer or license. NotFound when the tag or the target does not
    /// exist; `Conflict(CONFLICT_TAG_ASSIGNED)` when the assignment exists.
    async fn assign_tag(
        &self,
        tag_id: i64,
        target: TagTarget,
        target_id: i64,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;

    async fn tags_of(&self, target: TagTarget, target_id: i64) -> Result<Vec<Entry>>;

    /// Sets the license's value of a variable, or its license type (an entry of kind
    /// `LicenseType`, value empty), replacing its previous type. NotFound without the license.
    async fn set_license_value(
        &self,
        license_id: LicenseId,
        entry_id: i64,
        value: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;

    /// Removes the license's values of a kind (a reset software release limitation).
    async fn clear_license_values(
        &self,
        license_id: LicenseId,
        kind: EntryKind,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;

    /// Changes a license's limits and expiry under its row lock. NotFound without the license;
    /// `Conflict(CONFLICT_TOKENS_IN_USE | CONFLICT_USERS_IN_USE | CONFLICT_EXPIRATION_MODE)`
    /// refuses the whole update.
    async fn update_license_limits(
        &self,
        license_id: LicenseId,
        update: LicenseLimitsUpdate,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;

    /// The license's variable values and license type with their entries, in entry id order.
    async fn license_values(&self, license_id: LicenseId) -> Result<Vec<(Entry, String)>>;

    /// Creates a license from an edition with its SLASCONE values, all in one transaction: the
    /// license and its feature grants (event `created`), its legacy key (event `legacy`), and each
    /// `(entry id, value)` as `set_license_value` sets it (event `value`, once per value).
    /// A refusal changes nothing and logs no event: `Conflict(CONFLICT_LEGACY_KEY)` when another
    /// license has the legacy key, NotFound for an unknown entry, and `create_licenses`' refusals
    /// of the license itself.
    async fn create_license_from_edition(
        &self,
        new: SlasconeNewLicense,
        events: SlasconeCreateEvents,
        now: Millis,
    ) -> Result<License>;

    /// Adds a license user to a license in one transaction: finds the user by `new.email` or creates
    /// it (event `created`), then assigns it (event `assigned`). Returns the user and whether this
    /// call created it. A refusal changes nothing and logs no event (no user is left behind):
    /// NotFound without the license, `Conflict(CONFLICT_USER_ASSIGNED)` when the user is already
    /// assigned, `Denied(LicenseUserLimitReached)` at the license's user limit.
    async fn add_license_user(
        &self,
        license_id: LicenseId,
        new: NewLicenseUser,
        created: EventDraft,
        assigned: EventDraft,
        now: Millis,
    ) -> Result<(LicenseUser, bool)>;

    /// Deletes an edition (policy). `Conflict(CONFLICT_LAST_EDITION)` when it is its product's
    /// only one, `Conflict(CONFLICT_EDITION_IN_USE)` while licenses reference it; NotFound.
    async fn delete_edition(&self, policy_id: i64, event: EventDraft, now: Millis) -> Result<()>;

    /// Toggles the license between active and inactive (SLASCONE's license state) in one statement
    /// under the row lock, with its event: an active license becomes `disabled`, any other status
    /// (disabled, blocked, suspended) becomes `active`. Returns the new status; NotFound when the
    /// license does not exist.
    async fn toggle_license(&self, license_id: LicenseId, event: EventDraft, now: Millis) -> Result<LicenseStatus>;
}

/// Legacy licence keys of migrated licences.
#[async_trait::async_trait]
pub trait LegacyKeyStore: Send + Sync + 'static {
    /// Records the legacy license key of a migrated license (`Conflict(CONFLICT_LEGACY_KEY)` when
    /// another license has it).
    async fn set_legacy_key(
        &self,
        license_id: LicenseId,
        legacy_key: &str,
        event: EventDraft,
        now: Millis,
    ) -> Result<()>;

    /// The license a legacy license key names.
    async fn license_of_legacy_key(&self, legacy_key: &str) -> Result<Option<LicenseId>>;

    /// The legacy license key of a license, if it has one.
    async fn legacy_key_of(&self, license_id: LicenseId) -> Result<Option<String>>;
}
