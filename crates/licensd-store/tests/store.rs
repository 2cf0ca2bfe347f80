//! The storage conformance suite: every case runs against SQLite (a fresh temp file per test) and
//! PostgreSQL (a fresh database per test on the server `LICENSD_TEST_PG_URL` names), so both
//! backends are held to one contract: the doc comments of the `Store` trait.
//!
//! Each case is an `async fn(Db)` in a submodule under `tests/store/`; `backend_tests!` below turns
//! every listed case into `sqlite::<case>` and `postgres::<case>` tests. Without
//! `LICENSD_TEST_PG_URL` the PostgreSQL variants fail, unless `LICENSD_TEST_SKIP_PG=1`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "an integration-test crate: a failed unwrap is a failed test, with its message"
)]

#[path = "store/activation.rs"]
mod activation;
#[path = "store/active_devices.rs"]
mod active_devices;
#[path = "store/basics.rs"]
mod basics;
#[path = "store/catalog.rs"]
mod catalog;
#[path = "store/concurrency.rs"]
mod concurrency;
#[path = "store/console.rs"]
mod console;
#[path = "store/consumption.rs"]
mod consumption;
#[path = "store/dna.rs"]
mod dna;
#[path = "store/durability.rs"]
mod durability;
#[path = "store/events.rs"]
mod events;
#[path = "store/floating.rs"]
mod floating;
#[path = "store/harness.rs"]
mod harness;
#[path = "store/input.rs"]
mod input;
#[path = "store/keymanager.rs"]
mod keymanager;
#[path = "store/licenses.rs"]
mod licenses;
#[path = "store/licensespring.rs"]
mod licensespring;
#[path = "store/ls_bundles.rs"]
mod ls_bundles;
#[path = "store/outbox.rs"]
mod outbox;
#[path = "store/people.rs"]
mod people;
#[path = "store/pg_cache.rs"]
mod pg_cache;
#[path = "store/schema.rs"]
mod schema;
#[path = "store/secrets.rs"]
mod secrets;
#[path = "store/slascone.rs"]
mod slascone;
#[path = "store/slascone_admin.rs"]
mod slascone_admin;
#[path = "store/slascone_backoffice.rs"]
mod slascone_backoffice;
#[path = "store/transfer.rs"]
mod transfer;
#[path = "store/validation.rs"]
mod validation;

/// `module::case` runs with the default pool; `module::case @ N` with a pool of N connections.
macro_rules! backend_tests {
    ($($module:ident :: $case:ident $(@ $pool:literal)?),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::harness::run(crate::harness::Kind::Sqlite, stringify!($case), crate::harness::pool_size(&[$($pool)?]), crate::$module::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::harness::run(crate::harness::Kind::Postgres, stringify!($case), crate::harness::pool_size(&[$($pool)?]), crate::$module::$case).await;
                }
            )*
        }
    };
}

backend_tests! {
    // the admin console's storage
    console::console_sessions_expire_and_end_with_their_token,
    console::read_only_admin_tokens,
    console::admin_token_limits_round_trip,
    console::licence_search_filters_and_pages_by_keyset,
    console::dashboard_counts_and_daily_activity,
    console::dashboard_tallies_equal_counts_after_every_write,
    console::reset_consumption_zeroes_counters_with_its_event,
    // export / import
    transfer::every_table_is_exported,
    transfer::export_refuses_a_table_it_does_not_cover,
    transfer::values_survive_a_trip_through_the_other_engine,
    transfer::import_refuses_non_empty_databases_and_bad_files,
    // The outbox (webhook deliveries)
    outbox::outbox_claim_record_and_retry,
    outbox::outbox_expired_claims_are_taken_again,
    outbox::outbox_concurrent_claims_are_disjoint @ 16,
    outbox::outbox_delivery_commits_with_the_assignment,
    // Key Manager dialect storage
    keymanager::km_settings_blocks_and_product_keys,
    keymanager::km_metadata_per_owner,
    keymanager::km_generators_and_assignment,
    keymanager::km_contract_quota_holds_under_concurrency @ 16,
    keymanager::km_downloadables_and_telemetry,
    // 1. basics
    basics::migrate_is_idempotent_and_ping_reports_backend,
    basics::concurrent_migrations_of_a_fresh_database,
    basics::corrupt_rows_are_reported_as_corrupt,
    basics::unknown_ids_are_not_found,
    input::a_value_postgres_refuses_is_invalid_input,
    // 2-3. catalog
    catalog::products_crud,
    catalog::products_list_pages_by_cursor,
    catalog::product_with_licenses_cannot_be_deleted,
    catalog::product_deletion_refuses_or_cascades,
    catalog::referenced_rows_cannot_be_deleted,
    catalog::features_crud,
    catalog::policies_crud,
    // 4. customers and license users
    people::customers_crud,
    people::license_users_crud,
    people::assign_license_user_respects_max_users,
    // 5. licenses
    licenses::bulk_create_licenses,
    licenses::bulk_create_is_all_or_nothing,
    licenses::license_keys_are_found_and_stored_sealed,
    licenses::list_licenses_filters_and_pages,
    licenses::edit_license_never_touches_counters,
    licenses::license_features_carry_overrides,
    licenses::edit_license_replaces_feature_grants_keeping_counters,
    licenses::delete_license,
    // 6. validation
    validation::validate_fresh_license_without_fingerprint,
    validation::validate_device_states,
    validation::validate_expiry_and_grace,
    validation::validate_unknown_license,
    validation::validate_writes_nothing,
    // 7. activation
    activation::activate_new_device_records_it,
    activation::activating_an_active_device_again_consumes_nothing,
    activation::activation_limit_is_exact,
    activation::blocked_devices_are_refused,
    activation::vm_refused_when_not_allowed,
    activation::license_and_product_states_are_refused,
    activation::deactivate_frees_the_slot,
    activation::deactivate_unknown_device_is_denied,
    activation::transfer_limit_is_exact,
    activation::reactivating_a_deactivated_device_reuses_its_row,
    activation::trial_expiry_starts_at_first_activation,
    activation::reactivation_lockout,
    activation::deactivate_device_by_id,
    activation::per_user_activation_limit,
    active_devices::active_device_count_is_exact_on_every_path,
    active_devices::active_device_count_migration_back_fills,
    // 8. consumption
    consumption::consumption_cap_is_exact,
    consumption::consumption_overages,
    consumption::negative_consumption,
    consumption::idempotency_key_replays_without_counting,
    consumption::consumption_on_non_consumption_license_is_denied,
    consumption::consumption_resets_each_period,
    consumption::feature_consumption_with_override_cap,
    consumption::feature_consumption_denials,
    consumption::feature_consumption_resets_each_period,
    // 9. floating
    floating::floating_seats_are_exact,
    floating::lease_renewal_release_and_expiry,
    floating::borrowing,
    floating::floating_denials,
    // 10. secrets
    secrets::credentials_crud,
    secrets::credential_and_product_read_together,
    secrets::admin_tokens,
    secrets::signing_keys_ensure_and_rotate,
    secrets::secrets_are_stored_sealed_or_digested,
    // 11. event log
    events::state_changes_append_events,
    events::denied_commands_append_no_events,
    events::list_events_filters_and_pages,
    // 12. concurrency
    concurrency::concurrent_distinct_activations_respect_limit @ 16,
    concurrency::concurrent_same_device_activations @ 16,
    concurrency::concurrent_consumption_respects_cap @ 16,
    concurrency::concurrent_floating_checkouts_respect_seats @ 16,
    concurrency::concurrent_idempotent_consumption_counts_once @ 16,
    concurrency::concurrent_edits_never_lose_counter_updates @ 16,
    concurrency::concurrent_assignments_respect_max_users @ 16,
    concurrency::concurrent_transfers_respect_limit @ 16,
    concurrency::concurrent_duplicate_creates_conflict @ 16,
    concurrency::concurrent_ensure_signing_key_keeps_one_active @ 16,
    concurrency::concurrent_bootstrap_creates_one_admin_token @ 16,
    concurrency::concurrent_feature_consumption_respects_cap @ 16,
    concurrency::concurrent_deactivations_count_once @ 16,
    concurrency::concurrent_same_device_checkouts @ 16,
    // LicenseSpring dialect storage
    licensespring::feature_seats_checkout_renew_release,
    licensespring::feature_seat_borrowing,
    licensespring::concurrent_feature_checkouts_respect_seats @ 16,
    licensespring::user_licenses_and_customer_lookup,
    licensespring::device_variables_merge_under_the_lock,
    licensespring::product_versions_crud,
    ls_bundles::bundle_membership,
    ls_bundles::bundle_activation_is_atomic,
    ls_bundles::concurrent_bundle_activations_respect_member_limits @ 16,
    // DNA dialect storage
    dna::dna_ip_lockout_counts_failures_per_ip,
    dna::dna_passwords_reset_codes_and_license_data,
    dna::dna_info_tags_and_facts,
    dna::dna_concurrent_failures_are_all_counted @ 16,
    // SLASCONE dialect storage
    slascone::slascone_token_keys_are_issued_once_and_found,
    slascone::slascone_token_keys_are_stored_sealed,
    slascone::slascone_concurrent_token_issue_agrees,
    slascone::slascone_rollback_gives_units_back_once,
    slascone::slascone_data_gathering_definitions_and_reports,
    slascone::slascone_licenses_of_a_user,
    slascone_backoffice::slascone_entries_are_unique_per_kind_and_scope,
    slascone_backoffice::slascone_customers_are_created_whole_or_not_at_all,
    slascone_backoffice::slascone_tags_values_and_legacy_keys,
    slascone_backoffice::slascone_a_product_keeps_its_last_edition,
    slascone_backoffice::slascone_license_limits_respect_assignments,
    slascone_backoffice::slascone_create_license_and_add_user_are_one_transaction,
    slascone_admin::slascone_isv_id_is_recorded_once,
    slascone_admin::slascone_license_update_is_all_or_nothing,
}

/// PostgreSQL only: the per-node read cache exists there alone (SQLite's is invalidated by its
/// own commits and tested in `read_cache.rs` and the HTTP suite).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_read_cache_staleness_is_bounded_across_two_nodes() {
    harness::run(
        harness::Kind::Postgres,
        "pg_read_cache",
        harness::pool_size(&[8]),
        pg_cache::staleness_is_bounded_across_two_nodes,
    )
    .await;
}

/// PostgreSQL only: a node turning its cache on never makes another node's write its deadlock
/// victim.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_read_cache_trigger_install_gives_way_to_writes() {
    harness::run(
        harness::Kind::Postgres,
        "pg_cache_install",
        harness::pool_size(&[8]),
        pg_cache::trigger_install_gives_way_to_writes,
    )
    .await;
}

/// SQLite only: `PRAGMA synchronous` is the configured one on every connection of a store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_every_connection_has_the_configured_synchronous() {
    durability::every_connection_has_the_configured_synchronous().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_in_memory_store_has_the_configured_synchronous() {
    durability::an_in_memory_store_has_the_configured_synchronous().await;
}

#[test]
fn sqlite_synchronous_parses_full_or_normal_only() {
    durability::the_setting_parses_full_or_normal_only();
}
