//! The global per-client-IP rate limit (GCRA, via governor). Health checks are exempt. An
//! over-limit request gets 429 with `Retry-After`.

use crate::http::error::ErrorCode;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::client_ip::ClientIp;
use super::{is_health_path, ApiError, AppState};

/// Per-IP limiter shared by every connection of the process.
#[derive(Clone)]
pub struct IpRateLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl IpRateLimiter {
    pub fn per_minute(limit: u32) -> Self {
        Self::new(Quota::per_minute(
            NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN),
        ))
    }

    pub fn per_hour(limit: u32) -> Self {
        Self::new(Quota::per_hour(
            NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN),
        ))
    }

    fn new(quota: Quota) -> Self {
        Self {
            limiter: Arc::new(RateLimiter::keyed(quota)),
        }
    }

    /// `Ok` when `ip` may proceed, else how long until it may.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets clients whose allowance has fully refilled, so memory stays bounded.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(limiter) = &state.rate_limiter {
        if !is_health_path(request.uri().path()) {
            if let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied() {
                if let Err(wait) = limiter.check(ip) {
                    return ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        ErrorCode::RateLimited,
                        "too many requests; slow down",
                    )
                    .with_retry_after(wait)
                    .into_response();
                }
            }
        }
    }
    next.run(request).await
}
