//! [`StorageError`]: what a repository or use case says when Postgres failed it. The HTTP
//! layer answers 503 for both kinds (the database is gone or busy; retry), and logs the cause
//! under the request id; no SQL text or driver message ever reaches a client.

/// Postgres could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No pooled connection could be had (database down, pool exhausted).
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A query or transaction failed.
    #[error("database error: {0}")]
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

/// Results of repository functions.
pub type StorageResult<T> = Result<T, StorageError>;
