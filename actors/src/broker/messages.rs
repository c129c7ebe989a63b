//! [`BrokerMsg`]: everything the broker actor is asked, one variant per intention. Callers use
//! [`BrokerClient`](super::BrokerClient), which builds these and carries the deadlines.

use ractor::RpcReplyPort;

use super::asset::BrokerAsset;
use super::config::BrokerConfig;
use super::market::{CalendarDay, MarketClock};
use super::switch::OperatorSwitch;
use super::ticket::{OrderId, OrderListing, OrderTicket, ReplaceTicket};
use super::types::{BrokerError, BrokerJson, BrokerStatus, KillSwitch, PlacedOrder};
use crate::pg::listen::Notice;

pub enum BrokerMsg {
    /// Kind and kill-switch state.
    Status(RpcReplyPort<BrokerStatus>),
    KillSwitchState(RpcReplyPort<KillSwitch>),
    /// Pre-flight: the switch is released and the broker answers with these credentials.
    Check(RpcReplyPort<Result<(), BrokerError>>),
    GetAccount(RpcReplyPort<Result<BrokerJson, BrokerError>>),
    ListPositions(RpcReplyPort<Result<BrokerJson, BrokerError>>),
    /// Orders, newest first.
    ListOrders {
        listing: OrderListing,
        reply: RpcReplyPort<Result<BrokerJson, BrokerError>>,
    },
    SubmitOrder {
        ticket: OrderTicket,
        client_order_id: String,
        reply: RpcReplyPort<Result<PlacedOrder, BrokerError>>,
    },
    /// The order sent under `client_order_id`, to settle a submission whose outcome is unknown.
    FindOrder {
        client_order_id: String,
        reply: RpcReplyPort<Result<PlacedOrder, BrokerError>>,
    },
    CancelOrder {
        order_id: OrderId,
        reply: RpcReplyPort<Result<(), BrokerError>>,
    },
    /// Replaces the open order `order_id`; answers the replacement.
    ReplaceOrder {
        order_id: OrderId,
        ticket: ReplaceTicket,
        reply: RpcReplyPort<Result<PlacedOrder, BrokerError>>,
    },
    /// Alpaca's market clock.
    GetClock(RpcReplyPort<Result<MarketClock, BrokerError>>),
    /// Alpaca's trading days from `start` to `end`.
    GetCalendar {
        start: chrono::NaiveDate,
        end: chrono::NaiveDate,
        reply: RpcReplyPort<Result<Vec<CalendarDay>, BrokerError>>,
    },
    /// Alpaca's asset `symbol` (for a symbol not in the daily copy).
    GetAsset {
        symbol: String,
        reply: RpcReplyPort<Result<BrokerAsset, BrokerError>>,
    },
    /// An operator's change of the switch: stored (and audited) by the caller, or, for an
    /// engage that could not be stored, to apply in this process only. Answers the new status.
    AdoptSwitch {
        switch: OperatorSwitch,
        reply: RpcReplyPort<BrokerStatus>,
    },
    /// Configuration re-read (SIGHUP).
    Reconfigure(BrokerConfig),
    /// From the LISTEN connection: the operator's switch changed somewhere.
    Notified(Notice),
    /// Re-read the operator's switch (periodic safety net).
    Refresh,
    /// Test-only: panic, to exercise supervision.
    #[cfg(feature = "testing")]
    Fault,
}
