//! Rate limits that protect people and money, held across every dyno (ADR 0005).
//!
//! The general per-IP limit (`http::rate_limit`) lives in each process's memory, so N web dynos
//! allow N times it; that is fine for shedding load. The routes that send email, start passkey
//! ceremonies or place orders need a limit an attacker cannot multiply by landing on another
//! dyno, so their counters live in Postgres, the store every dyno already shares: one upsert per
//! request, in a fixed window per limit and client. A client is its IPv4 address or IPv6 /64,
//! stored only as an HMAC.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::token::TokenHasher;

use crate::db::StorageError;

/// HMAC purpose of client identities in `shared_rate_limits`.
const CLIENT_PURPOSE: &str = "rate-limit-client";

/// One limit: at most `hits` requests per client in each `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedLimit {
    /// The counter's name (`shared_rate_limits.name`).
    pub name: &'static str,
    pub hits: u32,
    pub window: Duration,
}

/// Why a request may not proceed.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("the limit is reached; retry after {0:?}")]
    Exceeded(Duration),
    #[error(transparent)]
    Storage(#[from] StorageError),
}
crate::db::storage_errors!(LimitError);

/// Counts one request of `client` against `limit`; `Exceeded` with the wait once over it.
pub async fn hit(
    pool: &Pool,
    hasher: &TokenHasher,
    limit: &SharedLimit,
    client: &str,
    now: DateTime<Utc>,
) -> Result<(), LimitError> {
    let window = limit.window.as_secs().max(1) as i64;
    let start = now.timestamp().div_euclid(window) * window;
    let window_start = DateTime::from_timestamp(start, 0).unwrap_or(now);
    let client = hasher.digest(CLIENT_PURPOSE, client);
    let db = pool.get().await?;
    let hits: i32 = db
        .query_one(
            "INSERT INTO shared_rate_limits (name, client, window_start, hits) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (name, client, window_start) DO UPDATE SET hits = shared_rate_limits.hits + 1 \
             RETURNING hits",
            &[&limit.name, &client, &window_start],
        )
        .await?
        .get(0);
    if hits as u32 > limit.hits {
        let ends = start + window;
        let wait = (ends - now.timestamp()).max(1) as u64;
        return Err(LimitError::Exceeded(Duration::from_secs(wait)));
    }
    Ok(())
}

/// `hit` against a real Postgres (`TEST_DATABASE_URL`, as the integration tests use), in a
/// database of its own.
#[cfg(test)]
mod mutation_tests {
    use std::panic::AssertUnwindSafe;
    use std::sync::Arc;

    use futures_util::FutureExt;
    use secrecy::SecretBox;

    use super::*;

    const LIMIT: SharedLimit = SharedLimit {
        name: "unit",
        hits: 2,
        window: Duration::from_secs(60),
    };

    async fn fresh_pool() -> (Pool, String) {
        let admin = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("raptor_unit_{}", uuid::Uuid::new_v4().simple());
        let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect("TEST_DATABASE_URL must point at a running PostgreSQL");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        let pool = crate::db::build_pool(&url, crate::settings::DatabaseSsl::Disable, 2).unwrap();
        crate::db::migrate(&pool).await.unwrap();
        (pool, name)
    }

    async fn drop_database(name: &str) {
        let admin = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        if let Ok((client, connection)) =
            tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
        {
            tokio::spawn(connection);
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }

    /// Runs `test` on a pool over a fresh database, and drops the database afterwards, whether
    /// `test` passed or panicked.
    async fn with_fresh_pool<F: std::future::Future<Output = ()>>(test: impl FnOnce(Pool) -> F) {
        let (pool, name) = fresh_pool().await;
        let outcome = AssertUnwindSafe(test(pool)).catch_unwind().await;
        drop_database(&name).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    #[tokio::test]
    async fn a_client_gets_its_hits_per_window_then_the_wait_until_the_next() {
        with_fresh_pool(counts_per_window).await;
    }

    async fn counts_per_window(pool: Pool) {
        let hasher = TokenHasher::new(Arc::new(SecretBox::from(b"unit-key".to_vec())), None);
        // Ten seconds into a minute window.
        let now = DateTime::from_timestamp(1_767_225_610, 0).unwrap();
        let client = "203.0.113.9";
        assert!(hit(&pool, &hasher, &LIMIT, client, now).await.is_ok());
        assert!(hit(&pool, &hasher, &LIMIT, client, now).await.is_ok());
        match hit(&pool, &hasher, &LIMIT, client, now).await {
            Err(LimitError::Exceeded(wait)) => assert_eq!(wait, Duration::from_secs(50)),
            other => panic!("expected the limit, got {other:?}"),
        }
        assert!(hit(&pool, &hasher, &LIMIT, "203.0.113.10", now)
            .await
            .is_ok());
        let next_window = now + chrono::Duration::seconds(50);
        assert!(hit(&pool, &hasher, &LIMIT, client, next_window)
            .await
            .is_ok());

        // Counters are per window start, and hold the client only as its HMAC.
        let db = pool.get().await.unwrap();
        let rows = db
            .query(
                "SELECT client, window_start, hits FROM shared_rate_limits \
                 WHERE name = 'unit' ORDER BY window_start, hits DESC",
                &[],
            )
            .await
            .unwrap();
        let window = |r: &tokio_postgres::Row| r.get::<_, DateTime<Utc>>(1).timestamp();
        assert_eq!(window(&rows[0]), 1_767_225_600);
        assert_eq!(rows[0].get::<_, i32>(2), 3);
        assert_eq!(
            rows[0].get::<_, String>(0),
            hasher.digest(CLIENT_PURPOSE, client)
        );
        assert_eq!(window(&rows[2]), 1_767_225_660);
        assert!(rows
            .iter()
            .all(|r| !r.get::<_, String>(0).contains("203.0.113")));
    }
}
