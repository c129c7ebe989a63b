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

use tokio::time::Instant;

use deadpool_postgres::Pool;
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent,
};

use crate::acceptor::{Acceptor, AcceptorArgs, AcceptorMsg, Drained};
use crate::audit::{AuditArgs, AuditWriter};
use crate::backtests::{BacktestMsg, BacktestWorker, BacktestWorkerArgs};
use crate::broker::{Broker, BrokerArgs, SharedBrokerConfig, SwitchAuditEntry};
use crate::clock::SharedClock;
use crate::mailer::{Mailer, MailerArgs};
use crate::market_data::{MarketData, MarketDataArgs, MarketDataConfig};
use crate::outbound::OutboundBudget;
use crate::registry::Actors;
use crate::scheduler::{ScheduledJob, Scheduler, SchedulerArgs, SchedulerMsg};
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

/// One of the root supervisor's children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Child {
    /// The HTTP acceptor (web and dev).
    Acceptor,
    /// The session store.
    SessionStore,
    /// The audit writer.
    AuditWriter,
    /// The broker (Alpaca or the simulator).
    Broker,
    /// Market data.
    MarketData,
    /// Alpaca's trade-updates stream.
    TradeStream,
    /// The mailer (web and dev).
    Mailer,
    /// The scheduler (worker and dev).
    Scheduler,
    /// The backtest worker (worker and dev).
    Backtests,
}

/// What the root supervisor starts its children with.
pub struct RootArgs {
    /// Which children this process runs.
    pub mode: Mode,
    /// The children's typed clients, whose slots the supervisor fills and empties.
    pub actors: Actors,
    /// The application's pool.
    pub pool: Pool,
    /// The injected clock every child measures time on.
    pub clock: SharedClock,
    /// Keys the HMAC of stored tokens.
    pub hasher: TokenHasher,
    /// How long sessions live.
    pub session_policy: SessionPolicy,
    /// Connection settings for LISTEN/NOTIFY (the pool's database).
    pub listen: tokio_postgres::Config,
    /// Required when the mode runs the mailer.
    pub mailer: Option<MailerArgs>,
    /// Required when the mode serves HTTP.
    pub acceptor: Option<AcceptorArgs>,
    /// The broker's configuration (web and dev modes); SIGHUP updates it in place.
    pub broker: SharedBrokerConfig,
    /// The audit row of a change of the configured kill switch (the trading domain's names).
    pub switch_entry: SwitchAuditEntry,
    /// The market-data actor's configuration (web and dev modes).
    pub market_data: MarketDataConfig,
    /// The trade-updates stream's source and bounds (web and dev modes).
    pub trade_stream: TradeStreamConfig,
    /// What the stream's events update (the main crate's ledger).
    pub trade_sink: SharedTradeSink,
    /// The outbound budget to Alpaca that trading and market data share.
    pub budget: OutboundBudget,
    /// The scheduler's jobs, each with its schedule and runner (worker and dev modes; the main
    /// crate's retention jobs).
    pub jobs: Vec<ScheduledJob>,
    /// The backtest worker (worker and dev modes).
    pub backtests: BacktestWorkerArgs,
    /// How failed children are restarted.
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
    /// How the HTTP drain ended.
    pub drained: Drained,
}

/// The root supervisor's messages.
pub enum RootMsg {
    /// Start (or restart) one child.
    Start(Child),
    /// Stop accepting, drain HTTP, flush the audit writer, stop every child; replies when done.
    Shutdown(RpcReplyPort<ShutdownReport>),
}

/// The root supervisor actor: starts the mode's children and restarts a failed one.
pub struct RootSupervisor;

/// The supervisor's state: its arguments, the running children and their restart history.
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
    /// Starts `child` linked to `supervisor`, fills its slot and remembers it as running.
    async fn start(
        &mut self,
        child: Child,
        supervisor: ActorCell,
    ) -> Result<(), ActorProcessingErr> {
        let a = &self.args;
        let actors = &a.actors;
        let cell = match child {
            Child::AuditWriter => {
                spawn(AuditWriter, a.audit_args(), supervisor, actors.audit.slot()).await?
            }
            Child::SessionStore => {
                let args = a.session_args();
                spawn(SessionStore, args, supervisor, actors.sessions.slot()).await?
            }
            Child::Broker => {
                spawn(Broker, a.broker_args(), supervisor, actors.broker.slot()).await?
            }
            Child::MarketData => {
                let args = a.market_data_args();
                spawn(MarketData, args, supervisor, actors.market_data.slot()).await?
            }
            Child::TradeStream => {
                let args = a.trade_stream_args();
                spawn(TradeStream, args, supervisor, actors.trade_stream.slot()).await?
            }
            Child::Mailer => {
                let args = a.mailer.clone().ok_or("no mailer configuration")?;
                spawn(Mailer, args, supervisor, actors.mailer.slot()).await?
            }
            Child::Scheduler => {
                spawn(Scheduler, a.scheduler_args(), supervisor, &self.scheduler).await?
            }
            Child::Backtests => {
                let args = a.backtests.clone();
                spawn(BacktestWorker, args, supervisor, &self.backtests).await?
            }
            Child::Acceptor => {
                let args = a.acceptor.clone().ok_or("no listener")?;
                spawn(Acceptor, args, supervisor, &self.acceptor).await?
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

    /// Everything within [`SHUTDOWN_BUDGET`] of the call, whatever hangs: the HTTP drain gets
    /// what is left after [`AFTER_DRAIN`] is set aside, the flushes and the stops share that.
    async fn shutdown(&mut self) -> ShutdownReport {
        let deadline = Instant::now() + SHUTDOWN_BUDGET;
        // Live order streams end first (their channel closes), so open SSE responses do not
        // hold the HTTP drain until its bound.
        stop(self.args.actors.trade_stream.slot(), STREAMS_STOP).await;
        let drained = self.drain(deadline).await;
        let actors = &self.args.actors;
        // What was acknowledged is durable already (callers await it); a flush only hurries
        // what is queued, and the outbox is in Postgres for the next process.
        let flush_bound = FLUSH.min(left(deadline).saturating_sub(STOPS));
        let flushes = futures_util::future::join(actors.mailer.flush(), actors.audit.flush());
        if tokio::time::timeout(flush_bound, flushes).await.is_err() {
            tracing::warn!(
                bound_ms = flush_bound.as_millis() as u64,
                "shutdown: flushes cut short"
            );
        }
        let bound = left(deadline).min(STOPS);
        let running: Vec<Child> = self.running.drain().map(|(_, child)| child).collect();
        let stops = running
            .into_iter()
            .map(|child| self.stop_child(child, bound));
        futures_util::future::join_all(stops).await;
        ShutdownReport { drained }
    }

    /// Stops accepting and drains in-flight requests, within the acceptor's own bound and
    /// what the shutdown budget leaves for it.
    async fn drain(&mut self, deadline: Instant) -> Drained {
        // Our handle on the listener goes first, so the socket closes once the acceptor stops.
        let drain_bound = self
            .args
            .acceptor
            .take()
            .map_or(Duration::ZERO, |a| a.drain_timeout);
        let Ok(acceptor) = self.acceptor.get() else {
            return Drained::Clean;
        };
        let wait =
            (drain_bound + Duration::from_secs(1)).min(left(deadline).saturating_sub(AFTER_DRAIN));
        match acceptor.call(AcceptorMsg::Drain, Some(wait)).await {
            Ok(ractor::rpc::CallResult::Success(d)) => d,
            _ => Drained::TimedOut,
        }
    }

    async fn stop_child(&self, child: Child, bound: Duration) {
        let actors = &self.args.actors;
        match child {
            Child::AuditWriter => stop(actors.audit.slot(), bound).await,
            Child::SessionStore => stop(actors.sessions.slot(), bound).await,
            Child::Broker => stop(actors.broker.slot(), bound).await,
            Child::MarketData => stop(actors.market_data.slot(), bound).await,
            Child::TradeStream => stop(actors.trade_stream.slot(), bound).await,
            Child::Mailer => stop(actors.mailer.slot(), bound).await,
            Child::Scheduler => stop(&self.scheduler, bound).await,
            Child::Backtests => stop(&self.backtests, bound).await,
            Child::Acceptor => stop(&self.acceptor, bound).await,
        }
    }
}

/// Spawns `actor` linked to `supervisor` and puts it in `slot`, where callers find it.
async fn spawn<A: Actor>(
    actor: A,
    args: A::Arguments,
    supervisor: ActorCell,
    slot: &Slot<A::Msg>,
) -> Result<ActorCell, ActorProcessingErr> {
    let (actor, _) = Actor::spawn_linked(None, actor, args, supervisor).await?;
    slot.set(Some(actor.clone()));
    Ok(actor.get_cell())
}

/// Each child's arguments, from the root's.
impl RootArgs {
    fn audit_args(&self) -> AuditArgs {
        AuditArgs {
            pool: self.pool.clone(),
            clock: self.clock.clone(),
            head_log_every: Some(crate::audit::HEAD_LOG_EVERY),
        }
    }

    fn session_args(&self) -> SessionArgs {
        SessionArgs {
            pool: self.pool.clone(),
            clock: self.clock.clone(),
            hasher: self.hasher.clone(),
            policy: self.session_policy,
            listen: self.listen.clone(),
            client: self.actors.sessions.clone(),
        }
    }

    fn broker_args(&self) -> BrokerArgs {
        BrokerArgs {
            config: self.broker.clone(),
            pool: self.pool.clone(),
            listen: self.listen.clone(),
            clock: self.clock.clone(),
            switch_entry: self.switch_entry,
            budget: self.budget.clone(),
        }
    }

    fn market_data_args(&self) -> MarketDataArgs {
        MarketDataArgs {
            config: self.market_data.clone(),
            budget: self.budget.clone(),
            cache: self.actors.market_data.cache().clone(),
        }
    }

    fn trade_stream_args(&self) -> TradeStreamArgs {
        TradeStreamArgs {
            config: self.trade_stream.clone(),
            sink: self.trade_sink.clone(),
            broker: self.actors.broker.clone(),
            sessions: self.actors.sessions.clone(),
        }
    }

    fn scheduler_args(&self) -> SchedulerArgs {
        SchedulerArgs {
            jobs: self.jobs.clone(),
            clock: self.clock.clone(),
        }
    }
}

/// Heroku kills a dyno 30 s after SIGTERM. The whole shutdown fits in this, leaving a margin
/// for the process's exit (the root's own stop, the error reporter's flush).
pub const SHUTDOWN_BUDGET: Duration = Duration::from_secs(24);
/// The longest HTTP drain the budget allows (`SHUTDOWN_GRACE_SECS` above it is cut to it).
pub const MAX_DRAIN: Duration = Duration::from_secs(19);
/// Set aside from the budget for what follows the drain.
const AFTER_DRAIN: Duration = Duration::from_secs(4);
/// The order streams' stop, before the drain.
const STREAMS_STOP: Duration = Duration::from_secs(1);
/// The mailer's and the audit writer's flushes, together.
const FLUSH: Duration = Duration::from_secs(2);
/// Every child's stop, together.
const STOPS: Duration = Duration::from_secs(1);

fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

async fn stop<M: ractor::Message>(slot: &Slot<M>, bound: Duration) {
    if let Ok(actor) = slot.get() {
        let _ = actor
            .stop_and_wait(
                Some("shutdown".into()),
                Some(bound.max(Duration::from_millis(1))),
            )
            .await;
    }
    slot.set(None);
}
