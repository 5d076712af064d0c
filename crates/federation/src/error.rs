use healthcommons_core::ErrorKind;
use healthcommons_db::DbError;
use healthcommons_service::ServiceError;

/// Why something federated failed. Each variant maps onto a stable kind.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("signature rejected: {0}")]
    Signature(String),
    #[error("not acceptable: {0}")]
    Invalid(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("the object has been deleted")]
    Gone,
    #[error("remote fetch failed: {0}")]
    Fetch(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl FederationError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            FederationError::Signature(_) => ErrorKind::Unauthorized,
            FederationError::Invalid(_) => ErrorKind::Validation,
            FederationError::Forbidden(_) => ErrorKind::Forbidden,
            FederationError::NotFound | FederationError::Gone => ErrorKind::NotFound,
            FederationError::Fetch(_) => ErrorKind::Federation,
            FederationError::Service(err) => err.kind(),
            FederationError::Database(_) => ErrorKind::Unavailable,
            FederationError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Whether trying again later might succeed (a fetch or the database failed).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Federation | ErrorKind::Unavailable | ErrorKind::Internal
        )
    }
}

impl From<activitypub_federation::error::Error> for FederationError {
    fn from(err: activitypub_federation::error::Error) -> Self {
        use activitypub_federation::error::Error as E;
        match err {
            E::NotFound => FederationError::NotFound,
            E::UrlVerificationError(msg) => FederationError::Invalid(format!("url rejected: {msg}")),
            E::FetchWrongId(url) => FederationError::Invalid(format!("object at {url} has another id")),
            E::FetchInvalidContentType(url) => {
                FederationError::Invalid(format!("{url} did not answer with ActivityPub JSON"))
            }
            E::ObjectDeleted(_) => FederationError::Gone,
            E::UrlParse(e) => FederationError::Invalid(format!("invalid url: {e}")),
            other => FederationError::Fetch(other.to_string()),
        }
    }
}

impl From<sea_orm::DbErr> for FederationError {
    fn from(err: sea_orm::DbErr) -> Self {
        FederationError::Database(DbError::from(err))
    }
}

impl From<url::ParseError> for FederationError {
    fn from(err: url::ParseError) -> Self {
        FederationError::Invalid(format!("invalid url: {err}"))
    }
}

impl From<serde_json::Error> for FederationError {
    fn from(err: serde_json::Error) -> Self {
        FederationError::Invalid(format!("invalid JSON: {err}"))
    }
}

pub type FederationResult<T> = Result<T, FederationError>;

/// A remote fetch the processing layer asked for (through the resolver) failed.
impl From<FederationError> for ServiceError {
    fn from(err: FederationError) -> Self {
        match err {
            FederationError::Service(inner) => inner,
            FederationError::Database(inner) => ServiceError::Database(inner),
            FederationError::Internal(message) => ServiceError::Internal(message),
            FederationError::NotFound => ServiceError::not_found("not found"),
            other => ServiceError::new(other.kind(), other.to_string()),
        }
    }
}
