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

/// The broker's messages (callers use [`super::BrokerClient`]).
pub enum BrokerMsg {
    /// Kind and kill-switch state.
    Status(RpcReplyPort<BrokerStatus>),
    /// Whether trading is allowed, and if not, why.
    KillSwitchState(RpcReplyPort<KillSwitch>),
    /// Pre-flight: the switch is released and the broker answers with these credentials.
    Check(RpcReplyPort<Result<(), BrokerError>>),
    /// The account, as the broker sent it.
    GetAccount(RpcReplyPort<Result<BrokerJson, BrokerError>>),
    /// The account's positions, as the broker sent them.
    ListPositions(RpcReplyPort<Result<BrokerJson, BrokerError>>),
    /// Orders, newest first.
    ListOrders {
        /// Which orders, how many.
        listing: OrderListing,
        /// Where the list goes.
        reply: RpcReplyPort<Result<BrokerJson, BrokerError>>,
    },
    /// Send an order under our `client_order_id` (the ledger's id, so a retry is idempotent).
    SubmitOrder {
        /// The order, as the trading domain built it.
        ticket: OrderTicket,
        /// Our id for it at the broker.
        client_order_id: String,
        /// The order as placed, or why not.
        reply: RpcReplyPort<Result<PlacedOrder, BrokerError>>,
    },
    /// The order sent under `client_order_id`, to settle a submission whose outcome is unknown.
    FindOrder {
        /// Our id for it at the broker.
        client_order_id: String,
        /// The order as the broker has it, or why not.
        reply: RpcReplyPort<Result<PlacedOrder, BrokerError>>,
    },
    /// Cancel an open order.
    CancelOrder {
        /// The broker's id of the order.
        order_id: OrderId,
        /// Whether the cancel was accepted.
        reply: RpcReplyPort<Result<(), BrokerError>>,
    },
    /// Replaces the open order `order_id`; answers the replacement.
    ReplaceOrder {
        /// The broker's id of the order replaced.
        order_id: OrderId,
        /// What changes.
        ticket: ReplaceTicket,
        /// The replacement, as the broker placed it.
        reply: RpcReplyPort<Result<PlacedOrder, BrokerError>>,
    },
    /// Alpaca's market clock.
    GetClock(RpcReplyPort<Result<MarketClock, BrokerError>>),
    /// Alpaca's trading days from `start` to `end`.
    GetCalendar {
        /// The first day asked for.
        start: chrono::NaiveDate,
        /// The last day asked for.
        end: chrono::NaiveDate,
        /// The trading days in between.
        reply: RpcReplyPort<Result<Vec<CalendarDay>, BrokerError>>,
    },
    /// Alpaca's asset `symbol` (for a symbol not in the daily copy).
    GetAsset {
        /// The symbol, as Alpaca spells it.
        symbol: String,
        /// The asset, or `NotFound`.
        reply: RpcReplyPort<Result<BrokerAsset, BrokerError>>,
    },
    /// An operator's change of the switch: stored (and audited) by the caller, or, for an
    /// engage that could not be stored, to apply in this process only. Answers the new status.
    AdoptSwitch {
        /// The switch as stored (or to hold in this process only).
        switch: OperatorSwitch,
        /// The status with it.
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
