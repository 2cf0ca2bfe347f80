//! The order and key-generation webhooks a vendor's shop calls (authenticated like every License
//! API call): `GET /api/v4/webhook/license?product=&quantity=` generates license keys for a later
//! order, and `POST /api/v4/webhook/order` records an order: its customer and, per item, the
//! licenses (key-based, with given or generated keys) or license users (user-based).
//!
//! Everything an order could be refused for is checked before anything is written; the licenses
//! are then created in one all-or-nothing store transaction, and the license users of user-based
//! items are created (or found by e-mail) and assigned afterwards.

use super::auth::authenticate;
use super::handlers::{Peer, Query2, query_params};
use super::wire::{LsError, Params, signed};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use licensd_domain::keygen::KeyPattern;
use licensd_domain::*;
use licensd_store::{LicenseFilter, LicenseSettings, NewCustomer, NewLicense, NewLicenseUser, Page, StoreError};
use serde_json::{Value, json};

fn generate_key() -> Result<String, LsError> {
    let pattern = KeyPattern::default();
    let mut random = vec![0u8; pattern.bytes_needed()];
    licensd_crypto::random_bytes(&mut random).map_err(|_| LsError::internal())?;
    Ok(pattern.generate(&random))
}

fn respond(result: Result<Response, LsError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn product_by_code(state: &AppState, code: &str) -> Result<Product, LsError> {
    match state.store.get_product_by_code(code).await {
        Ok(product) => Ok(product),
        Err(StoreError::NotFound) => Err(LsError::bad(
            "unknown_product_code",
            format!("unknown product {code:?}"),
        )),
        Err(other) => Err(LsError::from_store(other)),
    }
}

/// `GET /api/v4/webhook/license`: `quantity` fresh keys for `product` (not stored until ordered).
pub async fn generate_keys(State(state): State<AppState>, peer: Peer, headers: HeaderMap, query: Query2) -> Response {
    respond(
        async {
            let params = query_params(query)?;
            let caller = authenticate(&state, &headers, peer.0).await?;
            let product = product_by_code(&state, &params.req_str("product")?).await?;
            caller.require_product(product.id)?;
            let quantity = params.opt_i64("quantity")?.unwrap_or(1);
            let max = i64::try_from(state.settings.max_bulk_licenses).unwrap_or(i64::MAX);
            if quantity < 1 {
                return Err(LsError::invalid("quantity", "at least 1"));
            }
            if quantity > max {
                return Err(LsError::bad(
                    "quantity_too_large",
                    format!("at most {max} keys can be generated at once"),
                ));
            }
            let keys = (0..quantity).map(|_| generate_key()).collect::<Result<Vec<_>, _>>()?;
            Ok(signed(&json!({"product": product.code, "licenses": keys})))
        }
        .await,
    )
}

/// One license of an order item, as validated.
struct OrderedLicense {
    product: Product,
    new: NewLicense,
    users: Vec<(String, Option<String>)>,
}

fn object_list<'a>(value: Option<&'a Value>, name: &str) -> Result<Vec<&'a serde_json::Map<String, Value>>, LsError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_object()
                    .ok_or_else(|| LsError::invalid(name, "a list of objects"))
            })
            .collect(),
        Some(_) => Err(LsError::invalid(name, "a list of objects")),
    }
}

/// Validates one license of an order item (its customer is set once the whole order passed).
fn order_license(
    product: &Product,
    policies: &[Policy],
    order_id: &str,
    item: &Params,
    spec: &Params,
    now: Millis,
) -> Result<OrderedLicense, LsError> {
    let users: Vec<(String, Option<String>)> = object_list(spec.0.get("users"), "users")?
        .into_iter()
        .map(|user| {
            let user = Params(user.clone());
            Ok((user.req_str("email")?, user.opt_str("password")?))
        })
        .collect::<Result<_, LsError>>()?;
    let key = spec.opt_str("key")?.filter(|key| !key.is_empty());
    let policy = match spec.opt_str("license_policy")?.or(item.opt_str("license_policy")?) {
        Some(code) => Some(
            policies
                .iter()
                .find(|policy| policy.product_id == product.id && policy.code == code)
                .ok_or_else(|| LsError::bad("unknown_policy_code", format!("unknown license policy {code:?}")))?,
        ),
        None => None,
    };
    let (mut terms, expires_at, maintenance) = match policy {
        Some(policy) => rules::stamp_from_policy(policy, now),
        None => (LicenseTerms::default(), None, None),
    };
    if let Some(max) = spec.opt_i64("max_activations")? {
        terms.max_activations = Some(max.max(0));
    }
    if let Some(max) = spec.opt_i64("max_license_users")? {
        terms.max_users = Some(max.max(0));
    }
    let key = match product.auth_method {
        AuthMethod::Key => {
            if !users.is_empty() {
                return Err(LsError::bad(
                    "key_product_based_does_not_allow_users",
                    format!("product {} is key-based; its licenses take no users", product.code),
                ));
            }
            Some(match key {
                Some(key) => key,
                None => generate_key()?,
            })
        }
        AuthMethod::User => {
            if key.is_some() {
                return Err(LsError::bad(
                    "user_based_product_does_not_allow_license_key",
                    format!(
                        "product {} is user-based; its licenses take users, not keys",
                        product.code
                    ),
                ));
            }
            if terms
                .max_users
                .is_some_and(|max| i64::try_from(users.len()).unwrap_or(i64::MAX) > max)
            {
                return Err(LsError::bad(
                    "license_users_error",
                    "the order lists more users than the license allows",
                ));
            }
            None
        }
    };
    Ok(OrderedLicense {
        product: product.clone(),
        new: NewLicense {
            product_id: product.id,
            key,
            settings: LicenseSettings {
                policy_id: policy.map(|policy| policy.id),
                expires_at,
                maintenance_expires_at: maintenance,
                order_ref: Some(order_id.to_string()),
                ..LicenseSettings::active(terms)
            },
            features: policy.map(|policy| policy.features.clone()).unwrap_or_default(),
        },
        users,
    })
}

/// `POST /api/v4/webhook/order`.
pub async fn order(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    respond(
        async {
            let params = Params::from_json(&body)?;
            let caller = authenticate(&state, &headers, peer.0).await?;
            caller.require_write()?;
            let order_id = params.req_str("id")?;
            let append = params.opt_bool("append")?.unwrap_or(false);
            if params.opt_str("customer_account_id")?.is_some() {
                // licensd has no customer accounts (LicenseSpring's customer grouping).
                return Err(LsError::bad("customer_account_not_found", "no such customer account"));
            }
            let existing = state
                .store
                .list_licenses(
                    LicenseFilter {
                        order_ref: Some(order_id.clone()),
                        ..Default::default()
                    },
                    Page { after: None, limit: 1 },
                )
                .await
                .map_err(LsError::from_store)?;
            if !existing.is_empty() && !append {
                return Err(LsError::new(
                    StatusCode::CONFLICT,
                    "order_id_exists",
                    format!("order {order_id:?} exists; send append: true to add to it"),
                ));
            }
            let customer = match params.opt_object("customer")? {
                Some(Value::Object(customer)) => Some(Params(customer)),
                _ => None,
            };
            let policies = state.store.list_policies(None).await.map_err(LsError::from_store)?;
            let now = state.now();
            // Validate every item before writing anything.
            let mut ordered = Vec::new();
            for item in object_list(params.0.get("items"), "items")? {
                let item = Params(item.clone());
                let product = product_by_code(&state, &item.req_str("product_code")?).await?;
                caller.require_product(product.id)?;
                for spec in object_list(item.0.get("licenses"), "licenses")? {
                    let spec = Params(spec.clone());
                    ordered.push(order_license(&product, &policies, &order_id, &item, &spec, now)?);
                }
            }
            if ordered.is_empty() {
                return Err(LsError::missing("items[].licenses"));
            }
            let customer_id = match &customer {
                Some(customer) => Some(find_or_create_customer(&state, &caller, customer).await?),
                None => None,
            };
            let event = EventDraft::new(
                format!("licensespring:{}", caller.credential.key_id),
                "order.created",
                "license",
            )
            .from_ip(peer.0.map(|ip| ip.to_string()))
            .data(json!({"order_id": order_id}));
            let news = ordered
                .iter()
                .map(|ordered| {
                    let mut l = ordered.new.clone();
                    l.settings.customer_id = customer_id;
                    l
                })
                .collect();
            let created = match state.store.create_licenses(news, event, now).await {
                Ok(created) => created,
                Err(StoreError::Conflict(message)) => {
                    return Err(LsError::new(StatusCode::CONFLICT, "license_key_exists", message));
                }
                Err(other) => return Err(LsError::from_store(other)),
            };
            let mut out = Vec::new();
            for (license, ordered) in created.iter().zip(&ordered) {
                let mut emails = Vec::new();
                for (email, password) in &ordered.users {
                    let user = find_or_create_user(&state, &caller, email, password.as_deref(), customer_id).await?;
                    let event = EventDraft::new(
                        format!("licensespring:{}", caller.credential.key_id),
                        "license_user.assigned",
                        "license",
                    );
                    state
                        .store
                        .assign_license_user(license.id, user.id, event, now)
                        .await
                        .map_err(LsError::from_store)?;
                    emails.push(email.clone());
                }
                out.push(json!({
                    "id": license.id,
                    "product": ordered.product.code,
                    "license_key": license.key,
                    "users": emails,
                }));
            }
            Ok(signed(&json!({"order_id": order_id, "licenses": out})))
        }
        .await,
    )
}

async fn find_or_create_customer(
    state: &AppState,
    caller: &super::auth::Caller,
    customer: &Params,
) -> Result<CustomerId, LsError> {
    let email = customer.req_str("email")?;
    if let Some(id) = state
        .store
        .customer_id_by_email(&email)
        .await
        .map_err(LsError::from_store)?
    {
        return Ok(id);
    }
    let name = [customer.opt_str("first_name")?, customer.opt_str("last_name")?]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let new = NewCustomer {
        email: Some(email),
        name: (!name.is_empty()).then_some(name),
        company: customer.opt_str("company_name")?,
        reference: customer.opt_str("reference")?,
        metadata: json!({}),
    };
    let event = EventDraft::new(
        format!("licensespring:{}", caller.credential.key_id),
        "customer.created",
        "customer",
    );
    let created = state
        .store
        .create_customer(new, event, state.now())
        .await
        .map_err(LsError::from_store)?;
    Ok(created.id)
}

async fn find_or_create_user(
    state: &AppState,
    caller: &super::auth::Caller,
    email: &str,
    password: Option<&str>,
    customer_id: Option<CustomerId>,
) -> Result<LicenseUser, LsError> {
    if let Some(user) = state
        .store
        .find_license_user_by_email(email)
        .await
        .map_err(LsError::from_store)?
    {
        return Ok(user);
    }
    let password_hash = match password {
        Some(password) => Some(
            crate::http::password::hash(password.to_owned())
                .await
                .map_err(|_| LsError::internal())?,
        ),
        None => None,
    };
    let new = NewLicenseUser {
        customer_id,
        email: email.to_string(),
        name: None,
        password_hash,
    };
    let event = EventDraft::new(
        format!("licensespring:{}", caller.credential.key_id),
        "license_user.created",
        "license_user",
    );
    state
        .store
        .create_license_user(new, event, state.now())
        .await
        .map_err(LsError::from_store)
}
