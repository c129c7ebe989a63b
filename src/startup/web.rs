//! The web front of a process (web and dev modes): the HTTP layer's state built from the
//! settings, the tasks that keep it fresh, and the listener the acceptor serves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;
use raptor_actors::acceptor::{AcceptorArgs, HttpService};
use raptor_actors::clock::SharedClock;
use raptor_actors::session::SessionPolicy;
use raptor_actors::supervisor::Mode;
use raptor_actors::Actors;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::wiring;
use crate::error_reporting::ErrorReporting;
use crate::http::rate_limit::ProcessLimiters;
use crate::http::readiness::Readiness;
use crate::http::{self, AppState, AppStateInner};
use crate::limits::table;
use crate::settings::{ConfigError, Settings};
use crate::trading::book::BookCache;
use crate::trading::in_flight::LaneShare;

/// What the web front shares with the rest of the process.
pub struct Shared<'a> {
    /// The parsed settings (the wiring reads them; nothing keeps them).
    pub settings: &'a Settings,
    /// The application pool.
    pub pool: &'a Pool,
    /// The actors' typed clients (late-bound: the tree starts after the front is built).
    pub actors: &'a Actors,
    /// The clock (tests move it).
    pub clock: &'a SharedClock,
}

/// The HTTP layer's state for these settings; nothing is started (the pool connects lazily).
pub fn app_state(
    shared: &Shared<'_>,
    books: Arc<BookCache>,
    readiness: Readiness,
) -> Result<AppState, ConfigError> {
    let settings = shared.settings;
    let config = wiring::http_config(settings);
    let limiters = ProcessLimiters::new(config.global_per_minute);
    let risk = wiring::risk_limits(settings);
    Ok(AppState::from(AppStateInner {
        readiness,
        cors: Arc::new(http::cors::Cors::new(&settings.frontend_origins)),
        pool: shared.pool.clone(),
        actors: shared.actors.clone(),
        counters: Arc::new(crate::limits::Counters::new(
            shared.pool.clone(),
            config.hasher.clone(),
        )),
        limiters,
        market_data_feed: wiring::market_data_feed(settings).into(),
        webauthn: wiring::relying_party(settings)?.map(Arc::new),
        clock: shared.clock.clone(),
        session_policy: SessionPolicy::default(),
        started_at: std::time::Instant::now(),
        lane_share: LaneShare::per_minute(risk.user_calls_per_minute),
        books,
        risk,
        cookie: wiring::session_cookie(settings),
        config,
    }))
}

/// Builds the state, starts the tasks that keep it fresh (pushed on `background`) and binds
/// the listener: the acceptor's arguments and the bound address.
pub async fn front(
    shared: &Shared<'_>,
    listen: &tokio_postgres::Config,
    error_reporting: &ErrorReporting,
    background: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<(AcceptorArgs, SocketAddr)> {
    let books = Arc::new(BookCache::default());
    background.push(books.listen(listen.clone()));
    let readiness = Readiness::default();
    readiness.probe_once(shared.pool).await;
    background.push(readiness.spawn_probe(shared.pool.clone()));
    let state = app_state(shared, books, readiness)?;
    background.push(forget_idle_clients(&state));
    let settings = shared.settings;
    let address = SocketAddr::new(settings.bind_address, settings.port);
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let local_addr = listener.local_addr()?;
    let app = http::app(
        state.clone(),
        error_reporting.instrument(http::router(state)),
    );
    let args = AcceptorArgs {
        listener: Arc::new(listener),
        service: HttpService::new(move |peer| app.for_peer(peer)).streams_at(http::STREAM_PATHS),
        drain_timeout: settings.shutdown_grace,
        limits: settings.connections,
    };
    Ok((args, local_addr))
}

/// The web front in the modes that serve HTTP (none for the worker).
pub async fn front_for(
    mode: Mode,
    shared: &Shared<'_>,
    listen: &tokio_postgres::Config,
    error_reporting: &ErrorReporting,
    background: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<Option<(AcceptorArgs, SocketAddr)>> {
    match mode {
        Mode::Worker => Ok(None),
        _ => front(shared, listen, error_reporting, background)
            .await
            .map(Some),
    }
}

/// Once a minute, the in-memory limiters forget clients idle long enough to start afresh.
fn forget_idle_clients(state: &AppState) -> JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.limiters.forget_idle();
            state.lane_share.forget_idle();
            state
                .counters
                .forget_old(state.now(), table::LONGEST_WINDOW);
        }
    })
}
