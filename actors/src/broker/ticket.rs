//! What the broker is asked to do, in the shape Alpaca (and the simulator) need: an
//! [`OrderTicket`] to send, an [`OrderListing`] to fetch, an [`OrderId`] to cancel.
//!
//! These are the broker's own input types. The main crate's trading domain parses and checks
//! what a client sent (`trading::order::OrderRequest`) and builds a ticket from it at the
//! boundary, so the broker never validates and the domain never knows Alpaca's JSON.

use std::fmt;

use rust_decimal::Decimal;

/// A replacement (`PATCH /v2/orders/{id}`): what changes, under the replacement's own client
/// order id, and the whole order it becomes (what the simulator places).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaceTicket {
    pub qty: Option<Decimal>,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub time_in_force: Option<&'static str>,
    pub client_order_id: String,
    pub becomes: OrderTicket,
}

/// Alpaca's own bound: at most this many orders a page.
pub const MAX_PAGE: u16 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketSide {
    Buy,
    Sell,
}

impl TicketSide {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }
}

/// How much: shares or money, already checked to be positive and in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketSize {
    Qty(Decimal),
    Notional(Decimal),
}

/// The order type with exactly the prices it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketKind {
    Market,
    Limit {
        limit_price: Decimal,
    },
    Stop {
        stop_price: Decimal,
    },
    StopLimit {
        stop_price: Decimal,
        limit_price: Decimal,
    },
}

impl TicketKind {
    /// Alpaca's name of the type.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Market => "market",
            Self::Limit { .. } => "limit",
            Self::Stop { .. } => "stop",
            Self::StopLimit { .. } => "stop_limit",
        }
    }

    pub fn limit_price(&self) -> Option<Decimal> {
        match *self {
            Self::Limit { limit_price } | Self::StopLimit { limit_price, .. } => Some(limit_price),
            _ => None,
        }
    }

    pub fn stop_price(&self) -> Option<Decimal> {
        match *self {
            Self::Stop { stop_price } | Self::StopLimit { stop_price, .. } => Some(stop_price),
            _ => None,
        }
    }
}

/// One order to send, under a client order id the caller chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTicket {
    /// Upper case, as Alpaca expects.
    pub symbol: String,
    pub size: TicketSize,
    pub side: TicketSide,
    pub kind: TicketKind,
    /// Alpaca's name (`day`, `gtc`, …).
    pub time_in_force: &'static str,
    pub extended_hours: bool,
}

/// Which orders to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStatus {
    Open,
    Closed,
    All,
}

impl ListStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::All => "all",
        }
    }
}

/// Orders to fetch: at most `limit` (1–[`MAX_PAGE`]), submitted after `after` when given,
/// oldest first when `ascending` (newest first otherwise). Reconciliation pages through them.
/// order id is in `only` when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderListing {
    pub status: ListStatus,
    pub limit: u16,
    pub after: Option<chrono::DateTime<chrono::Utc>>,
    pub ascending: bool,
}

/// An order's id at the broker (Alpaca's order ids are UUIDs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderId(pub uuid::Uuid);

impl OrderId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.parse()
            .map(OrderId)
            .map_err(|_| "is not an order id".to_owned())
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
