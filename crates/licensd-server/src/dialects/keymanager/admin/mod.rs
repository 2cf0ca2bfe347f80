//! Native `/v1/keymanager/…` management of what the Key Manager dialect brought in: API keys with
//! capabilities, the access block list and per-product signing keys.

use super::auth::{ALL_CAPABILITIES, CLIENT_CAPABILITIES};
use crate::error::{ApiError, ErrorBody, ForResource, created, no_content, ok_json};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::validate::{check_ip_rule, check_ip_rules};
use crate::http::{Admin, lookup};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use licensd_crypto::{Algorithm, PublicKey, SigningKey};
use licensd_domain::access::{AccessBlock, AccessBlockKind};
use licensd_domain::downloadable::{Downloadable, DownloadableSpec, safe_file_name};
use licensd_domain::generator::{Generator, GeneratorSpec};
use licensd_domain::telemetry::TelemetryRecord;
use licensd_domain::{Credential, Dialect};
use licensd_store::{ApiKeySettings, NewCredential, NewSigningKey};
use licensd_store::{ContractFields, TelemetryFilter};
use serde::{Deserialize, Serialize};

mod contracts;
mod generators;
mod keys;
mod signing;
mod telemetry;

pub use contracts::*;
pub use generators::*;
pub use keys::*;
pub use signing::*;
pub use telemetry::*;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/keymanager/capabilities", get(list_capabilities))
        .route("/v1/keymanager/api-keys", post(create_api_key).get(list_api_keys))
        .route("/v1/keymanager/api-keys/{id}", put(update_api_key))
        .route(
            "/v1/keymanager/access-blocks",
            post(add_access_block).get(list_access_blocks),
        )
        .route(
            "/v1/keymanager/access-blocks/{id}",
            axum::routing::delete(delete_access_block),
        )
        .route("/v1/keymanager/products/{id}/generators", post(create_generator))
        .route("/v1/keymanager/generators", get(list_generators))
        .route(
            "/v1/keymanager/generators/{id}",
            get(get_generator).put(update_generator).delete(delete_generator),
        )
        .route("/v1/keymanager/products/{id}/downloadables", post(create_downloadable))
        .route("/v1/keymanager/downloadables", get(list_downloadables))
        .route(
            "/v1/keymanager/downloadables/{id}",
            get(get_downloadable).delete(delete_downloadable),
        )
        .route("/v1/keymanager/downloadables/{id}/file", put(upload_file))
        .route("/v1/keymanager/contracts", post(create_contract).get(list_contracts))
        .route("/v1/keymanager/contracts/{id}", axum::routing::delete(delete_contract))
        .route("/v1/keymanager/telemetry", get(list_telemetry))
        .route(
            "/v1/keymanager/products/{id}/signing-key",
            post(set_product_signing_key)
                .get(get_product_signing_key)
                .delete(delete_product_signing_key),
        )
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        keys::list_capabilities,
        keys::create_api_key,
        keys::list_api_keys,
        keys::update_api_key,
        keys::add_access_block,
        keys::list_access_blocks,
        keys::delete_access_block,
        signing::set_product_signing_key,
        signing::get_product_signing_key,
        signing::delete_product_signing_key,
        generators::create_generator,
        generators::list_generators,
        generators::get_generator,
        generators::update_generator,
        generators::delete_generator,
        generators::create_downloadable,
        generators::list_downloadables,
        generators::get_downloadable,
        generators::delete_downloadable,
        generators::upload_file,
        contracts::create_contract,
        contracts::list_contracts,
        contracts::delete_contract,
        telemetry::list_telemetry
    ),
    components(schemas(
        AccessBlockKind,
        AccessBlock,
        Generator,
        GeneratorSpec,
        Downloadable,
        DownloadableSpec,
        TelemetryRecord
    ))
)]
pub struct KeyManagerApi;
