//! [`StorageError`]: what a repository or use case says when Postgres failed it. The HTTP
//! layer answers 503 when the database is gone or busy (retry) and 500 when the server refused a
//! statement (a bug of ours), and logs the cause, in the server's words, under the request id; no
//! SQL text or driver message ever reaches a client.

/// Postgres could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No pooled connection could be had (database down, pool exhausted, connection refused).
    #[error("no database connection: {}", pool_reason(.0))]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A query or transaction failed.
    #[error("database error: {}", query_reason(.0))]
    Query(#[from] tokio_postgres::Error),
}

impl StorageError {
    /// The database could not be reached or the connection died (as opposed to the server
    /// refusing a statement, which is a bug of ours).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StorageError::Pool(_) => true,
            StorageError::Query(error) => {
                error.is_closed()
                    || error.as_db_error().is_none_or(|db| {
                        // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
                        matches!(db.code().code(), "57P01" | "57P02" | "57P03" | "53300")
                    })
            }
        }
    }
}

/// Why no connection could be had, with the server's own words when it refused one (e.g.
/// "pg_hba.conf rejects connection … no encryption"): never a URL or a password.
pub fn pool_reason(error: &deadpool_postgres::PoolError) -> String {
    match error {
        deadpool_postgres::PoolError::Backend(e) => query_reason(e),
        other => other.to_string(),
    }
}

/// A driver error with the server's message, code and detail when the server sent one.
pub fn query_reason(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

/// Results of repository functions.
pub type StorageResult<T> = Result<T, StorageError>;

/// `From` impls that let `?` turn driver and pool errors into a use case's `Storage` variant.
macro_rules! storage_errors {
    ($error:ty) => {
        impl From<tokio_postgres::Error> for $error {
            fn from(error: tokio_postgres::Error) -> Self {
                Self::Storage(error.into())
            }
        }
        impl From<deadpool_postgres::PoolError> for $error {
            fn from(error: deadpool_postgres::PoolError) -> Self {
                Self::Storage(error.into())
            }
        }
    };
}
pub(crate) use storage_errors;
