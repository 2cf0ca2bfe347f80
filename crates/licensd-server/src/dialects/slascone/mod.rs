//! SLASCONE API v2 (issue 5), mounted at `/api/v2/isv/{isv_id}`.
//!
//! Software built on SLASCONE's provisioning API works against licensd by changing its base URL
//! and the public key it trusts (licensd's active RSA key, `GET /v1/signing-keys`).
//!
//! * **ISV id:** licensd serves one vendor, whose ISV id is `--slascone-isv-id`
//!   (`LICENSD_SLASCONE_ISV_ID`, `slascone_isv_id` in the config file); give it the ISV id the
//!   software was built with. Unset, licensd generates one on its first start and keeps it in the
//!   database (stable across restarts and nodes; logged at startup, printed by
//!   `licensd slascone isv-id` and `GET /v1/slascone/isv`). Any other well-formed GUID is another
//!   tenant's: a signed 401 ProblemDetails (`detail: "unknown ISV id"`), SLASCONE's answer to a key
//!   that is not valid there (reference §1.2; the seed has no conflict id for it), before any key
//!   or body is read (`isv.rs`, checked in `wire::IpGate`). A malformed one is 404.
//! * **GUIDs** compare without regard to case, as .NET's `Guid` does: product ids (product codes),
//!   license keys and token keys that are GUIDs, ISV ids and licensd's id GUIDs (`lookup.rs`).
//! * **Text bounds and formats** (`bounds.rs`; tests `fidelity::guids_compare_in_any_case_and_text_is_bounded`,
//!   `isv::data_gathering_checks_timestamps_and_lengths`): `client_id` and every other id or key at most 256
//!   characters, instants 64, any other string 4096; beyond is a 400 naming the field. A
//!   `timestamp_utc` (activation, data gathering, consumption items) that is not an RFC 3339
//!   instant is a 400 and nothing is recorded. Consumption values: SLASCONE's clients send
//!   decimals; licensd counts whole units, so a fractional value is a 400 (decision: licensd's
//!   counters are integers in every dialect).
//! * **ProvisioningKey:** a licensd credential of dialect `slascone` (`POST /v1/credentials`); the
//!   header value is `<key_id>.<secret>`. Every flag of the credential is enforced by the one
//!   domain rule `access::admit` (`wire::authenticate`): revoked, outside its `ip_allowlist`
//!   (against `http::client_ip`; IPv4-mapped IPv6 compares as IPv4), `read_only` on a
//!   call that changes state, and scoped to another product. **Decision:** SLASCONE documents one
//!   answer for a caller its key does not allow, 401 (reference `slascone-api.md` §1.2: "401 bad
//!   key"; it has no read-only or IP-restricted provisioning keys of its own), so each of these is
//!   a signed 401 ProblemDetails `{title: "Unauthorized", status: 401, detail}` whose `detail` says
//!   which flag refused (`the ProvisioningKey may not be used from this address`, `… is
//!   read-only`, `… is not valid for this product`; a revoked key is `invalid ProvisioningKey`,
//!   like an unknown one), and nothing is recorded. A 401 is not retried by SLASCONE's clients
//!   (no `Retry-After`). Calls that change state (refused for a read-only key): activations
//!   (online and the offline activation file), heartbeats (they refresh the activation), unassign,
//!   license state toggle, session open and close, and every `data_gathering` POST; reads (allowed):
//!   validate, consumption status, the license lookups and the floating token count. Tests:
//!   `slascone::credential_flags::*` (`tests/http/slascone/credential_flags.rs`) and the auth
//!   matrix (`reliability_auth`). **AdminKey:** a licensd admin token.
//! * **Ids:** `product_id` is the product's code (give products their SLASCONE GUID as code);
//!   licensd's integer ids (license, customer, template = policy, feature, limitation) travel as
//!   GUIDs `00000000-0000-8000-8000-<12 hex digits of the id>`. Token keys are random GUIDs
//!   (stored sealed, looked up by keyed digest; `SlasconeStore`).
//! * **Signatures:** every answer under the mount (success or error, including the router's own
//!   404 for an unknown path, 405 for a wrong method and 413 for a body over `MAX_BODY_BYTES`)
//!   carries `x-slascone-signature` = Base64 RSA PKCS#1 v1.5 SHA-256 over the exact body bytes,
//!   and `X-Nonce-Signature` over the decoded `X-Nonce` bytes when the request sent one.
//!   One layer over the mount signs them all (`wire::sign_answers`); handlers and extractors
//!   (`wire::Call`, `wire::Key`, `wire::AdminCall`, `wire::AdminKey`) only return answers.
//! * **Error shapes:** 409 `{id, message, help}`; technical errors are ASP.NET ProblemDetails
//!   `{title, status, detail?}`: 400, 401, 404 (`detail: "route not found"` for an unknown path),
//!   405 (with `Allow`), 413 (`wire::SlBody`), 429 and 503 (with `Retry-After`), 500.
//! * **Domain mapping:** see `info.rs` (tokens = devices, floating tokens = floating leases,
//!   edition = policy, features / limitations = activation / consumption features).
//!
//! ## Endpoints
//!
//! | Method & path (below `/api/v2/isv/{isv_id}`) | Store command |
//! |---|---|
//! | POST `/provisioning/activations` | `activate_moving` (+ token key; a free token key brought by a new client is claimed after the activation, `claim_token`) |
//! | POST `/provisioning/heartbeats` | `validate`, then `activate` (refresh) |
//! | POST `/provisioning/unassign` | `deactivate` |
//! | POST `/provisioning/validate` | `validate` |
//! | POST `/provisioning/validate/consumption` | consumption feature balance |
//! | POST `/provisioning/licenses/by_license`, `/by_customer`, `/by_user` | reads |
//! | GET `/provisioning/licenses/{license_id}/tokens/floating/active/count` | `live_leases` |
//! | POST `/provisioning/licenses/state/toggle` (`license_id` or `license_key`; answers `{license_id, is_license_active}`, see `toggle.rs`) | `toggle_license` |
//! | POST `/provisioning/session/open`, `/session/close` (a session per `session_id` of a client; limits and decisions in `sessions.rs`) | `open_session`, `close_session` (`SessionStore`) |
//! | GET `/provisioning/activations/offline` | `activate`, signed activation XML |
//! | POST `/data_gathering/analytical_heartbeats` | `record_analytics` |
//! | POST `/data_gathering/usage_heartbeats`, `/usage_heartbeats_by_name` | `record_usage` |
//! | POST `/data_gathering/consumption_heartbeats` | `consume_feature` (idempotent by `external_id`) |
//! | POST `/data_gathering/consumption_heartbeats/rollback` | `rollback_consumption` |
//! | GET `/licenses/{license_id}/xml` (AdminKey) | signed license XML |
//! | GET `/licenses/{license_id}/usage` (AdminKey) | `usage_totals` |
//! | native `/v1/slascone/…` (bearer admin token, in `/v1/openapi.json`) | definitions, usage totals, analytical values |
//! | POST `/licenses/{license_id}/users`, DELETE `/licenses/{license_id}/users/{user_id}` (AdminKey) | `assign_license_user`, `unassign_license_user` |
//! | POST `/products/{product_id}/analytical_fields`, `/usage_features`, `/usage_features/{id}/usage_modules` (AdminKey) | definitions |
//! | back office (AdminKey): customers, customer types, tags, webhooks, resellers, product catalogue, templates, license updates, data exchange by template | see `backoffice/mod.rs` (table there; one file per group); PUT `/licenses/{license_id}` is one `apply_license_update` transaction |
//! | native GET `/v1/slascone/isv` (bearer admin token) | the ISV id the mount answers to |
//! | native `/v1/slascone/entries/{kind}`, `/customers`, `/tags/{id}/assignments`, `/licenses/{id}/tags`, `/values`, `/legacy-key` | the same back-office store commands |
//!
//! 429 (the shared limiter: per credential, `--rate-limit-per-credential`, and per client IP,
//! `--rate-limit-per-ip`, counted by `wire::IpGate` before anything else) and 503 (database
//! unreachable) answers carry `Retry-After`. Registered webhooks are delivered through the outbox
//! (`crate::outbox`): every event queues one delivery per registered webhook in SLASCONE's form
//! (migration 0612, `licensd_store::webhooks`), unsigned (the registration carries no secret).
//! Not implemented: the `x-webhook-control: suppress` request header (events still fan out).
//!
//! ## Conflict IDs of seed 002
//!
//! Tests are in `crates/licensd/tests/http/slascone.rs` (each runs on SQLite and PostgreSQL).
//!
//! | ID | Produced by test | or why it cannot occur (yet) |
//! |---|---|---|
//! | 1000 | `conflicts_activation`, `validate_and_lookup`, `sessions_floating` | |
//! | 1001 | `conflicts_license_state` (expired: activation and heartbeat) | |
//! | 1002 | `conflicts_license_state` (disabled: activation and heartbeat) | |
//! | 1003 | `license_updates_releases_and_legacy_keys` (heartbeat and activation newer than the license's release limitation) | |
//! | 1004 | `license_updates_releases_and_legacy_keys` (license update and create by template) | |
//! | 1005 | `backoffice_catalogue_and_editions` (create by template with a taken legacy key), `license_edits::license_update_applies_template_temporary_and_legacy_key` (PUT `/licenses/{id}` with another license's legacy key; nothing else of the update is applied) | |
//! | 1007 | `sessions_floating` (all floating seats taken), `concurrent_session_opens_never_exceed_the_limits` (every live session is a seat) | |
//! | 1008, 1009, 1010, 1012 | `license_users` (AdminKey license-user paths; 1010 also `licenses/by_user`), 1010 also `a_users_floating_license_gives_seats_to_its_users_on_one_client_at_a_time` and `sessions_user_type_products_need_a_user` (session open by a user not assigned to a Users floating license: no seat, decision in `sessions.rs`) | |
//! | 1011 | `license_updates_releases_and_legacy_keys` (PUT `/licenses/{id}` below the assigned users) | |
//! | 2000 | `conflicts_activation` (no free token) | |
//! | 2001 | `conflicts_tokens`, `an_unassigned_token_key_is_free_for_the_next_client` (token key of a client that still holds it; once unassigned, the next client takes the same token: `claim_token`) | |
//! | 2002 | `conflicts_tokens` (heartbeat with the token key of an unassigned token) | |
//! | 2003 | `conflicts_tokens` (unknown token key: unassign and heartbeat) | |
//! | 2004 | `conflicts_tokens` (unassign twice) | |
//! | 2005 | `a_client_bound_to_another_license_of_the_product_is_moved` | a client active on another non-temporary license of the product is moved (old token released in the activation's transaction, `activate_moving`) unless both licenses belong to the same customer: then 2005. Temporary licenses coexist; activating the same license again is idempotent |
//! | 2006 | `conflicts_tokens`, `activation_heartbeat_unassign_flow`, `conflicts_activation`, `consumption_heartbeats_status_and_rollback` | |
//! | 2007 | `license_updates_releases_and_legacy_keys` (`licenses/by_license` with an unknown `legacy_license_key`) | |
//! | 2008, 2011 | `license_updates_releases_and_legacy_keys` (tokens below the assigned; days after activation with a token assigned) | |
//! | 2009 | `license_updates_releases_and_legacy_keys`, `backoffice_catalogue_and_editions` | |
//! | 2010 | `conflicts_activation`, `sessions_floating`, `consumption_heartbeats_status_and_rollback` | |
//! | 3000 | `conflicts_activation`, `data_gathering_analytical_and_usage` (admin) | |
//! | 3001, 3002, 3003 | `backoffice_catalogue_and_editions` (create by template with an unknown feature, variable, limitation) | |
//! | 3004 | — | cannot occur: licensd sends no mail and has no email templates |
//! | 4000 | `validate_and_lookup` (by_customer), `backoffice_webhooks_tags_and_resellers`, `backoffice_catalogue_and_editions` | |
//! | 4001 | `validate_and_lookup` (by_customer) | |
//! | 4002, 4003, 4004, 4005 | `backoffice_customers_and_master_data` | |
//! | 5000 | `conflicts_tokens` (heartbeat with another client's token key) | |
//! | 5001 | — | legacy duplicate of 6000; licensd answers 6000 |
//! | 6000, 6001, 6003, 6005 | `data_gathering_analytical_and_usage` | |
//! | 6002, 6004 | `data_gathering_analytical_and_usage` (by id and by name) | |
//! | 6006, 6007, 6008, 6009, 6019 | `consumption_heartbeats_status_and_rollback` | |
//! | 6010, 6011, 6015 | `data_gathering_analytical_and_usage` (AdminKey creates) | |
//! | 6012, 6014, 6016, 6017, 6018, 6020 | `backoffice_catalogue_and_editions` | |
//! | 6013 | `backoffice_catalogue_and_editions`, `edition_names_are_unique_per_product_whichever_api_created_them` (edition create and rename; names are unique per product by a unique index, migration 510, so an edition made with the native `/v1/policies` counts too; names compare exactly, as on both databases) | |
//! | 7000 | — | cannot occur: licensd has no hosted UI deployment |
//! | 8000, 8001 | `backoffice_catalogue_and_editions` | |
//! | 8002, 8003 | `backoffice_catalogue_and_editions`, `license_edits::license_update_applies_template_temporary_and_legacy_key`, `license_edits::a_temporary_license_stays_temporary_on_update` (PUT `/licenses/{id}` with `template_id` of another provisioning mode or temporary-ness, or `is_temporary` other than the license's; PUT `/licenses/{id}/template`; one rule, `licensd_domain::backoffice::check_edition_switch`, checked under the license lock) | |
//! | 9000, 9001, 9002, 9004, 9005, 9006 | `backoffice_customers_and_master_data` | |
//! | 9003 | `backoffice_catalogue_and_editions` (create by template), `license_updates_releases_and_legacy_keys` (update) | |
//! | 10001, 10002, 10003 | `backoffice_webhooks_tags_and_resellers` (registration; delivery: `registered_webhooks_receive_events_in_slascone_form`) | |
//! | 11001–11004 | — | cannot occur: licensd has no vendor-portal users, invitations or roles (its back office is reached with admin tokens, which have no email), and it sends no mail (11003) |
//! | 12000 | `sessions_floating` (session on a named license) | |
//! | 12001 | `sessions_floating` (close without an open session), `sessions_belong_to_a_session_id_of_a_client` (close of a session id the client does not hold) | |
//! | 12002 | `sessions_belong_to_a_session_id_of_a_client`, `concurrent_session_opens_never_exceed_the_limits` (another session id from a client holding `sessions_per_client` live sessions; the same session id renews) | |
//! | 12003 | `sessions_floating` (checkout period 0) | |
//! | 12004 | `sessions_user_type_products_need_a_user` | |
//! | 12005 | `sessions_floating` (no session id) | |
//! | 12006 | `a_users_floating_license_gives_seats_to_its_users_on_one_client_at_a_time`, `concurrent_session_opens_never_exceed_the_limits` (the user holds a live session on another client of a Users floating license) | |
//! | 13001, 13002, 13003, 14001, 14002, 14003 | `backoffice_webhooks_tags_and_resellers` | |

pub mod admin;
mod backoffice;
mod bounds;
mod codes;
mod consumption;
mod gathering;
mod info;
pub mod isv;
mod lookup;
pub(crate) mod provisioning;
mod sessions;
mod toggle;
mod users;
pub(crate) mod wire;

/// The back office's edition commands, for the admin console (the one code path both run).
pub use backoffice::{TemplateRequest, TemplateView, create_edition, delete_edition, template_view};
pub use wire::SlError;
mod xml;

use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post, put};
use wire::{AdminCall, SlPath, SlResult};

const PREFIX: &str = "/api/v2/isv/{isv_id}";

pub fn routes(state: &AppState) -> Router<AppState> {
    let client = Router::new()
        .route("/provisioning/activations", post(provisioning::activate))
        .route(
            "/provisioning/activations/offline",
            get(provisioning::offline_activation),
        )
        .route("/provisioning/heartbeats", post(provisioning::heartbeat))
        .route("/provisioning/unassign", post(provisioning::unassign))
        .route("/provisioning/validate", post(provisioning::validate))
        .route("/provisioning/licenses/by_license", post(provisioning::by_license))
        .route("/provisioning/licenses/by_customer", post(provisioning::by_customer))
        .route("/provisioning/licenses/by_user", post(provisioning::by_user))
        .route("/provisioning/licenses/state/toggle", post(toggle::toggle))
        .route(
            "/provisioning/licenses/{license_id}/tokens/floating/active/count",
            get(provisioning::floating_count),
        )
        .route("/provisioning/validate/consumption", post(consumption::status))
        .route("/data_gathering/consumption_heartbeats", post(consumption::heartbeat))
        .route(
            "/data_gathering/consumption_heartbeats/rollback",
            post(consumption::rollback),
        )
        .route("/data_gathering/analytical_heartbeats", post(gathering::analytical))
        .route("/data_gathering/usage_heartbeats", post(gathering::usage_by_id))
        .route(
            "/data_gathering/usage_heartbeats_by_name",
            post(gathering::usage_by_name),
        )
        .route(
            "/products/{product_id}/analytical_fields",
            post(gathering::create_analytical_field),
        )
        .route(
            "/products/{product_id}/usage_features",
            post(gathering::create_usage_feature),
        )
        .route(
            "/products/{product_id}/usage_features/{usage_feature_id}/usage_modules",
            post(gathering::create_usage_module),
        )
        .route("/licenses/{license_id}/usage", get(gathering::usage_totals))
        .route("/licenses/{license_id}/users", post(users::add))
        .route(
            "/licenses/{license_id}/users/{user_id}",
            axum::routing::delete(users::remove),
        )
        .route("/provisioning/session/open", post(sessions::open))
        .route("/provisioning/session/close", post(sessions::close))
        .route("/licenses/{license_id}/xml", get(license_xml))
        // Back office (AdminKey), backoffice/.
        .route("/customers", post(backoffice::create_customer))
        .route("/customers/types", post(backoffice::create_customer_type))
        .route("/customers/{customer_id}/tags", post(backoffice::tag_customer))
        .route("/licenses/{license_id}/tags", post(backoffice::tag_license))
        .route("/licenses/{license_id}/template", put(backoffice::switch_template))
        .route("/licenses/{license_id}", put(backoffice::update_license))
        .route(
            "/products/{product_id}/software_release_limitations",
            post(backoffice::create_software_release),
        )
        .route("/tags", post(backoffice::create_tag))
        .route("/tags/assignments", post(backoffice::create_tag_assignment))
        .route("/webhooks", post(backoffice::create_webhook))
        .route("/resellers", post(backoffice::create_reseller))
        .route("/resellers/types", post(backoffice::create_reseller_type))
        .route(
            "/resellers/{reseller_id}/contacts",
            post(backoffice::create_reseller_contact),
        )
        .route(
            "/products/{product_id}/license_types",
            post(backoffice::create_license_type),
        )
        .route(
            "/products/{product_id}/heartbeat_types",
            post(backoffice::create_heartbeat_type),
        )
        .route("/products/{product_id}/variables", post(backoffice::create_variable))
        .route("/products/{product_id}/features", post(backoffice::create_feature))
        .route(
            "/products/{product_id}/limitations",
            post(backoffice::create_limitation),
        )
        .route("/products/{product_id}/templates", post(backoffice::create_template))
        .route(
            "/templates/{template_id}",
            put(backoffice::update_template).delete(backoffice::delete_template),
        )
        .route(
            "/data_exchange/licenses/by_template",
            post(backoffice::create_license_by_template),
        )
        // Unknown paths and wrong methods under the mount answer in the dialect's shape, signed
        // (after every route: the 405 fallback applies to the routes added before it).
        .method_not_allowed_fallback(wire::method_not_allowed)
        .fallback(wire::route_not_found)
        // Every answer under the mount, the extractors' refusals and the fallbacks' included, is
        // signed here, once.
        .layer(axum::middleware::from_fn_with_state(state.clone(), wire::sign_answers));
    Router::new().nest(PREFIX, client)
}

/// GET /licenses/{license_id}/xml (AdminKey): the signed offline license file. `client_id` in the
/// query writes an inline activation for that client.
async fn license_xml(
    State(state): State<AppState>,
    SlPath((_isv_id, license_id)): SlPath<(String, String)>,
    query: Result<axum::extract::Query<XmlQuery>, axum::extract::rejection::QueryRejection>,
    _admin: AdminCall,
) -> SlResult<Response> {
    let axum::extract::Query(query) = query.map_err(|e| SlError::BadRequest(e.body_text()))?;
    let license = lookup::license_by_guid(&state, &license_id).await?;
    let info = provisioning::license_info_of(&state, &license).await?;
    let client = query.client_id.filter(|id| !id.trim().is_empty());
    let xml = xml::license_file(&state.keys.rsa(), &info, license.updated_at, client.as_deref())?;
    Ok(wire::xml_ok(xml, &format!("License-{license_id}.xml")))
}

#[derive(Debug, Default, serde::Deserialize)]
struct XmlQuery {
    client_id: Option<String>,
}

pub fn admin_routes() -> Router<AppState> {
    admin::routes()
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    admin::SlasconeAdminApi::openapi()
}
