//! The supervision tree of a process: the root supervisor's arguments from the settings, the
//! tree started, and the trading keepers that run beside it.

use std::sync::Arc;

use deadpool_postgres::Pool;
use ractor::{Actor, ActorRef};
use raptor_actors::acceptor::AcceptorArgs;
use raptor_actors::broker::SharedBrokerConfig;
use raptor_actors::outbound::OutboundBudget;
use raptor_actors::session::SessionPolicy;
use raptor_actors::supervisor::{Mode, RootArgs, RootMsg, RootSupervisor};
use tokio::task::JoinHandle;

use super::{web, wiring};
use crate::settings::Settings;

/// The running supervision tree, and what a SIGHUP changes in place beside it.
pub struct Tree {
    /// The root supervisor (its shutdown is asked of it).
    pub root: ActorRef<RootMsg>,
    /// Ends when the root stops: a child exceeded its restart cap, or the shutdown is done.
    pub handle: JoinHandle<()>,
    /// The broker's configuration, which SIGHUP replaces in place.
    pub broker_config: SharedBrokerConfig,
    /// The Alpaca budget, whose account share follows a SIGHUP.
    pub budget: OutboundBudget,
}

impl Tree {
    /// Starts the supervision tree for `mode`: the root supervisor and, through it, every child
    /// the mode runs.
    pub async fn start(
        mode: Mode,
        shared: &web::Shared<'_>,
        listen: tokio_postgres::Config,
        acceptor: Option<AcceptorArgs>,
    ) -> anyhow::Result<Self> {
        let args = TreeArgs::new(mode, shared.settings, shared.pool, listen, acceptor);
        let (broker_config, budget) = (args.broker.clone(), args.budget.clone());
        let (root, handle) = Actor::spawn(None, RootSupervisor, args.root(shared)?)
            .await
            .map_err(|e| anyhow::anyhow!("supervision tree failed to start: {e}"))?;
        Ok(Self {
            root,
            handle,
            broker_config,
            budget,
        })
    }
}

/// What the supervision tree needs beyond the shared parts.
struct TreeArgs {
    mode: Mode,
    listen: tokio_postgres::Config,
    acceptor: Option<AcceptorArgs>,
    broker: SharedBrokerConfig,
    budget: OutboundBudget,
}

impl TreeArgs {
    /// The tree's own parts: the broker's configuration (which SIGHUP updates in place) and the
    /// outbound budget to Alpaca.
    fn new(
        mode: Mode,
        settings: &Settings,
        pool: &Pool,
        listen: tokio_postgres::Config,
        acceptor: Option<AcceptorArgs>,
    ) -> Self {
        Self {
            mode,
            listen,
            acceptor,
            broker: Arc::new(std::sync::Mutex::new(wiring::broker_config(settings))),
            budget: wiring::outbound_budget(settings, pool),
        }
    }

    /// The root supervisor's arguments: each child's configuration from the settings.
    fn root(self, shared: &web::Shared<'_>) -> anyhow::Result<RootArgs> {
        let web::Shared {
            settings,
            pool,
            actors,
            clock,
        } = *shared;
        let mailer = (self.mode != Mode::Worker)
            .then(|| wiring::mailer_args(settings, pool, clock))
            .transpose()?;
        actors
            .broker
            .use_request_timeout(settings.alpaca.request_timeout);
        let backtests = wiring::backtest_worker(settings, pool, actors, clock, &self.listen);
        Ok(RootArgs {
            mode: self.mode,
            actors: actors.clone(),
            pool: pool.clone(),
            clock: clock.clone(),
            hasher: settings.token_hasher(),
            session_policy: SessionPolicy::default(),
            listen: self.listen,
            mailer,
            acceptor: self.acceptor,
            broker: self.broker,
            switch_entry: |engaged| crate::audit::AuditEvent::kill_switch(engaged).entry(),
            market_data: wiring::market_data_config(settings),
            trade_stream: wiring::trade_stream_config(settings),
            trade_sink: Arc::new(crate::trading::stream::sink::LedgerSink {
                pool: pool.clone(),
                actors: actors.clone(),
                clock: clock.clone(),
                owners: Default::default(),
            }),
            budget: self.budget,
            jobs: crate::retention::scheduled(pool, &wiring::retention_schedules(settings)),
            backtests,
            restart: settings.restart,
        })
    }
}

/// The trading keepers: the books' reconciler beside the web front; the books' snapshots and the
/// daily refresh of the asset copy beside the worker.
pub fn keepers(mode: Mode, shared: &web::Shared<'_>, tree: &Tree) -> Vec<JoinHandle<()>> {
    let (pool, actors, clock) = (shared.pool, shared.actors, shared.clock);
    let mut tasks = Vec::new();
    if mode != Mode::Worker {
        tasks.push(crate::trading::book::keeper::spawn_reconciler(
            pool.clone(),
            actors.clone(),
            clock.clone(),
        ));
    }
    if mode != Mode::Web {
        tasks.push(crate::trading::book::keeper::spawn_snapshots(
            pool.clone(),
            actors.market_data.clone(),
            clock.clone(),
        ));
        tasks.push(crate::trading::assets::refresh::spawn_refresher(
            pool.clone(),
            tree.broker_config.clone(),
            tree.budget.clone(),
            clock.clone(),
        ));
    }
    tasks
}
