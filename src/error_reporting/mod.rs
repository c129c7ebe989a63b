//! Error reporting to Sentry (`SENTRY_DSN`): handler panics and 5xx answers, each tagged with the
//! request id and the route (the matched path template, never the raw URI), scrubbed of
//! personal data and credentials ([`scrub`]) before anything leaves the process.
//!
//! Without `SENTRY_DSN` nothing here runs on a request: no layer is added, and the hooks in
//! `http::error` find no client and return at once.
//!
//! With it, [`ErrorReporting::instrument`] wraps each route so every request runs under a Sentry
//! hub of its own (a fork of the application's, so concurrent requests never share a scope)
//! that names the route; an event processor adds the request id from the request's task. What
//! reports:
//! - a panic: Sentry's panic hook, with the panic message and the stack;
//! - a 500 from [`crate::http::ApiError::internal`]: [`internal_error`], with the error text;
//! - any other 5xx `ApiError` (502, 503, 504): [`server_error`], with its code, as a warning.
//!
//! The application's client is also bound to the process's main hub, so panics outside a
//! request (an actor, a worker job) are reported too, without a request id or route.
//!
//! Nothing about the request is attached: no URL, query, headers, cookies, body or client
//! address, and breadcrumbs are off. The scrubber removes them anyway, with emails, IP
//! addresses and tokens found in messages, should a future integration or message carry them.

pub mod scrub;

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::Router;
use secrecy::{ExposeSecret, SecretString};
use sentry::protocol::Event;
use sentry::{ClientOptions, Hub, Level, SentryFutureExt};

/// The route tag of a request no route matched (the static files, a 404).
pub const UNMATCHED_ROUTE: &str = "fallback";

/// How long shutdown waits for queued events to be sent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// `SENTRY_DSN` is set but is not a DSN. The value is never echoed: it carries a key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: SENTRY_DSN is not a valid Sentry DSN")]
pub struct InvalidDsn;

/// The application's error reporting: a Sentry hub when `SENTRY_DSN` is set, else nothing.
#[derive(Default)]
pub struct ErrorReporting {
    hub: Option<Arc<Hub>>,
}

impl ErrorReporting {
    /// Reporting to `dsn` (`SENTRY_DSN`), events tagged with `environment`; off without one.
    pub fn new(dsn: Option<&SecretString>, environment: &str) -> Result<Self, InvalidDsn> {
        let Some(dsn) = dsn else {
            return Ok(Self::default());
        };
        let dsn = dsn.expose_secret().trim().parse().map_err(|_| InvalidDsn)?;
        let options = ClientOptions {
            dsn: Some(dsn),
            release: sentry::release_name!(),
            environment: Some(environment.to_owned().into()),
            send_default_pii: false,
            max_breadcrumbs: 0,
            before_breadcrumb: Some(Arc::new(|_| None)),
            before_send: Some(Arc::new(scrub::event)),
            // The panic hook and stack-trace trimming only: no contexts integration (host
            // details), no proxy or TLS settings read from the environment.
            default_integrations: false,
            integrations: vec![
                Arc::new(sentry::integrations::panic::PanicIntegration::default()),
                Arc::new(sentry::integrations::backtrace::ProcessStacktraceIntegration),
            ],
            transport: Some(Arc::new(sentry::transports::DefaultTransportFactory)),
            shutdown_timeout: FLUSH_TIMEOUT,
            ..Default::default()
        };
        let client = Arc::new(sentry::Client::from(options));
        Hub::main().bind_client(Some(client.clone()));
        let hub = Hub::new(Some(client), Default::default());
        hub.configure_scope(|scope| scope.add_event_processor(tag_request_id));
        tracing::info!("error reporting to Sentry is on");
        Ok(Self {
            hub: Some(Arc::new(hub)),
        })
    }

    /// `router` with each request run under its own hub naming its route; `router` unchanged
    /// when reporting is off.
    pub fn instrument(&self, router: Router) -> Router {
        let Some(hub) = self.hub.clone() else {
            return router;
        };
        router.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
                let request_hub = Arc::new(Hub::new_from_top(&hub));
                request_hub.configure_scope(|scope| {
                    scope.set_transaction(Some(route));
                    scope.set_tag("route", route);
                });
                next.run(request).bind_hub(request_hub)
            },
        ))
    }

    /// Waits (bounded) until queued events are sent; on shutdown.
    pub async fn flush(&self) {
        if let Some(client) = self.hub.as_ref().and_then(|hub| hub.client()) {
            let _ = tokio::task::spawn_blocking(move || client.flush(Some(FLUSH_TIMEOUT))).await;
        }
    }
}

/// Tags an event captured while a request is handled with that request's id.
fn tag_request_id(mut event: Event<'static>) -> Option<Event<'static>> {
    if let Some(id) = crate::telemetry::request::current_id() {
        event
            .tags
            .insert("request_id".into(), id.as_str().to_owned());
    }
    Some(event)
}

/// Reports an unexpected failure answered with a 500; `error` is scrubbed before it leaves.
pub fn internal_error(error: &dyn Display) {
    capture(Level::Error, 500, "internal_error", error);
}

/// Reports another 5xx answer (a dependency down or failing) under its error code.
pub fn server_error(status: u16, code: &str, message: &dyn Display) {
    capture(Level::Warning, status, code, message);
}

fn capture(level: Level, status: u16, code: &str, message: &dyn Display) {
    // With no client on this thread's hub (reporting off) this returns before formatting.
    Hub::with_active(|hub| {
        let event = Event {
            level,
            message: Some(message.to_string()),
            tags: [
                ("status".to_owned(), status.to_string()),
                ("error_code".to_owned(), code.to_owned()),
            ]
            .into(),
            ..Default::default()
        };
        hub.capture_event(event);
    });
}
