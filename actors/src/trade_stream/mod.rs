//! The trade-updates stream actor: one upstream per dyno (Alpaca's paper websocket, or the
//! simulated broker's events), fanned out to the listening clients (the SSE route).
//!
//! It owns the upstream task, the per-dyno replay buffer (bounded: `Last-Event-ID` resume) and
//! the [`listeners`] (each with a bounded queue: a client that falls `lag` events behind is
//! dropped, never allowed to grow memory). The upstream is connected only while at least one
//! client listens or the ledger follows open orders ([`TradeSink::follows`], checked every
//! tick). Each event goes, in order, to the [`TradeSink`] (the main crate's ledger update), on
//! its own task so the mailbox never waits on the database; and, in order, to the router task,
//! which asks [`TradeSink::owners`] once per event (not once per stream) and hands the event back
//! to be dispatched to its owner's listeners and the operators' only.
//!
//! A user keeps at most `per_user` listeners here (the oldest gets [`StreamItem::Replaced`]). A
//! listener ends with [`StreamItem::SessionEnded`] when the session store evicts its session
//! (revoked here or announced by another instance); when evictions may have been missed, and
//! every [`RECHECK_TICKS`] ticks, the listeners' sessions are checked in one query. Every tick
//! while clients listen it asks the broker for the kill switch; when engaged, each client gets
//! a final `trading_disabled` item.

mod client;
pub mod config;
pub mod event;
pub mod listeners;
mod sessions;
mod upstream;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use uuid::Uuid;

use crate::broker::BrokerClient;
use crate::session::SessionClient;
pub use client::{Subscription, TradeStreamClient};
pub use config::{stream_url, StreamSource, TradeStreamConfig};
pub use event::{StreamItem, TradeEvent};
pub use listeners::Audience;
use listeners::Listeners;

/// Events queued for the sink at most; beyond, events are not applied (logged).
const SINK_QUEUE: usize = 1_024;
/// Events waiting for their owners at most; beyond, events are not streamed (logged).
const ROUTE_QUEUE: usize = 8_192;
/// Events whose owners are asked for together at most.
const ROUTE_BATCH: usize = 512;
/// The listeners' sessions are checked against the database every this many ticks.
const RECHECK_TICKS: u64 = 30;

/// What the main crate does with each event, and whether it still needs the stream.
pub trait TradeSink: Send + Sync + 'static {
    /// Applies one event (the ledger); awaited in event order, outside the actor's mailbox.
    fn record(&self, event: Arc<TradeEvent>) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// Who placed each event's order, in the order given (`None`: not placed through Raptor,
    /// or unreadable: the event then goes to operators only). Asked once per event per
    /// process, in event order, for the events queued together (one query for them all).
    fn owners(
        &self,
        events: Vec<Arc<TradeEvent>>,
    ) -> Pin<Box<dyn Future<Output = Vec<Option<Uuid>>> + Send>>;
    /// Whether the stream must stay connected with no client (open orders to follow).
    fn follows(&self) -> Pin<Box<dyn Future<Output = bool> + Send>>;
    /// The upstream is listening again (or for the first time): catch up on what the stream
    /// could not deliver while it was down. Runs on a task of its own.
    fn resumed(&self) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The sink, shared with the tasks that call it.
pub type SharedTradeSink = Arc<dyn TradeSink>;

/// The stream actor's arguments.
pub struct TradeStreamArgs {
    /// Source, buffers, cap.
    pub config: TradeStreamConfig,
    /// What the main crate does with each event.
    pub sink: SharedTradeSink,
    /// Asked for the kill switch.
    pub broker: BrokerClient,
    /// Whose evictions end the streams of revoked sessions.
    pub sessions: SessionClient,
}

/// The stream actor's messages.
pub enum TradeStreamMsg {
    /// A client listens for `audience` from after `last_event_id` (when given).
    Subscribe {
        /// Whose events it gets (its user, session, operator or not).
        audience: Audience,
        /// The last event it saw, to resume after.
        last_event_id: Option<u64>,
        /// Its subscription.
        reply: RpcReplyPort<Subscription>,
    },
    /// The client of this listener stopped listening.
    Unsubscribe(u64),
    /// A `trade_updates` data object from the upstream.
    Data(String),
    /// An event and who placed its order, from the router: dispatch it.
    Routed(Arc<TradeEvent>, Option<Uuid>),
    /// These sessions ended: so do their streams.
    SessionsEnded(Vec<Uuid>),
    /// Ended sessions may have gone unnoticed: check the listeners' sessions.
    RecheckSessions,
    /// The upstream is listening (`true`) or lost (`false`).
    Upstream(bool),
    /// Time to check the kill switch and whether the ledger still follows orders.
    Tick,
    /// The ledger's answer to [`TradeSink::follows`].
    Follows(bool),
    /// The kill switch as last seen (`Some(reason)` when engaged).
    Switch(Option<String>),
}

/// The trade-updates stream actor (see the module's documentation).
pub struct TradeStream;

/// The stream actor's state.
pub struct TradeStreamState {
    config: TradeStreamConfig,
    broker: BrokerClient,
    sink: SharedTradeSink,
    sink_queue: mpsc::Sender<Arc<TradeEvent>>,
    route_queue: mpsc::Sender<Arc<TradeEvent>>,
    sessions: SessionClient,
    listeners: Listeners,
    /// Routed events with their owners, oldest first.
    replay: VecDeque<(Arc<TradeEvent>, Option<Uuid>)>,
    next_id: u64,
    ticks: u64,
    follows: bool,
    engaged: Option<String>,
    upstream: Option<JoinHandle<()>>,
    connected: bool,
    tasks: Vec<JoinHandle<()>>,
}

impl Actor for TradeStream {
    type Msg = TradeStreamMsg;
    type State = TradeStreamState;
    type Arguments = TradeStreamArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<TradeStreamMsg>,
        args: TradeStreamArgs,
    ) -> Result<TradeStreamState, ActorProcessingErr> {
        let (sink_queue, mut queued) = mpsc::channel::<Arc<TradeEvent>>(SINK_QUEUE);
        let (route_queue, router) = route(args.sink.clone(), myself.clone());
        let watcher = sessions::watch(&args.sessions, myself.clone());
        let sink = args.sink.clone();
        let recorder = tokio::spawn(async move {
            while let Some(event) = queued.recv().await {
                sink.record(event).await;
            }
        });
        let tick = args.config.tick;
        let ticker = {
            let myself = myself.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(tick);
                loop {
                    every.tick().await;
                    if myself.cast(TradeStreamMsg::Tick).is_err() {
                        return;
                    }
                }
            })
        };
        // Ids increase across restarts: microseconds since the epoch at start, then one by one.
        let next_id = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(1);
        Ok(TradeStreamState {
            listeners: Listeners::new(args.config.per_user, args.config.lag),
            config: args.config,
            broker: args.broker,
            sink: args.sink,
            sink_queue,
            route_queue,
            sessions: args.sessions,
            replay: VecDeque::new(),
            next_id,
            ticks: 0,
            follows: false,
            engaged: None,
            upstream: None,
            connected: false,
            tasks: vec![recorder, ticker, router, watcher],
        })
    }

    async fn post_stop(
        &self,
        _: ActorRef<TradeStreamMsg>,
        state: &mut TradeStreamState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(upstream) = state.upstream.take() {
            upstream.abort();
        }
        for task in state.tasks.drain(..) {
            task.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<TradeStreamMsg>,
        msg: TradeStreamMsg,
        state: &mut TradeStreamState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TradeStreamMsg::Subscribe {
                audience,
                last_event_id,
                reply,
            } => {
                let subscription = state.subscribe(&myself, audience, last_event_id);
                let _ = reply.send(subscription);
                state.check_switch(&myself);
            }
            TradeStreamMsg::Unsubscribe(id) => state.listeners.remove(id),
            TradeStreamMsg::Data(data) => state.publish(&data),
            TradeStreamMsg::Routed(event, owner) => state.dispatch(event, owner),
            TradeStreamMsg::SessionsEnded(ids) => {
                let ended = state.listeners.end_sessions(&ids);
                if ended > 0 {
                    tracing::info!(streams = ended, "streams of ended sessions closed");
                }
            }
            TradeStreamMsg::RecheckSessions => state.recheck_sessions(&myself),
            TradeStreamMsg::Upstream(connected) => {
                if connected && !state.connected {
                    tokio::spawn(state.sink.resumed());
                }
                state.connected = connected;
            }
            TradeStreamMsg::Tick => {
                let sink = state.sink.clone();
                let me = myself.clone();
                tokio::spawn(async move {
                    let _ = me.cast(TradeStreamMsg::Follows(sink.follows().await));
                });
                state.ticks += 1;
                if !state.listeners.is_empty() {
                    state.check_switch(&myself);
                    if state.ticks % RECHECK_TICKS == 0 {
                        state.recheck_sessions(&myself);
                    }
                }
            }
            TradeStreamMsg::Follows(follows) => state.follows = follows,
            TradeStreamMsg::Switch(engaged) => {
                if let (Some(reason), None) = (&engaged, &state.engaged) {
                    let last = StreamItem::TradingDisabled(reason.clone());
                    state.listeners.end_all(&last);
                }
                state.engaged = engaged;
            }
        }
        state.connect_or_disconnect(&myself);
        Ok(())
    }
}

impl TradeStreamState {
    fn subscribe(
        &mut self,
        myself: &ActorRef<TradeStreamMsg>,
        audience: Audience,
        after: Option<u64>,
    ) -> Subscription {
        let replay = self.replay_after(audience, after);
        let (id, live) = self.listeners.add(audience);
        Subscription::new(id, replay, live, myself.clone(), self.engaged.clone())
    }

    /// The audience's events after `after`, and whether the buffer still held it.
    fn replay_after(&self, audience: Audience, after: Option<u64>) -> (Vec<Arc<TradeEvent>>, bool) {
        let Some(after) = after else {
            return (Vec::new(), true);
        };
        match self.replay.iter().position(|(e, _)| e.id == after) {
            Some(at) => {
                let events = (self.replay.iter().skip(at + 1))
                    .filter(|(_, owner)| audience.sees(*owner))
                    .map(|(event, _)| event.clone());
                (events.collect(), true)
            }
            // Nothing was missed: the client saw the newest event.
            None if after + 1 == self.next_id => (Vec::new(), true),
            None => (Vec::new(), false),
        }
    }

    fn publish(&mut self, data: &str) {
        let Some(event) = event::event_from(self.next_id, data) else {
            tracing::debug!("a trade update without an order, ignored");
            return;
        };
        self.next_id += 1;
        let event = Arc::new(event);
        if self.sink_queue.try_send(event.clone()).is_err() {
            tracing::error!(
                id = event.id,
                "ledger updates are behind; an event was not applied"
            );
        }
        if self.route_queue.try_send(event.clone()).is_err() {
            tracing::error!(
                id = event.id,
                "owner lookups are behind; an event was not streamed"
            );
        }
    }

    fn dispatch(&mut self, event: Arc<TradeEvent>, owner: Option<Uuid>) {
        self.listeners.dispatch(&event, owner);
        self.replay.push_back((event, owner));
        while self.replay.len() > self.config.replay {
            self.replay.pop_front();
        }
    }

    /// Ends the streams whose sessions are no longer live (one query, off the mailbox).
    fn recheck_sessions(&self, myself: &ActorRef<TradeStreamMsg>) {
        let ids = self.listeners.sessions();
        if ids.is_empty() {
            return;
        }
        let (sessions, me) = (self.sessions.clone(), myself.clone());
        tokio::spawn(async move {
            match sessions.ended(ids).await {
                Ok(ended) if !ended.is_empty() => {
                    let _ = me.cast(TradeStreamMsg::SessionsEnded(ended));
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "the streams' sessions could not be checked"),
            }
        });
    }

    fn check_switch(&self, myself: &ActorRef<TradeStreamMsg>) {
        let broker = self.broker.clone();
        let me = myself.clone();
        tokio::spawn(async move {
            if let Ok(status) = broker.status().await {
                let engaged = status.engaged.map(|(_, reason)| reason);
                let _ = me.cast(TradeStreamMsg::Switch(engaged));
            }
        });
    }

    fn connect_or_disconnect(&mut self, myself: &ActorRef<TradeStreamMsg>) {
        let wanted = !self.listeners.is_empty() || self.follows;
        match (&self.upstream, wanted) {
            (None, true) => {
                let config = self.config.clone();
                let me = myself.clone();
                self.upstream = Some(upstream::start(config, me));
            }
            (Some(_), false) => {
                if let Some(upstream) = self.upstream.take() {
                    upstream.abort();
                }
                self.connected = false;
            }
            _ => {}
        }
    }
}

/// The router: asks the sink for the owners of the events queued so far (once per event, in
/// event order, together), and hands each event back to the actor to dispatch.
fn route(
    sink: SharedTradeSink,
    actor: ActorRef<TradeStreamMsg>,
) -> (mpsc::Sender<Arc<TradeEvent>>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Arc<TradeEvent>>(ROUTE_QUEUE);
    let task = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(ROUTE_BATCH);
        while rx.recv_many(&mut batch, ROUTE_BATCH).await > 0 {
            let events = std::mem::take(&mut batch);
            let owners = sink.owners(events.clone()).await;
            let owned = events
                .into_iter()
                .zip(owners.into_iter().chain(std::iter::repeat(None)));
            for (event, owner) in owned {
                if actor.cast(TradeStreamMsg::Routed(event, owner)).is_err() {
                    return;
                }
            }
        }
    });
    (tx, task)
}

#[cfg(test)]
mod tests;
