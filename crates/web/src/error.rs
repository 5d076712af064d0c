//! One error shape at the edge: JSON `{error, message}` for the API, an HTML
//! page for people. Internal details are logged once and never sent.

use askama::Template;
use axum::{
    Json,
    response::{Html, IntoResponse, Response},
};
use healthcommons_core::ErrorKind;
use healthcommons_db::DbError;
use healthcommons_federation::FederationError;
use healthcommons_service::ServiceError;
use http::StatusCode;
use serde::Serialize;
use tracing::error;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable kind: not_found, unauthorized, forbidden, validation, conflict,
    /// rate_limited, federation, unavailable, internal.
    pub error: String,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        if matches!(err.kind(), ErrorKind::Internal | ErrorKind::Unavailable) {
            error!(%err, "request failed");
        }
        ApiError::new(err.kind(), err.public_message())
    }
}

impl From<FederationError> for ApiError {
    fn from(err: FederationError) -> Self {
        match err {
            FederationError::Service(inner) => inner.into(),
            FederationError::Database(inner) => ServiceError::Database(inner).into(),
            FederationError::Internal(_) => {
                error!(%err, "request failed");
                ApiError::new(err.kind(), "internal error")
            }
            FederationError::NotFound => ApiError::new(ErrorKind::NotFound, "not found"),
            other => ApiError::new(other.kind(), other.to_string()),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        ServiceError::from(err).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.kind.as_str().to_owned(),
            message: self.message.clone(),
        };
        with_retry_after((self.status(), Json(body)).into_response())
    }
}

/// How long a client should wait before retrying when the node is briefly
/// unavailable (its database away): servers retry a delivery then.
const RETRY_AFTER_SECS: &str = "30";

fn with_retry_after(mut response: Response) -> Response {
    if response.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    response
}

/// The same error, as a page.
#[derive(Debug)]
pub struct PageError(pub ApiError);

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    viewer: Option<crate::auth::Viewer>,
    title: &'a str,
    message: &'a str,
}

impl From<ApiError> for PageError {
    fn from(err: ApiError) -> Self {
        PageError(err)
    }
}

impl From<ServiceError> for PageError {
    fn from(err: ServiceError) -> Self {
        PageError(err.into())
    }
}

impl From<FederationError> for PageError {
    fn from(err: FederationError) -> Self {
        PageError(err.into())
    }
}

impl From<DbError> for PageError {
    fn from(err: DbError) -> Self {
        PageError(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = match self.0.kind {
            ErrorKind::NotFound => "Not found",
            ErrorKind::Unauthorized => "Please sign in",
            ErrorKind::Forbidden => "Not allowed",
            ErrorKind::Validation | ErrorKind::Conflict => "Please check what you entered",
            _ => "Something went wrong",
        };
        let page = ErrorPage {
            viewer: None,
            title,
            message: &self.0.message,
        };
        with_retry_after(match page.render() {
            Ok(html) => (self.0.status(), Html(html)).into_response(),
            Err(_) => (self.0.status(), self.0.message).into_response(),
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
pub type PageResult<T> = Result<T, PageError>;
