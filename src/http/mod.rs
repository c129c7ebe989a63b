//! The HTTP surface: the router, its shared state, and the middleware stack every request
//! passes through. Only this module knows status codes.
//!
//! The stack, outermost first: the edge (request id, span and access log, CORS, JSON error
//! shape, security headers) → the guard (client IP and the Cloudflare guard, rate limit per
//! process, CSRF, a declared body past 64 KiB, shared limits of the sensitive routes on every
//! dyno, panic catcher) → the router (whose one body extractor, `ApiJson`, reads at most
//! 64 KiB). The stack wraps the router once, not each of its routes: a request
//! costs no boxed future and no clone of a layer on its way to the router (ADR 0007).

pub mod account;
pub mod auth;
pub mod backtest;
pub mod catch_panic;
pub mod client_ip;
pub mod config;
pub mod cookie;
pub mod cors;
pub mod csrf;
pub mod dev_console;
pub mod dev_page;
pub mod edge;
pub mod error;
pub mod error_schema;
pub mod extract;
pub mod fault;
pub mod guard;
pub mod json;
pub mod market_data;
pub mod openapi;
pub mod probes;
pub mod query;
pub mod rate_limit;
pub mod readiness;
pub mod request_id;
pub mod schemas;
pub mod security;
pub mod shared_limits;
pub mod static_files;
pub mod system;
#[cfg(test)]
pub(crate) mod test_support;
pub mod trading;

use std::sync::Arc;

use axum::Router;
use deadpool_postgres::Pool;
use raptor_actors::clock::SharedClock;
use raptor_actors::session::SessionPolicy;
use raptor_actors::token::TokenHasher;
use raptor_actors::Actors;
use tower::ServiceBuilder;

pub use config::HttpConfig;
pub use error::ApiError;
pub use json::ApiJson;

/// The paths whose `GET` opens a long-lived stream: a connection that opens one is served
/// without hyper's per-connection buffers (ADR 0009), so 10,000 idle streams fit a web dyno.
pub const STREAM_PATHS: &[&str] = &[trading::stream::PATH];

/// Largest request body accepted.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// What every handler can reach. Handlers own no state: they ask an actor or the database.
///
/// One `Arc`: axum clones the state for every request in every layer that takes it, so a clone
/// must cost one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

impl From<AppStateInner> for AppState {
    fn from(inner: AppStateInner) -> Self {
        Self(Arc::new(inner))
    }
}

/// The fields of [`AppState`].
pub struct AppStateInner {
    /// What the handlers and middleware read of the configuration.
    pub config: HttpConfig,
    /// The allowlist of `FRONTEND_ORIGIN`, for CORS and CSRF alike.
    pub cors: Arc<cors::Cors>,
    pub pool: Pool,
    pub actors: Actors,
    /// This process's per-client limiters (`crate::limits::table`).
    pub limiters: rate_limit::ProcessLimiters,
    /// Leases of clients' allowances under the limits shared across dynos.
    pub counters: Arc<crate::limits::Counters>,
    /// Whether the database answered the last background probe.
    pub readiness: readiness::Readiness,
    /// The key historical bars are cached under (the data feed, or `synthetic`).
    pub market_data_feed: Arc<str>,
    /// The relying party; `None` when passkeys are not configured.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    pub clock: SharedClock,
    pub session_policy: SessionPolicy,
    pub started_at: std::time::Instant,
    /// Each user's share of the trading lane (order submits and cancels).
    pub lane_share: crate::trading::in_flight::LaneShare,
    /// The books and open orders this process read, until a change notifies it.
    pub books: Arc<crate::trading::book::BookCache>,
    /// The pre-trade risk limits.
    pub risk: crate::trading::risk::RiskLimits,
    /// The `session` cookie's attributes.
    pub cookie: cookie::SessionCookie,
}

impl AppState {
    /// A pooled connection, or 503 when the database cannot give one.
    pub async fn db(&self) -> Result<deadpool_postgres::Client, ApiError> {
        self.pool.get().await.map_err(|error| {
            tracing::error!(%error, "no database connection");
            ApiError::unavailable("the database is unavailable")
        })
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn hasher(&self) -> TokenHasher {
        self.config.hasher.clone()
    }

    pub fn session_policy(&self) -> SessionPolicy {
        self.session_policy
    }

    /// The relying party, or 503 when passkeys are not configured.
    pub fn webauthn(&self) -> Result<&webauthn_rs::Webauthn, ApiError> {
        self.webauthn
            .as_deref()
            .ok_or_else(|| ApiError::unavailable("passkeys are not configured"))
    }

    /// Appends an audit row and waits until it is durable; the caller's change must fail if
    /// this does.
    pub async fn audit(&self, entry: raptor_actors::audit::AuditEntry) -> Result<(), ApiError> {
        crate::audit::AuditTrail::append(&self.actors.audit, entry).await?;
        Ok(())
    }
}

/// Liveness paths: never rate limited, never behind the Cloudflare guard.
pub fn is_health_path(path: &str) -> bool {
    matches!(path, "/health" | "/api/system/health")
}

/// Every route: the API (each documented in the OpenAPI document by the same registration that
/// routes it, see [`openapi`]) and the development-only pages.
pub fn routes(app_env: crate::settings::AppEnv) -> Router<AppState> {
    let (api, _) = openapi::api_router().split_for_parts();
    api.merge(dev_page::routes(app_env))
        .merge(dev_console::routes(app_env))
        .merge(openapi::docs_page(app_env))
        .merge(fault::routes(app_env))
}

/// Every route, with the state, and the static files for any other path.
pub fn router(state: AppState) -> Router {
    routes(state.config.app_env)
        .fallback(static_files::fallback)
        .with_state(state)
}

/// The whole application as the acceptor serves it: `router` behind the stack.
pub type App = edge::Edge<guard::Guard<probes::Probes<Router>>>;

/// `router` (see [`router`]) behind the stack.
pub fn app(state: AppState, router: Router) -> App {
    ServiceBuilder::new()
        .layer(edge::EdgeLayer {
            deployed: state.config.app_env.is_deployed(),
            cors: Arc::clone(&state.cors),
        })
        .layer(guard::GuardLayer {
            state: state.clone(),
        })
        .layer(probes::ProbesLayer { state })
        .service(router)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use catch_panic::Caught;

    use super::*;

    async fn boom() -> StatusCode {
        panic!("secret internal detail")
    }

    #[test]
    fn every_stream_path_is_a_get_route_of_the_document() {
        let document = serde_json::to_value(openapi::document()).unwrap();
        for path in STREAM_PATHS {
            assert!(
                document["paths"][path]["get"].is_object(),
                "{path} is not a GET route"
            );
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_json_500_without_detail() {
        let app: Router = Router::new().route("/boom", get(boom)).layer(
            ServiceBuilder::new()
                .layer(edge::EdgeLayer {
                    deployed: false,
                    cors: Arc::new(cors::Cors::new(&[])),
                })
                .layer(tower::util::MapFutureLayer::new(|call| {
                    Caught::call(|| call)
                })),
        );
        let response = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let request_id = response.headers()[request_id::HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal_error");
        assert_eq!(body["error"]["request_id"], request_id.as_str());
        assert!(!body.to_string().contains("secret internal detail"));
    }
}
