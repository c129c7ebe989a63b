//! Building and running the application: settings in, supervision tree up, wait for a signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;
use ractor::{Actor, ActorRef};
use raptor_actors::acceptor::{AcceptorArgs, Drained, HttpService};
use raptor_actors::broker::SharedBrokerConfig;
use raptor_actors::clock::{SharedClock, SystemClock};
use raptor_actors::outbound::{AccountBudget, AccountPolicy, BudgetPolicy, OutboundBudget};
use raptor_actors::session::SessionPolicy;
use raptor_actors::supervisor::{Mode, RootArgs, RootMsg, RootSupervisor};
use raptor_actors::Actors;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::task::JoinHandle;

use crate::error_reporting::ErrorReporting;
use crate::http::rate_limit::IpRateLimiter;
use crate::http::{self, AppState, AppStateInner};
use crate::settings::{AppEnv, Settings};

/// `POST /api/auth/email/resend` calls allowed per client IP per hour.
const RESENDS_PER_IP_PER_HOUR: u32 = 10;
/// `GET /api/compare-quotes` calls allowed per client IP per minute (legacy route).
const COMPARE_QUOTES_PER_IP_PER_MINUTE: u32 = 30;

/// A running Raptor process: its supervision tree and, in web modes, its listener.
pub struct Application {
    local_addr: Option<SocketAddr>,
    actors: Actors,
    pool: Pool,
    root: ActorRef<RootMsg>,
    root_handle: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    /// Kept so a SIGHUP re-reads configuration for the same environment.
    app_env: AppEnv,
    signals: Signals,
    broker_config: SharedBrokerConfig,
    /// The Alpaca budget, whose account share follows a SIGHUP.
    budget: OutboundBudget,
    error_reporting: ErrorReporting,
}

impl Application {
    /// Starts the supervision tree for `mode` with the system clock.
    pub async fn build(settings: Settings, mode: Mode) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, mode, Arc::new(SystemClock)).await
    }

    /// Starts the supervision tree for `mode`; tests pass a clock they can move.
    pub async fn build_with_clock(
        settings: Settings,
        mode: Mode,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let fault_injection = cfg!(feature = "fault-injection") && !settings.app_env.is_deployed();
        let signals =
            Signals::register(fault_injection).context("cannot install signal handlers")?;
        let error_reporting = ErrorReporting::from_settings(&settings)?;
        let settings = Arc::new(settings);
        let url = settings
            .database_url()
            .context("DATABASE_URL is required")?;
        let pool = crate::db::build_app_pool(
            url,
            settings.database_pool_url(),
            settings.database.ssl,
            settings.database.pool_size,
        )?;
        // LISTEN needs a session of its own: always the direct URL.
        let listen = crate::db::connection_config(url, settings.database.ssl)?;
        if settings.database_pool_url().is_none() {
            crate::db::capacity::warn_if_short(&pool, settings.database.pool_size, mode).await;
        }
        let actors = Actors::default();
        let mut background = Vec::new();
        let budget = outbound_budget(&settings, &pool);

        let (acceptor, local_addr) = if mode == Mode::Worker {
            (None, None)
        } else {
            let rate_limiter = settings
                .flags
                .global_rate_limit
                .then(|| IpRateLimiter::per_minute(settings.rate_limit_per_minute));
            let resend_limiter = IpRateLimiter::per_hour(RESENDS_PER_IP_PER_HOUR);
            let compare_limiter = IpRateLimiter::per_minute(COMPARE_QUOTES_PER_IP_PER_MINUTE);
            let lane_share = crate::trading::in_flight::LaneShare::per_minute(
                settings.risk.user_calls_per_minute,
            );
            let idle_shares = lane_share.clone();
            let books = Arc::new(crate::trading::book::BookCache::default());
            background.push(books.listen(listen.clone()));
            let limiters: Vec<IpRateLimiter> = rate_limiter
                .iter()
                .cloned()
                .chain([resend_limiter.clone(), compare_limiter.clone()])
                .collect();
            let counters = Arc::new(crate::limits::Counters::new(
                pool.clone(),
                settings.token_hasher(),
            ));
            let forget = (counters.clone(), clock.clone());
            background.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    limiters.iter().for_each(IpRateLimiter::forget_idle);
                    idle_shares.forget_idle();
                    let (counters, clock) = &forget;
                    counters.forget_old(clock.now(), crate::http::shared_limits::LONGEST_WINDOW);
                }
            }));
            let readiness = crate::http::readiness::Readiness::default();
            readiness.probe_once(&pool).await;
            background.push(readiness.spawn_probe(pool.clone()));
            let state = AppState::from(AppStateInner {
                readiness,
                cors: Arc::new(crate::http::cors::Cors::new(&settings.frontend_origins)),
                settings: settings.clone(),
                pool: pool.clone(),
                actors: actors.clone(),
                rate_limiter,
                counters,
                resend_limiter,
                compare_limiter,
                market_data_feed: crate::market_data::feed_key(&settings).into(),
                webauthn: crate::auth::relying_party::relying_party(&settings)?.map(Arc::new),
                clock: clock.clone(),
                session_policy: SessionPolicy::default(),
                started_at: std::time::Instant::now(),
                lane_share,
                books,
            });
            let address = SocketAddr::new(settings.bind_address, settings.port);
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address}"))?;
            let local_addr = listener.local_addr()?;
            let args = AcceptorArgs {
                listener: Arc::new(listener),
                service: {
                    let app = http::app(
                        state.clone(),
                        error_reporting.instrument(http::router(state)),
                    );
                    HttpService::new(move |peer| app.for_peer(peer))
                },
                drain_timeout: settings.shutdown_grace,
                limits: settings.connections,
            };
            (Some(args), Some(local_addr))
        };

        let mailer = (mode != Mode::Worker)
            .then(|| crate::email::mailer_args(&settings, pool.clone(), clock.clone()))
            .transpose()?;
        let broker_config = Arc::new(std::sync::Mutex::new(crate::trading::broker_config(
            &settings,
        )));
        actors
            .broker
            .use_request_timeout(settings.alpaca.request_timeout);
        let root_args = RootArgs {
            mode,
            actors: actors.clone(),
            pool: pool.clone(),
            clock: clock.clone(),
            hasher: settings.token_hasher(),
            session_policy: SessionPolicy::default(),
            listen: listen.clone(),
            mailer,
            acceptor,
            broker: broker_config.clone(),
            market_data: crate::market_data::config(&settings),
            trade_stream: crate::trading::stream::sink::stream_config(&settings),
            trade_sink: Arc::new(crate::trading::stream::sink::LedgerSink {
                pool: pool.clone(),
                actors: actors.clone(),
                clock: clock.clone(),
                owners: Default::default(),
            }),
            budget: budget.clone(),
            schedules: settings.schedules.clone(),
            jobs: Arc::new(crate::retention::RetentionJobs::new(pool.clone())),
            backtests: crate::backtest::worker::worker_args(
                &settings, &pool, &actors, &clock, &listen,
            ),
            restart: settings.restart,
        };
        let (root, root_handle) = Actor::spawn(None, RootSupervisor, root_args)
            .await
            .map_err(|e| anyhow::anyhow!("supervision tree failed to start: {e}"))?;
        if mode != Mode::Worker {
            background.push(crate::trading::book::keeper::spawn_reconciler(
                pool.clone(),
                actors.clone(),
                clock.clone(),
            ));
        }
        if mode != Mode::Web {
            background.push(crate::trading::book::keeper::spawn_snapshots(
                pool.clone(),
                actors.market_data.clone(),
                clock.clone(),
            ));
        }
        if let Some(addr) = local_addr {
            tracing::info!(%addr, env = settings.app_env.as_str(), ?mode, "raptor listening");
        } else {
            tracing::info!(
                env = settings.app_env.as_str(),
                ?mode,
                "raptor worker running"
            );
        }
        Ok(Self {
            local_addr,
            actors,
            pool,
            root,
            root_handle,
            background,
            app_env: settings.app_env,
            broker_config,
            budget,
            signals,
            error_reporting,
        })
    }

    /// The bound address (web modes).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    pub fn actors(&self) -> &Actors {
        &self.actors
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Runs until SIGTERM or SIGINT (then shuts down in order) or until the supervision tree
    /// gives up (an error, so the process exits non-zero and the platform restarts it).
    /// SIGHUP re-reads configuration in place ([`Application::reload`]). Built with the
    /// `fault-injection` feature and outside production and staging, SIGUSR1 panics the session
    /// store.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        loop {
            let signals = &mut self.signals;
            let fault_signal = &mut signals.fault;
            let fault = async move {
                match fault_signal.as_mut() {
                    Some(fault) => fault.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = signals.terminate.recv() => return self.stop_on("SIGTERM").await,
                _ = signals.interrupt.recv() => return self.stop_on("SIGINT").await,
                _ = signals.hangup.recv() => self.reload_from_env(),
                _ = fault => self.inject_fault(),
                _ = &mut self.root_handle => {
                    anyhow::bail!("the supervision tree stopped: a child exceeded its restart cap")
                }
            }
        }
    }

    async fn stop_on(self, signal: &'static str) -> anyhow::Result<()> {
        tracing::info!(signal, "shutting down");
        self.shutdown().await;
        Ok(())
    }

    /// SIGUSR1 with the `fault-injection` feature, outside production and staging
    /// (`scripts/fault-campaign.sh`): the session store panics, so its supervisor's restart and
    /// the 503s while it is down can be watched on the real binary.
    #[cfg(feature = "fault-injection")]
    fn inject_fault(&self) {
        use raptor_actors::session::SessionMsg;
        match self.actors.sessions.slot().get() {
            Ok(store) => {
                tracing::warn!("SIGUSR1: injecting a panic into the session store");
                let _ = store.send_message(SessionMsg::Fault);
            }
            Err(_) => tracing::warn!("SIGUSR1: the session store is already down"),
        }
    }

    /// Without the `fault-injection` feature SIGUSR1 is never listened for.
    #[cfg(not(feature = "fault-injection"))]
    fn inject_fault(&self) {}

    /// SIGHUP: re-reads the environment (for the same `APP_ENV`); a configuration that no longer
    /// parses is logged and the running one kept.
    fn reload_from_env(&self) {
        let app_env = self.app_env;
        let settings = Settings::load(|key| match key {
            "APP_ENV" => Some(app_env.as_str().to_owned()),
            _ => std::env::var(key).ok(),
        });
        match settings {
            Ok(settings) => self.reload(&settings),
            Err(error) => tracing::error!(%error, "SIGHUP: configuration not reloaded"),
        }
    }

    /// Applies re-read settings to what follows configuration in place: the broker (kill
    /// switch, credentials, timeout, outbound rate limit). The rest needs a restart.
    pub fn reload(&self, settings: &Settings) {
        let config = crate::trading::broker_config(settings);
        *self.broker_config.lock().unwrap_or_else(|e| e.into_inner()) = config.clone();
        self.actors.broker.reconfigure(config);
        if let Some(account) = self.budget.account() {
            account.set_policy(account_policy(settings));
        }
        tracing::info!("configuration reloaded");
    }

    /// Stops accepting, drains in-flight requests (bounded), flushes the audit writer, stops
    /// every actor.
    pub async fn shutdown(self) -> Drained {
        for task in &self.background {
            task.abort();
        }
        // The tree bounds itself (SHUTDOWN_BUDGET, 24 s); then at most 1 s for the root to stop
        // and 2 s for the error reporter: 27 s in the worst case, inside Heroku's 30 s.
        let bound = raptor_actors::supervisor::SHUTDOWN_BUDGET + Duration::from_millis(500);
        let drained = match self.root.call(RootMsg::Shutdown, Some(bound)).await {
            Ok(ractor::rpc::CallResult::Success(report)) => report.drained,
            _ => Drained::TimedOut,
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), self.root_handle).await;
        self.error_reporting.flush().await;
        tracing::info!(?drained, "shutdown complete");
        drained
    }
}

/// The signals Raptor acts on. Registered before the listener serves, so none can arrive while
/// the default action (terminate at once) still applies.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
    /// SIGUSR1, fault injection: only with the `fault-injection` feature, outside production
    /// and staging.
    fault: Option<Signal>,
}

impl Signals {
    fn register(fault_injection: bool) -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
            fault: if fault_injection {
                Some(signal(SignalKind::user_defined1())?)
            } else {
                None
            },
        })
    }
}

/// The one outbound budget to Alpaca that trading and market data share, with every other
/// process through Postgres (SPEC: below Alpaca's own limit, with a share market data can never
/// take); this process's own window is the fallback while Postgres cannot be asked.
fn outbound_budget(settings: &Settings, pool: &Pool) -> OutboundBudget {
    let fallback = OutboundBudget::new(BudgetPolicy {
        limit: settings.alpaca.rate_limit_per_minute,
        reserved_for_trading: settings.alpaca.trading_reserved_per_minute,
        window: Duration::from_secs(60),
        max_wait: raptor_actors::broker::MAX_QUEUE_WAIT,
    });
    fallback.with_account(AccountBudget::new(pool.clone(), account_policy(settings)))
}

fn account_policy(settings: &Settings) -> AccountPolicy {
    AccountPolicy::per_minute(
        settings.alpaca.account_rate_limit_per_minute,
        settings.alpaca.trading_reserved_per_minute,
    )
}
