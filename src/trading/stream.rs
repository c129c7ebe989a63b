//! `open_stream`: a trader's live order events (`GET /api/trading/stream`), from the dyno's one
//! upstream (`raptor_actors::trade_stream`), only the orders the trader placed (an operator sees
//! every event). The actor asks the ledger who placed each event's order once per event per
//! process ([`owners::OwnerCache`], through [`sink::LedgerSink`]) and gives the event to that
//! user's streams only: an event whose owner is unknown or unreadable goes to operators only,
//! and the database work per event does not grow with the number of streams. The events also
//! update the ledger ([`sink`]).
//!
//! A client resuming with a `Last-Event-ID` this dyno no longer holds gets [`StreamMessage::Reset`]
//! first (re-read the orders); a client that falls too far behind is dropped (the stream ends);
//! a user's oldest stream in this process ends with [`StreamMessage::Replaced`] when they open
//! more than `TRADING_STREAMS_PER_USER`; a stream ends when its session does (revoked, logged
//! out, replaced by recovery, erased); the kill switch ends every stream with
//! [`StreamMessage::TradingDisabled`].

pub mod owners;
pub mod sink;

use std::collections::VecDeque;
use std::sync::Arc;

use raptor_actors::trade_stream::TradeStreamClient;
use raptor_actors::trade_stream::{Audience, StreamItem, Subscription, TradeEvent};
use uuid::Uuid;

use super::error::StreamError;
use super::{Trader, Trading};

/// What a trader's stream yields.
#[derive(Debug, Clone)]
pub enum StreamMessage {
    Event(Arc<TradeEvent>),
    /// Events may have been missed (the `Last-Event-ID` is unknown here): re-read the orders.
    Reset,
    /// The kill switch was engaged; nothing follows.
    TradingDisabled,
    /// The trader opened more streams than allowed; this one, their oldest, ends.
    Replaced,
}

/// One trader's stream.
pub struct OrderStream {
    subscription: Subscription,
    replay: VecDeque<Arc<TradeEvent>>,
    reset: bool,
    done: bool,
}

/// Opens `trader`'s stream on their session `session_id`, resuming after `last_event_id` when
/// this dyno still holds it.
pub async fn open_stream(
    trading: Trading<'_>,
    stream: &TradeStreamClient,
    trader: &Trader,
    session_id: Uuid,
    last_event_id: Option<&str>,
) -> Result<OrderStream, StreamError> {
    super::account::ensure_enabled(&trading).await?;
    let after = last_event_id.map(|id| id.trim().parse::<u64>().unwrap_or(0));
    let audience = Audience {
        user_id: trader.user_id,
        session_id,
        sees_all: trader.is_operator,
    };
    let subscription = stream.subscribe(audience, after).await?;
    Ok(OrderStream {
        replay: subscription.replay.iter().cloned().collect(),
        reset: !subscription.resumed,
        done: subscription.engaged.is_some(),
        subscription,
    })
}

impl OrderStream {
    /// The next message, or `None` when the stream ends (kill switch, session ended, replaced,
    /// lag, shutdown).
    pub async fn next(&mut self) -> Option<StreamMessage> {
        if self.done {
            return None;
        }
        if std::mem::take(&mut self.reset) {
            return Some(StreamMessage::Reset);
        }
        let item = match self.replay.pop_front() {
            Some(event) => StreamItem::Event(event),
            None => self.subscription.live.recv().await?,
        };
        let last = match item {
            StreamItem::Event(event) => return Some(StreamMessage::Event(event)),
            StreamItem::TradingDisabled(_) => Some(StreamMessage::TradingDisabled),
            StreamItem::Replaced => Some(StreamMessage::Replaced),
            StreamItem::SessionEnded => None,
        };
        self.done = true;
        last
    }
}
