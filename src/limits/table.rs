//! Which route has which rate limit: the one table the middleware reads (docs/api.md, "Rate
//! limits", renders it for clients).
//!
//! Three kinds of limit, each keyed by what it protects:
//!
//! - **per client, per process**: a GCRA limiter in this process's memory, per client (an IPv4
//!   address or an IPv6 /64); N web dynos allow N times it. The global one
//!   (`RATE_LIMIT_PER_MINUTE`, every route but health) and the few routes of [`ROUTES`] with a
//!   `per_client` limit (`http::rate_limit`).
//! - **per client, across dynos**: a counter in Postgres leased in blocks ([`crate::limits`],
//!   ADR 0005); the global one ([`global`]) and the routes of [`ROUTES`] with a `cross_dyno`
//!   limit (`http::shared_limits`). These protect people (emails, ceremonies, tokens) and money
//!   (orders).
//! - **per user**: counted by the use case, which knows the user (`trading::in_flight`: each
//!   user's share of the broker calls, `TRADING_USER_CALLS_PER_MINUTE`, and of the calls in
//!   flight).
//!
//! Over any of them a request gets 429 `rate_limited` with `Retry-After`.

use std::time::Duration;

use axum::http::Method;

use super::SharedLimit;

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

/// A limit counted in one process's memory per client: at most `hits` per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessLimit {
    /// The limit's name (one limiter per name).
    pub name: &'static str,
    /// Requests allowed per window (also the burst).
    pub hits: u32,
    /// The window `hits` refill over.
    pub window: Duration,
}

/// A limit counted per signed-in user by the use case itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserLimit {
    /// `trading::in_flight`: broker calls a minute (`TRADING_USER_CALLS_PER_MINUTE`) and calls
    /// in flight at once, per user.
    TradingLane,
}

/// The limits of one route, besides the global ones every route but health has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteLimits {
    /// Counted per client in this process.
    pub per_client: Option<ProcessLimit>,
    /// Counted per client on every dyno together.
    pub cross_dyno: Option<&'static SharedLimit>,
    /// Counted per user by the use case.
    pub per_user: Option<UserLimit>,
}

/// One row of the table: a route (its method and path as routed, `{id}` for a segment) and its
/// limits.
#[derive(Debug, Clone)]
pub struct RouteLimit {
    /// The route's method.
    pub method: Method,
    /// The route's path as routed, `{…}` for a path segment.
    pub path: &'static str,
    /// Its limits.
    pub limits: RouteLimits,
}

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

/// `POST /api/auth/email/resend` per client in this process.
pub const RESEND: ProcessLimit = ProcessLimit {
    name: "resend",
    hits: 10,
    window: HOUR,
};
/// The legacy `GET /api/compare-quotes` per client in this process.
pub const COMPARE_QUOTES: ProcessLimit = ProcessLimit {
    name: "compare-quotes",
    hits: 30,
    window: MINUTE,
};

/// The global per-client limit across every process (`RATE_LIMIT_PER_MINUTE`).
pub fn global(per_minute: u32) -> SharedLimit {
    SharedLimit {
        name: "global",
        hits: per_minute,
        window: MINUTE,
    }
}

/// The longest window of any cross-dyno limit (what the in-memory leases must remember).
pub const LONGEST_WINDOW: Duration = HOUR;

const fn limits(
    per_client: Option<ProcessLimit>,
    cross_dyno: Option<&'static SharedLimit>,
    per_user: Option<UserLimit>,
) -> RouteLimits {
    RouteLimits {
        per_client,
        cross_dyno,
        per_user,
    }
}

const fn row(method: Method, path: &'static str, limits: RouteLimits) -> RouteLimit {
    RouteLimit {
        method,
        path,
        limits,
    }
}

/// Every route with a limit of its own. Every attempt counts, failed ones included, so
/// guessing tokens or replaying ceremonies from one client stops at the limit.
pub const ROUTES: &[RouteLimit] = &[
    row(
        Method::POST,
        "/api/auth/email/resend",
        limits(Some(RESEND), Some(&EMAIL), None),
    ),
    row(
        Method::POST,
        "/api/auth/recovery/start",
        limits(None, Some(&RECOVERY), None),
    ),
    row(
        Method::POST,
        "/api/auth/register/options",
        limits(None, Some(&REGISTER), None),
    ),
    row(
        Method::POST,
        "/api/auth/login/options",
        limits(None, Some(&LOGIN), None),
    ),
    row(
        Method::POST,
        "/api/auth/login/verify",
        limits(None, Some(&LOGIN), None),
    ),
    row(
        Method::POST,
        "/api/auth/email/verify",
        limits(None, Some(&TOKENS), None),
    ),
    row(
        Method::POST,
        "/api/auth/recovery/options",
        limits(None, Some(&TOKENS), None),
    ),
    row(
        Method::POST,
        "/api/auth/recovery/verify",
        limits(None, Some(&TOKENS), None),
    ),
    row(
        Method::POST,
        "/api/trading/orders",
        limits(None, Some(&ORDERS), Some(UserLimit::TradingLane)),
    ),
    row(
        Method::DELETE,
        "/api/trading/orders/{id}",
        limits(None, None, Some(UserLimit::TradingLane)),
    ),
    // These place orders too (a replacement, a closing sell): one request counts one.
    row(
        Method::PATCH,
        "/api/trading/orders/{id}",
        limits(None, Some(&ORDERS), Some(UserLimit::TradingLane)),
    ),
    row(
        Method::DELETE,
        "/api/trading/positions/{symbol}",
        limits(None, Some(&ORDERS), Some(UserLimit::TradingLane)),
    ),
    row(
        Method::DELETE,
        "/api/trading/positions",
        limits(None, Some(&ORDERS), Some(UserLimit::TradingLane)),
    ),
    row(
        Method::DELETE,
        "/api/trading/orders",
        limits(None, None, Some(UserLimit::TradingLane)),
    ),
    row(
        Method::GET,
        "/api/compare-quotes",
        limits(Some(COMPARE_QUOTES), None, None),
    ),
];

/// The limits of the route `method` `path` names, if it has any of its own.
pub fn for_route(method: &Method, path: &str) -> Option<&'static RouteLimits> {
    ROUTES
        .iter()
        .find(|row| row.method == method && matches(row.path, path))
        .map(|row| &row.limits)
}

/// Whether `path` is the route `pattern` (`{…}` matches one non-empty segment).
fn matches(pattern: &str, path: &str) -> bool {
    let mut segments = path.split('/');
    let all = pattern.split('/').all(|expected| match segments.next() {
        Some(actual) if expected.starts_with('{') => !actual.is_empty(),
        Some(actual) => actual == expected,
        None => false,
    });
    all && segments.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_found_by_method_and_path_with_segments() {
        let orders = for_route(&Method::POST, "/api/trading/orders").unwrap();
        assert_eq!(orders.cross_dyno, Some(&ORDERS));
        assert_eq!(orders.per_user, Some(UserLimit::TradingLane));
        let cancel = for_route(&Method::DELETE, "/api/trading/orders/abc").unwrap();
        assert_eq!(cancel.cross_dyno, None);
        assert!(for_route(&Method::DELETE, "/api/trading/orders/").is_none());
        assert!(for_route(&Method::DELETE, "/api/trading/orders/a/b").is_none());
        assert!(for_route(&Method::GET, "/api/trading/orders").is_none());
        // Every route that places an order counts against the orders limit.
        for (method, path) in [
            (Method::PATCH, "/api/trading/orders/abc"),
            (Method::DELETE, "/api/trading/positions/AAPL"),
            (Method::DELETE, "/api/trading/positions"),
        ] {
            let found = for_route(&method, path).unwrap();
            assert_eq!(found.cross_dyno, Some(&ORDERS), "{method} {path}");
        }
        assert_eq!(
            for_route(&Method::POST, "/api/auth/email/resend")
                .unwrap()
                .per_client,
            Some(RESEND)
        );
    }

    #[test]
    fn every_cross_dyno_window_fits_the_longest_one() {
        let longest = ROUTES
            .iter()
            .filter_map(|row| row.limits.cross_dyno)
            .map(|limit| limit.window)
            .max();
        assert_eq!(longest, Some(LONGEST_WINDOW));
    }
}
