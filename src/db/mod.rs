//! Postgres: the connection pool, the embedded migrations, and the private cluster that
//! `raptor dev` starts on a laptop with no database running.

pub mod capacity;
mod error;
pub mod local_cluster;
mod pool;

use std::time::Duration;

use deadpool_postgres::Pool;

pub(crate) use error::storage_errors;
pub use error::{StorageError, StorageResult};
pub use pool::{build_app_pool, build_pool, build_pooled, connection_config, PoolError};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Applies every pending migration; safe to run on every deploy (Heroku's release phase).
pub async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    let mut client = pool.get().await?;
    let report = embedded::migrations::runner()
        .run_async(&mut **client)
        .await?;
    for migration in report.applied_migrations() {
        tracing::info!(migration = %migration, "migration applied");
    }
    Ok(())
}

/// Whether the database answers a trivial query within `timeout`.
pub async fn ping(pool: &Pool, timeout: Duration) -> bool {
    let attempt = async {
        let client = pool.get().await.ok()?;
        client.simple_query("SELECT 1").await.ok()
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Some(_)))
}
