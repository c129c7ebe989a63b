//! The cross-dyno limits of the routes that send email, start passkey ceremonies, take an
//! emailed token or place orders (`crate::limits`, ADR 0005): one counter per route group and
//! client, in Postgres. Over the limit: 429 `rate_limited` with `Retry-After`. Every attempt
//! counts, failed ones included, so guessing tokens or replaying ceremonies from one client
//! stops at the limit on every dyno (issue 24, item 4).

use std::net::IpAddr;
use std::time::Duration;

use axum::http::{Method, StatusCode};

use super::error::ErrorCode;
use super::rate_limit::client_key;
use super::{ApiError, AppState};
use crate::limits::{self, LimitError, SharedLimit};

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

/// Counts a request of the client `ip` against `limit` on every dyno; 429 when over it.
pub async fn admit(state: &AppState, limit: &SharedLimit, ip: IpAddr) -> Result<(), ApiError> {
    let client = client_key(ip).to_string();
    match limits::hit(&state.pool, &state.hasher(), limit, &client, state.now()).await {
        Ok(()) => Ok(()),
        Err(LimitError::Exceeded(wait)) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many requests; slow down",
        )
        .with_retry_after(wait)),
        Err(LimitError::Storage(error)) => Err(ApiError::from(error)),
    }
}
