//! The native API's fragment of the OpenAPI document (`crate::openapi` assembles the whole
//! document from it and the dialects' fragments), generated from the handlers' annotations so it
//! cannot drift.
//! Enum schemas list exactly the texts the server reads and writes (`"evaluation"`, not the
//! variant name `"Evaluation"`): `api::fidelity::native_openapi_enums_agree_with_the_server` walks
//! this document, sends every documented enum value of every request (body fields, query and path
//! parameters) and expects it accepted, sends undocumented spellings and expects a 4xx, and checks
//! every enum value in the answers is documented.

use super::{access, catalog, client, licence_file, licenses, people, webhooks};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "licensd API", description = "Management (admin bearer token) and client API of licensd, the self-hosted licensing server. Instants are integer milliseconds since the Unix epoch, UTC."),
    paths(
        catalog::create_product, catalog::list_products, catalog::get_product, catalog::update_product, catalog::delete_product,
        catalog::create_feature, catalog::list_features, catalog::get_feature, catalog::update_feature, catalog::delete_feature,
        catalog::create_policy, catalog::list_policies, catalog::get_policy, catalog::update_policy, catalog::delete_policy,
        licenses::create_license, licenses::bulk_create_licenses, licenses::list_licenses, licenses::get_license, licenses::update_license,
        licenses::enable_license, licenses::disable_license, licenses::reset_consumption, licenses::block_license, licenses::delete_license,
        licenses::list_devices, licenses::list_leases, licenses::get_device, licenses::deactivate_device,
        licenses::block_device, licenses::list_blocked_devices, licenses::unblock_device,
        people::create_customer, people::list_customers, people::get_customer, people::update_customer, people::delete_customer,
        people::create_license_user, people::list_license_users, people::get_license_user, people::delete_license_user,
        people::set_license_user_password, people::assign_user, people::unassign_user, people::users_of_license,
        access::create_credential, access::list_credentials, access::revoke_credential,
        access::create_admin_token, access::list_admin_tokens, access::revoke_admin_token,
        access::list_signing_keys, access::rotate_signing_key, access::list_events,
        webhooks::create_webhook, webhooks::list_webhooks, webhooks::get_webhook, webhooks::update_webhook, webhooks::delete_webhook,
        webhooks::list_webhook_deliveries, webhooks::redeliver,
        client::validate, client::activate, client::deactivate, client::consume, client::checkout, client::release,
        licence_file::checkout_file, licence_file::issue_license_file,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
