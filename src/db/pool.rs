//! The deadpool connection pool, with TLS when the URL (`sslmode=require`) or `DATABASE_SSL`
//! asks for it, as Heroku Postgres does.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::SslMode;

use crate::settings::DatabaseSsl;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("DATABASE_URL is not a valid Postgres URL")]
    InvalidUrl,
    #[error("could not build the connection pool: {0}")]
    Build(String),
}

/// Connection settings for `url` with the TLS mode applied.
pub fn connection_config(url: &str, ssl: DatabaseSsl) -> Result<tokio_postgres::Config, PoolError> {
    // The error text of a failed parse can echo the URL, password included: never show it.
    let mut config = tokio_postgres::Config::from_str(url).map_err(|_| PoolError::InvalidUrl)?;
    match ssl {
        DatabaseSsl::Require => config.ssl_mode(SslMode::Require),
        DatabaseSsl::Disable => config.ssl_mode(SslMode::Disable),
        DatabaseSsl::Prefer => &mut config,
    };
    config.connect_timeout(Duration::from_secs(5));
    config.application_name("raptor");
    Ok(config)
}

/// A pool for `url`. Connections are made lazily, so this succeeds while the database is down.
pub fn build_pool(url: &str, ssl: DatabaseSsl, size: usize) -> Result<Pool, PoolError> {
    let manager = Manager::from_config(
        connection_config(url, ssl)?,
        raptor_actors::pg::connector(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| PoolError::Build(e.to_string()))
}
