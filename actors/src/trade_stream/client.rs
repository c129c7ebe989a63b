//! [`TradeStreamClient`]: how the SSE route listens to the trade-updates stream.

use ractor::ActorRef;
use tokio::sync::broadcast;

use super::{StreamItem, TradeEvent, TradeStreamMsg};
use crate::slot::{ActorUnavailable, Slot, DEFAULT_CALL_TIMEOUT};
use std::sync::Arc;

/// The stream actor's client.
#[derive(Clone)]
pub struct TradeStreamClient {
    slot: Slot<TradeStreamMsg>,
}

impl TradeStreamClient {
    pub(crate) fn new() -> Self {
        Self {
            slot: Slot::new("trade stream"),
        }
    }

    /// The actor's slot (for the supervisor and diagnostics).
    pub fn slot(&self) -> &Slot<TradeStreamMsg> {
        &self.slot
    }

    /// Listens from after `last_event_id` (a `Last-Event-ID` this dyno gave), or from now.
    pub async fn subscribe(
        &self,
        last_event_id: Option<u64>,
    ) -> Result<Subscription, ActorUnavailable> {
        self.slot
            .ask(
                |reply| TradeStreamMsg::Subscribe {
                    last_event_id,
                    reply,
                },
                DEFAULT_CALL_TIMEOUT,
            )
            .await
    }
}

/// One listening client: the events it missed, then live ones. Dropping it stops listening.
pub struct Subscription {
    /// Events after the client's `Last-Event-ID`, oldest first.
    pub replay: Vec<Arc<TradeEvent>>,
    /// `false` when the `Last-Event-ID` is no longer (or never was) in this dyno's buffer: the
    /// client may have missed events and should re-read its orders.
    pub resumed: bool,
    /// The kill switch's reason, when it was engaged already.
    pub engaged: Option<String>,
    /// Live items; `Lagged` means the client fell too far behind and must be dropped.
    pub live: broadcast::Receiver<StreamItem>,
    actor: ActorRef<TradeStreamMsg>,
}

impl Subscription {
    pub(super) fn new(
        replay: Vec<Arc<TradeEvent>>,
        resumed: bool,
        live: broadcast::Receiver<StreamItem>,
        actor: ActorRef<TradeStreamMsg>,
        engaged: Option<String>,
    ) -> Self {
        Self {
            replay,
            resumed,
            engaged,
            live,
            actor,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.actor.cast(TradeStreamMsg::Unsubscribe);
    }
}
