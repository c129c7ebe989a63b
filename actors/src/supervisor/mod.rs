//! The root supervisor: starts the children a process mode needs, restarts a child that fails,
//! and runs the ordered shutdown.
//!
//! A failed child is removed from its [`Slot`](crate::Slot) at once (callers get "unavailable"
//! while it is down) and restarted after an exponential backoff. A child that fails while
//! running is always restarted: such failures come from what it was asked (a request), and a
//! cap would let anyone who can trigger one stop the whole process. A child that cannot even
//! *start* more than `max_restarts` times in one `window` has a fault no restart fixes (bad
//! configuration, a dependency gone): the supervisor stops, and the process exits non-zero so
//! the platform restarts it.

mod restart;

use std::collections::HashMap;
use std::time::Duration;

use deadpool_postgres::Pool;
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent,
};

use crate::acceptor::{Acceptor, AcceptorArgs, AcceptorMsg, Drained};
use crate::audit::{AuditArgs, AuditWriter};
use crate::backtests::{BacktestMsg, BacktestWorker, BacktestWorkerArgs};
use crate::broker::{Broker, BrokerArgs, SharedBrokerConfig};
use crate::clock::SharedClock;
use crate::mailer::{Mailer, MailerArgs};
use crate::market_data::{MarketData, MarketDataArgs, MarketDataConfig};
use crate::outbound::OutboundBudget;
use crate::registry::Actors;
use crate::scheduler::{Scheduler, SchedulerArgs, SchedulerMsg, Schedules, SharedJobRunner};
use crate::session::{SessionArgs, SessionPolicy, SessionStore};
use crate::slot::Slot;
use crate::token::TokenHasher;
use crate::trade_stream::{SharedTradeSink, TradeStream, TradeStreamArgs, TradeStreamConfig};
use restart::RestartHistory;
pub use restart::RestartPolicy;

/// Which children a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Web dyno: acceptor, session store, audit writer, broker, market data, trade stream.
    Web,
    /// Worker dyno: scheduler, audit writer, backtest worker (and market data, for its bars).
    Worker,
    /// Laptop: everything in one process.
    Dev,
}

impl Mode {
    fn children(self) -> &'static [Child] {
        use Child::*;
        match self {
            Mode::Web => &[
                AuditWriter,
                SessionStore,
                Broker,
                MarketData,
                TradeStream,
                Mailer,
                Acceptor,
            ],
            Mode::Worker => &[AuditWriter, MarketData, Scheduler, Backtests],
            Mode::Dev => &[
                AuditWriter,
                SessionStore,
                Broker,
                MarketData,
                TradeStream,
                Mailer,
                Scheduler,
                Backtests,
                Acceptor,
            ],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Child {
    Acceptor,
    SessionStore,
    AuditWriter,
    Broker,
    MarketData,
    TradeStream,
    Mailer,
    Scheduler,
    Backtests,
}

pub struct RootArgs {
    pub mode: Mode,
    pub actors: Actors,
    pub pool: Pool,
    pub clock: SharedClock,
    /// Keys the HMAC of stored tokens.
    pub hasher: TokenHasher,
    pub session_policy: SessionPolicy,
    /// Connection settings for LISTEN/NOTIFY (the pool's database).
    pub listen: tokio_postgres::Config,
    /// Required when the mode runs the mailer.
    pub mailer: Option<MailerArgs>,
    /// Required when the mode serves HTTP.
    pub acceptor: Option<AcceptorArgs>,
    /// The broker's configuration (web and dev modes); SIGHUP updates it in place.
    pub broker: SharedBrokerConfig,
    /// The market-data actor's configuration (web and dev modes).
    pub market_data: MarketDataConfig,
    /// The trade-updates stream's source and bounds (web and dev modes).
    pub trade_stream: TradeStreamConfig,
    /// What the stream's events update (the main crate's ledger).
    pub trade_sink: SharedTradeSink,
    /// The outbound budget to Alpaca that trading and market data share.
    pub budget: OutboundBudget,
    /// When the scheduler's jobs run (worker and dev modes).
    pub schedules: Schedules,
    /// What the scheduler's firings run (the main crate's retention jobs).
    pub jobs: SharedJobRunner,
    /// The backtest worker (worker and dev modes).
    pub backtests: BacktestWorkerArgs,
    pub restart: RestartPolicy,
}

/// How a child failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// It stopped while running (a panic or an error handling a message).
    Running,
    /// It could not start.
    Start,
}

/// How the ordered shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    pub drained: Drained,
}

pub enum RootMsg {
    /// Start (or restart) one child.
    Start(Child),
    /// Stop accepting, drain HTTP, flush the audit writer, stop every child; replies when done.
    Shutdown(RpcReplyPort<ShutdownReport>),
}

pub struct RootSupervisor;

pub struct RootState {
    args: RootArgs,
    running: HashMap<ActorId, Child>,
    acceptor: Slot<AcceptorMsg>,
    scheduler: Slot<SchedulerMsg>,
    backtests: Slot<BacktestMsg>,
    history: HashMap<Child, RestartHistory>,
    shutting_down: bool,
}

impl Actor for RootSupervisor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RootMsg>,
        args: RootArgs,
    ) -> Result<RootState, ActorProcessingErr> {
        if args.acceptor.is_none() && args.mode.children().contains(&Child::Acceptor) {
            return Err("this mode serves HTTP but no listener was given".into());
        }
        let mut state = RootState {
            args,
            running: HashMap::new(),
            acceptor: Slot::new("http acceptor"),
            scheduler: Slot::new("scheduler"),
            backtests: Slot::new("backtest worker"),
            history: HashMap::new(),
            shutting_down: false,
        };
        for &child in state.args.mode.children() {
            state.start(child, myself.get_cell()).await?;
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<RootMsg>,
        msg: RootMsg,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RootMsg::Start(child) if !state.shutting_down => {
                if let Err(error) = state.start(child, myself.get_cell()).await {
                    tracing::error!(?child, %error, "child failed to start");
                    state.schedule_restart(&myself, child, Failure::Start);
                }
            }
            RootMsg::Start(_) => {}
            RootMsg::Shutdown(reply) => {
                state.shutting_down = true;
                let report = state.shutdown().await;
                let _ = reply.send(report);
                myself.stop(Some("shutdown".into()));
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RootMsg>,
        event: SupervisionEvent,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match &event {
            SupervisionEvent::ActorFailed(cell, error) => (cell, error.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.clone().unwrap_or_else(|| "stopped".into()))
            }
            _ => return Ok(()),
        };
        let Some(child) = state.running.remove(&cell.get_id()) else {
            return Ok(());
        };
        state.clear_slot(child);
        if state.shutting_down {
            return Ok(());
        }
        tracing::error!(?child, reason = %why, "child stopped unexpectedly");
        state.schedule_restart(&myself, child, Failure::Running);
        Ok(())
    }
}

impl RootState {
    async fn start(
        &mut self,
        child: Child,
        supervisor: ActorCell,
    ) -> Result<(), ActorProcessingErr> {
        let a = &self.args;
        let cell = match child {
            Child::AuditWriter => {
                let args = AuditArgs {
                    pool: a.pool.clone(),
                    clock: a.clock.clone(),
                    head_log_every: Some(crate::audit::HEAD_LOG_EVERY),
                };
                let (r, _) = Actor::spawn_linked(None, AuditWriter, args, supervisor).await?;
                a.actors.audit.slot().set(Some(r.clone()));
                r.get_cell()
            }
            Child::SessionStore => {
                let args = SessionArgs {
                    pool: a.pool.clone(),
                    clock: a.clock.clone(),
                    hasher: a.hasher.clone(),
                    policy: a.session_policy,
                    listen: a.listen.clone(),
                    client: a.actors.sessions.clone(),
                };
                let (r, _) = Actor::spawn_linked(None, SessionStore, args, supervisor).await?;
                a.actors.sessions.slot().set(Some(r.clone()));
                r.get_cell()
            }
            Child::Broker => {
                let args = BrokerArgs {
                    config: a.broker.clone(),
                    pool: a.pool.clone(),
                    listen: a.listen.clone(),
                    clock: a.clock.clone(),
                    audit: a.actors.audit.clone(),
                    budget: a.budget.clone(),
                };
                let (r, _) = Actor::spawn_linked(None, Broker, args, supervisor).await?;
                a.actors.broker.slot().set(Some(r.clone()));
                r.get_cell()
            }
            Child::MarketData => {
                let args = MarketDataArgs {
                    config: a.market_data.clone(),
                    budget: a.budget.clone(),
                    cache: a.actors.market_data.cache().clone(),
                };
                let (r, _) = Actor::spawn_linked(None, MarketData, args, supervisor).await?;
                a.actors.market_data.slot().set(Some(r.clone()));
                r.get_cell()
            }
            Child::TradeStream => {
                let args = TradeStreamArgs {
                    config: a.trade_stream.clone(),
                    sink: a.trade_sink.clone(),
                    broker: a.actors.broker.clone(),
                };
                let (r, _) = Actor::spawn_linked(None, TradeStream, args, supervisor).await?;
                a.actors.trade_stream.slot().set(Some(r.clone()));
                r.get_cell()
            }
            Child::Mailer => {
                let args = a.mailer.clone().ok_or("no mailer configuration")?;
                let (r, _) = Actor::spawn_linked(None, Mailer, args, supervisor).await?;
                a.actors.mailer.slot().set(Some(r.clone()));
                r.get_cell()
            }
            Child::Scheduler => {
                let args = SchedulerArgs {
                    runner: a.jobs.clone(),
                    clock: a.clock.clone(),
                    schedules: a.schedules.clone(),
                };
                let (r, _) = Actor::spawn_linked(None, Scheduler, args, supervisor).await?;
                self.scheduler.set(Some(r.clone()));
                r.get_cell()
            }
            Child::Backtests => {
                let args = a.backtests.clone();
                let (r, _) = Actor::spawn_linked(None, BacktestWorker, args, supervisor).await?;
                self.backtests.set(Some(r.clone()));
                r.get_cell()
            }
            Child::Acceptor => {
                let args = a.acceptor.clone().ok_or("no listener")?;
                let (r, _) = Actor::spawn_linked(None, Acceptor, args, supervisor).await?;
                self.acceptor.set(Some(r.clone()));
                r.get_cell()
            }
        };
        tracing::info!(?child, "child started");
        self.running.insert(cell.get_id(), child);
        Ok(())
    }

    fn clear_slot(&self, child: Child) {
        let a = &self.args.actors;
        match child {
            Child::AuditWriter => a.audit.slot().set(None),
            Child::SessionStore => a.sessions.slot().set(None),
            Child::Broker => a.broker.slot().set(None),
            Child::MarketData => a.market_data.slot().set(None),
            Child::TradeStream => a.trade_stream.slot().set(None),
            Child::Mailer => a.mailer.slot().set(None),
            Child::Scheduler => self.scheduler.set(None),
            Child::Backtests => self.backtests.set(None),
            Child::Acceptor => self.acceptor.set(None),
        }
    }

    fn schedule_restart(&mut self, myself: &ActorRef<RootMsg>, child: Child, failure: Failure) {
        let policy = self.args.restart;
        let history = self.history.entry(child).or_default();
        let backoff = match failure {
            Failure::Running => Some(history.next_backoff_uncapped(&policy)),
            Failure::Start => history.next_backoff(&policy),
        };
        match backoff {
            Some(backoff) => {
                tracing::warn!(
                    ?child,
                    backoff_ms = backoff.as_millis() as u64,
                    "restarting child"
                );
                myself.send_after(backoff, move || RootMsg::Start(child));
            }
            None => {
                tracing::error!(
                    ?child,
                    max_restarts = policy.max_restarts,
                    "restart cap exceeded; stopping"
                );
                myself.stop(Some(format!("{child:?} exceeded its restart cap")));
            }
        }
    }

    async fn shutdown(&mut self) -> ShutdownReport {
        // Live order streams end first (their channel closes), so open SSE responses do not
        // hold the HTTP drain until its bound.
        stop(self.args.actors.trade_stream.slot()).await;
        // Our handle on the listener goes first, so the socket closes once the acceptor stops.
        let drain_bound = self
            .args
            .acceptor
            .take()
            .map_or(Duration::ZERO, |a| a.drain_timeout);
        let drained = match self.acceptor.get() {
            Ok(acceptor) => {
                let wait = drain_bound + Duration::from_secs(1);
                match acceptor.call(AcceptorMsg::Drain, Some(wait)).await {
                    Ok(ractor::rpc::CallResult::Success(d)) => d,
                    _ => Drained::TimedOut,
                }
            }
            Err(_) => Drained::Clean,
        };
        let actors = &self.args.actors;
        let _ = actors.mailer.flush().await;
        let _ = actors.audit.flush().await;
        for (_, child) in self.running.drain() {
            match child {
                Child::AuditWriter => stop(self.args.actors.audit.slot()).await,
                Child::SessionStore => stop(self.args.actors.sessions.slot()).await,
                Child::Broker => stop(self.args.actors.broker.slot()).await,
                Child::MarketData => stop(self.args.actors.market_data.slot()).await,
                Child::TradeStream => stop(self.args.actors.trade_stream.slot()).await,
                Child::Mailer => stop(self.args.actors.mailer.slot()).await,
                Child::Scheduler => stop(&self.scheduler).await,
                Child::Backtests => stop(&self.backtests).await,
                Child::Acceptor => stop(&self.acceptor).await,
            }
        }
        ShutdownReport { drained }
    }
}

async fn stop<M: ractor::Message>(slot: &Slot<M>) {
    if let Ok(actor) = slot.get() {
        let _ = actor
            .stop_and_wait(Some("shutdown".into()), Some(Duration::from_secs(5)))
            .await;
    }
    slot.set(None);
}
