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
