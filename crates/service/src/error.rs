use healthcommons_core::ErrorKind;
use healthcommons_db::DbError;

/// Errors of the processing layer: a stable kind plus a message that is safe
/// to show to whoever made the request.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{message}")]
    Rejected { kind: ErrorKind, message: String },
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ServiceError::Rejected {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::Rejected { kind, .. } => *kind,
            ServiceError::Database(_) => ErrorKind::Unavailable,
            ServiceError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The message a client may see; internal details stay in the logs.
    pub fn public_message(&self) -> String {
        match self {
            ServiceError::Rejected { message, .. } => message.clone(),
            ServiceError::Database(err) if err.is_storage_full() => {
                "the node's storage is full, try again later".into()
            }
            ServiceError::Database(_) => "the database is unavailable, try again later".into(),
            ServiceError::Internal(_) => "internal error".into(),
        }
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(err: sea_orm::DbErr) -> Self {
        ServiceError::Database(DbError::from(err))
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
