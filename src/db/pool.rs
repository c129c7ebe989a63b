//! The deadpool connection pool, with TLS when the URL (`sslmode=require`) or `DATABASE_SSL`
//! asks for it, as Heroku Postgres does.
//!
//! With `DATABASE_CONNECTION_POOL_URL` the pool goes through a transaction-mode pooler
//! ([`build_pooled`]): its connections keep no named statement on the server
//! (`raptor_actors::pg::inline`), and nothing else of a session is relied on: every advisory
//! lock is transaction-scoped, no `SET` is issued, deadpool's statement cache keeps statements
//! only on our side of the adapter. LISTEN and migrations connect to `DATABASE_URL`.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::SslMode;

use crate::settings::DatabaseSsl;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("DATABASE_URL is not a valid Postgres URL")]
    InvalidUrl,
    #[error("DATABASE_CONNECTION_POOL_URL is not a valid Postgres URL")]
    InvalidPoolUrl,
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

/// A pool of direct connections to `url`. Connections are made lazily, so this succeeds while
/// the database is down.
pub fn build_pool(url: &str, ssl: DatabaseSsl, size: usize) -> Result<Pool, PoolError> {
    let manager = Manager::from_config(
        connection_config(url, ssl)?,
        raptor_actors::pg::connector(),
        manager_config(),
    );
    finish(manager, size)
}

/// A pool of connections through the transaction-mode pooler at `url`.
pub fn build_pooled(url: &str, ssl: DatabaseSsl, size: usize) -> Result<Pool, PoolError> {
    let mut config = connection_config(url, ssl).map_err(|_| PoolError::InvalidPoolUrl)?;
    // Tells the pooler's server connections from the direct ones in `pg_stat_activity`.
    config.application_name("raptor-pooled");
    let manager = Manager::from_connect(
        config,
        raptor_actors::pg::pooled::PooledConnect::default(),
        manager_config(),
    );
    finish(manager, size)
}

/// The application's pool: through the pooler when `pool_url` is set, else direct to `url`.
pub fn build_app_pool(
    url: &str,
    pool_url: Option<&str>,
    ssl: DatabaseSsl,
    size: usize,
) -> Result<Pool, PoolError> {
    match pool_url {
        Some(pooled) => build_pooled(pooled, ssl, size),
        None => build_pool(url, ssl, size),
    }
}

fn manager_config() -> ManagerConfig {
    // `Fast` recycling sends nothing: a pooler's server connection is not ours to reset.
    ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    }
}

fn finish(manager: Manager, size: usize) -> Result<Pool, PoolError> {
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| PoolError::Build(e.to_string()))
}
