//! [`TradeStreamClient`]: how the SSE route listens to the trade-updates stream.

use std::sync::Arc;

use ractor::ActorRef;
use tokio::sync::mpsc;

use super::listeners::Audience;
use super::{StreamItem, TradeEvent, TradeStreamMsg};
use crate::slot::{ActorUnavailable, Slot, DEFAULT_CALL_TIMEOUT};

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

    /// Listens for `audience` from after `last_event_id` (a `Last-Event-ID` this dyno gave), or
    /// from now. The user's oldest stream in this process ends past the per-user cap.
    pub async fn subscribe(
        &self,
        audience: Audience,
        last_event_id: Option<u64>,
    ) -> Result<Subscription, ActorUnavailable> {
        self.slot
            .ask(
                |reply| TradeStreamMsg::Subscribe {
                    audience,
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
    /// The audience's events after the client's `Last-Event-ID`, oldest first.
    pub replay: Vec<Arc<TradeEvent>>,
    /// `false` when the `Last-Event-ID` is no longer (or never was) in this dyno's buffer: the
    /// client may have missed events and should re-read its orders.
    pub resumed: bool,
    /// The kill switch's reason, when it was engaged already.
    pub engaged: Option<String>,
    /// Live items for this audience only; `None` once the stream is over (a final item, or
    /// the client fell too far behind, or the actor stopped).
    pub live: mpsc::Receiver<StreamItem>,
    id: u64,
    actor: ActorRef<TradeStreamMsg>,
}

impl Subscription {
    pub(super) fn new(
        id: u64,
        (replay, resumed): (Vec<Arc<TradeEvent>>, bool),
        live: mpsc::Receiver<StreamItem>,
        actor: ActorRef<TradeStreamMsg>,
        engaged: Option<String>,
    ) -> Self {
        Self {
            replay,
            resumed,
            engaged,
            live,
            id,
            actor,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.actor.cast(TradeStreamMsg::Unsubscribe(self.id));
    }
}
