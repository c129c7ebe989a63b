//! The cross-dyno limits (`crate::limits`, ADR 0005, issue 25): the global per-client limit
//! (`RATE_LIMIT_PER_MINUTE`, every route but health) and the `cross_dyno` limits of the routes
//! in `crate::limits::table` (those that send email, start passkey ceremonies, take an emailed
//! token or place orders), one counter per limit and client in Postgres, leased in blocks so
//! most requests are answered from memory.
//! Over a limit: 429 `rate_limited` with `Retry-After`. Every attempt counts, failed ones
//! included, so guessing tokens or replaying ceremonies from one client stops at the limit on
//! every dyno (issue 24, item 4).

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;

use super::error::ErrorCode;
use super::rate_limit::client_key;
use super::{ApiError, AppState};
use crate::limits::table::global;
use crate::limits::{LimitError, Local, SharedLimit};

/// How long a request waits for a lease of the global allowance before it is admitted anyway.
const GLOBAL_LEASE_TIMEOUT: Duration = Duration::from_millis(500);

/// Whether the global limit admits the client `ip` from memory: `Ok(true)` when a lease must
/// be asked for first ([`admit_global`]). Health checks are never counted.
pub fn check_global(state: &AppState, path: &str, ip: IpAddr) -> Result<bool, ApiError> {
    let Some(per_minute) = state.config.global_per_minute else {
        return Ok(false);
    };
    if super::is_health_path(path) {
        return Ok(false);
    }
    let limit = global(per_minute);
    let client = client_key(ip);
    match state.counters.check_local(&limit, client, state.now()) {
        Local::Admitted => Ok(false),
        Local::Refused(wait) => Err(limited(wait)),
        Local::Lease => Ok(true),
    }
}

/// Leases the client's global allowance; when Postgres cannot be asked in time (down, or a
/// pooler holding the request while it reconnects) the request is admitted (the per-process
/// limiter still applies) rather than every request failing or hanging.
pub async fn admit_global(state: &AppState, ip: IpAddr) -> Result<(), ApiError> {
    let Some(per_minute) = state.config.global_per_minute else {
        return Ok(());
    };
    let limit = global(per_minute);
    let client = client_key(ip);
    let lease = state.counters.lease(&limit, client, state.now());
    match tokio::time::timeout(GLOBAL_LEASE_TIMEOUT, lease).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(LimitError::Exceeded(wait))) => Err(limited(wait)),
        Ok(Err(LimitError::Storage(error))) => {
            tracing::warn!(%error, "the global rate limit cannot be leased; admitting");
            state
                .counters
                .grant_provisionally(&limit, client, state.now());
            Ok(())
        }
        Err(_) => {
            tracing::warn!("the global rate limit was not leased in time; admitting");
            state
                .counters
                .grant_provisionally(&limit, client, state.now());
            Ok(())
        }
    }
}

/// Counts a request of the client `ip` against `limit` on every dyno; 429 when over it.
pub async fn admit(state: &AppState, limit: &SharedLimit, ip: IpAddr) -> Result<(), ApiError> {
    let client = client_key(ip);
    match state.counters.hit(limit, client, state.now()).await {
        Ok(()) => Ok(()),
        Err(LimitError::Exceeded(wait)) => Err(limited(wait)),
        Err(LimitError::Storage(error)) => Err(ApiError::from(error)),
    }
}

fn limited(wait: Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        "too many requests; slow down",
    )
    .with_retry_after(wait)
}
