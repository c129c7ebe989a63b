//! The per-process per-client rate limits (GCRA, via governor): the global one
//! (`RATE_LIMIT_PER_MINUTE`, health checks exempt) and the `per_client` limits of the routes in
//! `crate::limits::table`. An over-limit request gets 429 with `Retry-After`.
//!
//! A client is its IPv4 address, or its IPv6 /64: one subscriber usually holds a whole /64, so
//! keying on the full IPv6 address would let them rotate through 2^64 fresh buckets. This limit
//! is per process (N web dynos allow N times it); the limits that protect people and money hold
//! across dynos (see `crate::limits`).

use crate::http::error::ErrorCode;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{is_health_path, ApiError, AppState};
use crate::limits::table::{self, ProcessLimit, RouteLimits};

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

    /// A limiter of `limit` (its window a minute or an hour).
    pub fn of(limit: &ProcessLimit) -> Self {
        let hits = NonZeroU32::new(limit.hits).unwrap_or(NonZeroU32::MIN);
        let per = limit.window / hits.get();
        Self::new(
            Quota::with_period(per)
                .unwrap_or_else(|| Quota::per_hour(hits))
                .allow_burst(hits),
        )
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

    /// `Ok` when `ip`'s client may proceed, else how long until it may.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&client_key(ip))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets clients whose allowance has fully refilled, so memory stays bounded.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The identity a limit counts: the IPv4 address, or the /64 of an IPv6 address (an
/// IPv4-mapped IPv6 address counts as its IPv4 address).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !u128::from(u64::MAX),
            )),
        },
    }
}

/// This process's limiters: the global one (when `ENABLE_GLOBAL_RATE_LIMIT`) and one per
/// `per_client` limit of the table.
#[derive(Clone)]
pub struct ProcessLimiters {
    global: Option<IpRateLimiter>,
    routes: Vec<(&'static str, IpRateLimiter)>,
}

impl ProcessLimiters {
    /// The limiters, the global one allowing `global_per_minute` (none when `None`).
    pub fn new(global_per_minute: Option<u32>) -> Self {
        let mut routes: Vec<(&'static str, IpRateLimiter)> = Vec::new();
        for limit in table::ROUTES.iter().filter_map(|row| row.limits.per_client) {
            if !routes.iter().any(|(name, _)| *name == limit.name) {
                routes.push((limit.name, IpRateLimiter::of(&limit)));
            }
        }
        Self {
            global: global_per_minute.map(IpRateLimiter::per_minute),
            routes,
        }
    }

    /// Forgets clients whose allowance has fully refilled, in every limiter.
    pub fn forget_idle(&self) {
        self.global.iter().for_each(IpRateLimiter::forget_idle);
        self.routes.iter().for_each(|(_, l)| l.forget_idle());
    }

    fn route(&self, limit: &ProcessLimit) -> Option<&IpRateLimiter> {
        let found = self.routes.iter().find(|(name, _)| *name == limit.name);
        found.map(|(_, limiter)| limiter)
    }
}

/// Counts a request of the client `ip` against the global limit (not for health checks) and
/// the route's own per-client limit; 429 over either.
pub fn admit(
    state: &AppState,
    path: &str,
    route: Option<&RouteLimits>,
    ip: IpAddr,
) -> Result<(), ApiError> {
    let limiters = &state.limiters;
    if let Some(global) = limiters.global.as_ref().filter(|_| !is_health_path(path)) {
        global.check(ip).map_err(limited)?;
    }
    match route
        .and_then(|r| r.per_client.as_ref())
        .and_then(|l| limiters.route(l))
    {
        Some(limiter) => limiter.check(ip).map_err(limited),
        None => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_its_slash_64_and_an_ipv4_client_its_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        assert_eq!(client_key(a).to_string(), "2001:db8:1:2::");
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(client_key(v4), v4);
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(client_key(mapped), v4);
    }

    #[test]
    fn rotating_addresses_inside_one_slash_64_shares_one_bucket() {
        let limiter = IpRateLimiter::per_minute(100);
        let allowed = (0..150u128)
            .map(|i| {
                IpAddr::V6(std::net::Ipv6Addr::from(
                    (0x2001_0db8_0001_0002u128 << 64) | i,
                ))
            })
            .filter(|&ip| limiter.check(ip).is_ok())
            .count();
        assert_eq!(allowed, 100);
    }
}

/// The middleware end to end, and the limiter's housekeeping.
#[cfg(test)]
mod mutation_tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use axum::Router;

    use super::*;
    use crate::http::test_support::{error_code, send, state};

    fn router(overrides: &[(&str, &str)]) -> Router {
        Router::new()
            .route("/api/x", get(|| async { "ok" }))
            .route("/health", get(|| async { "ok" }))
            .layer(crate::http::guard::GuardLayer {
                state: state(overrides),
            })
    }

    async fn status(router: &Router, path: &str, ip: &str) -> (u16, String) {
        let mut request = Request::get(path).body(Body::empty()).unwrap();
        // The guard resolves the client from the peer address, as for a direct connection.
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
                ip.parse().unwrap(),
                40000,
            )));
        let response = send(router, request).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry_after: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry_after), "{retry_after}");
        }
        error_code(response).await
    }

    #[tokio::test]
    async fn over_the_limit_a_client_gets_429_and_health_never_does() {
        let limited = router(&[("RATE_LIMIT_PER_MINUTE", "2")]);
        let ok = (200, String::new());
        assert_eq!(status(&limited, "/api/x", "203.0.113.1").await, ok);
        assert_eq!(status(&limited, "/api/x", "203.0.113.1").await, ok);
        assert_eq!(
            status(&limited, "/api/x", "203.0.113.1").await,
            (429, "rate_limited".into())
        );
        assert_eq!(status(&limited, "/api/x", "203.0.113.2").await, ok);
        for _ in 0..5 {
            assert_eq!(status(&limited, "/health", "203.0.113.1").await, ok);
        }
        let off = router(&[
            ("RATE_LIMIT_PER_MINUTE", "1"),
            ("ENABLE_GLOBAL_RATE_LIMIT", "false"),
        ]);
        for _ in 0..3 {
            assert_eq!(status(&off, "/api/x", "203.0.113.1").await, ok);
        }
    }

    #[test]
    fn hourly_limits_count_per_client_and_say_how_long_to_wait() {
        let limiter = IpRateLimiter::per_hour(1);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(limiter.check(ip), Ok(()));
        let wait = limiter.check(ip).unwrap_err();
        assert!(
            wait > Duration::from_secs(3000) && wait <= Duration::from_secs(3600),
            "{wait:?}"
        );
        assert_eq!(limiter.check("203.0.113.10".parse().unwrap()), Ok(()));
    }

    #[test]
    fn a_table_limit_allows_its_hits_at_once_then_one_per_window_share() {
        let limiter = IpRateLimiter::of(&crate::limits::table::ProcessLimit {
            name: "unit",
            hits: 2,
            window: Duration::from_secs(60),
        });
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(limiter.check(ip), Ok(()));
        assert_eq!(limiter.check(ip), Ok(()));
        // The next hit refills after 60 s / 2.
        let wait = limiter.check(ip).unwrap_err();
        assert!(
            wait > Duration::from_secs(29) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn each_table_limit_has_its_own_limiter_and_idle_clients_leave_every_limiter() {
        let limiters = ProcessLimiters::new(Some(u32::MAX));
        let mut limits = table::ROUTES.iter().filter_map(|r| r.limits.per_client);
        let first = limits.next().expect("a per-client limit in the table");
        let other = limits.find(|l| l.name != first.name).expect("a second one");
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let limiter = limiters
            .route(&first)
            .expect("every per-client limit has a limiter");
        for _ in 0..first.hits {
            assert_eq!(limiter.check(ip), Ok(()));
        }
        assert!(limiter.check(ip).is_err(), "{} is used up", first.name);
        let own = limiters.route(&other).expect("and the other too");
        assert_eq!(own.check(ip), Ok(()), "{} counts on its own", other.name);
        let global = limiters.global.as_ref().expect("the global limiter");
        assert_eq!(global.check(ip), Ok(()));
        limiters.forget_idle();
        assert_eq!(global.limiter.len(), 0, "refilled at once: forgotten");
    }

    #[test]
    fn idle_clients_are_forgotten() {
        // A quota so large that a bucket refills within nanoseconds: idle at once.
        let limiter = IpRateLimiter::per_minute(u32::MAX);
        assert_eq!(limiter.check("203.0.113.9".parse().unwrap()), Ok(()));
        assert_eq!(limiter.limiter.len(), 1);
        limiter.forget_idle();
        assert_eq!(limiter.limiter.len(), 0);
    }
}
