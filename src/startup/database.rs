//! The process's database: the application pool and the direct connection LISTEN needs.

use anyhow::Context;
use deadpool_postgres::Pool;
use raptor_actors::supervisor::Mode;

use crate::settings::Settings;

/// The process's database: the pool, and the direct connection LISTEN needs.
pub struct Database {
    /// The application pool (through the pooler when one is configured).
    pub pool: Pool,
    /// The LISTEN connection's configuration (always the direct URL).
    pub listen: tokio_postgres::Config,
}

impl Database {
    /// The pool (through the pooler when one is configured) and the LISTEN connection's
    /// configuration (always the direct URL); warns when the pool is short for `mode`.
    pub async fn connect(settings: &Settings, mode: Mode) -> anyhow::Result<Self> {
        let url = settings
            .database_url()
            .context("DATABASE_URL is required")?;
        let (ssl, size) = (settings.database.ssl, settings.database.pool_size);
        let pool = crate::db::build_app_pool(url, settings.database_pool_url(), ssl, size)?;
        let listen = crate::db::connection_config(url, ssl)?;
        if settings.database_pool_url().is_none() {
            crate::db::capacity::warn_if_short(&pool, size, mode).await;
        }
        Ok(Self { pool, listen })
    }
}
