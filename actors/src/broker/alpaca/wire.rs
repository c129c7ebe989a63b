//! The body of Alpaca's `POST /v2/orders`, built from an [`OrderTicket`].

use serde::Serialize;

use crate::broker::ticket::{OrderTicket, ReplaceTicket, TicketLegs, TicketSize};

/// The body of `POST /v2/orders`: amounts as decimal strings, which Alpaca accepts.
#[derive(Serialize)]
pub(super) struct WireOrder<'a> {
    symbol: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    qty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notional: Option<String>,
    side: &'static str,
    #[serde(rename = "type")]
    order_type: &'static str,
    time_in_force: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trail_price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trail_percent: Option<String>,
    extended_hours: bool,
    client_order_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    take_profit: Option<WireTakeProfit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_loss: Option<WireStopLoss>,
}

/// Alpaca's `take_profit` object.
#[derive(Serialize)]
pub(super) struct WireTakeProfit {
    limit_price: String,
}

/// Alpaca's `stop_loss` object.
#[derive(Serialize)]
pub(super) struct WireStopLoss {
    stop_price: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_price: Option<String>,
}

impl WireTakeProfit {
    fn of(legs: &TicketLegs) -> Option<Self> {
        legs.take_profit.map(|p| Self {
            limit_price: p.to_string(),
        })
    }
}

impl WireStopLoss {
    fn of(legs: &TicketLegs) -> Option<Self> {
        legs.stop_loss.map(|(stop, limit)| Self {
            stop_price: stop.to_string(),
            limit_price: limit.map(|l| l.to_string()),
        })
    }
}

impl<'a> WireOrder<'a> {
    pub fn new(ticket: &'a OrderTicket, client_order_id: &'a str) -> Self {
        let (qty, notional) = match ticket.size {
            TicketSize::Qty(q) => (Some(q.to_string()), None),
            TicketSize::Notional(n) => (None, Some(n.to_string())),
        };
        let (trail_price, trail_percent) = ticket.kind.trail_fields();
        let legs = ticket.legs.as_ref();
        // An oco's limit price is its take-profit leg's (Alpaca's own requests leave it out).
        let oco = legs.is_some_and(|l| l.class == "oco");
        Self {
            symbol: &ticket.symbol,
            qty,
            notional,
            side: ticket.side.as_str(),
            order_type: ticket.kind.as_str(),
            time_in_force: ticket.time_in_force,
            limit_price: (!oco)
                .then(|| ticket.kind.limit_price().map(|p| p.to_string()))
                .flatten(),
            stop_price: ticket.kind.stop_price().map(|p| p.to_string()),
            trail_price,
            trail_percent,
            extended_hours: ticket.extended_hours,
            client_order_id,
            order_class: legs.map(|l| l.class),
            take_profit: legs.and_then(WireTakeProfit::of),
            stop_loss: legs.and_then(WireStopLoss::of),
        }
    }
}

/// The body of `PATCH /v2/orders/{id}`: only what changes, and the replacement's client order id.
#[derive(Serialize)]
pub(super) struct WireReplace<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    qty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_in_force: Option<&'static str>,
    client_order_id: &'a str,
}

impl<'a> WireReplace<'a> {
    pub fn new(ticket: &'a ReplaceTicket) -> Self {
        Self {
            qty: ticket.qty.map(|q| q.to_string()),
            limit_price: ticket.limit_price.map(|p| p.to_string()),
            stop_price: ticket.stop_price.map(|p| p.to_string()),
            trail: ticket.trail.map(|p| p.to_string()),
            time_in_force: ticket.time_in_force,
            client_order_id: &ticket.client_order_id,
        }
    }
}
