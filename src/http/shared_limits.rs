//! The cross-dyno limits (`crate::limits`, ADR 0005, issue 25): the global per-client limit
//! (`RATE_LIMIT_PER_MINUTE`, every route but health) and the limits of the routes that send
//! email, start passkey ceremonies, take an emailed token or place orders, one counter per
//! limit and client in Postgres, leased in blocks so most requests are answered from memory.
//! Over a limit: 429 `rate_limited` with `Retry-After`. Every attempt counts, failed ones
//! included, so guessing tokens or replaying ceremonies from one client stops at the limit on
//! every dyno (issue 24, item 4).

use std::net::IpAddr;
use std::time::Duration;

use axum::http::{Method, StatusCode};

use super::error::ErrorCode;
use super::rate_limit::client_key;
use super::{ApiError, AppState};
use crate::limits::{LimitError, Local, SharedLimit};

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

/// Verification emails asked for, per client.
pub const EMAIL: SharedLimit = SharedLimit {
    name: "email",
    hits: 10,
    window: HOUR,
};
/// Recovery emails asked for, per client.
pub const RECOVERY: SharedLimit = SharedLimit {
    name: "recovery",
    hits: 10,
    window: HOUR,
};
/// Sign-up ceremonies started, per client.
pub const REGISTER: SharedLimit = SharedLimit {
    name: "register",
    hits: 20,
    window: HOUR,
};
/// Sign-in ceremonies started or finished, per client.
pub const LOGIN: SharedLimit = SharedLimit {
    name: "login",
    hits: 60,
    window: MINUTE,
};
/// Emailed tokens presented (`email/verify`, `recovery/options`, `recovery/verify`), per
/// client: a person uses one or two; guessing stops here.
pub const TOKENS: SharedLimit = SharedLimit {
    name: "tokens",
    hits: 30,
    window: HOUR,
};
/// Orders submitted, per client.
pub const ORDERS: SharedLimit = SharedLimit {
    name: "orders",
    hits: 120,
    window: MINUTE,
};

/// The global per-client limit, across every process.
pub fn global(per_minute: u32) -> SharedLimit {
    SharedLimit {
        name: "global",
        hits: per_minute,
        window: MINUTE,
    }
}

/// How long a request waits for a lease of the global allowance before it is admitted anyway.
const GLOBAL_LEASE_TIMEOUT: Duration = Duration::from_millis(500);

/// The longest window of any shared limit (what the in-memory leases must remember).
pub const LONGEST_WINDOW: Duration = HOUR;

/// The shared limit a request counts against, if any.
pub fn limit_for(method: &Method, path: &str) -> Option<&'static SharedLimit> {
    if method != Method::POST {
        return None;
    }
    match path {
        "/api/auth/email/resend" => Some(&EMAIL),
        "/api/auth/recovery/start" => Some(&RECOVERY),
        "/api/auth/register/options" => Some(&REGISTER),
        "/api/auth/login/options" | "/api/auth/login/verify" => Some(&LOGIN),
        "/api/auth/email/verify" | "/api/auth/recovery/options" | "/api/auth/recovery/verify" => {
            Some(&TOKENS)
        }
        "/api/trading/orders" => Some(&ORDERS),
        _ => None,
    }
}

/// Whether the global limit admits the client `ip` from memory: `Ok(true)` when a lease must
/// be asked for first ([`admit_global`]). Health checks are never counted.
pub fn check_global(state: &AppState, path: &str, ip: IpAddr) -> Result<bool, ApiError> {
    if !state.settings.flags.global_rate_limit || super::is_health_path(path) {
        return Ok(false);
    }
    let limit = global(state.settings.rate_limit_per_minute);
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
    let limit = global(state.settings.rate_limit_per_minute);
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
