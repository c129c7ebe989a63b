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
    /// The new quantity, if it changes.
    pub qty: Option<Decimal>,
    /// The new limit price, if it changes.
    pub limit_price: Option<Decimal>,
    /// The new stop price, if it changes.
    pub stop_price: Option<Decimal>,
    /// The new trail (a price or a percent, as the trailing stop has), if it changes.
    pub trail: Option<Decimal>,
    /// The new time in force, if it changes.
    pub time_in_force: Option<&'static str>,
    /// The replacement's own client order id.
    pub client_order_id: String,
    /// The whole order the replacement becomes.
    pub becomes: OrderTicket,
}

/// Alpaca's own bound: at most this many orders a page.
pub const MAX_PAGE: u16 = 500;

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketSide {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl TicketSide {
    /// Alpaca's name of the side.
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
    /// A number of shares (fractional allowed).
    Qty(Decimal),
    /// An amount of money, in USD.
    Notional(Decimal),
}

/// The order type with exactly the prices it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketKind {
    /// At the market.
    Market,
    /// At `limit_price` or better.
    Limit {
        /// The worst price accepted.
        limit_price: Decimal,
    },
    /// A market order once `stop_price` trades.
    Stop {
        /// The trigger.
        stop_price: Decimal,
    },
    /// A limit order once `stop_price` trades.
    StopLimit {
        /// The trigger.
        stop_price: Decimal,
        /// The worst price accepted once triggered.
        limit_price: Decimal,
    },
    /// A market order once the price moves `trail` against its best since submission.
    TrailingStop {
        /// How far the stop trails.
        trail: TicketTrail,
    },
}

/// How far a trailing stop trails the best price: an amount or a percent of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketTrail {
    /// Alpaca's `trail_price`, in USD.
    Price(Decimal),
    /// Alpaca's `trail_percent`.
    Percent(Decimal),
}

impl TicketKind {
    /// Alpaca's `trail_price` and `trail_percent` of a trailing stop (both `None` otherwise).
    pub fn trail_fields(&self) -> (Option<String>, Option<String>) {
        match self {
            Self::TrailingStop {
                trail: TicketTrail::Price(p),
            } => (Some(p.to_string()), None),
            Self::TrailingStop {
                trail: TicketTrail::Percent(p),
            } => (None, Some(p.to_string())),
            _ => (None, None),
        }
    }
}

/// The class of an order with exit legs (Alpaca's `order_class`), and the legs' prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketLegs {
    /// `bracket`, `oco` or `oto`.
    pub class: &'static str,
    /// Alpaca's `take_profit.limit_price`.
    pub take_profit: Option<Decimal>,
    /// Alpaca's `stop_loss`: its `stop_price` and optional `limit_price`.
    pub stop_loss: Option<(Decimal, Option<Decimal>)>,
}

impl TicketKind {
    /// Alpaca's name of the type.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Market => "market",
            Self::Limit { .. } => "limit",
            Self::Stop { .. } => "stop",
            Self::StopLimit { .. } => "stop_limit",
            Self::TrailingStop { .. } => "trailing_stop",
        }
    }

    /// The limit price, for the types that carry one.
    pub fn limit_price(&self) -> Option<Decimal> {
        match *self {
            Self::Limit { limit_price } | Self::StopLimit { limit_price, .. } => Some(limit_price),
            _ => None,
        }
    }

    /// The stop price, for the types that carry one.
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
    /// How much.
    pub size: TicketSize,
    /// Buy or sell.
    pub side: TicketSide,
    /// The order type and its prices.
    pub kind: TicketKind,
    /// Alpaca's name (`day`, `gtc`, …).
    pub time_in_force: &'static str,
    /// May fill outside regular hours (limit orders, `day`, only).
    pub extended_hours: bool,
    /// The exit legs of a `bracket`, `oco` or `oto` order; `None` for a simple one.
    pub legs: Option<TicketLegs>,
}

/// Which orders to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStatus {
    /// Not yet filled, canceled or expired.
    Open,
    /// Filled, canceled, expired or rejected.
    Closed,
    /// Both.
    All,
}

impl ListStatus {
    /// Alpaca's name of the status filter.
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
    /// Open, closed or all.
    pub status: ListStatus,
    /// At most this many (1–[`MAX_PAGE`]).
    pub limit: u16,
    /// Only orders submitted after this instant.
    pub after: Option<chrono::DateTime<chrono::Utc>>,
    /// Oldest first.
    pub ascending: bool,
    /// Legs inside their parent's `legs`, not listed on their own (Alpaca's `nested=true`).
    pub nested: bool,
}

/// An order's id at the broker (Alpaca's order ids are UUIDs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderId(pub uuid::Uuid);

impl OrderId {
    /// Parses the broker's id (a UUID).
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
