//! `open_stream`: a trader's live order events (`GET /api/trading/stream`), from the dyno's one
//! upstream (`raptor_actors::trade_stream`), filtered to the orders the trader placed (an
//! operator sees every event). An event whose order is not in the trader's ledger is never
//! given to them: ownership is read from the ledger (cached per stream, bounded) and an
//! unreadable ledger withholds the event. The events also update the ledger ([`sink`]).
//!
//! A client resuming with a `Last-Event-ID` this dyno no longer holds gets [`StreamMessage::Reset`]
//! first (re-read the orders); a client that falls too far behind is dropped (the stream ends);
//! the kill switch ends every stream with [`StreamMessage::TradingDisabled`].

pub mod sink;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use raptor_actors::trade_stream::{StreamItem, Subscription, TradeEvent, TradeStreamClient};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::error::StreamError;
use super::ledger::events::owner_of;
use super::{Trader, Trading};

/// Client order ids remembered per stream (each way) before the cache starts over.
const MAX_CACHED: usize = 10_000;

/// What a trader's stream yields.
#[derive(Debug, Clone)]
pub enum StreamMessage {
    Event(Arc<TradeEvent>),
    /// Events may have been missed (the `Last-Event-ID` is unknown here): re-read the orders.
    Reset,
    /// The kill switch was engaged; nothing follows.
    TradingDisabled,
}

/// One trader's stream.
pub struct OrderStream {
    pool: deadpool_postgres::Pool,
    /// `None` for an operator (every event).
    user_id: Option<Uuid>,
    subscription: Subscription,
    replay: VecDeque<Arc<TradeEvent>>,
    reset: bool,
    done: bool,
    mine: HashSet<String>,
    not_mine: HashSet<String>,
}

/// Opens `trader`'s stream, resuming after `last_event_id` when this dyno still holds it.
pub async fn open_stream(
    trading: Trading<'_>,
    stream: &TradeStreamClient,
    trader: &Trader,
    last_event_id: Option<&str>,
) -> Result<OrderStream, StreamError> {
    super::account::ensure_enabled(&trading).await?;
    let after = last_event_id.map(|id| id.trim().parse::<u64>().unwrap_or(0));
    let subscription = stream.subscribe(after).await?;
    Ok(OrderStream {
        pool: trading.pool.clone(),
        user_id: (!trader.is_operator).then_some(trader.user_id),
        replay: subscription.replay.iter().cloned().collect(),
        reset: !subscription.resumed,
        done: subscription.engaged.is_some(),
        subscription,
        mine: HashSet::new(),
        not_mine: HashSet::new(),
    })
}

impl OrderStream {
    /// The next message, or `None` when the stream ends (kill switch, lag, shutdown).
    pub async fn next(&mut self) -> Option<StreamMessage> {
        if self.done {
            return None;
        }
        if std::mem::take(&mut self.reset) {
            return Some(StreamMessage::Reset);
        }
        loop {
            let item = match self.replay.pop_front() {
                Some(event) => StreamItem::Event(event),
                None => match self.subscription.live.recv().await {
                    Ok(item) => item,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::info!(missed, "a slow order stream client was dropped");
                        self.done = true;
                        return None;
                    }
                    Err(RecvError::Closed) => return None,
                },
            };
            match item {
                StreamItem::Event(event) if self.visible(&event).await => {
                    return Some(StreamMessage::Event(event))
                }
                StreamItem::Event(_) => {}
                StreamItem::TradingDisabled(_) => {
                    self.done = true;
                    return Some(StreamMessage::TradingDisabled);
                }
            }
        }
    }

    /// Whether this stream's trader placed the event's order.
    async fn visible(&mut self, event: &TradeEvent) -> bool {
        let Some(user_id) = self.user_id else {
            return true;
        };
        let Some(client_order_id) = event.client_order_id.as_deref() else {
            return false;
        };
        if self.mine.contains(client_order_id) {
            return true;
        }
        if self.not_mine.contains(client_order_id) {
            return false;
        }
        let owner = match self.pool.get().await {
            Ok(client) => owner_of(&client, client_order_id).await,
            Err(error) => {
                tracing::warn!(%error, "an order event was withheld: no database");
                return false;
            }
        };
        let mine = match owner {
            Ok(owner) => owner == Some(user_id),
            Err(error) => {
                tracing::warn!(%error, "an order event was withheld: the ledger is unreadable");
                return false;
            }
        };
        let cache = if mine {
            &mut self.mine
        } else {
            &mut self.not_mine
        };
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(client_order_id.to_owned());
        mine
    }
}
