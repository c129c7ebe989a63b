//! Building and running the application: settings in, supervision tree up, wait for a signal.
//!
//! [`Application::build`] reads as a table of contents, each step a function of a module here:
//! [`wiring`] is the one place that turns `Settings` into what each actor, domain and adapter
//! takes; `database` connects the pool; [`web`] builds the web front (the HTTP layer's state and
//! the listener); `tree` starts the supervision tree and the keepers beside it; `signals`
//! installs the handlers [`Application::run_until_stopped`] waits on.

mod database;
mod signals;
mod tree;
pub mod web;
pub mod wiring;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;
use raptor_actors::acceptor::Drained;
use raptor_actors::clock::{SharedClock, SystemClock};
use raptor_actors::supervisor::{Mode, RootMsg};
use raptor_actors::Actors;
use tokio::task::JoinHandle;

use crate::error_reporting::ErrorReporting;
use crate::settings::{AppEnv, Settings};
use database::Database;
use signals::Signals;
use tree::{keepers, Tree};

/// A running Raptor process: its supervision tree and, in web modes, its listener.
pub struct Application {
    local_addr: Option<SocketAddr>,
    actors: Actors,
    pool: Pool,
    tree: Tree,
    background: Vec<JoinHandle<()>>,
    /// Kept so a SIGHUP re-reads configuration for the same environment.
    app_env: AppEnv,
    signals: Signals,
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
        let signals = Signals::register(wiring::fault_injection(&settings))
            .context("cannot install signal handlers")?;
        let error_reporting = wiring::error_reporting(&settings)?;
        let Database { pool, listen } = Database::connect(&settings, mode).await?;
        let actors = Actors::default();
        let shared = web::Shared {
            settings: &settings,
            pool: &pool,
            actors: &actors,
            clock: &clock,
        };
        let mut background = Vec::new();
        let front = web::front_for(mode, &shared, &listen, &error_reporting, &mut background);
        let (acceptor, local_addr) = front.await?.unzip();
        let tree = Tree::start(mode, &shared, listen, acceptor).await?;
        background.extend(keepers(mode, &shared, &tree));
        log_started(&settings, mode, local_addr);
        Ok(Self {
            local_addr,
            actors,
            pool,
            tree,
            background,
            app_env: settings.app_env,
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
                _ = &mut self.tree.handle => {
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
        let config = wiring::broker_config(settings);
        *self
            .tree
            .broker_config
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = config.clone();
        self.actors.broker.reconfigure(config);
        if let Some(account) = self.tree.budget.account() {
            account.set_policy(wiring::account_policy(settings));
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
        let drained = match self.tree.root.call(RootMsg::Shutdown, Some(bound)).await {
            Ok(ractor::rpc::CallResult::Success(report)) => report.drained,
            _ => Drained::TimedOut,
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), self.tree.handle).await;
        self.error_reporting.flush().await;
        tracing::info!(?drained, "shutdown complete");
        drained
    }
}

fn log_started(settings: &Settings, mode: Mode, local_addr: Option<SocketAddr>) {
    let env = settings.app_env.as_str();
    match local_addr {
        Some(addr) => tracing::info!(%addr, env, ?mode, "raptor listening"),
        None => tracing::info!(env, ?mode, "raptor worker running"),
    }
}
