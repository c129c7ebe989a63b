//! [`BrokerClient`]: how use cases reach the broker, one method per request, each with its
//! deadline built in.
//!
//! Requests that reach Alpaca wait at most [`BrokerClient::call_timeout`]: their turn under the
//! outbound rate limit, one request and one retry, with a margin, so a hanging Alpaca is
//! answered by the broker's own `Timeout` rather than a vague "unavailable". The request
//! timeout comes from the broker's configuration and follows every reload.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ractor::RpcReplyPort;

use crate::slot::{ActorUnavailable, Slot, DEFAULT_CALL_TIMEOUT};

use super::asset::BrokerAsset;
use super::market::{CalendarDay, MarketClock};
use super::messages::BrokerMsg;
use super::switch::OperatorSwitch;
use super::ticket::{OrderId, OrderListing, OrderTicket, ReplaceTicket};
use super::types::{BrokerError, BrokerJson, BrokerStatus, PlacedOrder};
use super::{BrokerConfig, MAX_QUEUE_WAIT};

/// The request timeout assumed until a configuration is known (Raptor's default).
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack on top of queueing and two requests.
const MARGIN: Duration = Duration::from_secs(5);

/// The broker's client.
#[derive(Clone)]
pub struct BrokerClient {
    slot: Slot<BrokerMsg>,
    /// Alpaca's request timeout, in milliseconds.
    request_timeout_ms: Arc<AtomicU64>,
}

impl BrokerClient {
    pub(crate) fn new() -> Self {
        Self {
            slot: Slot::new("broker"),
            request_timeout_ms: Arc::new(
                AtomicU64::new(DEFAULT_REQUEST_TIMEOUT.as_millis() as u64),
            ),
        }
    }

    /// The broker's slot (for the supervisor, diagnostics and fault-injection tests).
    pub fn slot(&self) -> &Slot<BrokerMsg> {
        &self.slot
    }

    /// Sets the timeout of one request to Alpaca (startup; a reload sets it too).
    pub fn use_request_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.request_timeout_ms.store(ms, Ordering::Relaxed);
    }

    /// How long a request that reaches Alpaca may take, end to end: its turn under the rate
    /// limit, one request and one retry, and a margin.
    pub fn call_timeout(&self) -> Duration {
        let request = Duration::from_millis(self.request_timeout_ms.load(Ordering::Relaxed));
        MAX_QUEUE_WAIT + request.saturating_mul(2) + MARGIN
    }

    /// Kind and kill-switch state; answered from memory.
    pub async fn status(&self) -> Result<BrokerStatus, ActorUnavailable> {
        self.slot.ask(BrokerMsg::Status, DEFAULT_CALL_TIMEOUT).await
    }

    /// Applies re-read configuration (SIGHUP); a broker that is down reads it when it restarts.
    pub fn reconfigure(&self, config: BrokerConfig) {
        self.use_request_timeout(config.request_timeout);
        if let Ok(broker) = self.slot.get() {
            let _ = broker.send_message(BrokerMsg::Reconfigure(config));
        }
    }

    /// Takes an operator's change of the switch in this process (see [`BrokerMsg::AdoptSwitch`]).
    pub async fn adopt_switch(
        &self,
        switch: OperatorSwitch,
    ) -> Result<BrokerStatus, ActorUnavailable> {
        self.slot
            .ask(
                |reply| BrokerMsg::AdoptSwitch { switch, reply },
                DEFAULT_CALL_TIMEOUT,
            )
            .await
    }

    /// Pre-flight: the switch is released and the broker answers with our credentials.
    pub async fn check(&self) -> Result<(), BrokerError> {
        self.call(BrokerMsg::Check).await
    }

    /// The paper account, as the broker sent it.
    pub async fn account(&self) -> Result<BrokerJson, BrokerError> {
        self.call(BrokerMsg::GetAccount).await
    }

    /// Open positions, as the broker sent them.
    pub async fn positions(&self) -> Result<BrokerJson, BrokerError> {
        self.call(BrokerMsg::ListPositions).await
    }

    /// Orders, newest first, as the broker sent them.
    pub async fn orders(&self, listing: OrderListing) -> Result<BrokerJson, BrokerError> {
        self.call(|reply| BrokerMsg::ListOrders { listing, reply })
            .await
    }

    /// Sends `ticket` under `client_order_id`. A `Timeout`, `Unreachable`, `BadGateway` or
    /// `Unavailable` answer leaves the outcome unknown ([`BrokerError::outcome_unknown`]).
    pub async fn submit(
        &self,
        ticket: OrderTicket,
        client_order_id: &str,
    ) -> Result<PlacedOrder, BrokerError> {
        let client_order_id = client_order_id.to_owned();
        self.call(|reply| BrokerMsg::SubmitOrder {
            ticket,
            client_order_id,
            reply,
        })
        .await
    }

    /// The order sent under `client_order_id`; `NotFound` when the broker never took one.
    pub async fn find(&self, client_order_id: &str) -> Result<PlacedOrder, BrokerError> {
        let client_order_id = client_order_id.to_owned();
        self.call(|reply| BrokerMsg::FindOrder {
            client_order_id,
            reply,
        })
        .await
    }

    /// Cancels the broker order `order_id`.
    pub async fn cancel(&self, order_id: OrderId) -> Result<(), BrokerError> {
        self.call(|reply| BrokerMsg::CancelOrder { order_id, reply })
            .await
    }

    /// Replaces the open broker order `order_id` as `ticket` says; the replacement. Like a
    /// submission, a `Timeout`-like answer leaves the outcome unknown.
    pub async fn replace(
        &self,
        order_id: OrderId,
        ticket: ReplaceTicket,
    ) -> Result<PlacedOrder, BrokerError> {
        self.call(|reply| BrokerMsg::ReplaceOrder {
            order_id,
            ticket,
            reply,
        })
        .await
    }

    /// Alpaca's market clock.
    pub async fn market_clock(&self) -> Result<MarketClock, BrokerError> {
        self.call(BrokerMsg::GetClock).await
    }

    /// Alpaca's trading days from `start` to `end`, both included.
    pub async fn calendar(
        &self,
        start: chrono::NaiveDate,
        end: chrono::NaiveDate,
    ) -> Result<Vec<CalendarDay>, BrokerError> {
        self.call(|reply| BrokerMsg::GetCalendar { start, end, reply })
            .await
    }

    /// Alpaca's asset `symbol`; `NotFound` when Alpaca knows no such symbol.
    pub async fn asset(&self, symbol: &str) -> Result<BrokerAsset, BrokerError> {
        let symbol = symbol.to_owned();
        self.call(|reply| BrokerMsg::GetAsset { symbol, reply })
            .await
    }

    async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<Result<T, BrokerError>>) -> BrokerMsg,
    ) -> Result<T, BrokerError> {
        match self.slot.ask(build, self.call_timeout()).await {
            Ok(answer) => answer,
            Err(unavailable) => {
                tracing::warn!(actor = unavailable.actor, "the broker is unavailable");
                Err(BrokerError::Unavailable)
            }
        }
    }
}
