//! The native API's error shape: `{"error": {"code": "...", "message": "..."}}` with a stable,
//! machine-readable code. Every store and domain error is mapped here, once.

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use licensd_store::StoreError;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code, e.g. `not_found`, `invalid_body`, or a domain denial such as `ACTIVATION_LIMIT_REACHED`.
    pub code: String,
    pub message: String,
}

/// `.for_resource("license")` on a store result: its error as the native answer for that resource
/// (`ApiError::from_store`: `not_found` names it, conflicts and denials keep their codes).
pub trait ForResource<T> {
    fn for_resource(self, what: &str) -> Result<T, ApiError>;
}

impl<T> ForResource<T> for Result<T, StoreError> {
    fn for_resource(self, what: &str) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::from_store(e, what))
    }
}

/// The answer of an admin read or write that shows one value (a get, an update, a revoke): the
/// store call awaited, its error mapped for `what` (as `.for_resource(what)` does), and otherwise
/// 200 with the value as JSON.
pub async fn ok_json<T>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<Json<T>, ApiError> {
    Ok(Json(call.await.for_resource(what)?))
}

/// The answer of an admin create: the store's write awaited, its error mapped for `what` (as
/// `.for_resource(what)` does), and otherwise 201 with what was created as JSON. One place keeps
/// the native, Key Manager, LicenseSpring and SLASCONE admin creates alike.
pub async fn created<T>(
    what: &str,
    write: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<(StatusCode, Json<T>), ApiError> {
    Ok((StatusCode::CREATED, Json(write.await.for_resource(what)?)))
}

/// The answer of an admin write that has nothing to show (a delete by id, an assignment, a value
/// set): the store's write awaited, its error mapped for `what` (as `.for_resource(what)` does),
/// and otherwise 204 with no body. The native, Key Manager, LicenseSpring and SLASCONE admin APIs
/// all answer such writes this way; one place keeps them alike.
pub async fn no_content<T>(
    what: &str,
    write: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<StatusCode, ApiError> {
    write.await.for_resource(what)?;
    Ok(StatusCode::NO_CONTENT)
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// A read-only admin token asked for a change.
    pub fn read_only() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "read_only_token",
            "this admin token is read-only: it may not change anything",
        )
    }
    /// An admin token refused by `access::admit_admin`: 401 when it has expired (it is no longer
    /// a credential), 403 `ip_not_allowed` from an address outside its allow-list, 403
    /// `read_only_token` for a change asked by a read-only token.
    pub fn admin_refused(refusal: licensd_domain::access::AdminRefusal) -> Self {
        use licensd_domain::access::AdminRefusal;
        match refusal {
            AdminRefusal::Expired => Self::unauthorized("this admin token has expired"),
            AdminRefusal::IpNotAllowed => Self::new(
                StatusCode::FORBIDDEN,
                "ip_not_allowed",
                "this admin token may not be used from this address",
            ),
            AdminRefusal::ReadOnly => Self::read_only(),
        }
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error")
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
            },
        }
    }

    /// Maps a store error for a named resource.
    pub fn from_store(error: StoreError, what: &str) -> Self {
        match error {
            StoreError::NotFound => Self::not_found(what),
            StoreError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            StoreError::Denied(denial) => {
                crate::metrics::note_denial(denial);
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, denial.code(), denial.to_string())
            }
            StoreError::Corrupt(message) => {
                tracing::error!(%message, "corrupt data");
                Self::internal()
            }
            StoreError::InvalidInput(message) => Self::bad_request("invalid_input", message),
            StoreError::Database(message) => {
                tracing::error!(%message, "database error");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database is unavailable; retry later",
                )
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::from_store(error, "resource")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

pub async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!("no route for {method} {}", uri.path()),
    )
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
