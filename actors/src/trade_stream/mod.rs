//! The trade-updates stream actor: one upstream per dyno (Alpaca's paper websocket, or the
//! simulated broker's events), fanned out to every listening client (the SSE route).
//!
//! It owns the upstream task, the per-dyno replay buffer (bounded: `Last-Event-ID` resume) and a
//! bounded broadcast channel: a client that falls `lag` events behind is dropped, never allowed
//! to grow memory. The upstream is connected only while at least one client listens or the
//! ledger follows open orders ([`TradeSink::follows`], checked every tick). Each event also goes,
//! in order, to the [`TradeSink`] (the main crate's ledger update), on its own task so the
//! mailbox never waits on the database. Every tick while clients listen it asks the broker for
//! the kill switch; when engaged, each client gets a final `trading_disabled` item.

mod client;
pub mod config;
pub mod event;
mod upstream;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::broker::BrokerClient;
pub use client::{Subscription, TradeStreamClient};
pub use config::{stream_url, StreamSource, TradeStreamConfig};
pub use event::{StreamItem, TradeEvent};

/// Events queued for the sink at most; beyond, events are not applied (logged).
const SINK_QUEUE: usize = 1_024;

/// What the main crate does with each event, and whether it still needs the stream.
pub trait TradeSink: Send + Sync + 'static {
    /// Applies one event (the ledger); awaited in event order, outside the actor's mailbox.
    fn record(&self, event: Arc<TradeEvent>) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// Whether the stream must stay connected with no client (open orders to follow).
    fn follows(&self) -> Pin<Box<dyn Future<Output = bool> + Send>>;
    /// The upstream is listening again (or for the first time): catch up on what the stream
    /// could not deliver while it was down. Runs on a task of its own.
    fn resumed(&self) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

pub type SharedTradeSink = Arc<dyn TradeSink>;

pub struct TradeStreamArgs {
    pub config: TradeStreamConfig,
    pub sink: SharedTradeSink,
    pub broker: BrokerClient,
}

pub enum TradeStreamMsg {
    /// A client listens from after `last_event_id` (when given).
    Subscribe {
        last_event_id: Option<u64>,
        reply: RpcReplyPort<Subscription>,
    },
    /// A client stopped listening.
    Unsubscribe,
    /// A `trade_updates` data object from the upstream.
    Data(String),
    /// The upstream is listening (`true`) or lost (`false`).
    Upstream(bool),
    Tick,
    /// The ledger's answer to [`TradeSink::follows`].
    Follows(bool),
    /// The kill switch as last seen (`Some(reason)` when engaged).
    Switch(Option<String>),
}

pub struct TradeStream;

pub struct TradeStreamState {
    config: TradeStreamConfig,
    broker: BrokerClient,
    sink: SharedTradeSink,
    sink_queue: mpsc::Sender<Arc<TradeEvent>>,
    tx: broadcast::Sender<StreamItem>,
    replay: VecDeque<Arc<TradeEvent>>,
    next_id: u64,
    listeners: usize,
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
        let (tx, _) = broadcast::channel(args.config.lag.max(1));
        let (sink_queue, mut queued) = mpsc::channel::<Arc<TradeEvent>>(SINK_QUEUE);
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
            config: args.config,
            broker: args.broker,
            sink: args.sink,
            sink_queue,
            tx,
            replay: VecDeque::new(),
            next_id,
            listeners: 0,
            follows: false,
            engaged: None,
            upstream: None,
            connected: false,
            tasks: vec![recorder, ticker],
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
                last_event_id,
                reply,
            } => {
                state.listeners += 1;
                let subscription = state.subscribe(&myself, last_event_id);
                let _ = reply.send(subscription);
                state.check_switch(&myself);
            }
            TradeStreamMsg::Unsubscribe => state.listeners = state.listeners.saturating_sub(1),
            TradeStreamMsg::Data(data) => state.publish(&data),
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
                if state.listeners > 0 {
                    state.check_switch(&myself);
                }
            }
            TradeStreamMsg::Follows(follows) => state.follows = follows,
            TradeStreamMsg::Switch(engaged) => {
                if let (Some(reason), None) = (&engaged, &state.engaged) {
                    let _ = state.tx.send(StreamItem::TradingDisabled(reason.clone()));
                }
                state.engaged = engaged;
            }
        }
        state.connect_or_disconnect(&myself);
        Ok(())
    }
}

impl TradeStreamState {
    fn subscribe(&self, myself: &ActorRef<TradeStreamMsg>, after: Option<u64>) -> Subscription {
        let receiver = self.tx.subscribe();
        let (replay, resumed) = match after {
            None => (Vec::new(), true),
            Some(after) => {
                let found = self.replay.iter().position(|e| e.id == after);
                match found {
                    Some(at) => (self.replay.iter().skip(at + 1).cloned().collect(), true),
                    // Nothing was missed: the client saw the newest event.
                    None if after + 1 == self.next_id => (Vec::new(), true),
                    None => (Vec::new(), false),
                }
            }
        };
        Subscription::new(
            replay,
            resumed,
            receiver,
            myself.clone(),
            self.engaged.clone(),
        )
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
        self.replay.push_back(event.clone());
        while self.replay.len() > self.config.replay {
            self.replay.pop_front();
        }
        // No receiver is fine: nobody listens right now.
        let _ = self.tx.send(StreamItem::Event(event));
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
        let wanted = self.listeners > 0 || self.follows;
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

#[cfg(test)]
mod tests;
